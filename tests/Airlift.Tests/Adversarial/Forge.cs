using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Hostile values for the crypto attacks: invalid ECDHE points (Wycheproof ecdh "invalid public key" shapes),
/// certificates whose key bytes are malformed but whose DER still loads, and re-signed ServerKeyExchange messages.
/// </summary>
internal static class Forge
{
    private static readonly BigInteger P256 = BigInteger.Pow(2, 256) - BigInteger.Pow(2, 224) + BigInteger.Pow(2, 192) + BigInteger.Pow(2, 96) - 1;
    private static readonly BigInteger P384 = BigInteger.Pow(2, 384) - BigInteger.Pow(2, 128) - BigInteger.Pow(2, 96) + BigInteger.Pow(2, 32) - 1;

    private static readonly Lazy<byte[]> LazyRsaMalformedKey = new(() => MalformRsaKey());
    private static readonly Lazy<byte[]> LazyEcdsaOffCurve = new(() => MalformEcPoint());

    /// <summary>Coordinate length of a group (32 for P-256, 48 for P-384).</summary>
    public static int CoordinateLength(NamedGroup group) => group == NamedGroup.Secp384r1 ? 48 : 32;

    /// <summary>Invalid encodings of a public point, derived from a genuine uncompressed point of <paramref name="group"/>.</summary>
    public static IEnumerable<(string Name, Func<byte[], byte[]> Make)> InvalidPoints(NamedGroup group)
    {
        var n = CoordinateLength(group);
        var p = group == NamedGroup.Secp384r1 ? P384 : P256;
        yield return ("a point off the curve (y + 1)", pt => WithY(pt, n, y => (y + 1) % p));
        yield return ("the point at infinity (single 00 byte)", _ => [0x00]);
        yield return ("the all-zero point (0, 0)", _ => [0x04, .. new byte[2 * n]]);
        yield return ("a point one byte short", pt => pt[..^1]);
        yield return ("a point one byte long", pt => [.. pt, 0x00]);
        yield return ("a compressed point (02 || x)", pt => [0x02, .. pt[1..(1 + n)]]);
        yield return ("a compressed point (03 || x)", pt => [0x03, .. pt[1..(1 + n)]]);
        yield return ("a hybrid point (06 || x || y)", pt => [0x06, .. pt[1..]]);
        yield return ("x equal to the field prime p", pt => [0x04, .. Coordinate(p, n), .. pt[(1 + n)..]]);
        yield return ("y equal to the field prime p", pt => WithY(pt, n, _ => p));
        yield return ($"a point of the other curve ({(group == NamedGroup.Secp384r1 ? "P-256" : "P-384")})", _ => OtherCurvePoint(group));
    }

    /// <summary>A P-256 self-signed certificate whose SubjectPublicKeyInfo says RSA but whose RSAPublicKey is not DER (the DER of the certificate still loads).</summary>
    public static byte[] RsaCertificateWithMalformedKey => LazyRsaMalformedKey.Value;

    /// <summary>An ECDSA P-256 certificate whose public point is not on the curve (the DER still loads).</summary>
    public static byte[] EcdsaCertificateWithOffCurvePoint => LazyEcdsaOffCurve.Value;

    /// <summary>Bytes that are not a certificate at all.</summary>
    public static byte[] GarbageDer => [0x30, 0x82, 0x01, 0x00, .. Enumerable.Range(0, 64).Select(i => (byte)(i * 7))];

    /// <summary>Encodes a Certificate message body holding <paramref name="chain"/>.</summary>
    public static byte[] CertificateBody(params byte[][] chain) => ScriptedClient.Encode((ref WireWriter w) => new CertificateMessage([.. chain]).Encode(ref w));

    /// <summary>The sha-256 fingerprint of a DER certificate, in SDP form.</summary>
    public static CertificateFingerprint Fingerprint(byte[] der) => CertificateFingerprint.Compute("sha-256", der);

    public static byte[] Encode(ServerKeyExchangeEcdhe ske) => ScriptedClient.Encode((ref WireWriter w) => ske.Encode(ref w));

    public static byte[] Encode(ClientKeyExchangeEcdhe cke) => ScriptedClient.Encode((ref WireWriter w) => cke.Encode(ref w));

    public static byte[] Encode(CertificateVerify cv) => ScriptedClient.Encode((ref WireWriter w) => cv.Encode(ref w));

    /// <summary>
    /// The arena's genuine ServerKeyExchange (the first of <see cref="DtlsArena.Rest"/> at ClientExpectServerKeyExchange),
    /// edited, and signed again with the real server key when <paramref name="resign"/> (a malicious but authenticated server).
    /// Returns the whole rest of flight 4 with the edited message in place.
    /// </summary>
    public static List<byte[]> ServerKeyExchange(DtlsArena a, Func<ServerKeyExchangeEcdhe, ServerKeyExchangeEcdhe> edit, bool resign, DtlsCertificate? signer = null)
    {
        Assert.Equal(At.ClientExpectServerKeyExchange, a.Stage);
        Assert.True(ClientHello.TryDecode(a.GenuineBody(HandshakeType.ClientHello), out var ch));
        Assert.True(ServerHello.TryDecode(a.GenuineBody(HandshakeType.ServerHello), out var sh));
        var edited = WireEdit.ReplaceBody([a.Rest[0]], HandshakeType.ServerKeyExchange, body =>
        {
            Assert.True(ServerKeyExchangeEcdhe.TryDecode(body, out var ske));
            var forged = edit(ske);
            if (resign)
            {
                var signed = HandshakeCommon.ServerKeyExchangeSignedData(ch.Random, sh.Random, forged);
                forged = forged with { Signature = (signer ?? TestCertificates.Ecdsa).Sign(forged.Scheme, signed) };
            }

            return Encode(forged);
        });
        return [.. edited, .. a.Rest.Skip(1)];
    }

    /// <summary>Replaces the body of the first message of <paramref name="type"/> in the arena's rest; returns the rest from that message on.</summary>
    public static List<byte[]> RestWith(DtlsArena a, HandshakeType type, Func<byte[], byte[]> body) =>
        [.. WireEdit.ReplaceBody([a.Rest[0]], type, body), .. a.Rest.Skip(1)];

    /// <summary>A genuine uncompressed point of <paramref name="group"/>.</summary>
    public static byte[] GenuinePoint(NamedGroup group)
    {
        using var share = Airlift.Dtls.Crypto.KeyExchange.Generate(group);
        return share.PublicShare;
    }

    private static byte[] OtherCurvePoint(NamedGroup group) => GenuinePoint(group == NamedGroup.Secp384r1 ? NamedGroup.Secp256r1 : NamedGroup.Secp384r1);

    private static byte[] WithY(byte[] point, int n, Func<BigInteger, BigInteger> change)
    {
        var y = new BigInteger(point.AsSpan(1 + n, n), isUnsigned: true, isBigEndian: true);
        return [.. point[..(1 + n)], .. Coordinate(change(y), n)];
    }

    private static byte[] Coordinate(BigInteger value, int n)
    {
        var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        Assert.True(bytes.Length <= n);
        return [.. new byte[n - bytes.Length], .. bytes];
    }

    private static byte[] MalformRsaKey()
    {
        // A fixture certificate (generating an RSA key takes seconds): its RSAPublicKey is found by its own bytes.
        using var fixture = X509CertificateLoader.LoadCertificateFromFile(TestCertificates.FixturePath("certs", "rsa-single", "cert.pem"));
        using var rsa = fixture.GetRSAPublicKey()!;
        var der = fixture.RawData;
        var key = rsa.ExportRSAPublicKey();
        var at = der.AsSpan().IndexOf(key);
        Assert.True(at > 0);

        // RSAPublicKey ::= SEQUENCE { modulus, publicExponent }: make the modulus tag a BOOLEAN, keeping every length.
        var modulusTag = at + (key[1] == 0x82 ? 4 : key[1] == 0x81 ? 3 : 2);
        Assert.Equal(0x02, der[modulusTag]);
        der[modulusTag] = 0x01;
        using var loaded = X509CertificateLoader.LoadCertificate(der);
        Assert.ThrowsAny<CryptographicException>(() => loaded.GetRSAPublicKey());
        return der;
    }

    private static byte[] MalformEcPoint()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=airlift-off-curve", ec, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var der = cert.RawData;
        var spki = ec.ExportSubjectPublicKeyInfo();
        var point = spki[^65..];
        var at = der.AsSpan().IndexOf(point);
        Assert.True(at > 0);
        der[at + 64] ^= 0x01;
        using var loaded = X509CertificateLoader.LoadCertificate(der);
        Assert.ThrowsAny<CryptographicException>(() => loaded.GetECDsaPublicKey());
        return der;
    }
}
