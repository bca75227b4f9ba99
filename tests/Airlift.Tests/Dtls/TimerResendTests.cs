using Airlift.Dtls;

namespace Airlift.Tests.Dtls;

/// <summary>
/// Resends and the retransmission timer (RFC 6347 4.2.4, RFC 9147 5.8). Field capture (briefs/double-resend.pcap): a DTLS 1.2
/// server sent its ServerHello flight twice, 2 ms apart, on one expiry. That is <see cref="DtlsOptions.RedundantRetransmitMaxDatagrams"/>
/// (kept at 2 by default: the loss sweep in docs/reliability.md loses handshakes without it); with it at 0 one expiry sends
/// once. A resend the peer triggered restarts the timer, so the expiry armed for the first send does not follow moments later.
/// </summary>
public class TimerResendTests
{
    private static DtlsOptions Options(DtlsCertificate certificate, ulong seed, ProtocolVersion version) => new(certificate)
    {
        Random = RandomSource.Seeded(seed),
        AllowAnyPeerCertificate = true,
        ProtocolVersions = [version],
    };

    // The server's first flight opens with its ServerHello in an epoch-0 record: handshake type 2 right after the 13-byte header.
    private static bool StartsWithServerHello(byte[] datagram) => datagram.Length > 13 && datagram[0] == 22 && datagram[13] == 2;

    public static TheoryData<string> Versions() => new() { "1.2", "1.3" };

    private static ProtocolVersion Version(string v) => v == "1.2" ? ProtocolVersion.Dtls12 : ProtocolVersion.Dtls13;

    [Theory]
    [MemberData(nameof(Versions))]
    public void Without_redundant_copies_one_timer_expiry_resends_a_lost_server_flight_once(string version)
    {
        var v = Version(version);
        var dropped = 0;
        // The client waits 2 s before it resends (GnuTLS waits 1 s): the server's own 400 ms timer recovers the flight.
        var client = Options(TestCertificates.EcdsaPeer, 41, v) with { InitialRetransmitTimeout = TimeSpan.FromSeconds(2) };
        var server = Options(TestCertificates.Ecdsa, 42, v) with { RedundantRetransmitMaxDatagrams = 0 };
        var pair = new DtlsPair(client, server)
        {
            // The server's first flight is lost once: exactly one server timer expiry recovers it, with one copy.
            Drop = (toServer, _, data) => !toServer && StartsWithServerHello(data) && dropped++ == 0,
        };

        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Equal(1, pair.Server.Stats.TimeoutRetransmissions);
        var serverHellos = pair.Wire.Count(d => !d.ToServer && StartsWithServerHello(d.Data));
        Assert.True(serverHellos == 2, $"the ServerHello flight went out {serverHellos} times:\n{pair.Server.Trace}{pair.Client.Trace}");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void A_resend_the_peer_triggered_restarts_the_timer_so_it_does_not_fire_again_moments_later_RFC6347_4_2_4(string version)
    {
        // 300 ms of delay each way, nothing lost: the client's ClientHello timer (400 ms) fires first and the server answers
        // that retransmission at once. The server's own timer, armed for the first send, then fired 3 ms later and sent
        // the same flight a third time. RFC 6347 Figure 1: a resend passes through SENDING, which sets the timer again.
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 43, Version(version)), Options(TestCertificates.Ecdsa, 44, Version(version)), TimeSpan.FromMilliseconds(300));

        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        var serverHellos = pair.Wire.Count(d => !d.ToServer && StartsWithServerHello(d.Data));
        Assert.True(serverHellos <= 2, $"the ServerHello flight went out {serverHellos} times (sent, and once for the client's resend):\n{pair.Server.Trace}");
    }

    [Fact]
    public void A_DTLS13_resend_an_ACK_asked_for_restarts_the_timer_RFC9147_7_1()
    {
        // 120 ms each way, the second of the server's two flight datagrams lost. The client acknowledges the first after its
        // ACK delay (a quarter of 2 x its 240 ms RTT); the ACK reaches the server at 480 ms and the server resends the lost
        // records at once. Its timer, armed at 120 ms for 400 ms (no jitter here), would have fired 40 ms later and sent them
        // again while the resend was still on its way.
        var server = Options(TestCertificates.Ecdsa, 46, ProtocolVersion.Dtls13) with { RetransmitJitter = 0 };
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 45, ProtocolVersion.Dtls13), server, TimeSpan.FromMilliseconds(120))
        {
            Drop = (toServer, index, _) => !toServer && index == 1,
        };

        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.True(pair.Server.Stats.TriggeredRetransmissions == 1, pair.Server.Trace);
        Assert.True(pair.Server.Stats.TimeoutRetransmissions == 0, pair.Server.Trace);
    }
}
