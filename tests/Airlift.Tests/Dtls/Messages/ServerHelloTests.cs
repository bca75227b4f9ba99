using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class ServerHelloTests
{
    private const int EndOfCompressionMethod = 42;

    private static readonly BodyDecoder<ServerHello> Decode = ServerHello.TryDecode;

    private static readonly byte[] Wire =
    [
        0xFE, 0xFD,                                     // server_version: DTLS 1.2
        0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, // random (32)
        0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F,
        0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
        0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
        0x04, 0x51, 0x52, 0x53, 0x54,                   // session_id length 4: 51 52 53 54
        0xC0, 0x2B,                                     // cipher_suite: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        0x00,                                           // compression_method: null
        0x00, 0x12,                                     // extensions length: 18
        0xFF, 0x01, 0x00, 0x01, 0x00,                   //   renegotiation_info, 1 byte: empty renegotiated_connection
        0x00, 0x17, 0x00, 0x00,                         //   extended_master_secret, empty
        0x00, 0x0E, 0x00, 0x05,                         //   use_srtp, 5 bytes
        0x00, 0x02, 0x00, 0x07, 0x00,                   //     profiles (2): SRTP_AEAD_AES_128_GCM; mki empty
    ];

    [Fact]
    public void ServerHello_round_trips_field_by_field_RFC5246_7_4_1_3()
    {
        var hello = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(ProtocolVersion.Dtls12, hello.ServerVersion);
        Assert.Equal(MessageTestKit.Bytes(32, 0x20), hello.Random);
        Assert.Equal(new byte[] { 0x51, 0x52, 0x53, 0x54 }, hello.SessionId);
        Assert.Equal(CipherSuite.EcdheEcdsaWithAes128GcmSha256, hello.CipherSuite);
        Assert.Equal(0, hello.CompressionMethod);
        Assert.Equal(
            [ExtensionType.RenegotiationInfo, ExtensionType.ExtendedMasterSecret, ExtensionType.UseSrtp],
            hello.Extensions.Select(e => e.Type));
        Assert.True(Extensions.TryDecodeUseSrtp(hello.Extensions[2].Data, out var profiles, out _));
        Assert.Equal([SrtpProtectionProfile.AeadAes128Gcm], profiles);

        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => hello.Encode(ref w)));
    }

    [Fact]
    public void ServerHello_truncated_at_every_length_is_rejected_except_before_the_optional_extensions()
    {
        MessageTestKit.AssertEveryTruncationRejected(Decode, Wire, EndOfCompressionMethod);
        var bare = MessageTestKit.Decode(Decode, Wire[..EndOfCompressionMethod]);
        Assert.Empty(bare.Extensions);
        Assert.Equal(Wire[..EndOfCompressionMethod], MessageTestKit.Encode((ref WireWriter w) => bare.Encode(ref w)));
    }

    [Fact]
    public void ServerHello_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void ServerHello_with_duplicate_extension_is_rejected_RFC5246_7_4_1_4()
    {
        byte[] wire = [.. Wire[..EndOfCompressionMethod], 0x00, 0x08, 0x00, 0x17, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00];
        Assert.False(ServerHello.TryDecode(wire, out _));
    }
}
