using Airlift.NetEm;

namespace Airlift.Tests.NetEm;

public class NetEmPresetsTests
{
    [Fact]
    public void Every_listed_name_resolves_and_unknown_names_do_not()
    {
        foreach (var name in NetEmPresets.Names)
        {
            Assert.True(NetEmPresets.TryGet(name, out var options), name);
            options.Validate();
        }

        Assert.False(NetEmPresets.TryGet("f5-unknown", out _));
        Assert.False(NetEmPresets.TryGet("f2-downlink-loss-101", out _));
        Assert.False(NetEmPresets.TryGet("f4-turn-relay-0", out _));
        Assert.False(NetEmPresets.TryGet("", out _));
    }

    [Fact]
    public void Parameterised_names_carry_their_number()
    {
        Assert.True(NetEmPresets.TryGet("F2-Downlink-Loss-5", out var f2));
        Assert.Equal(0.05, f2.ServerToClient.LossRate);
        Assert.Equal(0, f2.ClientToServer.LossRate);
        Assert.True(NetEmPresets.TryGet("f2-downlink-loss", out var f2Default));
        Assert.Equal(0.20, f2Default.ServerToClient.LossRate);
        Assert.True(NetEmPresets.TryGet("f4-turn-relay-1200", out var f4));
        Assert.Equal(1200, f4.ClientToServer.MaxDatagramSize);
        Assert.Equal(1200, f4.ServerToClient.MaxDatagramSize);
    }

    [Fact]
    public void F1_drops_the_field_sizes_1499_and_1474_but_passes_1464()
    {
        var emulator = new NetworkEmulator(NetEmPresets.F1PathMtu);
        Assert.Equal(NetEmFate.DroppedOversize, emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[1499]));
        Assert.Equal(NetEmFate.DroppedOversize, emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[1474]));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[1464]));
    }

    [Fact]
    public void F4_drops_the_glued_2969_byte_datagram_but_passes_1600()
    {
        var emulator = new NetworkEmulator(NetEmPresets.F4TurnRelay());
        Assert.Equal(NetEmFate.DroppedOversize, emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[2969]));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[1600]));
        Assert.Equal(NetEmFate.DroppedOversize, emulator.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[1601]));
    }

    [Theory]
    [InlineData("wifi", 0.01, 0.02, 10, 30)]
    [InlineData("cellular", 0.01, 0.03, 30, 90)]
    public void Access_network_presets_lose_and_delay_what_their_documentation_says(string name, double minLoss, double maxLoss, int minMs, int maxMs)
    {
        Assert.True(NetEmPresets.TryGet(name, out var options));
        var emulator = new NetworkEmulator(options with { Seed = 77 });
        var deliveries = new List<NetEmDelivery>();
        const int count = 50_000;
        for (var i = 0; i < count; i++)
        {
            var now = TimeSpan.FromMilliseconds(i);
            emulator.Send(now, LinkDirection.ClientToServer, new byte[100]);
            while (emulator.TryReceive(now, out var d))
            {
                deliveries.Add(d);
            }
        }

        var stats = emulator.Stats.ClientToServer;
        Assert.InRange((stats.DroppedLoss + stats.DroppedBurst) / (double)count, minLoss, maxLoss);
        Assert.All(deliveries.Where(d => d.DeliverAt - d.SentAt < TimeSpan.FromMilliseconds(maxMs)), d => Assert.True(d.DeliverAt - d.SentAt >= TimeSpan.FromMilliseconds(minMs)));
    }
}
