using Airlift.Transport;

namespace Airlift.Tests.Transport;

public class PacketClassifierTests
{
    [Theory]
    [InlineData(0, "Stun")]
    [InlineData(3, "Stun")]
    [InlineData(4, "Unknown")]
    [InlineData(15, "Unknown")]
    [InlineData(16, "Zrtp")]
    [InlineData(19, "Zrtp")]
    [InlineData(20, "Dtls")]
    [InlineData(22, "Dtls")]
    [InlineData(63, "Dtls")]
    [InlineData(64, "TurnChannel")]
    [InlineData(79, "TurnChannel")]
    [InlineData(80, "Unknown")]
    [InlineData(127, "Unknown")]
    [InlineData(128, "Rtp")]
    [InlineData(191, "Rtp")]
    [InlineData(192, "Unknown")]
    [InlineData(255, "Unknown")]
    public void Rfc7983_7_first_byte_boundaries(byte first, string expected)
    {
        // Second byte 96 is a dynamic RTP payload type, so the RTP range stays RTP.
        Assert.Equal(expected, PacketClassifier.Classify([first, 96, 0, 0]).ToString());
    }

    [Fact]
    public void Rfc7983_7_every_first_byte_maps_to_exactly_the_documented_range()
    {
        for (var b = 0; b < 256; b++)
        {
            var expected = b switch
            {
                <= 3 => PacketKind.Stun,
                >= 16 and <= 19 => PacketKind.Zrtp,
                >= 20 and <= 63 => PacketKind.Dtls,
                >= 64 and <= 79 => PacketKind.TurnChannel,
                >= 128 and <= 191 => PacketKind.Rtp,
                _ => PacketKind.Unknown,
            };
            Assert.Equal(expected, PacketClassifier.Classify([(byte)b, 0]));
        }
    }

    [Theory]
    [InlineData(191, "Rtp")]
    [InlineData(192, "Rtcp")]
    [InlineData(200, "Rtcp")]
    [InlineData(223, "Rtcp")]
    [InlineData(224, "Rtp")]
    [InlineData(0x60, "Rtp")]
    public void Rfc5761_4_second_byte_192_to_223_is_rtcp(byte second, string expected)
    {
        Assert.Equal(expected, PacketClassifier.Classify([0x80, second, 0, 1]).ToString());
    }

    [Fact]
    public void Empty_and_one_byte_datagrams_do_not_throw()
    {
        Assert.Equal(PacketKind.Unknown, PacketClassifier.Classify([]));
        Assert.Equal(PacketKind.Rtp, PacketClassifier.Classify([0x80]));
        Assert.Equal(PacketKind.Stun, PacketClassifier.Classify([0x00]));
    }

    [Fact]
    public void Captured_chromium_datagrams_classify_as_their_recorded_kind()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "vectors", "chromium156-to-icelite-dtls12.jsonl");
        var count = 0;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            var kind = doc.RootElement.GetProperty("kind").GetString();
            var bytes = Convert.FromHexString(doc.RootElement.GetProperty("hex").GetString()!);
            var expected = kind == "stun" ? PacketKind.Stun : PacketKind.Dtls;
            Assert.Equal(expected, PacketClassifier.Classify(bytes));
            count++;
        }

        Assert.True(count > 10);
    }
}
