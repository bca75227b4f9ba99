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
    /// The first signature scheme of <paramref name="certificate"/> usable in (D)TLS 1.3 (ECDSA with the key's own curve, RSA
    /// with PSS only, RFC 8446 4.2.3) that <paramref name="accepted"/> holds (the peer's signature_algorithms), in our order;
    /// index loops, nothing allocated.
    /// </summary>
    public static bool TryChooseScheme13(DtlsCertificate certificate, List<SignatureScheme> accepted, out SignatureScheme scheme)
    {
        var own = certificate.SignatureSchemes;
        var rsa = certificate.KeyType == CertificateKeyType.Rsa;

        // An EC key lists its own curve's scheme first and TLS 1.3 binds the curve to the scheme: only that one counts.
        var count = rsa ? own.Count : Math.Min(1, own.Count);
        for (var i = 0; i < count; i++)
        {
            var candidate = own[i];
            if ((!rsa || candidate == SignatureScheme.RsaPssRsaeSha256 || candidate == SignatureScheme.RsaPssRsaeSha384) && accepted.Contains(candidate))
            {
                scheme = candidate;
                return true;
            }
        }

        scheme = default;
        return false;
    }

    /// <summary>
    /// Chooses suite, group (a share the client sent in our preference order; else a group it supports, to ask for with a
    /// HelloRetryRequest: <see cref="Selection13.ClientShare"/> null), signature scheme and SRTP profile. Index loops and no
    /// closures: it runs once per handshake on the server, and on every ClientHello the stateless listener answers.
    /// </summary>
    public static bool TrySelect(DtlsOptions options, ClientHello ch, out Selection13? selection, out Refusal13? refusal)
    {
        selection = null;
        refusal = null;
        if (ch.CompressionMethods is not [0])
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
        var suites = options.Dtls13CipherSuites;
        for (var i = 0; i < suites.Count; i++)
        {
            if (ch.CipherSuites.Contains(suites[i]) && Tls13CipherSuiteInfo.TryGet(suites[i], out var info))
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
        for (var i = 0; i < shares.Count; i++)
        {
            if (!groups.Contains(shares[i].Group))
            {
                refusal = new(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "key share for a group not in supported_groups");
                return false;
            }
        }

        // Our most preferred group the client supports; without its share, either ask for it (HelloRetryRequest) or take the
        // best group the client did send a share for.
        NamedGroup? chosen = null;
        byte[]? share = null;
        var ours = options.Dtls13Groups;
        for (var i = 0; i < ours.Count; i++)
        {
            var group = ours[i];
            if (groups.Contains(group) && KeyExchange.IsSupported(group))
            {
                chosen = group;
                var at = Extensions13.IndexOf(shares, group);
                share = at >= 0 ? shares[at].KeyExchange : null;
                break;
            }
        }

        if (chosen is not null && share is null && !options.RetryForPreferredGroup)
        {
            for (var i = 0; i < ours.Count; i++)
            {
                var at = Extensions13.IndexOf(shares, ours[i]);
                if (at >= 0 && KeyExchange.IsSupported(ours[i]))
                {
                    chosen = ours[i];
                    share = shares[at].KeyExchange;
                    break;
                }
            }
        }

        if (chosen is null)
        {
            refusal = new(DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure, "no common key exchange group");
            return false;
        }

        if (!TryChooseScheme13(options.Certificate, schemes, out var scheme))
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

            var wanted = options.SrtpProfiles;
            for (var i = 0; i < wanted.Count; i++)
            {
                if (profiles.Contains(wanted[i]))
                {
                    srtp = wanted[i];
                    break;
                }
            }
        }

        selection = new Selection13(suite, chosen.Value, share, scheme, srtp);
        return true;
    }
}
