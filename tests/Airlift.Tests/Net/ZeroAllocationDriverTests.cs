using System.Net;
using System.Net.Sockets;
using Airlift.Dtls;
using Airlift.Ice.Sdp;
using Airlift.Net;
using Airlift.Tests.Transport;
using Airlift.Transport;
using Xunit.Abstractions;

namespace Airlift.Tests.Net;

/// <summary>
/// The record path of the socket drivers (issue #13): application data sealed straight into the driver's send buffer and
/// received into the session's buffer, read with <see cref="DtlsUdpSession.ReceiveAsync"/> into the caller's buffer.
/// </summary>
public class ZeroAllocationDriverTests(ITestOutputHelper output)
{
    public static TheoryData<int> Versions => new() { 12, 13 };

    /// <summary>
    /// Echoes 1000-byte records client -> server -> client over loopback and measures, inside the loops, what the record paths
    /// allocate on the threads that run them, step by step (open the datagram, deliver into the session's buffer, seal, send,
    /// drain): 0 B in the driver's steps, sending included. The whole process's allocation per echo is printed here and
    /// asserted, alone in the process, by <see cref="WholeProcessAllocationTests"/>.
    /// </summary>
    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Echoed_records_allocate_nothing_on_the_driver_record_paths(int version)
    {
        await using var rig = await DriverEchoRig.StartAsync(version == 13 ? ProtocolVersion.Dtls13 : ProtocolVersion.Dtls12, serverSeed: 1811, clientSeed: 1812, payloadSeed: 18);
        var (server, client, payload, back) = (rig.Server, rig.Client, rig.Payload, rig.Back);
        Task EchoAsync(int count) => rig.EchoAsync(count);
        await EchoAsync(50); // warm-up: JIT, the session buffers' first allocation, first-use caches
        Assert.Equal(0, rig.Failures);
        Assert.True(payload.AsSpan().SequenceEqual(back.AsSpan(0, payload.Length)));

        // Three windows of echoes, each step's count taken as its smallest over the windows: an allocation per record shows
        // in every window, while a one-off of the runtime inside a step (tiered JIT promotion of a BCL method running on the
        // calling thread, a lazily built cache; 3.6 KB once seen inside Socket.SendTo under CI load) lands in one window only.
        const int Records = 200, Windows = 3;
        var loops = server.Loops.Append(client.Loop).ToArray();
        var byWindow = new long[Windows, 6];
        long total = 0;
        for (var w = 0; w < Windows; w++)
        {
            foreach (var loop in loops)
            {
                Array.Clear(loop.AllocatedBy);
                loop.MeasureAllocations = true;
            }

            var before = GC.GetTotalAllocatedBytes(precise: true);
            await EchoAsync(Records);
            total += GC.GetTotalAllocatedBytes(precise: true) - before;
            foreach (var loop in loops)
            {
                loop.MeasureAllocations = false;
            }

            for (var step = 0; step < 6; step++)
            {
                byWindow[w, step] = loops.Sum(l => l.AllocatedBy[step]);
            }

            output.WriteLine($"window {w + 1}, by step (open, deliver, drain, seal, send, drain): " + string.Join(", ", Enumerable.Range(0, 6).Select(i => byWindow[w, i])));
        }

        output.WriteLine($"DTLS {version / 10}.{version % 10}: whole process {total / (Records * Windows)} B per echo (two records, four datagram hops)");
        Assert.Equal(0, rig.Failures);
        long By(int step) => Enumerable.Range(0, Windows).Min(w => byWindow[w, step]);

        // The driver's own steps allocate nothing: delivering into the session's buffer (and waking its reader), both
        // drains, sealing into the send buffer.
        Assert.Equal(0, By(1));
        Assert.Equal(0, By(2));
        Assert.Equal(0, By(5));

        // Sealing (DtlsEndpoint.TrySealApplicationData, the engine's step): 0 B in most runs; DTLS 1.3 once showed 1 KB over
        // the 1000 records (engine internals). Bounded at 64 B per record, like the open step below.
        Assert.True(By(3) <= 64 * 2 * Records, $"seal: {By(3)} B");

        // Sending (Socket.SendTo(span, flags, SocketAddress)): 0 B. The 32 B per datagram once seen here was the send-failure
        // log closure, allocated on every call because it captured a parameter of the send method; it now lives in its own.
        Assert.Equal(0, By(4));

        // Opening the datagram (DtlsEndpoint.HandleDatagramInto, the engine's step, not the driver's): 0 B for DTLS 1.2 and
        // 8-16 B per record for DTLS 1.3 on a loaded machine; under heavy load a late handshake retransmission handled
        // during the measurement adds a little (1.5 KB once seen with DTLS 1.2). Bounded at 64 B per record.
        Assert.True(By(0) <= 64 * 2 * Records, $"open: {By(0)} B");

        // The whole-process figure above is printed, not asserted here: the count is process-wide and xunit runs other test
        // classes at the same time (20 KB per echo once seen beside the CLI tests); WholeProcessAllocationTests asserts it alone.

        await rig.StopAsync();
    }

    [Fact]
    public async Task A_small_buffer_gets_the_size_needed_and_the_record_stays_and_the_end_follows_the_data()
    {
        var serverOptions = new DtlsUdpServerOptions(NetTestSupport.Server(1813)) { ReceiveLoops = 1, ApplicationDataAsEvents = false };
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), serverOptions);
        await using var client = await DtlsUdpClient.ConnectAsync(server.LocalEndpoint, NetTestSupport.Client(1814));
        var (session, _) = await NetTestSupport.NextAsync<DtlsConnected>(server.Events);
        using var stop = new CancellationTokenSource(NetTestSupport.Bound);

        client.Send("first record"u8);
        client.Send("second"u8);
        client.Session.Close();

        var small = await session.ReceiveAsync(new byte[4], stop.Token);
        Assert.Equal(new DtlsReceiveResult(DtlsReceiveStatus.BufferTooSmall, 12), small);
        var buffer = new byte[64];
        var first = await session.ReceiveAsync(buffer, stop.Token);
        Assert.Equal("first record"u8.ToArray(), buffer.AsSpan(0, first.Length).ToArray());
        var second = await session.ReceiveAsync(buffer, stop.Token);
        Assert.Equal("second"u8.ToArray(), buffer.AsSpan(0, second.Length).ToArray());
        Assert.Equal(DtlsReceiveStatus.None, (await session.ReceiveAsync(buffer, stop.Token)).Status);
    }

    [Fact]
    public async Task A_server_that_publishes_data_as_events_keeps_doing_so_and_refuses_ReceiveAsync()
    {
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), new DtlsUdpServerOptions(NetTestSupport.Server(1815)) { ReceiveLoops = 1 });
        await using var client = await DtlsUdpClient.ConnectAsync(server.LocalEndpoint, NetTestSupport.Client(1816));

        client.Send("as an event"u8);
        var (session, data) = await NetTestSupport.NextAsync<DtlsApplicationData>(server.Events);
        Assert.Equal("as an event"u8.ToArray(), data.Data);
        Assert.Throws<InvalidOperationException>(() => session.ReceiveAsync(new byte[64]));

        session.Send("and back"u8);
        using var stop = new CancellationTokenSource(NetTestSupport.Bound);
        Assert.Equal("and back"u8.ToArray(), await client.ReceiveAsync(stop.Token));
    }

    [Fact]
    public async Task The_session_buffer_wraps_around_keeps_order_and_counts_what_does_not_fit()
    {
        var ring = new SessionReceiveBuffer(100);
        var random = new Random(1817);
        var expected = new Queue<byte[]>();
        var buffer = new byte[100];
        var dropped = 0;
        for (var i = 0; i < 2000; i++)
        {
            var record = new byte[random.Next(0, 40)];
            random.NextBytes(record);
            if (ring.TryWrite(record))
            {
                expected.Enqueue(record);
            }
            else
            {
                dropped++;
            }

            if (random.Next(3) == 0)
            {
                while (expected.Count > 0)
                {
                    var r = await ring.ReceiveAsync(buffer, CancellationToken.None);
                    Assert.Equal(DtlsReceiveStatus.Received, r.Status);
                    Assert.Equal(expected.Dequeue(), buffer.AsSpan(0, r.Length).ToArray());
                }
            }
        }

        Assert.True(dropped > 0);
        Assert.Equal(dropped, ring.Dropped);
        Assert.False(ring.TryWrite(new byte[97])); // 4-byte prefix: 101 > 100
        ring.End();
        while (expected.Count > 0)
        {
            Assert.Equal(expected.Dequeue(), buffer.AsSpan(0, (await ring.ReceiveAsync(buffer, CancellationToken.None)).Length).ToArray());
        }

        Assert.Equal(DtlsReceiveStatus.None, (await ring.ReceiveAsync(buffer, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task A_waiting_receive_is_woken_by_a_record_and_by_cancellation()
    {
        var ring = new SessionReceiveBuffer(1024);
        var buffer = new byte[16];
        var waiting = ring.ReceiveAsync(buffer, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.True(ring.TryWrite("hi"u8));
        Assert.Equal(new DtlsReceiveResult(DtlsReceiveStatus.Received, 2), await waiting.WaitAsync(NetTestSupport.Bound));

        using var cancel = new CancellationTokenSource();
        var cancelled = ring.ReceiveAsync(buffer, cancel.Token).AsTask();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await ring.ReceiveAsync(buffer, CancellationToken.None));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(NetTestSupport.Bound));

        Assert.True(ring.TryWrite("after"u8)); // the buffer stays usable
        Assert.Equal(5, (await ring.ReceiveAsync(buffer, CancellationToken.None)).Length);
    }
}

/// <summary>Whole-process allocation counts are process-wide: these tests run alone (after the parallel collections).</summary>
[CollectionDefinition(nameof(WholeProcessAllocationCollection), DisableParallelization = true)]
public sealed class WholeProcessAllocationCollection;

/// <summary>
/// The socket drivers' loop turn (issue #13): with the record path at 0 B (<see cref="ZeroAllocationDriverTests"/>), the
/// whole process allocates next to nothing per echo, because <see cref="SocketDriver"/> receives on the socket's cached
/// operation into a reused <see cref="SocketAddress"/>, routes known peers by its bytes and waits on one re-armed timer and a
/// reusable wake signal (before: about 1.9 KB per DTLS echo for a Task, an <see cref="IPEndPoint"/>, a linked
/// CancellationTokenSource, a Task.Delay, a Task.WhenAny and a TaskCompletionSource per turn).
/// </summary>
[Collection(nameof(WholeProcessAllocationCollection))]
public sealed class WholeProcessAllocationTests(ITestOutputHelper output)
{
    private const int Windows = 5;
    private const int EchoesPerWindow = 200;

    /// <summary>
    /// <c>GC.GetTotalAllocatedBytes(true)</c> over <see cref="Windows"/> windows of echoes, the smallest window per echo: an
    /// allocation per datagram shows in every window, a one-off of the runtime or of an earlier test's leftovers in one.
    /// </summary>
    private async Task<long> SmallestPerEchoAsync(Func<int, Task> echo, string name)
    {
        var perEcho = new long[Windows];
        for (var w = 0; w < Windows; w++)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            await echo(EchoesPerWindow);
            perEcho[w] = (GC.GetTotalAllocatedBytes(precise: true) - before) / EchoesPerWindow;
        }

        output.WriteLine($"{name}: whole process per echo by window: {string.Join(", ", perEcho)} B; smallest {perEcho.Min()} B");
        return perEcho.Min();
    }

    /// <summary>
    /// 1000-byte records echoed client -> server -> client over loopback (two records, four datagram hops per echo), both ends
    /// on <see cref="SocketDriver"/>, data read with the allocation-free <c>ReceiveAsync(Memory)</c>. Measured: 0 B per echo in
    /// the smallest window, up to 60 B in others (the test's own awaits cost about 1 B per echo: its echo method's state
    /// machine once per window, the cancellation registrations reused; the rest is the runtime's background work). Bounded at
    /// 32 B per echo: one allocation per datagram anywhere on the path (four per echo, an <see cref="IPEndPoint"/> is 32 B, a
    /// Task 64 B or more) fails it; before the loop turn was made allocation-free it measured about 1.9 KB.
    /// </summary>
    [Theory]
    [MemberData(nameof(ZeroAllocationDriverTests.Versions), MemberType = typeof(ZeroAllocationDriverTests))]
    public async Task A_DTLS_echo_over_the_socket_drivers_allocates_almost_nothing_in_the_whole_process(int version)
    {
        await using var rig = await DriverEchoRig.StartAsync(version == 13 ? ProtocolVersion.Dtls13 : ProtocolVersion.Dtls12, serverSeed: 1901, clientSeed: 1902, payloadSeed: 1903);
        Task EchoAsync(int count) => rig.EchoAsync(count);
        await EchoAsync(100); // warm-up: JIT and tiering, the session buffers, first-use caches
        var smallest = await SmallestPerEchoAsync(EchoAsync, $"DTLS {version / 10}.{version % 10} echo");

        Assert.Equal(0, rig.Failures);
        Assert.True(rig.Payload.AsSpan().SequenceEqual(rig.Back.AsSpan(0, rig.Payload.Length)));
        Assert.True(smallest <= 32, $"{smallest} B per echo");
        await rig.StopAsync();
    }

    /// <summary>
    /// RTP echoed through a <see cref="TransportHost"/> session: a peer on a plain socket nominates its tuple with a STUN
    /// check (USE-CANDIDATE), then sends 172-byte RTP packets; the application reads each <see cref="RtpPacketReceived"/> and
    /// sends it back with <see cref="TransportSession.SendMedia"/> (no DTLS needed: media flows on a tuple with consent, and
    /// opaque bytes are all the host sees of SRTP). The host's loop turn, routing, sending, <c>SendMedia</c> and the transport
    /// are allocation-free; what remains per echo is the event's own copy: its array and record, 248 B for 172-byte packets
    /// (536 B before <c>SendMedia</c> lost its copy, closure and delegate). Bounded at that plus 32 B, so any per-datagram
    /// allocation of the driver fails it (72 B per send for the <see cref="SocketAddress"/> that <c>SendTo(EndPoint)</c>
    /// serialized, before sends took the received address). Without the event, see
    /// <see cref="An_RTP_echo_through_TransportHost_with_ReceiveMediaAsync_allocates_almost_nothing"/>.
    /// </summary>
    [Fact]
    public async Task An_RTP_echo_through_TransportHost_allocates_only_the_session_API_copies()
    {
        await using var host = new TransportHost(new TransportHostOptions { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)], ReceiveLoops = 1 });
        var session = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 1904));
        using var peer = RtpEchoPeer.Nominate(host, session);

        var echo = Task.Run(async () =>
        {
            // CancellationToken.None: a bounded channel reuses its one reader operation only for an uncancellable read; the
            // host's disposal completes the channel, which ends this loop.
            while (await session.Events.WaitToReadAsync(CancellationToken.None))
            {
                while (session.Events.TryRead(out var e))
                {
                    if (e is RtpPacketReceived rtp)
                    {
                        session.SendMedia(rtp.Packet);
                    }
                }
            }
        });

        Task EchoAsync(int count) => peer.EchoAsync(count);

        await EchoAsync(100); // warm-up
        var smallest = await SmallestPerEchoAsync(EchoAsync, "TransportHost RTP echo");

        Assert.Equal(0, peer.Failures);
        Assert.True(smallest <= ApiCopiesPerEcho(RtpEchoPeer.PacketLength) + 32, $"{smallest} B per echo (the API's copies: {ApiCopiesPerEcho(RtpEchoPeer.PacketLength)} B)");
        Assert.Equal(0, host.Stats.SendErrors);
    }

    /// <summary>What the session API allocates per echoed packet (64-bit): the event's copy and record (SendMedia allocates nothing).</summary>
    private static long ApiCopiesPerEcho(int packetLength)
    {
        var array = 24 + ((packetLength + 7) & ~7); // header, length and padded bytes
        const int EventRecord = 48; // RtpPacketReceived: header, the tuple (two references and an enum), the array
        return array + EventRecord;
    }

    /// <summary>
    /// The same RTP echo with <see cref="TransportHostOptions.MediaAsEvents"/> false: the application reads each packet with
    /// <see cref="TransportSession.ReceiveMediaAsync"/> into its own buffer and sends it back with
    /// <see cref="TransportSession.SendMedia"/>. Nothing on the path allocates per packet (before: 536 B per echo through the
    /// event and the copying <c>SendMedia</c>). Bounded at 32 B per echo: one allocation per datagram anywhere fails it.
    /// </summary>
    [Fact]
    public async Task An_RTP_echo_through_TransportHost_with_ReceiveMediaAsync_allocates_almost_nothing()
    {
        await using var host = new TransportHost(new TransportHostOptions { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)], ReceiveLoops = 1, MediaAsEvents = false });
        var session = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 1906));
        using var peer = RtpEchoPeer.Nominate(host, session);

        var echo = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            while (true)
            {
                var r = await session.ReceiveMediaAsync(buffer, CancellationToken.None); // the session's end (Close below) ends it
                if (r.Status != MediaReceiveStatus.Received)
                {
                    return;
                }

                session.SendMedia(buffer.AsSpan(0, r.Length));
            }
        });

        Task EchoAsync(int count) => peer.EchoAsync(count);

        await EchoAsync(100); // warm-up: JIT and tiering, the session's media buffer
        var smallest = await SmallestPerEchoAsync(EchoAsync, "TransportHost RTP echo (ReceiveMediaAsync)");

        Assert.Equal(0, peer.Failures);
        Assert.True(smallest <= 32, $"{smallest} B per echo");
        Assert.Equal(0, host.Stats.SendErrors);
        Assert.Equal(0, session.MediaDropped);

        session.Close();
        await echo.WaitAsync(NetTestSupport.Bound);
    }
}

/// <summary>
/// One client echoing 1000-byte records through a server session, both on the socket drivers (one receive loop, data read
/// with the allocation-free <c>ReceiveAsync(Memory)</c>, no idle timeout): what the driver allocation tests measure.
/// </summary>
internal sealed class DriverEchoRig : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new(NetTestSupport.Bound * 3);
    private readonly Task _echo;

    private DriverEchoRig(DtlsUdpServer server, DtlsUdpClient client, DtlsUdpSession session, int payloadSeed)
    {
        Server = server;
        Client = client;
        new Random(payloadSeed).NextBytes(Payload);
        _echo = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            while (true)
            {
                var r = await session.ReceiveAsync(buffer, _stop.Token);
                if (r.Status != DtlsReceiveStatus.Received)
                {
                    return;
                }

                session.Send(buffer.AsSpan(0, r.Length));
            }
        });
    }

    public DtlsUdpServer Server { get; }

    public DtlsUdpClient Client { get; }

    public byte[] Payload { get; } = new byte[1000];

    /// <summary>The last echo received.</summary>
    public byte[] Back { get; } = new byte[2048];

    /// <summary>Echoes that did not come back whole.</summary>
    public int Failures { get; private set; }

    public static async Task<DriverEchoRig> StartAsync(ProtocolVersion version, ulong serverSeed, ulong clientSeed, int payloadSeed)
    {
        var serverOptions = new DtlsUdpServerOptions(NetTestSupport.Server(serverSeed) with { ProtocolVersions = [version] })
        {
            ReceiveLoops = 1,
            ApplicationDataAsEvents = false,
            IdleTimeout = Timeout.InfiniteTimeSpan,
        };
        var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), serverOptions);
        try
        {
            var client = await DtlsUdpClient.ConnectAsync(server.LocalEndpoint, NetTestSupport.Client(clientSeed) with { ProtocolVersions = [version] });
            var (session, _) = await NetTestSupport.NextAsync<DtlsConnected>(server.Events);
            return new DriverEchoRig(server, client, session, payloadSeed);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends <paramref name="count"/> records, each after the previous one came back.</summary>
    public async Task EchoAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            Client.Send(Payload);
            var r = await Client.ReceiveAsync(Back, _stop.Token);
            Failures += r.Status == DtlsReceiveStatus.Received && r.Length == Payload.Length ? 0 : 1;
        }
    }

    /// <summary>Closes the client: the server's reader then gets the end and the echo task returns.</summary>
    public async Task StopAsync()
    {
        Client.Session.Close();
        await _echo.WaitAsync(NetTestSupport.Bound);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        _stop.Dispose();
    }
}

/// <summary>
/// A peer on a plain UDP socket that nominates its tuple with a host session (one STUN check with USE-CANDIDATE) and then
/// echoes 172-byte RTP packets (12-byte header, 160 bytes of payload: 20 ms of G.711) through it, one at a time.
/// </summary>
internal sealed class RtpEchoPeer : IDisposable
{
    public const int PacketLength = 172;

    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
    {
        ReceiveTimeout = (int)NetTestSupport.Bound.TotalMilliseconds, // a lost datagram fails the test instead of hanging it
    };

    private readonly SocketAddress _host;
    private readonly byte[] _packet = new byte[PacketLength];
    private readonly byte[] _back = new byte[2048];

    private RtpEchoPeer(TransportHost host)
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _host = host.UdpEndpoints[0].Serialize();
        _packet[0] = 0x80;
    }

    /// <summary>Echoes that did not come back whole.</summary>
    public int Failures { get; private set; }

    public static RtpEchoPeer Nominate(TransportHost host, TransportSession session)
    {
        var peer = new RtpEchoPeer(host);
        var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, session.LocalUfrag, session.LocalPassword);
        peer._socket.SendTo(ice.BuildCheck(useCandidate: true), SocketFlags.None, peer._host);
        Assert.True(ice.IsAuthenticatedSuccess(peer._back.AsSpan(0, peer._socket.Receive(peer._back))));
        return peer;
    }

    /// <summary>Sends <paramref name="count"/> packets, each after the previous one came back (on a pool thread: the socket blocks).</summary>
    public Task EchoAsync(int count) => Task.Run(() =>
    {
        for (var i = 0; i < count; i++)
        {
            _packet[3] = (byte)i;
            _socket.SendTo(_packet, SocketFlags.None, _host);
            var n = _socket.Receive(_back);
            Failures += n == _packet.Length && _back[3] == (byte)i ? 0 : 1;
        }
    });

    public void Dispose() => _socket.Dispose();
}
