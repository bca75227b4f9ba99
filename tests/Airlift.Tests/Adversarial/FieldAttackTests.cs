using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Zero-length and oversized fields (tlsfuzzer test-client-hello-max-size / test-extensions, BoringSSL "*-Malformed*",
/// "DuplicateExtension*", "*-SessionID-TooLong"): vectors longer than their limit (session_id over 32), length prefixes
/// that run past the body, empty lists that must hold one entry, duplicated or malformed extensions, and whole messages
/// of zero bytes. Every one is a decode_error (RFC 5246 7.2.2) or the named parameter alert; none may throw.
/// </summary>
public class FieldAttackTests
{
    // ClientHello body offsets for Airlift's own hello (empty session_id and cookie).
    private const int SessionIdLength = 34;
    private const int CookieLength = 35;
    private const int SuitesLength = 36;

    // ServerHello body offsets (empty session_id).
    private const int ServerSessionIdLength = 34;

    private static readonly Dictionary<string, DtlsAttack> Cases = BuildCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    internal static int Count => Cases.Count;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Field_attack_ends_in_the_stated_outcome_and_nothing_else_breaks(string name) => Cases[name].Run();

    private static Fatal Decode => new(DtlsFailureReason.DecodeError, AlertDescription.DecodeError);

    private static Dictionary<string, DtlsAttack> BuildCases()
    {
        var c = new Dictionary<string, DtlsAttack>();
        const At Hello = At.ServerExpectClientHello;
        const At ServerHelloAt = At.ClientExpectServerHello;

        // ---- ClientHello fixed fields (RFC 6347 4.2.1, RFC 5246 7.4.1.2)
        c["ClientHello of zero bytes: decode_error"] = new(Hello, a => ClientHelloBody(a, _ => []), Decode);
        c["ClientHello cut inside the random (31 bytes of it): decode_error"] = new(Hello, a => ClientHelloBody(a, b => b[..33]), Decode);
        c["ClientHello with a session_id of 33 bytes: decode_error"] = new(Hello, a => ClientHelloBody(a, b => Insert(b, SessionIdLength, 33)), Decode);
        c["ClientHello with a session_id length of 255 past the body: decode_error"] = new(Hello, a => ClientHelloBody(a, b => Set(b, SessionIdLength, 255)), Decode);
        c["ClientHello with a cookie length of 255 past the body: decode_error"] = new(Hello, a => ClientHelloBody(a, b => Set(b, CookieLength, 255)), Decode);
        c["ClientHello with an empty cipher_suites list: decode_error"] =
            new(Hello, a => ClientHelloBody(a, b => [.. b[..SuitesLength], 0, 0, .. b[(SuitesLength + 2 + SuitesBytes(b))..]]), Decode);
        c["ClientHello with an odd-length cipher_suites list: decode_error"] =
            new(Hello, a => ClientHelloBody(a, b => [.. b[..SuitesLength], 0, 3, .. b[(SuitesLength + 2)..(SuitesLength + 5)], .. b[(SuitesLength + 2 + SuitesBytes(b))..]]), Decode);
        c["ClientHello with a cipher_suites length of 65534 past the body: decode_error"] =
            new(Hello, a => ClientHelloBody(a, b => Set(Set(b, SuitesLength, 0xFF), SuitesLength + 1, 0xFE)), Decode);
        c["ClientHello with an empty compression_methods list: decode_error"] =
            new(Hello, a => ClientHelloBody(a, b =>
            {
                var at = SuitesLength + 2 + SuitesBytes(b);
                return [.. b[..at], 0, .. b[(at + 1 + b[at])..]];
            }), Decode);
        c["ClientHello without null compression: illegal_parameter"] =
            new(Hello, a => EditHello(a, h => h with { CompressionMethods = [1] }), new Fatal(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter));
        c["ClientHello offering only DTLS 1.0 (FEFF): protocol_version"] =
            new(Hello, a => EditHello(a, h => h with { ClientVersion = ProtocolVersion.Dtls10 }), new Fatal(DtlsFailureReason.ProtocolVersion, AlertDescription.ProtocolVersion));

        // ---- ClientHello extensions block (RFC 5246 7.4.1.4)
        c["ClientHello extensions length past the body: decode_error"] = new(Hello, a => ClientHelloBody(a, b => ExtensionsLength(b, +1)), Decode);
        c["ClientHello extensions length short of the body (trailing bytes): decode_error"] = new(Hello, a => ClientHelloBody(a, b => ExtensionsLength(b, -1)), Decode);
        c["ClientHello with one extension's length past the block: decode_error"] =
            new(Hello, a => ClientHelloBody(a, b =>
            {
                var at = ExtensionsStart(b) + 2;
                return Set(b, at + 2, 0xFF);
            }), Decode);
        c["ClientHello with a duplicated extension: decode_error"] =
            new(Hello, a => EditHello(a, h => h with { Extensions = [.. h.Extensions, h.Extensions.First(e => e.Type == ExtensionType.SupportedGroups)] }), Decode);
        c["ClientHello with no extensions at all (so no extended_master_secret): handshake_failure"] =
            new(Hello, a => EditHello(a, h => h with { Extensions = [] }), new Fatal(DtlsFailureReason.InsufficientSecurity, AlertDescription.HandshakeFailure));
        c["ClientHello with a malformed supported_groups (odd length): decode_error"] =
            new(Hello, a => ReplaceExtension(a, ExtensionType.SupportedGroups, [0, 3, 0, 23, 0]), Decode);
        c["ClientHello with an empty supported_groups list: decode_error"] =
            new(Hello, a => ReplaceExtension(a, ExtensionType.SupportedGroups, [0, 0]), Decode);
        c["ClientHello with supported_groups naming no DTLS 1.2 group we support (x448, X25519MLKEM768): handshake_failure"] =
            new(Hello, a => ReplaceExtension(a, ExtensionType.SupportedGroups, [0, 4, 0, 0x1E, 0x11, 0xEC]), new Fatal(DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure));
        c["ClientHello with an empty signature_algorithms list: decode_error"] =
            new(Hello, a => ReplaceExtension(a, ExtensionType.SignatureAlgorithms, [0, 0]), Decode);
        c["ClientHello with a malformed use_srtp (profile list past the extension): decode_error"] =
            new(Hello, a => ReplaceExtension(a, ExtensionType.UseSrtp, [0, 8, 0, 1, 0]), Decode);
        c["ClientHello with an extended_master_secret that has a body: decode_error (RFC 7627 5.1)"] =
            new(Hello, a => ReplaceExtension(a, ExtensionType.ExtendedMasterSecret, [0]), Decode);
        c["ClientHello with a non-empty renegotiation_info on the initial handshake: handshake_failure (RFC 5746 3.6)"] =
            new(Hello, a => ReplaceExtension(a, ExtensionType.RenegotiationInfo, [12, .. new byte[12]]), new Fatal(DtlsFailureReason.Renegotiation, AlertDescription.HandshakeFailure));

        // ---- ServerHello (RFC 5246 7.4.1.3) and the client's checks of it
        c["ServerHello of zero bytes: decode_error"] = new(ServerHelloAt, a => ServerHelloBody(a, _ => []), Decode);
        c["ServerHello with a session_id of 33 bytes: decode_error"] = new(ServerHelloAt, a => ServerHelloBody(a, b => Insert(b, ServerSessionIdLength, 33)), Decode);
        c["ServerHello with a session_id length of 255 past the body: decode_error"] = new(ServerHelloAt, a => ServerHelloBody(a, b => Set(b, ServerSessionIdLength, 255)), Decode);
        c["ServerHello extensions length past the body: decode_error"] =
            new(ServerHelloAt, a => ServerHelloBody(a, b => [.. b[..38], (byte)((b[38] << 8 | b[39]) + 1 >> 8), (byte)((b[38] << 8 | b[39]) + 1), .. b[40..]]), Decode);
        c["ServerHello with a duplicated extension: decode_error"] =
            new(ServerHelloAt, a => EditServerHello(a, h => h with { Extensions = [.. h.Extensions, h.Extensions[0]] }), Decode);
        c["ServerHello with an extension the client did not offer (session_ticket): unsupported_extension"] =
            new(ServerHelloAt, a => EditServerHello(a, h => h with { Extensions = [.. h.Extensions, new Extension(new ExtensionType(35), [])] }),
                new Fatal(DtlsFailureReason.IllegalParameter, AlertDescription.UnsupportedExtension));
        c["ServerHello with a non-empty renegotiation_info: handshake_failure (RFC 5746 3.4)"] =
            new(ServerHelloAt, a => EditServerHello(a, h => h with { Extensions = [.. h.Extensions.Where(e => e.Type != ExtensionType.RenegotiationInfo), new Extension(ExtensionType.RenegotiationInfo, [24, .. new byte[24]])] }),
                new Fatal(DtlsFailureReason.Renegotiation, AlertDescription.HandshakeFailure));
        c["ServerHello without extended_master_secret: handshake_failure (RFC 7627 5.3)"] =
            new(ServerHelloAt, a => EditServerHello(a, h => h with { Extensions = [.. h.Extensions.Where(e => e.Type != ExtensionType.ExtendedMasterSecret)] }),
                new Fatal(DtlsFailureReason.InsufficientSecurity, AlertDescription.HandshakeFailure));
        c["ServerHello with an extended_master_secret that has a body: decode_error (RFC 7627 5.1)"] =
            new(ServerHelloAt, a => EditServerHello(a, h => h with { Extensions = [.. h.Extensions.Where(e => e.Type != ExtensionType.ExtendedMasterSecret), new Extension(ExtensionType.ExtendedMasterSecret, [0])] }), Decode);
        c["ServerHello choosing DTLS 1.0: protocol_version"] =
            new(ServerHelloAt, a => EditServerHello(a, h => h with { ServerVersion = ProtocolVersion.Dtls10 }), new Fatal(DtlsFailureReason.ProtocolVersion, AlertDescription.ProtocolVersion));
        c["ServerHello choosing compression method 1: illegal_parameter"] =
            new(ServerHelloAt, a => EditServerHello(a, h => h with { CompressionMethod = 1 }), new Fatal(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter));
        c["ServerHello choosing the renegotiation SCSV as its suite: illegal_parameter"] =
            new(ServerHelloAt, a => EditServerHello(a, h => h with { CipherSuite = CipherSuite.EmptyRenegotiationInfoScsv }), new Fatal(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter));
        c["ServerHello use_srtp with two profiles: illegal_parameter (RFC 5764 4.1.1)"] =
            new(ServerHelloAt, a => EditServerHello(a, h => WithSrtp(h, [0, 4, 0, 1, 0, 7, 0])), new Fatal(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter));
        c["ServerHello use_srtp choosing a profile not offered: illegal_parameter"] =
            new(ServerHelloAt, a => EditServerHello(a, h => WithSrtp(h, [0, 2, 0, 7, 0])), new Fatal(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter));
        c["HelloVerifyRequest with a cookie length past the body: decode_error"] =
            new(ServerHelloAt, a => a.Plain(HandshakeType.HelloVerifyRequest, 0, [0xFE, 0xFF, 40, .. new byte[20]]), Decode);
        c["HelloVerifyRequest of zero bytes: decode_error"] =
            new(ServerHelloAt, a => a.Plain(HandshakeType.HelloVerifyRequest, 0, []), Decode);

        // ---- the other messages, empty or overlong
        c["CertificateRequest with an empty certificate_types list: decode_error"] =
            new(At.ClientExpectCertificateRequestOrDone, a => Forge.RestWith(a, HandshakeType.CertificateRequest, b => [0, .. b[(1 + b[0])..]]), Decode);
        c["CertificateRequest with an odd-length signature list: decode_error"] =
            new(At.ClientExpectCertificateRequestOrDone, a => Forge.RestWith(a, HandshakeType.CertificateRequest, b => [1, 64, 0, 3, 4, 3, 5, 0, 0]), Decode);
        c["CertificateRequest with an empty signature list: decode_error"] =
            new(At.ClientExpectCertificateRequestOrDone, a => Forge.RestWith(a, HandshakeType.CertificateRequest, b => [1, 64, 0, 0, 0, 0]), Decode);
        c["ServerHelloDone with a body of one byte: decode_error"] =
            new(At.ClientExpectServerHelloDone, a => Forge.RestWith(a, HandshakeType.ServerHelloDone, _ => [0]), Decode);
        c["server Certificate of zero bytes: decode_error"] =
            new(At.ClientExpectCertificate, a => Forge.RestWith(a, HandshakeType.Certificate, _ => []), Decode);
        c["ServerKeyExchange of zero bytes: decode_error"] =
            new(At.ClientExpectServerKeyExchange, a => Forge.RestWith(a, HandshakeType.ServerKeyExchange, _ => []), Decode);
        c["client Certificate of zero bytes: decode_error"] =
            new(At.ServerExpectClientCertificate, a => Forge.RestWith(a, HandshakeType.Certificate, _ => []), Decode);
        c["ClientKeyExchange of zero bytes: decode_error"] =
            new(At.ServerExpectClientKeyExchange, a => Forge.RestWith(a, HandshakeType.ClientKeyExchange, _ => []), Decode);
        c["CertificateVerify of zero bytes: decode_error"] =
            new(At.ServerExpectCertificateVerify, a => Forge.RestWith(a, HandshakeType.CertificateVerify, _ => []), Decode);
        c["CertificateVerify with a signature length of 65535 past the body: decode_error"] =
            new(At.ServerExpectCertificateVerify, a => Forge.RestWith(a, HandshakeType.CertificateVerify, b => [b[0], b[1], 0xFF, 0xFF, .. b[4..]]), Decode);

        return c;
    }

    private static List<byte[]> ClientHelloBody(DtlsArena a, Func<byte[], byte[]> edit) => WireEdit.ReplaceBody(a.Rest, HandshakeType.ClientHello, edit);

    private static List<byte[]> ServerHelloBody(DtlsArena a, Func<byte[], byte[]> edit) => Forge.RestWith(a, HandshakeType.ServerHello, edit);

    private static List<byte[]> EditHello(DtlsArena a, Func<ClientHello, ClientHello> edit) => ClientHelloBody(a, b =>
    {
        Assert.True(ClientHello.TryDecode(b, out var hello));
        return WireEdit.EncodeClientHello(edit(hello));
    });

    private static List<byte[]> EditServerHello(DtlsArena a, Func<ServerHello, ServerHello> edit) => ServerHelloBody(a, b =>
    {
        Assert.True(ServerHello.TryDecode(b, out var hello));
        return WireEdit.EncodeServerHello(edit(hello));
    });

    private static List<byte[]> ReplaceExtension(DtlsArena a, ExtensionType type, byte[] data) =>
        EditHello(a, h => h with { Extensions = [.. h.Extensions.Select(e => e.Type == type ? new Extension(type, data) : e)] });

    private static ServerHello WithSrtp(ServerHello h, byte[] data) =>
        h with { Extensions = [.. h.Extensions.Where(e => e.Type != ExtensionType.UseSrtp), new Extension(ExtensionType.UseSrtp, data)] };

    private static int SuitesBytes(byte[] body) => body[SuitesLength] << 8 | body[SuitesLength + 1];

    private static int ExtensionsStart(byte[] body)
    {
        var compression = SuitesLength + 2 + SuitesBytes(body);
        return compression + 1 + body[compression];
    }

    private static byte[] ExtensionsLength(byte[] body, int delta)
    {
        var at = ExtensionsStart(body);
        var length = (body[at] << 8 | body[at + 1]) + delta;
        return [.. body[..at], (byte)(length >> 8), (byte)length, .. body[(at + 2)..]];
    }

    private static byte[] Set(byte[] body, int at, byte value)
    {
        var copy = (byte[])body.Clone();
        copy[at] = value;
        return copy;
    }

    /// <summary>Sets the length byte at <paramref name="at"/> to <paramref name="length"/> and inserts that many bytes after it.</summary>
    private static byte[] Insert(byte[] body, int at, int length) =>
        [.. body[..at], (byte)length, .. Enumerable.Range(0, length).Select(i => (byte)(0x40 + i)), .. body[(at + 1 + body[at])..]];
}
