using Airlift.Srtp;

namespace Airlift.Tests.Srtp;

public class SrtpReplayWindowTests
{
    [Fact]
    public void First_index_is_fresh_and_then_replayed_RFC3711_3_3_2()
    {
        var w = new SrtpReplayWindow(128);
        Assert.Equal(SrtpStatus.Ok, w.Check(5));
        w.Accept(5);
        Assert.Equal(SrtpStatus.Replayed, w.Check(5));
        Assert.Equal(SrtpStatus.Ok, w.Check(4));
        Assert.Equal(SrtpStatus.Ok, w.Check(6));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(1024)]
    public void Window_slides_across_word_boundaries_and_forgets_only_what_falls_out(int size)
    {
        var w = new SrtpReplayWindow(size);
        var accepted = new HashSet<ulong>();
        var rng = RandomSource.Seeded((ulong)size);
        var b = new byte[2];
        ulong highest = 1000;
        w.Accept(highest);
        accepted.Add(highest);
        for (var i = 0; i < 5000; i++)
        {
            rng.Fill(b);
            // Mostly forward steps of 0..200, sometimes back into (and beyond) the window.
            var step = (long)(b[0] % 200) - (b[1] % 3 == 0 ? size + 50 : 0);
            var index = (ulong)Math.Max(0, (long)highest + step);
            var expected = index > highest ? SrtpStatus.Ok
                : highest - index >= (ulong)size ? SrtpStatus.TooOld
                : accepted.Contains(index) ? SrtpStatus.Replayed : SrtpStatus.Ok;
            Assert.Equal(expected, w.Check(index));
            if (expected == SrtpStatus.Ok)
            {
                w.Accept(index);
                accepted.Add(index);
                highest = Math.Max(highest, index);
            }
        }
    }

    [Theory]
    [InlineData((ushort)100, (ulong)0x0001_0000 + 101, (ulong)0x0001_0000 + 100)]    // s_l < 2^15, same ROC
    [InlineData((ushort)65500, (ulong)0x0001_0000 + 20, (ulong)0x0000_0000 + 65500)] // late packet from before the wrap: ROC - 1
    [InlineData((ushort)5, (ulong)0x0001_0000 + 65530, (ulong)0x0002_0000 + 5)]      // s_l >= 2^15, wrap ahead: ROC + 1
    [InlineData((ushort)40000, (ulong)0x0001_0000 + 65530, (ulong)0x0001_0000 + 40000)]
    public void Index_estimation_follows_RFC3711_appendix_A(ushort seq, ulong highest, ulong expected)
    {
        var w = new SrtpReplayWindow(128);
        w.Accept(highest);
        Assert.Equal(SrtpStatus.Ok, SrtpStream.EstimateIndex(w, seq, out var index));
        Assert.Equal(expected, index);
    }

    [Fact]
    public void Index_estimation_before_the_first_rollover_is_too_old_and_past_the_last_is_exhausted()
    {
        var w = new SrtpReplayWindow(128);
        w.Accept(10);
        Assert.Equal(SrtpStatus.TooOld, SrtpStream.EstimateIndex(w, 65000, out _));
        var end = new SrtpReplayWindow(128);
        end.Accept(((ulong)uint.MaxValue << 16) | 65000);
        Assert.Equal(SrtpStatus.KeyExhausted, SrtpStream.EstimateIndex(end, 3, out _));
    }
}
