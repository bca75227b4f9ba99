using System.Net;
using System.Net.Sockets;
using Airlift.Ice.Sdp;
using Airlift.Net;
using Airlift.Tests.Transport;
using Airlift.Transport;

namespace Airlift.Tests.Net;

/// <summary><see cref="TransportHostOptions.MediaAsEvents"/> false: received media read with <see cref="TransportSession.ReceiveMediaAsync"/>.</summary>
public class TransportHostMediaTests
{
    private static readonly byte[] Rtp = NewPacket(172, payloadType: 0);
    private static readonly byte[] Rtcp = NewPacket(28, payloadType: 200); // a sender report: RFC 5761 demultiplexing says RTCP

    private static byte[] NewPacket(int length, byte payloadType)
    {
        var packet = new byte[length];
        packet[0] = 0x80;
        packet[1] = payloadType;
        return packet;
    }

    /// <summary>A host with one nominated peer tuple: the datagrams are handed to the loop synchronously, so every count is exact.</summary>
    private static async Task<(TransportHost Host, TransportSession Session, Socket Peer, IPEndPoint Remote)> NominatedAsync(TransportHostOptions options, ulong seed)
    {
        var host = new TransportHost(options with { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)], ReceiveLoops = 1 });
        var session = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: seed));
        var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)NetTestSupport.Bound.TotalMilliseconds };
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var remote = (IPEndPoint)peer.LocalEndPoint!;
        var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, session.LocalUfrag, session.LocalPassword);
        host.DeliverToLoop(0, remote, ice.BuildCheck(useCandidate: true));
        var back = new byte[2048];
        Assert.True(ice.IsAuthenticatedSuccess(back.AsSpan(0, peer.Receive(back))));
        await NetTestSupport.WaitUntilAsync(() => session.SelectedTuple is not null);
        return (host, session, peer, remote);
    }

    [Fact]
    public async Task Received_media_is_read_in_order_with_its_kind_bounded_and_ended()
    {
        var (host, session, peer, remote) = await NominatedAsync(new TransportHostOptions { MediaAsEvents = false, MediaReceiveBufferSize = 4096 }, seed: 1907);
        await using var _ = host;
        using var __ = peer;

        host.DeliverToLoop(0, remote, Rtp);
        host.DeliverToLoop(0, remote, Rtcp);
        Assert.Equal(new MediaReceiveResult(MediaReceiveStatus.BufferTooSmall, MediaPacketKind.Rtp, 172), await session.ReceiveMediaAsync(new byte[16]));
        var buffer = new byte[2048];
        Assert.Equal(new MediaReceiveResult(MediaReceiveStatus.Received, MediaPacketKind.Rtp, 172), await session.ReceiveMediaAsync(buffer));
        Assert.True(Rtp.AsSpan().SequenceEqual(buffer.AsSpan(0, 172)));
        Assert.Equal(new MediaReceiveResult(MediaReceiveStatus.Received, MediaPacketKind.Rtcp, 28), await session.ReceiveMediaAsync(buffer));

        // Bounded: 4096 bytes hold 23 packets of 172 bytes with their 4-byte prefixes; the rest are dropped and counted.
        for (var i = 0; i < 40; i++)
        {
            host.DeliverToLoop(0, remote, Rtp);
        }

        Assert.Equal(40 - (4096 / 176), session.MediaDropped);
        while (session.Events.TryRead(out var e))
        {
            Assert.False(e is RtpPacketReceived or RtcpPacketReceived, "media also left as an event");
        }

        // The end: what was buffered is still read, then None.
        session.Close();
        for (var i = 0; i < 4096 / 176; i++)
        {
            Assert.Equal(MediaReceiveStatus.Received, (await session.ReceiveMediaAsync(buffer)).Status);
        }

        Assert.Equal(MediaReceiveStatus.None, (await session.ReceiveMediaAsync(buffer).AsTask().WaitAsync(NetTestSupport.Bound)).Status);
    }

    [Fact]
    public async Task A_waiting_ReceiveMediaAsync_is_woken_by_a_packet_and_by_the_host_disposal()
    {
        var (host, session, peer, remote) = await NominatedAsync(new TransportHostOptions { MediaAsEvents = false }, seed: 1908);
        using var _ = peer;
        var buffer = new byte[2048];
        var waiting = session.ReceiveMediaAsync(buffer).AsTask();
        Assert.False(waiting.IsCompleted);
        host.DeliverToLoop(0, remote, Rtcp);
        Assert.Equal(new MediaReceiveResult(MediaReceiveStatus.Received, MediaPacketKind.Rtcp, 28), await waiting.WaitAsync(NetTestSupport.Bound));

        var ended = session.ReceiveMediaAsync(buffer).AsTask();
        await host.DisposeAsync();
        Assert.Equal(MediaReceiveStatus.None, (await ended.WaitAsync(NetTestSupport.Bound)).Status);
    }

    [Fact]
    public async Task With_media_as_events_ReceiveMediaAsync_throws_and_the_options_bound_the_buffer()
    {
        var (host, session, peer, remote) = await NominatedAsync(new TransportHostOptions(), seed: 1909);
        await using var _ = host;
        using var __ = peer;
        Assert.Throws<InvalidOperationException>(() => session.ReceiveMediaAsync(new byte[16]));
        host.DeliverToLoop(0, remote, Rtp);
        var events = new List<Airlift.Transport.WebRtcTransportEvent>();
        while (session.Events.TryRead(out var e))
        {
            events.Add(e);
        }

        Assert.Single(events.OfType<RtpPacketReceived>());
        Assert.Equal(0, session.MediaDropped);

        var listen = new IPEndPoint(IPAddress.Loopback, 0);
        Assert.Throws<ArgumentException>(() => new TransportHostOptions { UdpListen = [listen], MediaReceiveBufferSize = 4095 }.Validate());
        Assert.Throws<ArgumentException>(() => new TransportHostOptions { UdpListen = [listen], MediaReceiveBufferSize = (64 * 1024 * 1024) + 1 }.Validate());
        new TransportHostOptions { UdpListen = [listen], MediaReceiveBufferSize = 4096 }.Validate();
    }
}
