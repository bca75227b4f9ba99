using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.V13;

/// <summary>What a DTLS 1.3 server chose from a ClientHello.</summary>
internal sealed record Selection13(Tls13CipherSuiteInfo Suite, NamedGroup Group, byte[]? ClientShare, SignatureScheme Scheme, SrtpProtectionProfile? Srtp);

/// <summary>Why a ClientHello cannot be answered in DTLS 1.3.</summary>
internal sealed record Refusal13(DtlsFailureReason Reason, AlertDescription Alert, string Message);

/// <summary>Version negotiation and the server's choice of parameters (RFC 8446 4.1.1, 4.2), shared by the endpoint and the stateless listener.</summary>
internal static class Negotiation13
{
    /// <summary>The CertificateVerify context strings (RFC 8446 4.4.3), unchanged in DTLS 1.3.</summary>
    public const string ServerVerifyContext = "TLS 1.3, server CertificateVerify";

    /// <summary>See <see cref="ServerVerifyContext"/>.</summary>
    public const string ClientVerifyContext = "TLS 1.3, client CertificateVerify";

    /// <summary>True when the ClientHello's supported_versions names DTLS 1.3 (a malformed one counts as not offering it; the 1.2 path reports it).</summary>
    public static bool OffersDtls13(ClientHello ch) =>
        Extensions.TryFind(ch.Extensions, ExtensionType.SupportedVersions, out var sv)
        && Extensions.TryDecodeSupportedVersions(sv.Data, out var versions)
        && versions.Contains(ProtocolVersion.Dtls13);

    /// <summary>The signature schemes of a certificate usable in (D)TLS 1.3: ECDSA with the key's own curve, RSA with PSS only (RFC 8446 4.2.3).</summary>
    public static IEnumerable<SignatureScheme> Schemes13(DtlsCertificate certificate)
    {
        if (certificate.KeyType == CertificateKeyType.Rsa)
        {
            return certificate.SignatureSchemes.Where(s => s == SignatureScheme.RsaPssRsaeSha256 || s == SignatureScheme.RsaPssRsaeSha384);
        }

        // An EC key lists its own curve's scheme first; TLS 1.3 binds the curve to the scheme.
        return certificate.SignatureSchemes.Take(1);
    }

    /// <summary>True for schemes allowed in a 1.3 CertificateVerify (no PKCS #1 v1.5, RFC 8446 4.4.3).</summary>
    public static bool IsScheme13(SignatureScheme scheme) =>
        scheme == SignatureScheme.EcdsaSecp256r1Sha256 || scheme == SignatureScheme.EcdsaSecp384r1Sha384
        || scheme == SignatureScheme.RsaPssRsaeSha256 || scheme == SignatureScheme.RsaPssRsaeSha384;

    /// <summary>Bytes of the longest content a CertificateVerify signs (a context string, a SHA-384 transcript hash): a stack buffer of this size holds any.</summary>
    public const int MaxSignedContentLength = 64 + 33 + 1 + 48;

    /// <summary>
    /// The bytes a CertificateVerify signs: 64 spaces, the context string, a zero byte, the transcript hash; written into
    /// <paramref name="destination"/> (<see cref="MaxSignedContentLength"/> bytes fit any) and returned.
    /// </summary>
    /// <exception cref="ArgumentException">The destination is too short.</exception>
    public static ReadOnlySpan<byte> SignedContent(string context, ReadOnlySpan<byte> transcriptHash, Span<byte> destination)
    {
        var length = 64 + context.Length + 1 + transcriptHash.Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"The signed content is {length} bytes.", nameof(destination));
        }

        var content = destination[..length];
        content[..64].Fill(0x20);
        System.Text.Encoding.ASCII.GetBytes(context, content[64..]);
        content[64 + context.Length] = 0;
        transcriptHash.CopyTo(content[(64 + context.Length + 1)..]);
        return content;
    }

    /// <summary>
    /// Chooses suite, group (a share the client sent in our preference order; else a group it supports, to ask for with a
    /// HelloRetryRequest: <see cref="Selection13.ClientShare"/> null), signature scheme and SRTP profile.
    /// </summary>
    public static bool TrySelect(DtlsOptions options, ClientHello ch, out Selection13? selection, out Refusal13? refusal)
    {
        selection = null;
        refusal = null;
        if (!ch.CompressionMethods.SequenceEqual(new byte[] { 0 }))
        {
            refusal = new(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "DTLS 1.3 requires exactly the null compression method");
            return false;
        }

        if (ch.Cookie.Length != 0)
        {
            refusal = new(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "DTLS 1.3 ClientHello with a legacy cookie (RFC 9147 5.3)");
            return false;
        }

        Tls13CipherSuiteInfo? suite = null;
        foreach (var candidate in options.Dtls13CipherSuites)
        {
            if (ch.CipherSuites.Contains(candidate) && Tls13CipherSuiteInfo.TryGet(candidate, out var info))
            {
                suite = info;
                break;
            }
        }

        if (suite is null)
        {
            refusal = new(DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure, "no common DTLS 1.3 cipher suite");
            return false;
        }

        if (!Extensions.TryFind(ch.Extensions, ExtensionType.SupportedGroups, out var sg) || !Extensions.TryDecodeSupportedGroups(sg.Data, out var groups)
            || !Extensions.TryFind(ch.Extensions, Wire13.KeyShare, out var ks) || !Extensions13.TryDecodeClientShares(ks.Data, out var shares)
            || !Extensions.TryFind(ch.Extensions, ExtensionType.SignatureAlgorithms, out var sa) || !Extensions.TryDecodeSignatureAlgorithms(sa.Data, out var schemes))
        {
            refusal = new(DtlsFailureReason.DecodeError, AlertDescription.MissingExtension, "DTLS 1.3 ClientHello without valid supported_groups, key_share and signature_algorithms");
            return false;
        }

        // A share for a group the client did not list is illegal (RFC 8446 4.2.8).
        if (shares.Exists(s => !groups.Contains(s.Group)))
        {
            refusal = new(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "key share for a group not in supported_groups");
            return false;
        }

        // Our most preferred group the client supports; without its share, either ask for it (HelloRetryRequest) or take the
        // best group the client did send a share for.
        NamedGroup? chosen = null;
        byte[]? share = null;
        foreach (var group in options.Dtls13Groups)
        {
            if (groups.Contains(group) && KeyExchange.IsSupported(group))
            {
                chosen = group;
                share = shares.Find(s => s.Group == group).KeyExchange;
                break;
            }
        }

        if (chosen is not null && share is null && !options.RetryForPreferredGroup)
        {
            foreach (var group in options.Dtls13Groups)
            {
                var offered = shares.Find(s => s.Group == group);
                if (offered.KeyExchange is not null && KeyExchange.IsSupported(group))
                {
                    chosen = group;
                    share = offered.KeyExchange;
                    break;
                }
            }
        }

        if (chosen is null)
        {
            refusal = new(DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure, "no common key exchange group");
            return false;
        }

        SignatureScheme? scheme = null;
        foreach (var s in Schemes13(options.Certificate))
        {
            if (schemes.Contains(s))
            {
                scheme = s;
                break;
            }
        }

        if (scheme is null)
        {
            refusal = new(DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure, "no common signature scheme for the server certificate in DTLS 1.3");
            return false;
        }

        SrtpProtectionProfile? srtp = null;
        if (Extensions.TryFind(ch.Extensions, ExtensionType.UseSrtp, out var us))
        {
            if (!Extensions.TryDecodeUseSrtp(us.Data, out var profiles, out _))
            {
                refusal = new(DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "malformed use_srtp");
                return false;
            }

            foreach (var p in options.SrtpProfiles)
            {
                if (profiles.Contains(p))
                {
                    srtp = p;
                    break;
                }
            }
        }

        selection = new Selection13(suite, chosen.Value, share, scheme.Value, srtp);
        return true;
    }
}
