using Airlift.Codec;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class ServerHelloDoneTests
{
    [Fact]
    public void ServerHelloDone_is_an_empty_body_RFC5246_7_4_5()
    {
        Assert.True(ServerHelloDone.TryDecode([], out var done));
        Assert.Empty(MessageTestKit.Encode((ref WireWriter w) => done.Encode(ref w)));
    }

    [Fact]
    public void ServerHelloDone_with_any_byte_is_rejected()
    {
        Assert.False(ServerHelloDone.TryDecode([0x00], out _));
        Assert.False(ServerHelloDone.TryDecode([0x0E, 0x00], out _));
    }
}
