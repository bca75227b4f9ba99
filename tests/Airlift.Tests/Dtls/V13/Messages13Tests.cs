using System.Security.Cryptography;
using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.V13;

namespace Airlift.Tests.Dtls.V13;

/// <summary>
/// The DTLS 1.3 message bodies Airlift writes straight into exact-size arrays (no record, closure or scratch buffer) must be
/// the bytes the general codecs write; the shared own-Certificate body must decode to the chain; the transcript must hash
/// the messages in TLS 1.3 form however its pooled buffer grows.
/// </summary>
public class Messages13Tests
{
    private static byte[] Seq(int length, byte start)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)(start + i);
        }

        return bytes;
    }

    [Theory]
    [InlineData(32, 0)] // X25519, no legacy session id
    [InlineData(32, 32)] // X25519, a 32-byte legacy_session_id echoed (RFC 8446 4.1.3)
    [InlineData(1120, 32)] // X25519MLKEM768's ciphertext + X25519 share
    public void ServerHello_body_written_directly_equals_the_ServerHello_codec_rfc8446_section4_1_3(int shareLength, int sessionIdLength)
    {
        var random = Seq(32, 0x40);
        var sessionId = Seq(sessionIdLength, 0x90);
        var share = Seq(shareLength, 0x11);
        var group = shareLength == 32 ? NamedGroup.X25519 : NamedGroup.X25519MlKem768;
        var codec = new ServerHello(ProtocolVersion.Dtls12, random, sessionId, CipherSuite.Tls13Aes128GcmSha256, 0,
            [Extensions13.CreateSelectedVersion(ProtocolVersion.Dtls13), Extensions13.CreateServerShare(new KeyShareEntry(group, share))]);
        var expected = HandshakeCommon.Encode((ref WireWriter w) => codec.Encode(ref w));

        var body = Messages13.ServerHelloBody(random, sessionId, CipherSuite.Tls13Aes128GcmSha256, group, share);

        Assert.Equal(expected, body);
        Assert.True(ServerHello.TryDecode(body, out var decoded));
        Assert.True(Extensions.TryFind(decoded!.Extensions, Wire13.KeyShare, out var ks));
        Assert.True(Extensions13.TryDecodeServerShare(ks.Data, out var entry));
        Assert.Equal(group, entry.Group);
        Assert.Equal(share, entry.KeyExchange);
    }

    [Fact]
    public void CertificateVerify_body_written_directly_equals_the_CertificateVerify_codec_rfc8446_section4_4_3()
    {
        var signature = Seq(71, 0x30);
        var codec = new CertificateVerify(SignatureScheme.EcdsaSecp256r1Sha256, signature);
        var expected = HandshakeCommon.Encode((ref WireWriter w) => codec.Encode(ref w));

        Assert.Equal(expected, Messages13.CertificateVerifyBody(SignatureScheme.EcdsaSecp256r1Sha256, signature));
    }

    [Fact]
    public void Own_certificate_body_is_encoded_once_per_certificate_and_decodes_to_the_chain_rfc8446_section4_4_2()
    {
        var certificate = TestCertificates.Ecdsa;
        var body = Certificate13.OwnBody(certificate);

        Assert.Same(body, Certificate13.OwnBody(certificate));
        Assert.NotSame(body, Certificate13.OwnBody(TestCertificates.EcdsaPeer));
        var codec = new Certificate13([], [.. certificate.ChainDer]);
        Assert.Equal(HandshakeCommon.Encode((ref WireWriter w) => codec.Encode(ref w), 8192), body);
        Assert.True(Certificate13.TryDecode(body, out var decoded));
        Assert.Empty(decoded!.Context);
        Assert.Equal(certificate.ChainDer[0], decoded.Certificates[0]);
    }

    [Fact]
    public void Client_key_shares_are_written_exactly_and_a_group_twice_is_refused_rfc8446_section4_2_8()
    {
        var shares = new List<KeyShareEntry> { new(NamedGroup.X25519, Seq(32, 1)), new(NamedGroup.Secp256r1, Seq(65, 4)) };
        var extension = Extensions13.CreateClientShares(shares);

        Assert.Equal(2 + (4 + 32) + (4 + 65), extension.Data.Length);
        Assert.True(Extensions13.TryDecodeClientShares(extension.Data, out var decoded));
        Assert.Equal(2, decoded.Count);
        Assert.Equal(1, Extensions13.IndexOf(decoded, NamedGroup.Secp256r1));
        Assert.Equal(-1, Extensions13.IndexOf(decoded, NamedGroup.Secp384r1));
        Assert.Equal(shares[1].KeyExchange, decoded[1].KeyExchange);

        var twice = Extensions13.CreateClientShares([shares[0], new KeyShareEntry(NamedGroup.X25519, Seq(32, 9))]);
        Assert.False(Extensions13.TryDecodeClientShares(twice.Data, out _));
    }

    [Fact]
    public void Transcript_hashes_the_messages_in_tls13_form_across_pooled_buffer_growth_rfc9147_section5_2()
    {
        // Three messages past the 2 KB first buffer: the hash must be of type || uint24 length || body, concatenated.
        var transcript = new Transcript13();
        var bodies = new[] { Seq(200, 1), Seq(1900, 2), Seq(3000, 3) };
        var expected = new List<byte>();
        for (var i = 0; i < bodies.Length; i++)
        {
            var type = (byte)(i + 1);
            transcript.Add(type, bodies[i]);
            expected.AddRange([type, (byte)(bodies[i].Length >> 16), (byte)(bodies[i].Length >> 8), (byte)bodies[i].Length]);
            expected.AddRange(bodies[i]);
        }

        Span<byte> digest = stackalloc byte[Transcript13.MaxHashLength];
        Assert.Equal(SHA256.HashData([.. expected]), transcript.Hash(HashAlgorithmName.SHA256, digest).ToArray());
        Assert.Equal(SHA384.HashData([.. expected]), transcript.Hash(HashAlgorithmName.SHA384));

        // After a HelloRetryRequest the transcript restarts from message_hash(ClientHello1) (RFC 8446 4.4.1).
        var clientHello1 = SHA256.HashData([.. expected]);
        transcript.ReplaceWithMessageHash(HashAlgorithmName.SHA256);
        Assert.Equal(SHA256.HashData([254, 0, 0, 32, .. clientHello1]), transcript.Hash(HashAlgorithmName.SHA256));

        // Released: empty, and usable again.
        transcript.Release();
        Assert.Equal(SHA256.HashData([]), transcript.Hash(HashAlgorithmName.SHA256));
        transcript.Add(1, bodies[0]);
        Assert.Equal(SHA256.HashData([1, 0, 0, 200, .. bodies[0]]), transcript.Hash(HashAlgorithmName.SHA256));
        transcript.Release();
    }
}
