using Airlift.Codec;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class ChangeCipherSpecTests
{
    private static readonly BodyDecoder<ChangeCipherSpec> Decode = ChangeCipherSpec.TryDecode;

    private static readonly byte[] Wire =
    [
        0x01, // type: change_cipher_spec
    ];

    [Fact]
    public void ChangeCipherSpec_round_trips_RFC5246_7_1()
    {
        var ccs = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => ccs.Encode(ref w)));
    }

    [Fact]
    public void ChangeCipherSpec_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void ChangeCipherSpec_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void ChangeCipherSpec_with_another_value_is_rejected()
    {
        Assert.False(ChangeCipherSpec.TryDecode([0x00], out _));
        Assert.False(ChangeCipherSpec.TryDecode([0x02], out _));
    }
}
