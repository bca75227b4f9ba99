using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class ClientHelloTests
{
    private const int EndOfCookie = 40;
    private const int EndOfCompressionMethods = 50;

    private static readonly byte[] Wire =
    [
        0xFE, 0xFD,                                     // client_version: DTLS 1.2
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // random (32)
        0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
        0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F,
        0x00,                                           // session_id length: 0
        0x04, 0xC0, 0xFF, 0xEE, 0x01,                   // cookie length 4: C0 FF EE 01
        0x00, 0x06,                                     // cipher_suites length: 6
        0x0A, 0x0A,                                     //   GREASE
        0xC0, 0x2B,                                     //   TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        0x00, 0xFF,                                     //   TLS_EMPTY_RENEGOTIATION_INFO_SCSV
        0x01, 0x00,                                     // compression_methods length 1: null
        0x00, 0x11,                                     // extensions length: 17
        0x00, 0x17, 0x00, 0x00,                         //   extended_master_secret, empty
        0x00, 0x0E, 0x00, 0x05,                         //   use_srtp, 5 bytes
        0x00, 0x02, 0x00, 0x01, 0x00,                   //     profiles (2): SRTP_AES128_CM_HMAC_SHA1_80; mki empty
        0x1A, 0x1A, 0x00, 0x00,                         //   GREASE extension, empty
    ];

    private static readonly BodyDecoder<ClientHello> Decode = ClientHello.TryDecode;

    [Fact]
    public void ClientHello_round_trips_field_by_field_RFC6347_4_2_1()
    {
        var hello = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(ProtocolVersion.Dtls12, hello.ClientVersion);
        Assert.Equal(MessageTestKit.Bytes(32, 0x00), hello.Random);
        Assert.Empty(hello.SessionId);
        Assert.Equal(new byte[] { 0xC0, 0xFF, 0xEE, 0x01 }, hello.Cookie);
        Assert.Equal([new CipherSuite(0x0A0A), CipherSuite.EcdheEcdsaWithAes128GcmSha256, CipherSuite.EmptyRenegotiationInfoScsv], hello.CipherSuites);
        Assert.Equal(new byte[] { 0x00 }, hello.CompressionMethods);
        Assert.Equal(
            [ExtensionType.ExtendedMasterSecret, ExtensionType.UseSrtp, new ExtensionType(0x1A1A)],
            hello.Extensions.Select(e => e.Type));
        Assert.True(Extensions.TryDecodeUseSrtp(hello.Extensions[1].Data, out var profiles, out var mki));
        Assert.Equal([SrtpProtectionProfile.Aes128CmHmacSha1_80], profiles);
        Assert.Empty(mki);

        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => hello.Encode(ref w)));
    }

    [Fact]
    public void ClientHello_truncated_at_every_length_is_rejected_except_before_the_optional_extensions()
    {
        MessageTestKit.AssertEveryTruncationRejected(Decode, Wire, EndOfCompressionMethods);

        // RFC 5246 7.4.1.2: the extensions block may be absent; that is an empty list and encodes back the same.
        var bare = Wire[..EndOfCompressionMethods];
        var hello = MessageTestKit.Decode(Decode, bare);
        Assert.Empty(hello.Extensions);
        Assert.Equal(bare, MessageTestKit.Encode((ref WireWriter w) => hello.Encode(ref w)));
    }

    [Fact]
    public void ClientHello_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void ClientHello_with_session_id_longer_than_32_is_rejected_RFC5246_7_4_1_2()
    {
        var w = new List<byte>(Wire[..34]) { 33 };
        w.AddRange(new byte[33]);
        w.AddRange(Wire[35..]);
        Assert.False(ClientHello.TryDecode(w.ToArray(), out _));
        Assert.False(ClientHello.TryReadPrefix(w.ToArray(), out _, out _, out _, out _, out _));
    }

    [Fact]
    public void ClientHello_with_empty_or_odd_cipher_suites_is_rejected()
    {
        byte[] empty = [.. Wire[..EndOfCookie], 0x00, 0x00, 0x01, 0x00];
        Assert.False(ClientHello.TryDecode(empty, out _));
        byte[] odd = [.. Wire[..EndOfCookie], 0x00, 0x03, 0xC0, 0x2B, 0x00, 0x01, 0x00];
        Assert.False(ClientHello.TryDecode(odd, out _));
        byte[] good = [.. Wire[..EndOfCookie], 0x00, 0x02, 0xC0, 0x2B, 0x01, 0x00];
        Assert.True(ClientHello.TryDecode(good, out _));
    }

    [Fact]
    public void ClientHello_with_no_compression_method_is_rejected()
    {
        byte[] wire = [.. Wire[..(EndOfCompressionMethods - 2)], 0x00];
        Assert.False(ClientHello.TryDecode(wire, out _));
    }

    [Fact]
    public void ClientHello_with_duplicate_extension_is_rejected_RFC5246_7_4_1_4()
    {
        byte[] wire = [.. Wire[..EndOfCompressionMethods], 0x00, 0x08, 0x00, 0x17, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00];
        Assert.False(ClientHello.TryDecode(wire, out _));
    }

    [Fact]
    public void TryReadPrefix_reads_version_random_session_and_cookie_only()
    {
        Assert.True(ClientHello.TryReadPrefix(Wire, out var version, out var random, out var sessionId, out var cookie, out var prefixLength));
        Assert.Equal(ProtocolVersion.Dtls12, version);
        Assert.Equal(MessageTestKit.Bytes(32, 0x00), random.ToArray());
        Assert.True(sessionId.IsEmpty);
        Assert.Equal(new byte[] { 0xC0, 0xFF, 0xEE, 0x01 }, cookie.ToArray());
        Assert.Equal(EndOfCookie, prefixLength);

        Assert.True(ClientHello.TryReadPrefix(Wire.AsSpan(0, EndOfCookie), out _, out _, out _, out _, out prefixLength));
        Assert.Equal(EndOfCookie, prefixLength);
        for (var length = 0; length < EndOfCookie; length++)
        {
            Assert.False(ClientHello.TryReadPrefix(Wire.AsSpan(0, length), out _, out _, out _, out _, out _), $"prefix {length}");
        }
    }

    [Fact]
    public void ClientHello_decode_copies_bytes_out_of_the_datagram()
    {
        var input = Wire.ToArray();
        var hello = MessageTestKit.Decode(Decode, input);
        Array.Clear(input);
        Assert.Equal(0x1F, hello.Random[31]);
        Assert.Equal(0xC0, hello.Cookie[0]);
    }

    [Fact]
    public void ClientHello_encode_refuses_a_random_that_is_not_32_bytes()
    {
        var hello = MessageTestKit.Decode(Decode, Wire) with { Random = new byte[31] };
        Assert.Throws<InvalidOperationException>(() => MessageTestKit.Encode((ref WireWriter w) => hello.Encode(ref w)));
    }
}
