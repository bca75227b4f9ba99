using Airlift.Dtls;
using Airlift.NetEm.Simulation;
using static Airlift.Tests.Scenarios.ScenarioKit13;

namespace Airlift.Tests.Scenarios;

/// <summary>
/// The twin of <see cref="HostilePathSweepTests"/> in DTLS 1.3: on every hostile path a DTLS 1.3 handshake either completes
/// (in 1.3) or fails with a timeout inside the deadline; never a hang, never a datagram over the limit, with the 1.4 KB
/// post-quantum ClientHello fragmented down to the datagram size.
/// </summary>
public class Dtls13HostilePathSweepTests
{
    public static TheoryData<string> Paths() => HostilePathSweepTests.Paths();

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_DTLS_1_3_run_connects_or_fails_with_a_timeout_inside_the_deadline_and_never_exceeds_the_datagram_limit(string path) =>
        Sweep(path, [576, 1200, 1500]);

    // Engine bug found by this sweep (reported to the lead with a proposed patch): Dtls13Engine.SendAck sizes the ACK by
    // its record count (up to 32 entries, a 536-byte datagram) and not by the datagram size, so below ~540 bytes an ACK of
    // a heavily fragmented flight exceeds the configured maximum (first seen: "loss-both-10", seed 4, 228 B: the client's
    // ACK of 20 records is 344 B at 524 ms). Unskip when SendAck splits ACKs to fit.
    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_DTLS_1_3_run_at_the_minimum_datagram_size_of_228_bytes_never_exceeds_it_ACKs_included_RFC9147_7(string path) =>
        Sweep(path, [DtlsOptions.MinimumDatagramSize]);

    private static void Sweep(string path, int[] sizes)
    {
        for (ulong seed = 1; seed <= 12; seed++)
        {
            var size = sizes[(int)(seed % (ulong)sizes.Length)];
            var client = Client(seed) with { MaxDatagramSize = size, HandshakeTimeout = TimeSpan.FromSeconds(10) };
            var server = Server(seed) with { MaxDatagramSize = size, HandshakeTimeout = TimeSpan.FromSeconds(10) };
            var r = HandshakeSimulation.Run(new SimulationOptions(client, server, HostilePathSweepTests.Network(path, seed)) { Deadline = TimeSpan.FromSeconds(12) });

            AssertWithinLimits(r, size, size);
            Assert.True(r.Steps < 200_000, "bounded");
            if (r.Connected)
            {
                Assert.True(r.TimeToConnect <= TimeSpan.FromSeconds(10));
                Assert.Equal(ProtocolVersion.Dtls13, r.ClientVersion);
                Assert.Equal(ProtocolVersion.Dtls13, r.ServerVersion);
                continue;
            }

            var reason = r.ClientFailure?.Reason ?? r.ServerFailure?.Reason;
            Assert.Equal(DtlsFailureReason.Timeout, reason);
            Assert.True(path.StartsWith("loss", StringComparison.Ordinal) || path == "blackhole-down", $"{path} seed {seed} failed: {Explain(r)}");
        }
    }

    [Fact]
    public void Twenty_percent_loss_both_ways_connects_every_seeded_DTLS_1_3_run_within_ten_seconds()
    {
        for (ulong seed = 1; seed <= 200; seed++)
        {
            var r = HandshakeSimulation.Run(new SimulationOptions(Client(seed), Server(seed), Both(Rtt100 with { LossRate = 0.2 }, seed)));
            Assert.True(r.Connected, $"seed {seed}: {Explain(r)}");
            Assert.Equal(ProtocolVersion.Dtls13, r.ServerVersion);
        }
    }
}
