namespace Airlift.Tests.Dtls.Crypto;

public class RandomSourceTests
{
    [Fact]
    public void Seeded_source_is_reproducible_and_seed_dependent()
    {
        var a = new byte[37];
        var b = new byte[37];
        var c = new byte[37];
        RandomSource.Seeded(42).Fill(a);
        RandomSource.Seeded(42).Fill(b);
        RandomSource.Seeded(43).Fill(c);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Contains(a, x => x != 0);
    }

    [Fact]
    public void Seeded_stream_does_not_depend_on_how_it_is_chunked_into_calls()
    {
        var whole = new byte[16];
        RandomSource.Seeded(7).Fill(whole);
        var chunked = RandomSource.Seeded(7);
        var first = new byte[8];
        var second = new byte[8];
        chunked.Fill(first);
        chunked.Fill(second);
        Assert.Equal(whole, first.Concat(second).ToArray());
    }

    [Fact]
    public void NextDouble_stays_in_the_unit_interval()
    {
        var random = RandomSource.Seeded(1);
        var sum = 0.0;
        for (var i = 0; i < 1000; i++)
        {
            var d = random.NextDouble();
            Assert.InRange(d, 0.0, 0.9999999999999999);
            sum += d;
        }

        Assert.InRange(sum / 1000, 0.4, 0.6);
    }

    [Fact]
    public void Cryptographic_source_fills_the_buffer()
    {
        var buffer = new byte[64];
        RandomSource.Cryptographic.Fill(buffer);
        Assert.Contains(buffer, x => x != 0);
        Assert.InRange(RandomSource.Cryptographic.NextDouble(), 0.0, 0.9999999999999999);
    }
}
