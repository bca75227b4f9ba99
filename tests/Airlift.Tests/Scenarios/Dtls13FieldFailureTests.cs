using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;
using Airlift.Tests.Dtls;
using static Airlift.Tests.Scenarios.ScenarioKit13;

namespace Airlift.Tests.Scenarios;

/// <summary>
/// The field failures of SCENARIOS.md in DTLS 1.3 (RFC 9147), virtual time, both roles: the twin of
/// <see cref="FieldFailureTests"/>. F1, F3 and F4 are path problems and hold as in 1.2; F2 moves: in 1.3 the client sends
/// the last flight and keeps it until the server's ACK (RFC 9147 7), so the fix is the ACK, not a kept server flight.
/// </summary>
public class Dtls13FieldFailureTests
{
    [Fact]
    public void F1_large_chain_over_a_1200_byte_path_connects_in_DTLS_1_3_with_no_datagram_over_1200()
    {
        var r = Run(new SimulationOptions(Client(1), Server(1), Both(Rtt100 with { MaxDatagramSize = 1200 }, 1)) { CaptureWire = true });

        AssertConnected13(r);
        AssertWithinLimits(r, 1200, 1200);
        Assert.Equal(0, r.Network.ClientToServer.DroppedOversize + r.Network.ServerToClient.DroppedOversize);
        Assert.Equal(0, r.Retransmissions);
    }

    [Fact]
    public void F1_client_with_the_large_chain_over_a_1200_byte_path_connects_in_DTLS_1_3()
    {
        var r = Run(new SimulationOptions(Client(11, TestCertificates.RsaChain), Server(11, TestCertificates.Ecdsa), Both(Rtt100 with { MaxDatagramSize = 1200 }, 11)));

        AssertConnected13(r);
        AssertWithinLimits(r, 1200, 1200);
        Assert.Equal(0, r.Network.ClientToServer.DroppedOversize + r.Network.ServerToClient.DroppedOversize);
    }

    [Theory]
    [InlineData(DtlsRole.Server)]
    [InlineData(DtlsRole.Client)]
    public void F1_side_misconfigured_at_9000_on_a_1492_mtu_path_connects_in_DTLS_1_3_through_the_datagram_size_fallback(DtlsRole misconfigured)
    {
        var path = Rtt100 with { MaxDatagramSize = NetEmPresets.PathMtu1492UdpPayload };
        var client = misconfigured == DtlsRole.Client ? Client(2, TestCertificates.RsaChain) with { MaxDatagramSize = 9000 } : Client(2);
        var server = misconfigured == DtlsRole.Server ? Server(2) with { MaxDatagramSize = 9000 } : Server(2, TestCertificates.Ecdsa);
        var r = Run(new SimulationOptions(client, server, Both(path, 2)));

        AssertConnected13(r);
        var (stats, effective, dropped) = misconfigured == DtlsRole.Server
            ? (r.ServerStats, r.ServerEffectiveMaxDatagram, r.Network.ServerToClient.DroppedOversize)
            : (r.ClientStats, r.ClientEffectiveMaxDatagram, r.Network.ClientToServer.DroppedOversize);
        Assert.True(stats.DatagramSizeFallbacks >= 1, Explain(r));
        Assert.True(effective <= NetEmPresets.PathMtu1492UdpPayload, $"effective {effective}");
        Assert.True(dropped >= 1, "the first attempts hit the black hole");
        AssertWithinLimits(r, misconfigured == DtlsRole.Client ? 9000 : 1200, misconfigured == DtlsRole.Server ? 9000 : 1200);
    }

    [Fact]
    public void F1_without_the_fallback_ladder_the_field_failure_reproduces_in_DTLS_1_3()
    {
        var server = Server(3) with { MaxDatagramSize = 9000, DatagramSizeFallbacks = [] };
        var r = Run(new SimulationOptions(Client(3), server, Both(Rtt100 with { MaxDatagramSize = NetEmPresets.PathMtu1492UdpPayload }, 3)));

        Assert.False(r.Connected);
        Assert.True(r.Network.ServerToClient.DroppedOversize >= 3);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void F2_client_final_flight_dropped_k_times_is_resent_until_the_server_ACK_releases_it_RFC9147_7(int drops)
    {
        var network = Both(Rtt100, 4) with { ScriptedDrops = [ScriptedDrop.Dtls13FinalFlight(LinkDirection.ClientToServer, drops)] };
        var r = Run(new SimulationOptions(Client(4), Server(4), network) { Deadline = TimeSpan.FromSeconds(30) });

        // The server connected only after every drop, so a later copy of the client's flight carried the Finished; the
        // ACK, not the 60 s retention, released it (the run ends at 30 s).
        AssertConnected13(r);
        Assert.Equal(drops, r.Network.ClientToServer.DroppedScripted);
        Assert.True(r.ClientStats.Retransmissions >= 1, Explain(r));
        Assert.True(r.SettledAt < TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void F2_a_lost_ACK_is_sent_again_when_the_client_resends_its_final_flight(int drops)
    {
        var network = Both(Rtt100, 5) with { ScriptedDrops = [ScriptedDrop.Dtls13Ack(LinkDirection.ServerToClient, drops)] };
        var r = Run(new SimulationOptions(Client(5), Server(5), network) { Deadline = TimeSpan.FromSeconds(30) });

        AssertConnected13(r);
        Assert.Equal(drops, r.Network.ServerToClient.DroppedScripted);
        Assert.True(r.ClientStats.Retransmissions >= 1, "the client resent its unacknowledged final flight");
        Assert.True(r.SettledAt > r.TimeToConnect, "released only by a later ACK");
    }

    [Fact]
    public void F2_server_flight_dropped_twice_both_sides_still_connect_in_DTLS_1_3()
    {
        var network = Both(Rtt100, 6) with { ScriptedDrops = [ScriptedDrop.Dtls13FinalFlight(LinkDirection.ServerToClient, 2)] };
        var r = Run(new SimulationOptions(Client(6), Server(6), network) { Deadline = TimeSpan.FromSeconds(30) });

        AssertConnected13(r);
        Assert.Equal(2, r.Network.ServerToClient.DroppedScripted);
        Assert.True(r.ServerStats.Retransmissions >= 1, Explain(r));
    }

    [Fact]
    public void F2_a_client_that_does_not_wait_for_the_ACK_reproduces_the_field_failure_in_DTLS_1_3()
    {
        var network = Both(Rtt100, 7) with { ScriptedDrops = [ScriptedDrop.Dtls13FinalFlight(LinkDirection.ClientToServer, 1)] };
        var client = Client(7) with { FinalFlightRetention = TimeSpan.Zero };
        var r = Run(new SimulationOptions(client, Server(7), network));

        Assert.False(r.Connected);
        Assert.Equal(DtlsState.Connected, r.ClientState);
        Assert.Equal(DtlsState.Connecting, r.ServerState);
    }

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.10)]
    [InlineData(0.20)]
    public void F2_downlink_loss_every_seeded_run_connects_in_DTLS_1_3_and_the_final_flight_is_acknowledged(double loss)
    {
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var network = new NetEmOptions(Rtt100, Rtt100 with { LossRate = loss }, [], seed);
            var r = Run(new SimulationOptions(Client(seed), Server(seed), network) { Deadline = TimeSpan.FromSeconds(30) });
            Assert.True(r.Connected, $"seed {seed}: {Explain(r)}");
            AssertConnected13(r);
        }
    }

    [Theory]
    [InlineData(LinkDirection.ServerToClient)]
    [InlineData(LinkDirection.ClientToServer)]
    public void F3_path_change_resends_the_pending_DTLS_1_3_flight_at_once_not_at_the_next_backoff_tick(LinkDirection oneWay)
    {
        var change = TimeSpan.FromMilliseconds(3050);
        var options = new SimulationOptions(Client(8), Server(8), Both(Rtt100, 8)) { PathChangeAt = change, OneWayDirection = oneWay };
        var r = Run(options);
        var slow = Run(options with { ResendOnPathChange = false });

        AssertConnected13(r);
        Assert.True(r.TimeToConnect - change <= TimeSpan.FromMilliseconds(350), $"connected {(r.TimeToConnect - change)?.TotalMilliseconds} ms after the path change");
        Assert.True(slow.TimeToConnect is null || slow.TimeToConnect - change > TimeSpan.FromMilliseconds(500), "without the resend the handshake waits for a backoff tick");
    }

    [Theory]
    [InlineData(1600, DtlsRole.Server)]
    [InlineData(1200, DtlsRole.Server)]
    [InlineData(1200, DtlsRole.Client)]
    public void F4_relay_dropping_large_datagrams_with_a_2_7KB_chain_connects_in_DTLS_1_3_and_datagrams_are_packed(int relayLimit, DtlsRole chainSide)
    {
        var client = chainSide == DtlsRole.Client ? Client(9, TestCertificates.RsaChain) : Client(9);
        var server = chainSide == DtlsRole.Client ? Server(9, TestCertificates.Ecdsa) : Server(9);
        var r = Run(new SimulationOptions(client, server, Both(Rtt100 with { MaxDatagramSize = relayLimit }, 9)) { CaptureWire = true });

        AssertConnected13(r);
        Assert.Equal(0, r.Network.ServerToClient.DroppedOversize + r.Network.ClientToServer.DroppedOversize);
        WireAssertions.AssertPackedAndNeverSpanning(r.Wire, LinkDirection.ServerToClient, 1200);
        WireAssertions.AssertPackedAndNeverSpanning(r.Wire, LinkDirection.ClientToServer, 1200);
        Assert.Contains(r.Wire, w => DtlsDatagramInspector.Inspect(w.Datagram, out _).Any(x => x.IsUnifiedHeader));
    }
}
