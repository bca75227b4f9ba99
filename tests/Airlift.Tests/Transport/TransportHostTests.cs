using System.Net;
using System.Net.Sockets;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Net;
using Airlift.Transport;

namespace Airlift.Tests.Transport;

public class TransportHostTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static async Task<T> NextEvent<T>(TransportSession session, TimeSpan timeout)
        where T : WebRtcTransportEvent
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var e = await session.Events.ReadAsync(cts.Token);
            if (e is T t)
            {
                return t;
            }
        }
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        for (var waited = TimeSpan.Zero; waited < timeout && !condition(); waited += TimeSpan.FromMilliseconds(20))
        {
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task SharedUdpPort_ServesSeveralTransports_RoutedByUfragThenAddress_Rfc8445_7_2_2()
    {
        await using var host = new TransportHost(new TransportHostOptions
        {
            UdpListen = [new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.IPv6Loopback, 0)],
        });
        var a = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 101));
        var b = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Passive, seed: 202));
        var v4 = host.UdpEndpoints.Single(e => e.AddressFamily == AddressFamily.InterNetwork);
        var v6 = host.UdpEndpoints.Single(e => e.AddressFamily == AddressFamily.InterNetworkV6);

        // A stranger's DTLS to the shared port routes nowhere.
        using (var stray = new UdpPeerLink(v4))
        {
            stray.Send([22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        }

        using var linkA = new UdpPeerLink(v4);
        using var linkB = new UdpPeerLink(v6);
        var peerA = Task.Run(() => LoopbackPeer.Run(linkA, a, DtlsRole.Client, Deadline));
        var peerB = Task.Run(() => LoopbackPeer.Run(linkB, b, DtlsRole.Server, Deadline));
        var resultA = await peerA;
        var resultB = await peerB;

        Assert.True(resultA.Connected, resultA.Trace);
        Assert.True(resultB.Connected, resultB.Trace);
        var kmA = await NextEvent<KeyingMaterial>(a, Deadline);
        var kmB = await NextEvent<KeyingMaterial>(b, Deadline);
        Assert.Equal(resultA.KeyingMaterial, kmA.Material);
        Assert.Equal(resultB.KeyingMaterial, kmB.Material);
        Assert.NotEqual(kmA.Material, kmB.Material);
        Assert.Equal(new IceTuple(v4, linkA.LocalEndpoint, IceProtocol.Udp), a.SelectedTuple);
        Assert.Equal(new IceTuple(v6, linkB.LocalEndpoint, IceProtocol.Udp), b.SelectedTuple);
        await WaitUntil(() => host.Stats.UnroutedDropped >= 1, Deadline);
        Assert.Equal(1, host.Stats.UnroutedDropped);
    }

    [Fact]
    public async Task CheckNamingAnUnknownUfrag_IsNotRoutedAndNotAnswered()
    {
        await using var host = new TransportHost(new TransportHostOptions { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        var session = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 303));
        using var link = new UdpPeerLink(host.UdpEndpoints[0]);
        var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, "nobodyHere", session.LocalPassword);

        link.Send(ice.BuildCheck(useCandidate: true));

        Assert.Null(link.Receive(TimeSpan.FromMilliseconds(300)));
        await WaitUntil(() => host.Stats.UnroutedDropped >= 1, Deadline);
        Assert.Equal(1, host.Stats.UnroutedDropped);
        Assert.Null(session.SelectedTuple);
    }

    [Fact]
    public async Task IceTcp_ClientOverRfc4571Framing_Connects_Rfc6544()
    {
        await using var host = new TransportHost(new TransportHostOptions { TcpListen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        var session = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 404));
        using var link = new TcpPeerLink(host.TcpEndpoints[0]);

        var result = await Task.Run(() => LoopbackPeer.Run(link, session, DtlsRole.Client, Deadline));

        Assert.True(result.Connected, result.Trace);
        var km = await NextEvent<KeyingMaterial>(session, Deadline);
        Assert.Equal(result.KeyingMaterial, km.Material);
        Assert.Equal(IceProtocol.Tcp, session.SelectedTuple!.Value.Protocol);
        Assert.Equal(1, host.Stats.TcpAccepted);
    }

    [Fact]
    public async Task IceTcp_OversizedFrame_ClosesTheConnection()
    {
        await using var host = new TransportHost(new TransportHostOptions { TcpListen = [new IPEndPoint(IPAddress.Loopback, 0)], MaxTcpFrameSize = 1500 });
        host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 505));
        using var link = new TcpPeerLink(host.TcpEndpoints[0]);

        link.Socket.Send([0x05, 0xDD, 0x00, 0x01]); // length 1501 > 1500

        await WaitUntil(() => host.Stats.TcpClosedOversized == 1 && host.TcpConnectionCount == 0, Deadline);
        Assert.Equal(1, host.Stats.TcpClosedOversized);
        Assert.Equal(0, host.TcpConnectionCount);
        Assert.Null(link.Receive(TimeSpan.FromSeconds(2))); // closed by the host: EOF
    }

    [Fact]
    public async Task IceTcp_HalfOpenAndSilentConnections_AreClosed()
    {
        await using var host = new TransportHost(new TransportHostOptions
        {
            TcpListen = [new IPEndPoint(IPAddress.Loopback, 0)],
            // Long enough that the junk connection's bytes and the half-open FIN are read before the unbound timer
            // fires even under CI load (at 300 ms the timer once closed the junk connection idle first: 3 idle closes).
            TcpUnboundTimeout = TimeSpan.FromSeconds(2),
        });
        host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 606));

        using var halfOpen = new TcpPeerLink(host.TcpEndpoints[0]);
        halfOpen.Socket.Shutdown(SocketShutdown.Send);
        using var silent = new TcpPeerLink(host.TcpEndpoints[0]);
        using var junk = new TcpPeerLink(host.TcpEndpoints[0]);
        junk.Send([22, 0xFE, 0xFD, 0, 0]); // DTLS before any check: not ICE-TCP

        await WaitUntil(() => host.TcpConnectionCount == 0 && host.Stats.TcpClosedIdle >= 1, Deadline);
        var stats = host.Stats;
        Assert.Equal(3, stats.TcpAccepted);
        Assert.Equal(0, host.TcpConnectionCount);
        // The silent connection is closed idle; the half-open one by its FIN, or idle when the host is so loaded that the
        // unbound timeout fires before the FIN is read: both ways it is closed and counted once.
        Assert.Equal(2, stats.TcpClosedByPeer + stats.TcpClosedIdle);
        Assert.InRange(stats.TcpClosedIdle, 1, 2);
        Assert.Equal(1, stats.UnroutedDropped);
    }

    [Fact]
    public async Task PoisonedSession_IsFailedAndRemoved_WhileOtherSessionsOnTheSamePortConnect_AndDisposeDoesNotRethrow()
    {
        await using var host = new TransportHost(new TransportHostOptions { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        var port = host.UdpEndpoints[0];

        // The poison is the application's own logger for one session, throwing on every line once armed (a faulty sink):
        // the transport's own boundary logs the failure with it too, so the exception reaches the host.
        var armed = false;
        var poisonLogger = new Airlift.Tests.Net.ListLogger { ThrowWhen = _ => armed };
#pragma warning disable CS0618 // The obsolete single logger still reaches the transport; a throwing one must not break the host.
        var poisoned = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 707) with { Logger = poisonLogger });
#pragma warning restore CS0618
        armed = true;
        using (var link = new UdpPeerLink(port))
        {
            var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, poisoned.LocalUfrag, poisoned.LocalPassword);
            link.Send(ice.BuildCheck(useCandidate: true));
            var failed = await NextEvent<TransportFailed>(poisoned, Deadline);
            Assert.Equal(TransportFailureReason.InternalError, failed.Reason);
        }

        await WaitUntil(() => host.Stats.SessionFaults >= 1, Deadline);
        Assert.Equal(1, host.Stats.SessionFaults);
        using (var cts = new CancellationTokenSource(Deadline))
        {
            await poisoned.Events.Completion.WaitAsync(cts.Token); // removed: its events completed
        }

        // The same port still serves: three more sessions connect, concurrently.
        var healthy = Enumerable.Range(0, 3).Select(i => host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 710 + (ulong)i))).ToList();
        var runs = healthy.Select(session => Task.Run(() =>
        {
            using var link = new UdpPeerLink(port);
            return LoopbackPeer.Run(link, session, DtlsRole.Client, Deadline);
        })).ToList();
        foreach (var result in await Task.WhenAll(runs))
        {
            Assert.True(result.Connected, result.Trace);
        }

        Assert.Equal(1, host.Stats.SessionFaults);
    }

    [Fact]
    public async Task MediaFloodBeforeTheReaderCatchesUp_IsDroppedAndCounted_ButNeverPushesOutTheKeyingMaterial()
    {
        await using var host = new TransportHost(new TransportHostOptions { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)], EventQueueCapacity = 16 });
        var session = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 808));
        using var link = new UdpPeerLink(host.UdpEndpoints[0]);
        var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, session.LocalUfrag, session.LocalPassword);
        link.Send(ice.BuildCheck(useCandidate: true));
        Assert.NotNull(link.Receive(Deadline)); // the tuple is selected: media from it is delivered

        // 100 RTP packets before DTLS completes, nobody reading.
        for (var i = 0; i < 100; i++)
        {
            link.Send([0x80, 96, 0, (byte)i, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, .. new byte[20]]);
        }

        await WaitUntil(() => session.EventsDropped >= 84, Deadline);
        var result = await Task.Run(() => LoopbackPeer.Run(link, session, DtlsRole.Client, Deadline));
        Assert.True(result.Connected, result.Trace);

        // The host may publish the keys a moment after the peer connected: read (bounded) until they come.
        var events = new List<WebRtcTransportEvent>();
        using (var cts = new CancellationTokenSource(Deadline))
        {
            while (!events.OfType<KeyingMaterial>().Any())
            {
                events.Add(await session.Events.ReadAsync(cts.Token));
            }
        }

        var km = Assert.Single(events.OfType<KeyingMaterial>());
        Assert.Equal(result.KeyingMaterial, km.Material);
        Assert.InRange(events.OfType<RtpPacketReceived>().Count(), 1, 16);
        Assert.True(session.EventsDropped >= 84, $"dropped {session.EventsDropped}");
    }

    [Fact]
    public void Rfc4571Framer_ParsesAStreamSplitAtEveryByteBoundary_Rfc4571_2()
    {
        byte[][] packets = [[0x00, 0x01, 0x00, 0x00], [], [22, 0xFE, 0xFD, 1, 2, 3], [.. Enumerable.Range(0, 300).Select(i => (byte)i)]];
        var stream = new List<byte>();
        foreach (var p in packets)
        {
            var frame = new byte[p.Length + 2];
            Rfc4571Framer.WriteFrame(p, frame);
            stream.AddRange(frame);
        }

        var bytes = stream.ToArray();
        for (var split = 0; split <= bytes.Length; split++)
        {
            var framer = new Rfc4571Framer(1500);
            var got = new List<byte[]>();
            foreach (var part in new[] { bytes[..split], bytes[split..] })
            {
                var offset = 0;
                while (offset < part.Length)
                {
                    offset += framer.Append(part.AsSpan(offset));
                    while (framer.TryReadFrame(out var f))
                    {
                        got.Add(f.ToArray());
                    }
                }
            }

            Assert.Equal(packets, got);
            Assert.Equal(0, framer.Buffered);
        }

        // And one byte at a time.
        var slow = new Rfc4571Framer(1500);
        var frames = new List<byte[]>();
        foreach (var b in bytes)
        {
            slow.Append([b]);
            while (slow.TryReadFrame(out var f))
            {
                frames.Add(f.ToArray());
            }
        }

        Assert.Equal(packets, frames);
    }

    [Fact]
    public void Rfc4571Framer_OversizedLength_StopsParsingWithBoundedMemory()
    {
        var framer = new Rfc4571Framer(600);
        framer.Append([0x02, 0x59]); // 601
        Assert.False(framer.TryReadFrame(out _));
        Assert.True(framer.IsOversized);
        Assert.True(framer.GetWriteBuffer().IsEmpty);
        Assert.Equal(0, framer.Append(new byte[100]));
    }
}
