using Airlift.Codec;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class ClientKeyExchangeEcdheTests
{
    private static readonly BodyDecoder<ClientKeyExchangeEcdhe> Decode = ClientKeyExchangeEcdhe.TryDecode;

    private static readonly byte[] Wire =
    [
        0x03,             // ecdh_Yc length: 3
        0x04, 0xAA, 0xBB, // ecdh_Yc (uncompressed point form)
    ];

    [Fact]
    public void ClientKeyExchange_round_trips_field_by_field_RFC8422_5_7()
    {
        var cke = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(new byte[] { 0x04, 0xAA, 0xBB }, cke.PublicPoint);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => cke.Encode(ref w)));
    }

    [Fact]
    public void ClientKeyExchange_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void ClientKeyExchange_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void ClientKeyExchange_with_empty_point_is_rejected_RFC8422_5_7()
        => Assert.False(ClientKeyExchangeEcdhe.TryDecode([0x00], out _));
}
