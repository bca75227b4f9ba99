using System.Net;
using System.Net.Sockets;

namespace Airlift.NetEm.Proxy;

/// <summary>
/// A real-time UDP proxy that applies <see cref="NetworkEmulator"/> impairments between real peers:
/// clients send to <see cref="ListenEndpoint"/>; each client address gets its own upstream socket
/// connected to the server, so several clients are served at once and the server sees each as a
/// distinct peer. Client datagrams go through the emulator as <see cref="LinkDirection.ClientToServer"/>,
/// the server's replies as <see cref="LinkDirection.ServerToClient"/>.
/// </summary>
/// <remarks>
/// Time comes from the injected <see cref="TimeProvider"/> (emulator time is the time elapsed since
/// start). One pump loop delivers due datagrams and sleeps on the provider until the next delivery
/// or until a new datagram arrives. Fates are the emulator's, so with the same seed and the same
/// sequence of datagrams per direction the proxy drops, duplicates and delays exactly what a
/// <see cref="NetworkEmulator"/> with the same options predicts. Only loopback addresses are accepted
/// unless <see cref="UdpImpairmentProxyOptions.AllowNonLoopback"/> is set.
/// </remarks>
public sealed class UdpImpairmentProxy : IAsyncDisposable
{
    // Large enough for any UDP payload (IPv4 max 65507, IPv6 jumbograms aside).
    private const int ReceiveBufferSize = 65536;

    // A receive loop that sees this many socket errors in a row gives up instead of spinning.
    private const int MaxConsecutiveSocketErrors = 1000;

    private readonly UdpImpairmentProxyOptions _options;
    private readonly TimeProvider _time;
    private readonly NetworkEmulator _emulator;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPEndPoint, ClientSession> _byEndpoint = [];
    private readonly Dictionary<int, ClientSession> _byFlow = [];
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _cts = new();
    private TaskCompletionSource _wake = NewSignal();
    private Socket? _listen;
    private IPEndPoint? _listenEndpoint;
    private long _startTimestamp;
    private int _nextFlow;
    private bool _started;
    private Task? _shutdown;
    private long _clientsAccepted;
    private long _clientsRejected;
    private long _clientsExpired;
    private long _receivedFromClients;
    private long _receivedFromUpstream;
    private long _sentToUpstream;
    private long _sentToClients;
    private long _droppedClientGone;
    private long _socketErrors;

    /// <summary>Creates a proxy; nothing is bound until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="timeProvider">Clock for delivery times; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">The options are invalid, or an address is not loopback while AllowNonLoopback is off.</exception>
    public UdpImpairmentProxy(UdpImpairmentProxyOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _emulator = new NetworkEmulator(options.NetEm);
    }

    /// <summary>The bound listen address (with the real port when port 0 was asked for).</summary>
    /// <exception cref="InvalidOperationException">The proxy has not been started.</exception>
    public IPEndPoint ListenEndpoint => _listenEndpoint ?? throw new InvalidOperationException("The proxy has not been started.");

    /// <summary>A snapshot of the counters.</summary>
    public UdpProxyStats Stats
    {
        get
        {
            lock (_lock)
            {
                return new UdpProxyStats(
                    _emulator.Stats, _byEndpoint.Count, _clientsAccepted, _clientsRejected, _clientsExpired,
                    _receivedFromClients, _receivedFromUpstream, _sentToUpstream, _sentToClients,
                    _droppedClientGone, _socketErrors);
            }
        }
    }

    /// <summary>A copy of the emulator's trace so far (bounded by <see cref="NetEmOptions.MaxTraceEntries"/>).</summary>
    public IReadOnlyList<NetEmTraceEntry> GetTrace()
    {
        lock (_lock)
        {
            return [.. _emulator.Trace];
        }
    }

    /// <summary>Binds the listen socket and starts the receive and pump loops; returns once bound.</summary>
    /// <exception cref="InvalidOperationException">Already started or disposed.</exception>
    /// <exception cref="SocketException">The listen address cannot be bound.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_shutdown is not null, this);
            if (_started)
            {
                throw new InvalidOperationException("The proxy is already started.");
            }

            var listen = new Socket(_options.Listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                listen.Bind(_options.Listen);
            }
            catch
            {
                listen.Dispose();
                throw;
            }

            _listen = listen;
            _listenEndpoint = (IPEndPoint)listen.LocalEndPoint!;
            _startTimestamp = _time.GetTimestamp();
            _started = true;
            var token = _cts.Token;
            _loops.Add(Task.Run(() => ListenLoopAsync(listen, token), CancellationToken.None));
            _loops.Add(Task.Run(() => PumpLoopAsync(token), CancellationToken.None));
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Starts the proxy if needed and runs until <paramref name="cancellationToken"/> is cancelled or the
    /// proxy is disposed, then closes every socket and waits for every loop. Returns normally on cancellation.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        bool started;
        lock (_lock)
        {
            started = _started;
        }

        if (!started)
        {
            await StartAsync(cancellationToken).ConfigureAwait(false);
        }

        var stop = NewSignal();
        using (cancellationToken.Register(() => stop.TrySetResult()))
        using (_cts.Token.Register(() => stop.TrySetResult()))
        {
            await stop.Task.ConfigureAwait(false);
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Closes every socket, stops the loops and waits for them. Safe to call more than once.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            // Setting _shutdown here stops new datagrams at once; the work itself runs outside the lock.
            _shutdown ??= Task.Run(ShutdownAsync);
            return new ValueTask(_shutdown);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task ShutdownAsync()
    {
        // Close everything first so every pending receive ends, then wait for the loops. _cts is never
        // disposed: it has no timer, and RunAsync may still register on its token.
        await _cts.CancelAsync().ConfigureAwait(false);
        Task[] loops;
        lock (_lock)
        {
            _listen?.Dispose();
            foreach (var session in _byEndpoint.Values)
            {
                session.Close();
            }

            _byEndpoint.Clear();
            _byFlow.Clear();
            loops = [.. _loops];
        }

        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // A loop that observed the cancellation; nothing to report.
        }
    }

    private TimeSpan Now() => _time.GetElapsedTime(_startTimestamp);

    private async Task ListenLoopAsync(Socket listen, CancellationToken token)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize);
        EndPoint any = new IPEndPoint(listen.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        var consecutiveErrors = 0;
        while (!token.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await listen.ReceiveFromAsync(buffer, SocketFlags.None, any, token).ConfigureAwait(false);
                consecutiveErrors = 0;
            }
            catch (Exception e) when (IsShutdown(e, token))
            {
                break;
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref _socketErrors);
                if (++consecutiveErrors >= MaxConsecutiveSocketErrors)
                {
                    break;
                }

                continue;
            }

            OnClientDatagram((IPEndPoint)result.RemoteEndPoint, buffer.AsSpan(0, result.ReceivedBytes));
        }
    }

    private void OnClientDatagram(IPEndPoint client, ReadOnlySpan<byte> datagram)
    {
        lock (_lock)
        {
            if (_shutdown is not null)
            {
                return;
            }

            var now = Now();
            if (!_byEndpoint.TryGetValue(client, out var session))
            {
                if (_byEndpoint.Count >= _options.MaxClients)
                {
                    _clientsRejected++;
                    return;
                }

                session = OpenSession(client);
                if (session is null)
                {
                    return;
                }
            }

            session.LastActivity = now;
            _receivedFromClients++;
            _emulator.HandleDatagram(now, LinkDirection.ClientToServer, datagram, session.Flow);
            _wake.TrySetResult();
        }
    }

    private ClientSession? OpenSession(IPEndPoint client)
    {
        var upstream = _options.Upstream;
        var socket = new Socket(upstream.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            var v6 = upstream.AddressFamily == AddressFamily.InterNetworkV6;
            var local = UdpImpairmentProxyOptions.IsLoopback(upstream.Address)
                ? (v6 ? IPAddress.IPv6Loopback : IPAddress.Loopback)
                : (v6 ? IPAddress.IPv6Any : IPAddress.Any);
            socket.Bind(new IPEndPoint(local, 0));
            socket.Connect(upstream); // only the upstream's replies reach this socket
        }
        catch (SocketException)
        {
            socket.Dispose();
            Interlocked.Increment(ref _socketErrors);
            return null;
        }

        var session = new ClientSession(++_nextFlow, client, socket);
        _byEndpoint.Add(client, session);
        _byFlow.Add(session.Flow, session);
        _clientsAccepted++;
        var token = _cts.Token;
        _loops.RemoveAll(t => t.IsCompleted);
        _loops.Add(Task.Run(() => UpstreamLoopAsync(session, token), CancellationToken.None));
        return session;
    }

    private async Task UpstreamLoopAsync(ClientSession session, CancellationToken token)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize);
        var consecutiveErrors = 0;
        while (!token.IsCancellationRequested && !session.Closed)
        {
            int received;
            try
            {
                received = await session.Socket.ReceiveAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
                consecutiveErrors = 0;
            }
            catch (Exception e) when (IsShutdown(e, token) || session.Closed)
            {
                break;
            }
            catch (SocketException)
            {
                // Typically ECONNREFUSED: an earlier datagram hit a closed upstream port.
                Interlocked.Increment(ref _socketErrors);
                if (++consecutiveErrors >= MaxConsecutiveSocketErrors)
                {
                    break;
                }

                continue;
            }

            lock (_lock)
            {
                if (session.Closed || _shutdown is not null)
                {
                    break;
                }

                var now = Now();
                session.LastActivity = now;
                _receivedFromUpstream++;
                _emulator.HandleDatagram(now, LinkDirection.ServerToClient, buffer.AsSpan(0, received), session.Flow);
                _wake.TrySetResult();
            }
        }
    }

    private async Task PumpLoopAsync(CancellationToken token)
    {
        var due = new List<NetEmDelivery>();
        var path = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize);
        var sweepInterval = _options.ClientIdleTimeout / 4;
        var nextSweep = sweepInterval;
        while (!token.IsCancellationRequested)
        {
            Task wake;
            TimeSpan? wait;
            TimeSpan computedAt;
            lock (_lock)
            {
                if (_wake.Task.IsCompleted)
                {
                    _wake = NewSignal();
                }

                wake = _wake.Task;
                var now = Now();
                computedAt = now;
                _emulator.HandleTimeout(now);
                for (var output = _emulator.PollOutput(path); output.Kind == NetEmOutputKind.Deliver; output = _emulator.PollOutput(path))
                {
                    // Sent after the lock is released (and asynchronously), so the bytes get their own copy.
                    due.Add(new NetEmDelivery(output.Direction, path.AsSpan(0, output.Length).ToArray(), output.SentAt, output.DeliverAt, output.Flow));
                }

                if (now >= nextSweep)
                {
                    ExpireIdleSessions(now);
                    nextSweep = now + sweepInterval;
                }

                wait = _emulator.NextDeadline is var next && next != NetEmOutput.NoDeadline ? next - now : null;
                if (_byEndpoint.Count > 0 && (wait is null || wait > nextSweep - now))
                {
                    wait = nextSweep - now;
                }
            }

            if (due.Count > 0)
            {
                foreach (var delivery in due)
                {
                    await DeliverAsync(delivery, token).ConfigureAwait(false);
                }

                due.Clear();
                continue; // time has moved on while sending: look again before sleeping
            }

            if (wait is { } w && w <= TimeSpan.Zero)
            {
                continue;
            }

            using var delayCts = CancellationTokenSource.CreateLinkedTokenSource(token);
            var delay = Task.Delay(wait ?? Timeout.InfiniteTimeSpan, _time, delayCts.Token);

            // The clock may have moved between computing the wait and arming the delay; a TimeProvider advanced by hand
            // never moves again on its own, so the delay would then fire late or never. A move of a millisecond or more
            // (a real clock moves microseconds here) means: compute again.
            if (wait is not null && Now() - computedAt >= TimeSpan.FromMilliseconds(1))
            {
                await delayCts.CancelAsync().ConfigureAwait(false);
                continue;
            }

            await Task.WhenAny(wake, delay).ConfigureAwait(false);
            await delayCts.CancelAsync().ConfigureAwait(false);
        }
    }

    private void ExpireIdleSessions(TimeSpan now)
    {
        List<ClientSession>? expired = null;
        foreach (var session in _byEndpoint.Values)
        {
            if (now - session.LastActivity >= _options.ClientIdleTimeout)
            {
                (expired ??= []).Add(session);
            }
        }

        if (expired is null)
        {
            return;
        }

        foreach (var session in expired)
        {
            _byEndpoint.Remove(session.Client);
            _byFlow.Remove(session.Flow);
            session.Close();
            _clientsExpired++;
        }
    }

    private async Task DeliverAsync(NetEmDelivery delivery, CancellationToken token)
    {
        ClientSession? session;
        Socket? listen;
        lock (_lock)
        {
            _byFlow.TryGetValue(delivery.Flow, out session);
            listen = _listen;
        }

        if (session is null || listen is null)
        {
            Interlocked.Increment(ref _droppedClientGone);
            return;
        }

        try
        {
            if (delivery.Direction == LinkDirection.ClientToServer)
            {
                await session.Socket.SendAsync(delivery.Datagram, SocketFlags.None, token).ConfigureAwait(false);
                Interlocked.Increment(ref _sentToUpstream);
            }
            else
            {
                await listen.SendToAsync(delivery.Datagram, SocketFlags.None, session.Client, token).ConfigureAwait(false);
                Interlocked.Increment(ref _sentToClients);
            }
        }
        catch (Exception e) when (IsShutdown(e, token) || (session.Closed && e is ObjectDisposedException or SocketException))
        {
            Interlocked.Increment(ref _droppedClientGone);
        }
        catch (SocketException)
        {
            Interlocked.Increment(ref _socketErrors);
        }
    }

    private static bool IsShutdown(Exception e, CancellationToken token) =>
        e is OperationCanceledException or ObjectDisposedException
        || (token.IsCancellationRequested && e is SocketException);

    private sealed class ClientSession(int flow, IPEndPoint client, Socket socket)
    {
        public int Flow { get; } = flow;

        public IPEndPoint Client { get; } = client;

        public Socket Socket { get; } = socket;

        public TimeSpan LastActivity { get; set; }

        public bool Closed { get; private set; }

        public void Close()
        {
            Closed = true;
            Socket.Dispose();
        }
    }
}
