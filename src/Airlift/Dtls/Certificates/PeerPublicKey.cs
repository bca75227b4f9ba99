using System.Diagnostics.CodeAnalysis;
using System.Formats.Asn1;
using System.Security.Cryptography;
using Airlift.Dtls.Crypto;

namespace Airlift.Dtls;

/// <summary>
/// The peer leaf certificate's public key, imported once straight from the DER (RFC 5280 4.1: the SubjectPublicKeyInfo
/// of the TBSCertificate) and used for every signature check of the handshake. Parsing the whole certificate with
/// <c>X509CertificateLoader</c> and re-importing its key per check cost about 40 % of the server's handshake CPU; nothing
/// in the handshake needs more of the certificate than its key (WebRTC authenticates it by fingerprint, a validator
/// callback gets the DER). The one import validates the key (for EC: the point lies on the named curve), so no point
/// check is skipped, and none is repeated.
/// </summary>
internal sealed class PeerPublicKey : IDisposable
{
    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string RsaEncryptionOid = "1.2.840.113549.1.1.1";

    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;

    private PeerPublicKey(ECDsa? ecdsa, RSA? rsa)
    {
        _ecdsa = ecdsa;
        _rsa = rsa;
    }

    /// <summary>True for an RSA key, false for an EC key.</summary>
    public bool IsRsa => _rsa is not null;

    /// <summary>
    /// Reads the SubjectPublicKeyInfo out of a DER certificate and imports it: an EC key on a named curve the platform
    /// knows, or an RSA key of at least 1024 bits. False, with the reason, for anything else; never throws on peer input.
    /// </summary>
    public static bool TryCreate(ReadOnlySpan<byte> certificateDer, [NotNullWhen(true)] out PeerPublicKey? key, out string error) =>
        TryCreate(certificateDer, OpenSslPublicKey.Enabled, out key, out error);

    /// <summary><see cref="TryCreate(ReadOnlySpan{byte}, out PeerPublicKey, out string)"/> choosing the EC import (tests run both).</summary>
    internal static bool TryCreate(ReadOnlySpan<byte> certificateDer, bool openSslImport, [NotNullWhen(true)] out PeerPublicKey? key, out string error)
    {
        key = null;
        if (!TryReadSubjectPublicKeyInfo(certificateDer, out var spki, out var algorithm))
        {
            error = "the certificate is not a DER X.509 certificate";
            return false;
        }

        try
        {
            if (algorithm == EcPublicKeyOid)
            {
                error = "";
                if (openSslImport && OpenSslPublicKey.TryImportEcdsa(spki, out var fast, out error))
                {
                    key = new PeerPublicKey(fast, null);
                    return true;
                }

                if (error.Length > 0)
                {
                    return false;
                }

                var ecdsa = ECDsa.Create();
                try
                {
                    ecdsa.ImportSubjectPublicKeyInfo(spki, out var read);
                    if (read != spki.Length)
                    {
                        ecdsa.Dispose();
                        error = "trailing bytes after the EC key";
                        return false;
                    }
                }
                catch
                {
                    ecdsa.Dispose();
                    throw;
                }

                key = new PeerPublicKey(ecdsa, null);
                error = "";
                return true;
            }

            if (algorithm == RsaEncryptionOid)
            {
                var rsa = RSA.Create();
                try
                {
                    rsa.ImportSubjectPublicKeyInfo(spki, out var read);
                    if (read != spki.Length || rsa.KeySize < 1024)
                    {
                        error = read != spki.Length ? "trailing bytes after the RSA key" : $"RSA key of {rsa.KeySize} bits";
                        rsa.Dispose();
                        return false;
                    }
                }
                catch
                {
                    rsa.Dispose();
                    throw;
                }

                key = new PeerPublicKey(null, rsa);
                error = "";
                return true;
            }

            error = $"key algorithm {algorithm} is neither RSA nor EC";
            return false;
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException or NotSupportedException or FormatException or AsnContentException)
        {
            error = $"{ex.GetType().Name}: {ex.Message}";
            return false;
        }
    }

    /// <summary>True when this key can produce signatures of <paramref name="scheme"/> (TLS 1.2 does not bind an ECDSA scheme's curve to the key).</summary>
    public bool IsCompatible(SignatureScheme scheme) =>
        SignatureSchemeInfo.TryGet(scheme, out var info) && (info.IsEcdsa ? _ecdsa is not null : _rsa is not null);

    /// <summary>Verifies <paramref name="signature"/> over <paramref name="data"/> (ECDSA signatures DER, RFC 4492 5.4). Never throws on bad input.</summary>
    public bool Verify(SignatureScheme scheme, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (!SignatureSchemeInfo.TryGet(scheme, out var info))
        {
            return false;
        }

        try
        {
            return info.IsEcdsa
                ? _ecdsa is not null && _ecdsa.VerifyData(data, signature, info.Hash, DSASignatureFormat.Rfc3279DerSequence)
                : _rsa is not null && _rsa.VerifyData(data, signature, info.Hash, info.RsaPadding!);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _ecdsa?.Dispose();
        _rsa?.Dispose();
    }

    /// <summary>
    /// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING } with no trailing bytes;
    /// TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER, signature AlgorithmIdentifier, issuer Name,
    /// validity Validity, subject Name, subjectPublicKeyInfo, ... } (RFC 5280 4.1). Returns the encoded
    /// SubjectPublicKeyInfo and its algorithm OID.
    /// </summary>
    internal static bool TryReadSubjectPublicKeyInfo(ReadOnlySpan<byte> der, out ReadOnlySpan<byte> spki, out string algorithm)
    {
        spki = default;
        algorithm = "";
        try
        {
            var outer = new AsnValueReader(der, AsnEncodingRules.DER);
            var certificate = outer.ReadSequence();
            outer.ThrowIfNotEmpty();
            var tbs = certificate.ReadSequence();
            _ = certificate.ReadSequence(); // signatureAlgorithm
            _ = certificate.ReadBitString(out _);
            certificate.ThrowIfNotEmpty();
            if (tbs.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true)))
            {
                _ = tbs.ReadEncodedValue();
            }

            _ = tbs.ReadIntegerBytes(); // serialNumber
            _ = tbs.ReadSequence(); // signature
            _ = tbs.ReadSequence(); // issuer
            _ = tbs.ReadSequence(); // validity
            _ = tbs.ReadSequence(); // subject
            var info = tbs.PeekEncodedValue();
            var spkiReader = tbs.ReadSequence();
            var algorithmIdentifier = spkiReader.ReadSequence();
            algorithm = algorithmIdentifier.ReadObjectIdentifier();
            spki = info;
            return true;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    /// <summary>A minimal span-based DER reader over <see cref="AsnDecoder"/> (the framework's <c>AsnReader</c> needs a copy in a <see cref="ReadOnlyMemory{T}"/>).</summary>
    private ref struct AsnValueReader(ReadOnlySpan<byte> data, AsnEncodingRules rules)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly Asn1Tag PeekTag()
        {
            Asn1Tag.TryDecode(_data, out var tag, out _);
            return tag;
        }

        public readonly ReadOnlySpan<byte> PeekEncodedValue()
        {
            AsnDecoder.ReadEncodedValue(_data, rules, out _, out _, out var consumed);
            return _data[..consumed];
        }

        public ReadOnlySpan<byte> ReadEncodedValue()
        {
            var value = PeekEncodedValue();
            _data = _data[value.Length..];
            return value;
        }

        public AsnValueReader ReadSequence()
        {
            AsnDecoder.ReadSequence(_data, rules, out var offset, out var length, out var consumed);
            var inner = new AsnValueReader(_data.Slice(offset, length), rules);
            _data = _data[consumed..];
            return inner;
        }

        public ReadOnlySpan<byte> ReadIntegerBytes()
        {
            var value = AsnDecoder.ReadIntegerBytes(_data, rules, out var consumed);
            _data = _data[consumed..];
            return value;
        }

        public ReadOnlySpan<byte> ReadBitString(out int unusedBits)
        {
            if (!AsnDecoder.TryReadPrimitiveBitString(_data, rules, out unusedBits, out var value, out var consumed))
            {
                throw new AsnContentException("constructed BIT STRING");
            }

            _data = _data[consumed..];
            return value;
        }

        public string ReadObjectIdentifier()
        {
            var value = AsnDecoder.ReadObjectIdentifier(_data, rules, out var consumed);
            _data = _data[consumed..];
            return value;
        }

        public readonly void ThrowIfNotEmpty()
        {
            if (!_data.IsEmpty)
            {
                throw new AsnContentException("trailing data");
            }
        }
    }
}
