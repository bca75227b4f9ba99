using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Airlift.Dtls;

/// <summary>
/// Verifies ServerKeyExchange / CertificateVerify signatures with TLS 1.2 semantics (RFC 5246
/// 4.7, 7.4.1.4.1): the scheme fixes the hash and the algorithm; an ECDSA scheme's curve name is not
/// binding in TLS 1.2, so any EC key may verify with either hash; ECDSA signatures are DER
/// (Ecdsa-Sig-Value, RFC 4492 5.4). Never throws on bad input.
/// </summary>
internal static class SignatureVerifier
{
    /// <summary>True when the certificate's public key can produce signatures of this scheme.</summary>
    public static bool IsCompatible(X509Certificate2 leaf, SignatureScheme scheme)
    {
        if (leaf is null || !SignatureSchemeInfo.TryGet(scheme, out var info))
        {
            return false;
        }

        try
        {
            if (info.IsEcdsa)
            {
                using var ec = leaf.GetECDsaPublicKey();
                return ec is not null;
            }

            using var rsa = leaf.GetRSAPublicKey();
            return rsa is not null;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>Verifies <paramref name="signature"/> over <paramref name="data"/> with the leaf's public key.</summary>
    public static bool Verify(X509Certificate2 leaf, SignatureScheme scheme, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (leaf is null || !SignatureSchemeInfo.TryGet(scheme, out var info))
        {
            return false;
        }

        try
        {
            if (info.IsEcdsa)
            {
                using var ec = leaf.GetECDsaPublicKey();
                return ec is not null && ec.VerifyData(data, signature, info.Hash, DSASignatureFormat.Rfc3279DerSequence);
            }

            using var rsa = leaf.GetRSAPublicKey();
            return rsa is not null && rsa.VerifyData(data, signature, info.Hash, info.RsaPadding!);
        }
        catch (CryptographicException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

/// <summary>What a TLS 1.2 signature scheme means: algorithm, hash and RSA padding.</summary>
internal readonly record struct SignatureSchemeInfo(bool IsEcdsa, HashAlgorithmName Hash, RSASignaturePadding? RsaPadding)
{
    /// <summary>Describes the six schemes Airlift implements; false for any other value.</summary>
    public static bool TryGet(SignatureScheme scheme, out SignatureSchemeInfo info)
    {
        info = scheme.Value switch
        {
            0x0403 => new SignatureSchemeInfo(true, HashAlgorithmName.SHA256, null),
            0x0503 => new SignatureSchemeInfo(true, HashAlgorithmName.SHA384, null),
            0x0804 => new SignatureSchemeInfo(false, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
            0x0805 => new SignatureSchemeInfo(false, HashAlgorithmName.SHA384, RSASignaturePadding.Pss),
            0x0401 => new SignatureSchemeInfo(false, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            0x0501 => new SignatureSchemeInfo(false, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1),
            _ => default,
        };
        return info.Hash.Name is not null;
    }
}
