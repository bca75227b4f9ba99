using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;
using static Airlift.Tests.Scenarios.ScenarioKit;

namespace Airlift.Tests.Scenarios;

/// <summary>The field failures of SCENARIOS.md, reproduced in virtual time, passing.</summary>
public class FieldFailureTests
{
    [Fact]
    public void F1_large_chain_over_a_1200_byte_path_connects_with_no_datagram_over_1200()
    {
        var network = Both(Rtt100 with { MaxDatagramSize = 1200 }, 1);
        var r = HandshakeSimulation.Run(new SimulationOptions(Client(1), Server(1), network) { CaptureWire = true });

        Assert.True(r.Connected, Explain(r));
        AssertWithinLimits(r, 1200, 1200);
        Assert.Equal(0, r.Network.ClientToServer.DroppedOversize + r.Network.ServerToClient.DroppedOversize);
        Assert.Equal(0, r.Retransmissions);
    }

    [Fact]
    public void F1_server_misconfigured_at_9000_on_a_1492_mtu_path_connects_through_the_datagram_size_fallback()
    {
        var network = NetEmPresets.F1PathMtu with { ClientToServer = Rtt100 with { MaxDatagramSize = NetEmPresets.PathMtu1492UdpPayload }, ServerToClient = Rtt100 with { MaxDatagramSize = NetEmPresets.PathMtu1492UdpPayload }, Seed = 2 };
        var server = Server(2) with { MaxDatagramSize = 9000 };
        var r = HandshakeSimulation.Run(new SimulationOptions(Client(2), server, network));

        Assert.True(r.Connected, Explain(r));
        Assert.True(r.ServerStats.DatagramSizeFallbacks >= 1);
        Assert.True(r.ServerEffectiveMaxDatagram <= 1200, $"effective {r.ServerEffectiveMaxDatagram}");
        Assert.True(r.Network.ServerToClient.DroppedOversize >= 2, "the first two attempts hit the black hole");
        AssertWithinLimits(r, 1200, 9000);
    }

    [Fact]
    public void F1_without_the_fallback_ladder_the_field_failure_reproduces()
    {
        var network = Both(Rtt100 with { MaxDatagramSize = NetEmPresets.PathMtu1492UdpPayload }, 3);
        var server = Server(3) with { MaxDatagramSize = 9000, DatagramSizeFallbacks = [] };
        var r = HandshakeSimulation.Run(new SimulationOptions(Client(3), server, network));

        Assert.False(r.Connected);
        Assert.True(r.Network.ServerToClient.DroppedOversize >= 3);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void F2_server_final_flight_dropped_k_times_both_sides_still_connect_RFC6347_4_2_4(int drops)
    {
        var network = Both(Rtt100, 4) with { ScriptedDrops = [ScriptedDrop.FinalFlight(LinkDirection.ServerToClient, drops)] };
        var options = new SimulationOptions(Client(4), Server(4), network) { Deadline = TimeSpan.FromSeconds(30) };
        var r = HandshakeSimulation.Run(options);

        Assert.True(r.Connected, Explain(r));
        Assert.Equal(drops, r.Network.ServerToClient.DroppedScripted);

        // The server answered the client's retransmitted flight 5 by resending its kept final flight.
        Assert.True(r.ServerStats.TriggeredRetransmissions >= drops, $"server resent {r.ServerStats.TriggeredRetransmissions} times\n{Explain(r)}");
        Assert.True(r.ClientStats.TimeoutRetransmissions >= 1, "the client's flight 5 timer drove the recovery");
    }

    [Fact]
    public void F2_final_flight_is_kept_long_enough_for_a_peer_with_a_slow_doubling_timer()
    {
        // A GnuTLS-like client: first timeout 1 s, doubling to 60 s, no redundant copies. Its fourth retransmission of
        // flight 5 comes about 15 s after the server connected; the server must still hold its final flight then.
        var client = Client(9) with { InitialRetransmitTimeout = TimeSpan.FromSeconds(1), MaxRetransmitTimeout = TimeSpan.FromSeconds(60), RedundantRetransmitMaxDatagrams = 0, HandshakeTimeout = TimeSpan.FromSeconds(60) };
        var network = Both(Rtt100, 9) with { ScriptedDrops = [ScriptedDrop.FinalFlight(LinkDirection.ServerToClient, 4)] };
        var r = HandshakeSimulation.Run(new SimulationOptions(client, Server(9), network) { Deadline = TimeSpan.FromSeconds(40) });

        Assert.True(r.Connected, Explain(r));
        Assert.True(r.TimeToConnect > TimeSpan.FromSeconds(14), $"connected at {r.TimeToConnect}");
        Assert.Equal(4, r.Network.ServerToClient.DroppedScripted);
    }

    [Fact]
    public void F2_without_keeping_the_final_flight_the_field_failure_reproduces()
    {
        var network = Both(Rtt100, 5) with { ScriptedDrops = [ScriptedDrop.FinalFlight(LinkDirection.ServerToClient, 1)] };
        var server = Server(5) with { FinalFlightRetention = TimeSpan.Zero };
        var r = HandshakeSimulation.Run(new SimulationOptions(Client(5), server, network));

        Assert.False(r.Connected);
        Assert.Equal(DtlsState.Connected, r.ServerState);
        Assert.Equal(DtlsState.Connecting, r.ClientState);
    }

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.10)]
    [InlineData(0.20)]
    public void F2_downlink_loss_every_seeded_run_connects_on_both_sides(double loss)
    {
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var network = new NetEmOptions(Rtt100, Rtt100 with { LossRate = loss }, [], seed);
            var r = HandshakeSimulation.Run(new SimulationOptions(Client(seed), Server(seed), network) { Deadline = TimeSpan.FromSeconds(30) });
            Assert.True(r.Connected, $"seed {seed}: {Explain(r)}");
        }
    }

    [Theory]
    [InlineData(1600)]
    [InlineData(1200)]
    public void F4_relay_dropping_large_datagrams_with_a_2_7KB_chain_connects_and_datagrams_are_packed(int relayLimit)
    {
        var network = Both(Rtt100 with { MaxDatagramSize = relayLimit }, 6);
        var r = HandshakeSimulation.Run(new SimulationOptions(Client(6), Server(6), network) { CaptureWire = true });

        Assert.True(r.Connected, Explain(r));
        Assert.Equal(0, r.Network.ServerToClient.DroppedOversize);
        WireAssertions.AssertPackedAndNeverSpanning(r.Wire, LinkDirection.ServerToClient, 1200);
        WireAssertions.AssertPackedAndNeverSpanning(r.Wire, LinkDirection.ClientToServer, 1200);
    }

    [Fact]
    public void F3_path_change_resends_the_pending_flight_at_once_not_at_the_next_backoff_tick()
    {
        // Server flights go down a one-way path until ICE moves the selection at t = 3.05 s.
        var change = TimeSpan.FromMilliseconds(3050);
        var network = Both(Rtt100, 7);
        var r = HandshakeSimulation.Run(new SimulationOptions(Client(7), Server(7), network) { PathChangeAt = change });
        var slow = HandshakeSimulation.Run(new SimulationOptions(Client(7), Server(7), network) { PathChangeAt = change, ResendOnPathChange = false });

        Assert.True(r.Connected, Explain(r));
        Assert.True(r.TimeToConnect - change <= TimeSpan.FromMilliseconds(350), $"connected {(r.TimeToConnect - change)?.TotalMilliseconds} ms after the path change");
        Assert.True(slow.TimeToConnect is null || slow.TimeToConnect - change > TimeSpan.FromMilliseconds(500), "without the resend the handshake waits for a backoff tick");
    }

    [Fact]
    public void Datagram_size_below_228_is_a_configuration_error()
    {
        var ex = Assert.Throws<ArgumentException>(() => DtlsEndpoint.CreateClient(Client(8) with { MaxDatagramSize = 227 }, TimeSpan.Zero));
        Assert.Contains("228", ex.Message, StringComparison.Ordinal);
        var ok = DtlsEndpoint.CreateClient(Client(8) with { MaxDatagramSize = DtlsOptions.MinimumDatagramSize }, TimeSpan.Zero);
        Assert.Equal(DtlsState.Connecting, ok.State);
    }
}
