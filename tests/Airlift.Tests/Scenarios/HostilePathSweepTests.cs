using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;
using static Airlift.Tests.Scenarios.ScenarioKit;

namespace Airlift.Tests.Scenarios;

/// <summary>
/// Every hostile path either lets the handshake complete or makes it fail with the right reason inside the deadline:
/// never a hang, never a datagram over the limit, never an exception.
/// </summary>
public class HostilePathSweepTests
{
    public static TheoryData<string> Paths()
    {
        var data = new TheoryData<string>();
        foreach (var loss in new[] { 0, 10, 20, 30, 40 })
        {
            data.Add($"loss-both-{loss}");
            data.Add($"loss-up-{loss}");
            data.Add($"loss-down-{loss}");
        }

        data.Add("burst");
        data.Add("reorder");
        data.Add("duplicate");
        data.Add("wifi");
        data.Add("cellular");
        data.Add("blackhole-down");
        return data;
    }

    internal static NetEmOptions Network(string path, ulong seed)
    {
        var rtt = Rtt100;
        var parts = path.Split('-');
        return parts[0] switch
        {
            "loss" => parts[1] switch
            {
                "both" => Both(rtt with { LossRate = int.Parse(parts[2]) / 100.0 }, seed),
                "up" => new NetEmOptions(rtt with { LossRate = int.Parse(parts[2]) / 100.0 }, rtt, [], seed),
                _ => new NetEmOptions(rtt, rtt with { LossRate = int.Parse(parts[2]) / 100.0 }, [], seed),
            },
            "burst" => Both(rtt with { Burst = new BurstLoss(0.05, 0.3) }, seed),
            "reorder" => Both(rtt with { ReorderRate = 0.3, ReorderDelay = TimeSpan.FromMilliseconds(40), Jitter = TimeSpan.FromMilliseconds(20) }, seed),
            "duplicate" => Both(rtt with { DuplicateRate = 0.3, LossRate = 0.1 }, seed),
            "wifi" => NetEmPresets.Wifi with { Seed = seed },
            "cellular" => NetEmPresets.Cellular with { Seed = seed },
            _ => new NetEmOptions(rtt, rtt with { Blackhole = true }, [], seed),
        };
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_run_connects_or_fails_with_a_timeout_inside_the_deadline_and_never_exceeds_the_datagram_limit(string path)
    {
        var sizes = new[] { 228, 576, 1200, 1500 };
        for (ulong seed = 1; seed <= 12; seed++)
        {
            var size = sizes[(int)(seed % (ulong)sizes.Length)];
            var client = Client(seed) with { MaxDatagramSize = size, HandshakeTimeout = TimeSpan.FromSeconds(10) };
            var server = Server(seed) with { MaxDatagramSize = size, HandshakeTimeout = TimeSpan.FromSeconds(10) };
            var r = HandshakeSimulation.Run(new SimulationOptions(client, server, Network(path, seed)) { Deadline = TimeSpan.FromSeconds(12) });

            AssertWithinLimits(r, size, size);
            Assert.True(r.Steps < 200_000, "bounded");
            if (r.Connected)
            {
                Assert.True(r.TimeToConnect <= TimeSpan.FromSeconds(10));
                continue;
            }

            // Not connected: someone gave up with a typed reason by the deadline (the server may be connected, waiting for nothing).
            var reason = r.ClientFailure?.Reason ?? r.ServerFailure?.Reason;
            Assert.Equal(DtlsFailureReason.Timeout, reason);
            Assert.True(path.StartsWith("loss", StringComparison.Ordinal) || path == "blackhole-down", $"{path} seed {seed} failed: {Explain(r)}");
        }
    }

    [Fact]
    public void Twenty_percent_loss_both_ways_connects_in_every_seeded_run_within_ten_seconds()
    {
        for (ulong seed = 1; seed <= 200; seed++)
        {
            var r = HandshakeSimulation.Run(new SimulationOptions(Client(seed), Server(seed), Both(Rtt100 with { LossRate = 0.2 }, seed)));
            Assert.True(r.Connected, $"seed {seed}: {Explain(r)}");
        }
    }
}
