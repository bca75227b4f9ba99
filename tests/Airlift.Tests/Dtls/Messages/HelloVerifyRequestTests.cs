using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class HelloVerifyRequestTests
{
    private static readonly BodyDecoder<HelloVerifyRequest> Decode = HelloVerifyRequest.TryDecode;

    private static readonly byte[] Wire =
    [
        0xFE, 0xFF,             // server_version: DTLS 1.0 (RFC 6347 4.2.1 lets the server send FEFF)
        0x03, 0xAA, 0xBB, 0xCC, // cookie length 3: AA BB CC
    ];

    [Fact]
    public void HelloVerifyRequest_round_trips_field_by_field_RFC6347_4_2_1()
    {
        var hvr = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(ProtocolVersion.Dtls10, hvr.ServerVersion);
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC }, hvr.Cookie);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => hvr.Encode(ref w)));
    }

    [Fact]
    public void HelloVerifyRequest_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void HelloVerifyRequest_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void HelloVerifyRequest_with_empty_cookie_is_valid()
    {
        var hvr = MessageTestKit.Decode(Decode, [0xFE, 0xFD, 0x00]);
        Assert.Empty(hvr.Cookie);
    }
}
