using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class AlertTests
{
    private static readonly BodyDecoder<Alert> Decode = Alert.TryDecode;

    private static readonly byte[] Wire =
    [
        0x02, // level: fatal
        0x28, // description: handshake_failure (40)
    ];

    [Fact]
    public void Alert_round_trips_field_by_field_RFC5246_7_2()
    {
        var alert = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(AlertLevel.Fatal, alert.Level);
        Assert.Equal(AlertDescription.HandshakeFailure, alert.Description);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => alert.Encode(ref w)));
    }

    [Fact]
    public void Alert_keeps_unknown_level_and_description_as_their_byte()
    {
        byte[] wire = [0x07, 0xFE];
        var alert = MessageTestKit.Decode(Decode, wire);
        Assert.Equal(7, (byte)alert.Level);
        Assert.Equal(0xFE, (byte)alert.Description);
        Assert.Equal(wire, MessageTestKit.Encode((ref WireWriter w) => alert.Encode(ref w)));
    }

    [Fact]
    public void Alert_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void Alert_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);
}
