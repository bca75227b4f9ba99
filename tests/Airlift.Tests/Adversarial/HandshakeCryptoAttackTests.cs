using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Attacks on the handshake's cryptography (BoringSSL runner "BadECDSA*", "*-InvalidSignature", "UnofferedScheme";
/// tlsfuzzer test-invalid-ecdhe / test-certificate-malformed; Wycheproof ecdh invalid public keys): forged and misplaced
/// signatures, signature schemes and groups the victim never offered, invalid and off-curve ECDHE points on P-256 and
/// P-384 and low-order or mis-sized X25519 points from either side, and certificates that are empty, not DER, or carry a
/// malformed key. Every one is fatal with the named alert (RFC 5246 7.4.3, 7.4.8; RFC 8422 5.4, 5.10), none may throw out
/// of HandleDatagram.
/// </summary>
public class HandshakeCryptoAttackTests
{
    private static readonly Dictionary<string, DtlsAttack> Cases = BuildCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    internal static int Count => Cases.Count;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Crypto_attack_ends_in_the_stated_outcome_and_nothing_else_breaks(string name) => Cases[name].Run();

    private static Fatal Illegal => new(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter);

    private static Fatal DecryptError => new(DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError);

    private static Fatal BadCertificate => new(DtlsFailureReason.BadCertificate, AlertDescription.BadCertificate);

    private static Func<DtlsOptions, DtlsOptions> Groups(NamedGroup group) => o => o with { Groups = [group] };

    private static IEnumerable<(string What, byte[] Point)> InvalidX25519Points()
    {
        yield return ("the all-zero u-coordinate (low order)", new byte[32]);
        yield return ("u = 1 (low order)", [1, .. new byte[31]]);
        yield return ("a point of order 8", Convert.FromHexString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"));
        yield return ("u = p + 1, non-canonical 1 (low order)", [0xee, .. Enumerable.Repeat((byte)0xff, 30), 0x7f]);
        yield return ("a point one byte short", Forge.GenuinePoint(NamedGroup.X25519)[..31]);
        yield return ("a point one byte long", [.. Forge.GenuinePoint(NamedGroup.X25519), 0]);
        yield return ("an uncompressed P-256 point (0x04 || X || Y)", Forge.GenuinePoint(NamedGroup.Secp256r1));
    }

    private static Dictionary<string, DtlsAttack> BuildCases()
    {
        var c = new Dictionary<string, DtlsAttack>();
        const At Ske = At.ClientExpectServerKeyExchange;
        const At Cke = At.ServerExpectClientKeyExchange;
        const At Cv = At.ServerExpectCertificateVerify;

        // ---- ServerKeyExchange signature (RFC 5246 7.4.3, RFC 8422 5.4)
        c["ServerKeyExchange signature with its last byte flipped: decrypt_error"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Signature = Flip(s.Signature, ^1) }, resign: false), DecryptError);
        c["ServerKeyExchange signature with a flipped byte inside r: decrypt_error"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Signature = Flip(s.Signature, 8) }, resign: false), DecryptError);
        c["ServerKeyExchange with an empty signature: decrypt_error"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Signature = [] }, resign: false), DecryptError);
        c["ServerKeyExchange point changed after signing: decrypt_error"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { PublicPoint = Forge.GenuinePoint(s.Group) }, resign: false), DecryptError);
        c["ServerKeyExchange signed by another key (not the certificate's): decrypt_error"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s, resign: true, signer: TestCertificates.EcdsaPeer), DecryptError);
        c["ServerKeyExchange replayed from another handshake (other randoms): decrypt_error"] =
            new(Ske, a => Forge.RestWith(a, HandshakeType.ServerKeyExchange, _ => DtlsArena.Create(At.ServerConnected, seed: 77).GenuineBody(HandshakeType.ServerKeyExchange)), DecryptError);

        // ---- schemes and groups the client did not offer
        c["ServerKeyExchange signed with ecdsa_secp384r1_sha384 when only secp256r1_sha256 was offered: illegal_parameter"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Scheme = SignatureScheme.EcdsaSecp384r1Sha384 }, resign: true), Illegal,
                Client: o => o with { SignatureSchemes = [SignatureScheme.EcdsaSecp256r1Sha256] });
        c["ServerKeyExchange claiming an RSA scheme (rsa_pss_rsae_sha256) for an ECDSA key: illegal_parameter"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Scheme = SignatureScheme.RsaPssRsaeSha256 }, resign: false), Illegal);
        c["ServerKeyExchange claiming ed25519 (0x0807), never offered: illegal_parameter"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Scheme = new SignatureScheme(0x0807) }, resign: false), Illegal);
        c["ServerKeyExchange claiming rsa_pkcs1_sha1 (0x0201), never offered: illegal_parameter"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Scheme = new SignatureScheme(0x0201) }, resign: false), Illegal);
        c["ServerKeyExchange choosing secp384r1 when only secp256r1 was offered (validly signed): illegal_parameter"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Group = NamedGroup.Secp384r1, PublicPoint = Forge.GenuinePoint(NamedGroup.Secp384r1) }, resign: true), Illegal,
                Client: Groups(NamedGroup.Secp256r1));
        c["ServerKeyExchange choosing x25519 (never offered, validly signed): illegal_parameter"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Group = NamedGroup.X25519, PublicPoint = Forge.GenuinePoint(NamedGroup.X25519) }, resign: true), Illegal,
                Client: Groups(NamedGroup.Secp256r1));
        c["ServerKeyExchange choosing X25519MLKEM768 (DTLS 1.3 only, validly signed): illegal_parameter"] =
            new(Ske, a => Forge.ServerKeyExchange(a, s => s with { Group = NamedGroup.X25519MlKem768, PublicPoint = Forge.GenuinePoint(NamedGroup.X25519) }, resign: true), Illegal);
        c["ServerKeyExchange with explicit curve parameters (curve_type 1): decode_error"] =
            new(Ske, a => Forge.RestWith(a, HandshakeType.ServerKeyExchange, b => [1, .. b[1..]]), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));
        c["ServerKeyExchange with an empty point: decode_error"] =
            new(Ske, a => Forge.RestWith(a, HandshakeType.ServerKeyExchange, b => [.. b[..3], 0, .. b[(4 + b[3])..]]), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));

        // ---- CertificateVerify (RFC 5246 7.4.8)
        c["CertificateVerify signature with its last byte flipped: decrypt_error"] =
            new(Cv, a => Forge.RestWith(a, HandshakeType.CertificateVerify, b => EditCv(b, v => v with { Signature = Flip(v.Signature, ^1) })), DecryptError);
        c["CertificateVerify with an empty signature: decrypt_error"] =
            new(Cv, a => Forge.RestWith(a, HandshakeType.CertificateVerify, b => EditCv(b, v => v with { Signature = [] })), DecryptError);
        c["CertificateVerify replayed from another handshake (other transcript): decrypt_error"] =
            new(Cv, a => Forge.RestWith(a, HandshakeType.CertificateVerify, _ => DtlsArena.Create(At.ServerConnected, seed: 78).GenuineBody(HandshakeType.CertificateVerify)), DecryptError);
        c["CertificateVerify with a scheme not in the CertificateRequest (ecdsa_secp384r1_sha384): illegal_parameter"] =
            new(Cv, a => Forge.RestWith(a, HandshakeType.CertificateVerify, b => EditCv(b, v => v with { Scheme = SignatureScheme.EcdsaSecp384r1Sha384 })), Illegal,
                Server: o => o with { SignatureSchemes = [SignatureScheme.EcdsaSecp256r1Sha256] });
        c["CertificateVerify claiming an RSA scheme for an ECDSA key: illegal_parameter"] =
            new(Cv, a => Forge.RestWith(a, HandshakeType.CertificateVerify, b => EditCv(b, v => v with { Scheme = SignatureScheme.RsaPkcs1Sha256 })), Illegal);
        c["CertificateVerify claiming rsa_pkcs1_sha1 (0x0201), never requested: illegal_parameter"] =
            new(Cv, a => Forge.RestWith(a, HandshakeType.CertificateVerify, b => EditCv(b, v => v with { Scheme = new SignatureScheme(0x0201) })), Illegal);
        c["CertificateVerify with a trailing byte: decode_error"] =
            new(Cv, a => Forge.RestWith(a, HandshakeType.CertificateVerify, b => [.. b, 0]), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));

        // ---- invalid ECDHE points, both directions, P-256 and P-384 (RFC 8422 5.10, Wycheproof)
        foreach (var group in new[] { NamedGroup.Secp256r1, NamedGroup.Secp384r1 })
        {
            var curve = group == NamedGroup.Secp384r1 ? "P-384" : "P-256";
            foreach (var (what, make) in Forge.InvalidPoints(group))
            {
                c[$"ServerKeyExchange ({curve}, validly signed) with {what}: illegal_parameter"] =
                    new(Ske, a => Forge.ServerKeyExchange(a, s => s with { PublicPoint = make(s.PublicPoint) }, resign: true), Illegal, Groups(group), Groups(group));
                c[$"ClientKeyExchange ({curve}) with {what}: illegal_parameter"] =
                    new(Cke, a => Forge.RestWith(a, HandshakeType.ClientKeyExchange, b =>
                    {
                        Assert.True(ClientKeyExchangeEcdhe.TryDecode(b, out var cke));
                        return Forge.Encode(new ClientKeyExchangeEcdhe(make(cke.PublicPoint)));
                    }), Illegal, Groups(group), Groups(group));
            }
        }

        // ---- invalid X25519 points (RFC 8422 5.4: the 32-byte u-coordinate; RFC 7748 6.1: an all-zero result is refused)
        foreach (var (what, point) in InvalidX25519Points())
        {
            c[$"ServerKeyExchange (x25519, validly signed) with {what}: illegal_parameter"] =
                new(Ske, a => Forge.ServerKeyExchange(a, s => s with { PublicPoint = point }, resign: true), Illegal, Groups(NamedGroup.X25519), Groups(NamedGroup.X25519));
            c[$"ClientKeyExchange (x25519) with {what}: illegal_parameter"] =
                new(Cke, a => Forge.RestWith(a, HandshakeType.ClientKeyExchange, _ => Forge.Encode(new ClientKeyExchangeEcdhe(point))), Illegal, Groups(NamedGroup.X25519), Groups(NamedGroup.X25519));
        }

        c["ClientKeyExchange with an empty point: decode_error"] =
            new(Cke, a => Forge.RestWith(a, HandshakeType.ClientKeyExchange, _ => [0]), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));
        c["ClientKeyExchange with a point length beyond the body: decode_error"] =
            new(Cke, a => Forge.RestWith(a, HandshakeType.ClientKeyExchange, b => [(byte)(b[0] + 1), .. b[1..]]), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));

        // ---- certificates: empty, not DER, wrong key, malformed keys (issue 10 item 1: never an exception, BadCertificate)
        const At ServerCert = At.ClientExpectCertificate;
        const At ClientCert = At.ServerExpectClientCertificate;
        c["server Certificate empty: bad_certificate"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody()), BadCertificate);
        c["server Certificate empty, client without a fingerprint (AllowAnyPeerCertificate): bad_certificate (a server certificate is never optional)"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody()), BadCertificate,
                Client: o => o with { ExpectedPeerFingerprint = null, AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] });
        c["server Certificate refused by the client's PeerCertificateValidator: bad_certificate"] =
            new(ServerCert, a => new Injection(a.Rest), BadCertificate,
                Client: o => o with { ExpectedPeerFingerprint = null, PeerCertificateValidator = _ => false });
        c["server Certificate whose PeerCertificateValidator throws: bad_certificate, no exception out"] =
            new(ServerCert, a => new Injection(a.Rest), BadCertificate,
                Client: o => o with { ExpectedPeerFingerprint = null, PeerCertificateValidator = _ => throw new InvalidOperationException("validator bug") });
        c["server Certificate that is not DER (fingerprint matches): bad_certificate"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody(Forge.GarbageDer)), BadCertificate,
                Client: o => o with { ExpectedPeerFingerprint = Forge.Fingerprint(Forge.GarbageDer) });
        c["server Certificate of another key (fingerprint mismatch): bad_certificate"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody([.. TestCertificates.EcdsaPeer.ChainDer])), BadCertificate);
        c["server Certificate with an RSA key type and malformed key bytes (fingerprint matches): bad_certificate, no exception"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody(Forge.RsaCertificateWithMalformedKey)), BadCertificate,
                Client: o => o with { ExpectedPeerFingerprint = Forge.Fingerprint(Forge.RsaCertificateWithMalformedKey) });
        c["server Certificate with an ECDSA key off the curve (fingerprint matches): bad_certificate, no exception"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody(Forge.EcdsaCertificateWithOffCurvePoint)), BadCertificate,
                Client: o => o with { ExpectedPeerFingerprint = Forge.Fingerprint(Forge.EcdsaCertificateWithOffCurvePoint) });
        c["server Certificate with an RSA key for an ECDSA suite (fingerprint matches): unsupported_certificate"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody(TestCertificates.RsaChain.ChainDer[0])),
                new Fatal(DtlsFailureReason.BadCertificate, AlertDescription.UnsupportedCertificate),
                Client: o => o with { ExpectedPeerFingerprint = TestCertificates.RsaChain.GetFingerprint() });
        c["server Certificate list length beyond the body: decode_error"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, b => [b[0], b[1], (byte)(b[2] + 1), .. b[3..]]), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));
        c["server Certificate with a zero-length entry: decode_error"] =
            new(ServerCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => [0, 0, 3, 0, 0, 0]), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));

        c["client Certificate empty while required: handshake_failure"] =
            new(ClientCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody()), new Fatal(DtlsFailureReason.BadCertificate, AlertDescription.HandshakeFailure));
        c["client Certificate empty, ClientCertificate = Request but a fingerprint expected: handshake_failure (issue 10 item 3)"] =
            new(ClientCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody()), new Fatal(DtlsFailureReason.BadCertificate, AlertDescription.HandshakeFailure),
                Server: o => o with { ClientCertificate = ClientCertificateMode.Request });
        c["client Certificate that is not DER (fingerprint matches): bad_certificate"] =
            new(ClientCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody(Forge.GarbageDer)), BadCertificate,
                Server: o => o with { ExpectedPeerFingerprint = Forge.Fingerprint(Forge.GarbageDer) });
        c["client Certificate of another key (fingerprint mismatch): bad_certificate"] =
            new(ClientCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody([.. TestCertificates.Ecdsa.ChainDer])), BadCertificate);
        c["client Certificate with an RSA key type and malformed key bytes (fingerprint matches): bad_certificate, no exception"] =
            new(ClientCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody(Forge.RsaCertificateWithMalformedKey)), BadCertificate,
                Server: o => o with { ExpectedPeerFingerprint = Forge.Fingerprint(Forge.RsaCertificateWithMalformedKey) });
        c["client Certificate with an ECDSA key off the curve (fingerprint matches): bad_certificate, no exception"] =
            new(ClientCert, a => Forge.RestWith(a, HandshakeType.Certificate, _ => Forge.CertificateBody(Forge.EcdsaCertificateWithOffCurvePoint)), BadCertificate,
                Server: o => o with { ExpectedPeerFingerprint = Forge.Fingerprint(Forge.EcdsaCertificateWithOffCurvePoint) });

        return c;
    }

    private static byte[] Flip(byte[] bytes, Index at)
    {
        var copy = (byte[])bytes.Clone();
        copy[at] ^= 0x01;
        return copy;
    }

    private static byte[] EditCv(byte[] body, Func<CertificateVerify, CertificateVerify> edit)
    {
        Assert.True(CertificateVerify.TryDecode(body, out var cv));
        return Forge.Encode(edit(cv));
    }
}
