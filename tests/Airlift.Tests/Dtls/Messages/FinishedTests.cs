using Airlift.Codec;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class FinishedTests
{
    private static readonly BodyDecoder<Finished> Decode = Finished.TryDecode;

    private static readonly byte[] Wire =
    [
        0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, // verify_data (12)
        0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB,
    ];

    [Fact]
    public void Finished_round_trips_field_by_field_RFC5246_7_4_9()
    {
        var finished = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(MessageTestKit.Bytes(12, 0xA0), finished.VerifyData);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => finished.Encode(ref w)));
    }

    [Fact]
    public void Finished_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void Finished_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void Finished_encode_refuses_verify_data_that_is_not_12_bytes()
    {
        var finished = new Finished(new byte[13]);
        Assert.Throws<InvalidOperationException>(() => MessageTestKit.Encode((ref WireWriter w) => finished.Encode(ref w)));
    }
}
