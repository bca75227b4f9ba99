using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Airlift.NetEm;
using Airlift.NetEm.Proxy;

namespace Airlift.Tests.NetEm;

public class UdpImpairmentProxyTests
{
    // Bounds for waiting on loopback traffic. Tests assert on counts, never on how long things took.
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(30);
    private static readonly TimeSpan FinalQuiet = TimeSpan.FromMilliseconds(300);

    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    /// <summary>Loopback UDP echo server.</summary>
    private sealed class UdpEcho : IAsyncDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly CancellationTokenSource _cts = new();
        private readonly Task _loop;
        private int _received;

        public UdpEcho()
        {
            _socket.Bind(AnyLoopback);
            Endpoint = (IPEndPoint)_socket.LocalEndPoint!;
            _loop = Task.Run(LoopAsync);
        }

        public IPEndPoint Endpoint { get; }

        public int Received => Volatile.Read(ref _received);

        public ConcurrentDictionary<IPEndPoint, int> Sources { get; } = new();

        private async Task LoopAsync()
        {
            var buffer = new byte[65536];
            EndPoint any = new IPEndPoint(IPAddress.Any, 0);
            while (!_cts.IsCancellationRequested)
            {
                try
                {
                    var r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _cts.Token);
                    Interlocked.Increment(ref _received);
                    Sources.AddOrUpdate((IPEndPoint)r.RemoteEndPoint, 1, (_, n) => n + 1);
                    await _socket.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), SocketFlags.None, r.RemoteEndPoint, _cts.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    if (_cts.IsCancellationRequested)
                    {
                        break;
                    }
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _cts.CancelAsync();
            _socket.Dispose();
            await _loop;
            _cts.Dispose();
        }
    }

    private static Socket NewClient()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(AnyLoopback);
        return s;
    }

    private static async Task<byte[]?> ReceiveAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[65536];
        try
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return buffer[..n];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "timed out waiting for: " + what);
    }

    /// <summary>What a seeded emulator predicts for an echo exchange, datagram by datagram.</summary>
    private static (List<int> RepliesPerDatagram, NetEmStats Stats) Predict(NetEmOptions options, IReadOnlyList<byte[]> payloads)
    {
        var emulator = new NetworkEmulator(options);
        var replies = new List<int>();
        foreach (var payload in payloads)
        {
            var count = 0;
            emulator.Send(TimeSpan.Zero, LinkDirection.ClientToServer, payload);
            while (emulator.TryReceive(TimeSpan.Zero, out var d))
            {
                if (d.Direction == LinkDirection.ClientToServer)
                {
                    emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, d.Datagram); // the echo
                }
                else
                {
                    count++;
                }
            }

            replies.Add(count);
        }

        return (replies, emulator.Stats);
    }

    public static TheoryData<string> Scenarios() => new() { "loss", "max-size", "duplication" };

    private static (NetEmOptions Options, List<byte[]> Payloads) Scenario(string name)
    {
        var rng = new Random(4242);
        byte[] Payload(int size)
        {
            var b = new byte[size];
            rng.NextBytes(b);
            return b;
        }

        return name switch
        {
            "loss" => (
                new NetEmOptions(new LinkImpairment { LossRate = 0.3 }, new LinkImpairment { LossRate = 0.2 }, [], 17),
                [.. Enumerable.Range(0, 60).Select(_ => Payload(200))]),
            "max-size" => (
                NetEmPresets.F4TurnRelay(1200),
                [.. new[] { 100, 1199, 1200, 1201, 1500, 50, 2969, 1200, 30000, 1 }.Select(Payload)]),
            "duplication" => (
                new NetEmOptions(new LinkImpairment { DuplicateRate = 0.5 }, new LinkImpairment { DuplicateRate = 0.5, LossRate = 0.1 }, [], 5),
                [.. Enumerable.Range(0, 30).Select(_ => Payload(300))]),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Proxy_drops_and_duplicates_exactly_what_the_seeded_emulator_predicts(string scenario)
    {
        var (options, payloads) = Scenario(scenario);
        var (expected, expectedStats) = Predict(options, payloads);
        await using var echo = new UdpEcho();
        await using var proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(AnyLoopback, echo.Endpoint, options));
        await proxy.StartAsync();
        using var client = NewClient();

        var received = 0;
        for (var i = 0; i < payloads.Count; i++)
        {
            await client.SendToAsync(payloads[i], SocketFlags.None, proxy.ListenEndpoint);
            for (var r = 0; r < expected[i]; r++)
            {
                var reply = await ReceiveAsync(client, ReplyTimeout);
                Assert.NotNull(reply);
                Assert.Equal(payloads[i], reply);
                received++;
            }

            if (expected[i] == 0)
            {
                Assert.Null(await ReceiveAsync(client, Quiet));
            }
        }

        Assert.Null(await ReceiveAsync(client, FinalQuiet));
        Assert.Equal(expected.Sum(), received);
        var stats = proxy.Stats;
        Assert.Equal(expectedStats.ClientToServer, stats.Emulator.ClientToServer);
        Assert.Equal(expectedStats.ServerToClient, stats.Emulator.ServerToClient);
        Assert.Equal(stats.Emulator.ClientToServer.Delivered, echo.Received);
        Assert.Equal(stats.Emulator.ServerToClient.Delivered, stats.SentToClients);
        Assert.Equal(0, stats.SocketErrors);
    }

    [Fact]
    public async Task Two_clients_at_once_get_their_own_upstream_sockets_and_their_own_replies()
    {
        await using var echo = new UdpEcho();
        await using var proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(AnyLoopback, echo.Endpoint, NetEmOptions.None));
        await proxy.StartAsync();

        async Task RunClient(byte tag)
        {
            using var client = NewClient();
            for (byte i = 0; i < 20; i++)
            {
                await client.SendToAsync(new byte[] { tag, i }, SocketFlags.None, proxy.ListenEndpoint);
                var reply = await ReceiveAsync(client, ReplyTimeout);
                Assert.Equal(new byte[] { tag, i }, reply);
            }
        }

        await Task.WhenAll(RunClient(1), RunClient(2));

        var stats = proxy.Stats;
        Assert.Equal(2, stats.ActiveClients);
        Assert.Equal(2, stats.ClientsAccepted);
        Assert.Equal(40, stats.SentToClients);
        Assert.Equal(2, echo.Sources.Count);
        Assert.All(echo.Sources.Values, n => Assert.Equal(20, n));
        Assert.All(echo.Sources.Keys, ep => Assert.NotEqual(proxy.ListenEndpoint.Port, ep.Port));
    }

    [Fact]
    public async Task Clients_beyond_MaxClients_are_dropped_and_counted()
    {
        await using var echo = new UdpEcho();
        var options = new UdpImpairmentProxyOptions(AnyLoopback, echo.Endpoint, NetEmOptions.None) { MaxClients = 1 };
        await using var proxy = new UdpImpairmentProxy(options);
        await proxy.StartAsync();
        using var first = NewClient();
        using var second = NewClient();

        await first.SendToAsync(new byte[] { 1 }, SocketFlags.None, proxy.ListenEndpoint);
        Assert.NotNull(await ReceiveAsync(first, ReplyTimeout));
        await second.SendToAsync(new byte[] { 2 }, SocketFlags.None, proxy.ListenEndpoint);
        Assert.Null(await ReceiveAsync(second, FinalQuiet));

        Assert.Equal(1, proxy.Stats.ClientsRejected);
        Assert.Equal(1, proxy.Stats.ActiveClients);
        Assert.Equal(1, echo.Received);
    }

    [Fact]
    public async Task Delivery_waits_for_the_injected_TimeProvider_not_the_wall_clock()
    {
        var clock = new ManualTimeProvider();
        await using var echo = new UdpEcho();
        var netem = NetEmOptions.None with { ClientToServer = new LinkImpairment { Delay = TimeSpan.FromMilliseconds(200) } };
        await using var proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(AnyLoopback, echo.Endpoint, netem), clock);
        await proxy.StartAsync();
        using var client = NewClient();

        await client.SendToAsync(new byte[] { 9 }, SocketFlags.None, proxy.ListenEndpoint);
        await UntilAsync(() => proxy.Stats.ReceivedFromClients == 1, "the proxy to take the datagram");
        clock.Advance(TimeSpan.FromMilliseconds(199));
        Assert.Null(await ReceiveAsync(client, FinalQuiet));
        Assert.Equal(0, echo.Received);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(new byte[] { 9 }, await ReceiveAsync(client, ReplyTimeout));
        Assert.Equal(1, echo.Received);
    }

    [Fact]
    public async Task Idle_clients_lose_their_upstream_socket_and_come_back_as_new_sessions()
    {
        var clock = new ManualTimeProvider();
        await using var echo = new UdpEcho();
        var options = new UdpImpairmentProxyOptions(AnyLoopback, echo.Endpoint, NetEmOptions.None) { ClientIdleTimeout = TimeSpan.FromSeconds(1) };
        await using var proxy = new UdpImpairmentProxy(options, clock);
        await proxy.StartAsync();
        using var client = NewClient();

        await client.SendToAsync(new byte[] { 1 }, SocketFlags.None, proxy.ListenEndpoint);
        Assert.NotNull(await ReceiveAsync(client, ReplyTimeout));
        clock.Advance(TimeSpan.FromSeconds(2));
        await UntilAsync(() => proxy.Stats.ClientsExpired == 1, "the idle session to expire");
        Assert.Equal(0, proxy.Stats.ActiveClients);

        await client.SendToAsync(new byte[] { 2 }, SocketFlags.None, proxy.ListenEndpoint);
        Assert.NotNull(await ReceiveAsync(client, ReplyTimeout));
        Assert.Equal(2, proxy.Stats.ClientsAccepted);
        Assert.Equal(2, echo.Sources.Count); // a fresh upstream socket
    }

    [Fact]
    public async Task Cancelling_RunAsync_closes_every_socket_and_ends_every_loop()
    {
        await using var echo = new UdpEcho();
        var proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(AnyLoopback, echo.Endpoint, NetEmOptions.None with
        {
            ServerToClient = new LinkImpairment { Delay = TimeSpan.FromMinutes(10) }, // replies still in flight at shutdown
        }));
        await proxy.StartAsync();
        var listen = proxy.ListenEndpoint;
        using var cts = new CancellationTokenSource();
        var run = proxy.RunAsync(cts.Token);
        using var client = NewClient();
        await client.SendToAsync(new byte[] { 1 }, SocketFlags.None, listen);
        await UntilAsync(() => proxy.Stats.ReceivedFromUpstream == 1, "the echo to reach the proxy");
        var upstreamPort = Assert.Single(echo.Sources.Keys);

        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(run.IsCompletedSuccessfully);
        Assert.Equal(0, proxy.Stats.ActiveClients);
        using var rebindListen = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        rebindListen.Bind(listen); // throws if the proxy still held it
        using var rebindUpstream = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        rebindUpstream.Bind(upstreamPort);
        await proxy.DisposeAsync(); // idempotent
        await Assert.ThrowsAsync<ObjectDisposedException>(() => proxy.StartAsync());
    }

    [Fact]
    public async Task DisposeAsync_ends_a_running_proxy()
    {
        await using var echo = new UdpEcho();
        var proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(AnyLoopback, echo.Endpoint, NetEmOptions.None));
        var run = proxy.RunAsync(CancellationToken.None);
        await proxy.DisposeAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(run.IsCompletedSuccessfully);
    }

    [Theory]
    [InlineData("0.0.0.0", "127.0.0.1", "Listen")]
    [InlineData("127.0.0.1", "192.0.2.1", "Upstream")]
    [InlineData("::", "::1", "Listen")]
    public void Non_loopback_addresses_are_refused_unless_explicitly_allowed(string listen, string upstream, string parameter)
    {
        var options = new UdpImpairmentProxyOptions(new IPEndPoint(IPAddress.Parse(listen), 0), new IPEndPoint(IPAddress.Parse(upstream), 5000), NetEmOptions.None);

        var e = Assert.Throws<ArgumentException>(() => new UdpImpairmentProxy(options));
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains("AllowNonLoopback", e.Message, StringComparison.Ordinal);
        _ = new UdpImpairmentProxy(options with { AllowNonLoopback = true }); // constructed, never started
    }

    [Fact]
    public void IPv4_mapped_loopback_and_IPv6_loopback_count_as_loopback()
    {
        Assert.True(UdpImpairmentProxyOptions.IsLoopback(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.True(UdpImpairmentProxyOptions.IsLoopback(IPAddress.IPv6Loopback));
        Assert.True(UdpImpairmentProxyOptions.IsLoopback(IPAddress.Parse("127.5.6.7")));
        Assert.False(UdpImpairmentProxyOptions.IsLoopback(IPAddress.Parse("::ffff:10.0.0.1")));
    }
}
