using System.Net;
using Airlift.Dtls;
using Airlift.Net;
using Xunit.Abstractions;

namespace Airlift.Tests.Net;

/// <summary>
/// The record path of the socket drivers (issue #13): application data sealed straight into the driver's send buffer and
/// received into the session's buffer, read with <see cref="DtlsUdpSession.ReceiveAsync"/> into the caller's buffer.
/// </summary>
public class ZeroAllocationDriverTests(ITestOutputHelper output)
{
    public static TheoryData<int> Versions => new() { 12, 13 };

    private static DtlsOptions Pin(DtlsOptions options, int version) =>
        options with { ProtocolVersions = version == 13 ? [ProtocolVersion.Dtls13] : [ProtocolVersion.Dtls12] };

    /// <summary>
    /// Echoes 1000-byte records client -> server -> client over loopback and measures, inside the loops, what the record paths
    /// allocate on the threads that run them, step by step (open the datagram, deliver into the session's buffer, seal, send,
    /// drain): 0 B in the driver's steps, 32 B per datagram inside <c>Socket.SendTo</c>.
    /// The whole process's allocation per echo is printed and bounded generously: it also holds the socket driver's own
    /// per-datagram receive and wait machinery, the test's awaits and whatever the runtime does meanwhile.
    /// </summary>
    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Echoed_records_allocate_nothing_on_the_driver_record_paths(int version)
    {
        var serverOptions = new DtlsUdpServerOptions(Pin(NetTestSupport.Server(1811), version)) { ReceiveLoops = 1, ApplicationDataAsEvents = false, IdleTimeout = Timeout.InfiniteTimeSpan };
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), serverOptions);
        await using var client = await DtlsUdpClient.ConnectAsync(server.LocalEndpoint, Pin(NetTestSupport.Client(1812), version));
        var (session, _) = await NetTestSupport.NextAsync<DtlsConnected>(server.Events);
        using var stop = new CancellationTokenSource(NetTestSupport.Bound * 3);

        var echo = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            while (true)
            {
                var r = await session.ReceiveAsync(buffer, stop.Token);
                if (r.Status != DtlsReceiveStatus.Received)
                {
                    return;
                }

                session.Send(buffer.AsSpan(0, r.Length));
            }
        });

        var payload = new byte[1000];
        new Random(18).NextBytes(payload);
        var back = new byte[2048];
        var failures = 0;
        async Task EchoAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                client.Send(payload);
                var r = await client.ReceiveAsync(back, stop.Token);
                failures += r.Status == DtlsReceiveStatus.Received && r.Length == payload.Length ? 0 : 1;
            }
        }

        await EchoAsync(50); // warm-up: JIT, the session buffers' first allocation, first-use caches
        Assert.Equal(0, failures);
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
        Assert.Equal(0, failures);
        long By(int step) => Enumerable.Range(0, Windows).Min(w => byWindow[w, step]);

        // The driver's own steps allocate nothing: delivering into the session's buffer (and waking its reader), both
        // drains, sealing into the send buffer.
        Assert.Equal(0, By(1));
        Assert.Equal(0, By(2));
        Assert.Equal(0, By(5));

        // Sealing (DtlsEndpoint.TrySealApplicationData, the engine's step): 0 B in most runs; DTLS 1.3 once showed 1 KB over
        // the 1000 records (engine internals). Bounded at 64 B per record, like the open step below.
        Assert.True(By(3) <= 64 * 2 * Records, $"seal: {By(3)} B");

        // Socket.SendTo(span, flags, SocketAddress) itself allocates 32 B per datagram on Linux (.NET 10; measured here by
        // step, inside the BCL): the smallest bound reached; two datagrams are sent per echo.
        Assert.True(By(4) <= 32 * 2 * Records, $"send: {By(4)} B");

        // Opening the datagram (DtlsEndpoint.HandleDatagramInto, the engine's step, not the driver's): 0 B for DTLS 1.2 and
        // 8-16 B per record for DTLS 1.3 on a loaded machine; under heavy load a late handshake retransmission handled
        // during the measurement adds a little (1.5 KB once seen with DTLS 1.2). Bounded at 64 B per record.
        Assert.True(By(0) <= 64 * 2 * Records, $"open: {By(0)} B");

        // Printed, not asserted: the count is process-wide and xunit runs other test classes at the same time (about 2 KB
        // per echo alone: the socket driver's receive Task, IPEndPoint, delay timer and WhenAny per datagram; 20 KB seen
        // beside the CLI tests).
        Assert.True(total > 0);

        client.Session.Close(); // the server's reader then gets the end: the echo task returns
        await echo.WaitAsync(NetTestSupport.Bound);
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
