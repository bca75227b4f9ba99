using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Airlift.Diagnostics;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Stun;
using Airlift.Transport;
using Microsoft.Extensions.Logging;

namespace Airlift.Net;

/// <summary>Counters of a <see cref="TransportHost"/> (a snapshot).</summary>
/// <param name="UdpDatagramsReceived">UDP datagrams read from the sockets.</param>
/// <param name="UnroutedDropped">Datagrams or frames from an unknown remote that were not a STUN check naming a session's ufrag.</param>
/// <param name="SendErrors">Sends the OS refused.</param>
/// <param name="TcpAccepted">ICE-TCP connections accepted.</param>
/// <param name="TcpRejected">ICE-TCP connections closed at accept (limit reached).</param>
/// <param name="TcpClosedOversized">Connections closed for a frame longer than <see cref="TransportHostOptions.MaxTcpFrameSize"/>.</param>
/// <param name="TcpClosedIdle">Connections closed for silence (idle or never authenticated).</param>
/// <param name="TcpClosedByPeer">Connections the peer closed or reset (half-open sides are closed too).</param>
/// <param name="TcpFramesDropped">Frames not sent because a connection's send queue was full.</param>
/// <param name="SessionFaults">Sessions failed and removed because handling them threw (a bug, or a throwing logger); the host kept serving every other session.</param>
public sealed record TransportHostStats(
    long UdpDatagramsReceived,
    long UnroutedDropped,
    long SendErrors,
    long TcpAccepted,
    long TcpRejected,
    long TcpClosedOversized,
    long TcpClosedIdle,
    long TcpClosedByPeer,
    long TcpFramesDropped,
    long SessionFaults);

/// <summary>
/// Socket driver for <see cref="WebRtcTransport"/>s: UDP sockets (IPv4 and IPv6) and ICE-TCP passive listeners shared by
/// many transports. A datagram (or RFC 4571 frame) from a new remote address must be a STUN check whose USERNAME names a
/// session's local ufrag (RFC 8445 7.2.2); once the transport answers it, the tuple routes to that session directly.
/// Time comes from a <see cref="TimeProvider"/>; application calls from any thread are safe.
/// </summary>
/// <remarks>
/// <para>All cores: the host runs <see cref="TransportHostOptions.ReceiveLoops"/> receive loops (the one driver loop,
/// <c>SocketDriver</c>), each with its own <c>SO_REUSEPORT</c> socket per UDP address and its own lock. A session belongs
/// to one loop (its timers run there, its lock guards it). The kernel spreads remote addresses over the sockets, so a
/// datagram may arrive on another loop than its session's: the routing tables (by ufrag and by tuple) are shared and read
/// without a lock, and the datagram is handled under the owning loop's lock. So an ICE tuple change (a new remote address
/// that the kernel hashes to another socket) keeps reaching its session.</para>
/// <para>Exception boundary: whatever handling one session throws (a bug, a throwing logger) fails that session with a
/// <see cref="TransportFailed"/> of reason <see cref="TransportFailureReason.InternalError"/>, removes it, counts it
/// (<see cref="TransportHostStats.SessionFaults"/>, <c>airlift.net.session_faults</c>) and logs it; the UDP, TCP and
/// timer loops keep serving every other session, and <see cref="DisposeAsync"/> never rethrows it.</para>
/// </remarks>
public sealed class TransportHost : IAsyncDisposable
{
    private readonly TransportHostOptions _options;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ILogger? _logger;
    private readonly TransportMetrics _metrics;
    private readonly NetMetrics _netMetrics;
    private readonly Lock _createGate = new();
    private readonly Lock _tcpGate = new();
    private readonly Loop[] _loops;
    private readonly List<Socket> _allSockets = [];
    private readonly List<TcpListener> _tcp = [];
    private readonly ConcurrentDictionary<string, TransportSession> _byUfrag = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IceTuple, TransportSession> _byTuple = new();

    /// <summary>The UDP tuples of <see cref="_byTuple"/> by local address index and the peer's address as the socket gives it
    /// (content equality): a loop routes a known peer's datagram without building an <see cref="IPEndPoint"/>.</summary>
    private readonly ConcurrentDictionary<UdpRoute, UdpBinding> _byUdpAddress = new();

    /// <summary>The key of each UDP tuple in <see cref="_byUdpAddress"/>, to unroute it with the tuple.</summary>
    private readonly ConcurrentDictionary<IceTuple, UdpRoute> _udpRouteOf = new();
    private readonly ConcurrentDictionary<IceTuple, TransportTcpConnection> _tcpConnections = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly Counters _c = new();
    private int _sessions;
    private int _nextLoop;

    /// <summary>Binds every socket and starts serving.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="SocketException">An address could not be bound.</exception>
    public TransportHost(TransportHostOptions options, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        _origin = _time.GetTimestamp();
        _logger = logger ?? AirliftLoggers.Create(options.LoggerFactory, AirliftLogCategories.Net);
        _metrics = TransportMetrics.For(options.MeterFactory);
        _netMetrics = NetMetrics.For(options.MeterFactory);
        var loopCount = options.UdpListen.Count == 0 ? 1 : ReusePortSockets.LoopCount(options.ReceiveLoops);
        var socketsPerLoop = new List<Socket>[loopCount];
        for (var i = 0; i < loopCount; i++)
        {
            socketsPerLoop[i] = [];
        }

        var udpEndpoints = new List<IPEndPoint>();
        try
        {
            foreach (var listen in options.UdpListen)
            {
                var sockets = ReusePortSockets.Bind(listen, loopCount, options.ReceiveBufferSize, options.SendBufferSize);
                if (udpEndpoints.Count == 0)
                {
                    SocketBuffers = UdpSocketBufferSizes.Read(sockets[0], options.ReceiveBufferSize, options.SendBufferSize);
                    var buffers = SocketBuffers;
                    SafeLogger.Log(_logger, l => NetLog.SocketBuffers(l, "transport host", buffers.ReceiveGranted, buffers.ReceiveRequested, buffers.SendGranted, buffers.SendRequested));
                }

                _allSockets.AddRange(sockets);
                udpEndpoints.Add((IPEndPoint)sockets[0].LocalEndPoint!);
                for (var i = 0; i < loopCount; i++)
                {
                    socketsPerLoop[i].Add(sockets[i]);
                }
            }

            foreach (var listen in options.TcpListen)
            {
                var listener = new TcpListener(listen);
                if (listen.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    listener.Server.DualMode = false;
                }

                listener.Start(backlog: 64);
                _tcp.Add(listener);
            }
        }
        catch
        {
            foreach (var s in _allSockets)
            {
                s.Dispose();
            }

            foreach (var l in _tcp)
            {
                l.Stop();
            }

            throw;
        }

        UdpEndpoints = udpEndpoints;
        TcpEndpoints = [.. _tcp.Select(l => (IPEndPoint)l.LocalEndpoint)];
        _loops = new Loop[loopCount];
        for (var i = 0; i < loopCount; i++)
        {
            _loops[i] = new Loop(this, i, socketsPerLoop[i]);
        }

        foreach (var loop in _loops)
        {
            _tasks.Add(Task.Run(() => loop.Driver.RunAsync(_stop.Token)));
        }

        foreach (var listener in _tcp)
        {
            _tasks.Add(Task.Run(() => AcceptLoop(listener, _stop.Token)));
        }
    }

    /// <summary>The bound UDP addresses (with the ports picked), for host candidates.</summary>
    public IReadOnlyList<IPEndPoint> UdpEndpoints { get; }

    /// <summary>The bound TCP listener addresses, for passive TCP host candidates.</summary>
    public IReadOnlyList<IPEndPoint> TcpEndpoints { get; }

    /// <summary>Receive loops serving (see <see cref="TransportHostOptions.ReceiveLoops"/>).</summary>
    public int ReceiveLoops => _loops.Length;

    /// <summary>The UDP socket buffers requested and what the kernel granted (the first UDP address's socket; every socket asks
    /// the same; see <see cref="TransportHostOptions.ReceiveBufferSize"/>). Default (zeros) when the host has no UDP socket.</summary>
    public UdpSocketBufferSizes SocketBuffers { get; }

    /// <summary>Host counters.</summary>
    public TransportHostStats Stats => new(
        Interlocked.Read(ref _c.UdpReceived),
        Interlocked.Read(ref _c.Unrouted),
        Interlocked.Read(ref _c.SendErrors),
        Interlocked.Read(ref _c.TcpAccepted),
        Interlocked.Read(ref _c.TcpRejected),
        Interlocked.Read(ref _c.TcpOversized),
        Interlocked.Read(ref _c.TcpIdle),
        Interlocked.Read(ref _c.TcpByPeer),
        Interlocked.Read(ref _c.TcpFramesDropped),
        Interlocked.Read(ref _c.SessionFaults));

    /// <summary>ICE-TCP connections open now.</summary>
    public int TcpConnectionCount => _tcpConnections.Count;

    internal TimeSpan Now => _time.GetElapsedTime(_origin);

    /// <summary>Which receive loop owns <paramref name="session"/> (tests).</summary>
    internal int LoopIndexOf(TransportSession session) => Array.IndexOf(_loops, session.Loop);

    /// <summary>Handles a datagram as if loop <paramref name="loop"/>'s first socket had read it (tests: the kernel's hash is not ours to pick).</summary>
    internal void DeliverToLoop(int loop, IPEndPoint remote, ReadOnlySpan<byte> datagram) => _loops[loop].OnDatagram(0, remote.Serialize(), datagram);

    /// <summary>Creates a transport and serves it; signal its <see cref="TransportSession.LocalUfrag"/> and friends to the peer.</summary>
    /// <exception cref="ArgumentException">Invalid options, or the local ufrag is already in use on this host.</exception>
    /// <exception cref="InvalidOperationException"><see cref="TransportHostOptions.MaxSessions"/> reached.</exception>
    public TransportSession CreateSession(WebRtcTransportOptions options)
    {
        lock (_createGate)
        {
            if (Volatile.Read(ref _sessions) >= _options.MaxSessions)
            {
                throw new InvalidOperationException($"The host serves its maximum of {_options.MaxSessions} sessions.");
            }

            if (options.LocalUfrag is { } ufrag && _byUfrag.ContainsKey(ufrag))
            {
                throw new ArgumentException($"Local ufrag '{ufrag}' is already used by a session of this host.", nameof(options));
            }

            var loop = _loops[_nextLoop++ % _loops.Length];
            TransportSession session;
            lock (loop.Gate)
            {
#pragma warning disable CS0618 // The host's own logger stays the fallback of a session without a LoggerFactory (the legacy hook, kept working).
                var transport = new WebRtcTransport(options with { Logger = options.Logger ?? _logger, LoggerFactory = options.LoggerFactory ?? _options.LoggerFactory, MeterFactory = options.MeterFactory ?? _options.MeterFactory }, Now);
#pragma warning restore CS0618
                session = new TransportSession(this, transport, _options.EventQueueCapacity, _options.MediaAsEvents ? 0 : _options.MediaReceiveBufferSize) { Loop = loop };
                if (!_byUfrag.TryAdd(transport.LocalUfrag, session))
                {
                    throw new ArgumentException("Generated local ufrag collides with an existing session; retry.", nameof(options));
                }

                Interlocked.Increment(ref _sessions);
                loop.Sessions.Add(session);
                loop.SafeDrainLocked(session);
            }

            loop.Driver.Wake();
            return session;
        }
    }

    /// <summary>Stops every loop, closes every socket and completes every session's events.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var socket in _allSockets)
        {
            socket.Dispose();
        }

        foreach (var listener in _tcp)
        {
            listener.Stop();
        }

        lock (_tcpGate)
        {
            foreach (var connection in _tcpConnections.Values.ToList())
            {
                connection.Close();
            }
        }

        foreach (var loop in _loops)
        {
            lock (loop.Gate)
            {
                foreach (var session in loop.Sessions)
                {
                    session.Complete();
                }
            }
        }

        try
        {
            await Task.WhenAll(_tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            // The loops have their own boundaries; whatever still got here is logged, never rethrown to the disposer.
            SafeLog(l => NetLog.HostLoopEnded(l, ex));
        }

        _stop.Dispose();
    }

    /// <summary>Runs an application call on a session's transport. Exceptions of <paramref name="action"/> (the transport's API
    /// contract) reach the caller; a failure while draining fails that session.</summary>
    internal T WithTransport<T>(TransportSession session, Func<WebRtcTransport, T> action, bool drain = false)
    {
        T result;
        var loop = session.Loop!;
        lock (loop.Gate)
        {
            result = action(session.Transport);
            if (drain && !session.Removed)
            {
                loop.SafeDrainLocked(session);
            }
        }

        if (drain)
        {
            loop.Driver.Wake();
        }

        return result;
    }

    /// <summary>
    /// <see cref="TransportSession.SendMedia"/> and <see cref="TransportSession.SendApplicationData"/> without a copy, closure
    /// or delegate: under the owning loop's lock the transport takes the bytes (it copies them into its own pooled buffer or
    /// seals them), the drain sends them at once, and the loop is woken for the new deadline, as <see cref="WithTransport{T}"/>
    /// with <c>drain: true</c> does. Exceptions of the transport's API reach the caller; a failure while draining fails that session.
    /// </summary>
    internal bool Send(TransportSession session, ReadOnlySpan<byte> data, bool applicationData)
    {
        bool sent;
        var loop = session.Loop!;
        lock (loop.Gate)
        {
            sent = applicationData ? session.Transport.SendApplicationData(data) : session.Transport.SendMedia(data);
            if (!session.Removed)
            {
                loop.SafeDrainLocked(session);
            }
        }

        loop.Driver.Wake();
        return sent;
    }

    internal void CloseSession(TransportSession session)
    {
        var loop = session.Loop!;
        lock (loop.Gate)
        {
            if (session.Removed)
            {
                return;
            }

            try
            {
                session.Transport.Close(Now);
                loop.DrainLocked(session);
            }
            catch (Exception ex)
            {
                loop.FailSessionLocked(session, ex);
            }

            if (!session.Removed)
            {
                loop.RemoveLocked(session);
            }
        }
    }

    /// <summary>
    /// Routes one datagram or frame that arrived on <paramref name="tuple"/> (on any loop, or a TCP reader) to its session,
    /// under the lock of the loop that owns the session. Returns false when it could not be routed (a TCP connection is then
    /// closed). STUN from an unknown remote is decoded here once, and the decoded message goes down to the ICE agent.
    /// </summary>
    /// <remarks>A UDP datagram brings its socket's <paramref name="localIndex"/> and the sender's <paramref name="address"/>:
    /// a tuple bound here is then routed by them too (<see cref="Loop.OnDatagram"/>).</remarks>
    private bool Route(IceTuple tuple, ReadOnlySpan<byte> packet, TransportTcpConnection? connection, Loop? from, int localIndex = -1, SocketAddress? address = null)
    {
        if (_byTuple.TryGetValue(tuple, out var session) && TryHandleRouted(session, tuple, packet, from))
        {
            return true;
        }

        StunMessage? stun = null;
        if (PacketClassifier.Classify(packet) != PacketKind.Stun || !TryGetLocalUfrag(packet, out var ufrag, out stun) || !_byUfrag.TryGetValue(ufrag, out session))
        {
            Interlocked.Increment(ref _c.Unrouted);
            _metrics.Drop("unrouted");
            return false;
        }

        var owner = session.Loop!;
        lock (owner.Gate)
        {
            if (session.Removed)
            {
                Interlocked.Increment(ref _c.Unrouted);
                _metrics.Drop("unrouted");
                return false;
            }

            try
            {
                var answeredBefore = session.Transport.IceStats.ChecksAnswered;
                session.Transport.HandleRoutedDatagram(Now, tuple, packet, stun);
                if (session.Transport.IceStats.ChecksAnswered > answeredBefore && session.Tuples.Count < _options.MaxTuplesPerSession)
                {
                    // An authenticated check: this remote is the session's peer from now on.
                    _byTuple[tuple] = session;
                    session.Tuples.Add(tuple);
                    if (address is not null)
                    {
                        BindUdp(tuple, localIndex, address, session);
                    }
                    if (connection is not null)
                    {
                        connection.Bound = true;
                    }
                }

                owner.DrainLocked(session);
            }
            catch (Exception ex)
            {
                owner.FailSessionLocked(session, ex);
            }
        }

        WakeIfOther(owner, from);
        return true;
    }

    /// <summary>A datagram or frame of a routed tuple, handled under the owning loop's lock; false when the session was removed
    /// meanwhile (the caller then routes it as from an unknown remote).</summary>
    private bool TryHandleRouted(TransportSession session, IceTuple tuple, ReadOnlySpan<byte> packet, Loop? from)
    {
        var loop = session.Loop!;
        lock (loop.Gate)
        {
            if (session.Removed)
            {
                return false;
            }

            try
            {
                var now = Now;
                session.Transport.HandleDatagram(now, tuple, packet);
                var sentAt = Now;
                if (sentAt > now)
                {
                    // Slow handshake work (docs/reliability.md): a flight armed in the call counts its first timeout from now.
                    session.Transport.OutputLeft(now, sentAt);
                }

                loop.DrainLocked(session);
            }
            catch (Exception ex)
            {
                loop.FailSessionLocked(session, ex);
            }
        }

        WakeIfOther(loop, from);
        return true;
    }

    /// <summary>Routes a bound UDP tuple by the sender's address bytes too (a copy: the driver reuses its address).</summary>
    private void BindUdp(IceTuple tuple, int localIndex, SocketAddress address, TransportSession session)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        var route = new UdpRoute(localIndex, copy);
        _udpRouteOf[tuple] = route;
        _byUdpAddress[route] = new UdpBinding(session, tuple);
    }

    private void UnbindUdp(IceTuple tuple)
    {
        if (_udpRouteOf.TryRemove(tuple, out var route))
        {
            _byUdpAddress.TryRemove(route, out _);
        }
    }

    /// <summary>A session handled outside its own loop: that loop recomputes its deadline (its own loop does so anyway).</summary>
    private static void WakeIfOther(Loop owner, Loop? from)
    {
        if (owner != from)
        {
            owner.Driver.Wake();
        }
    }

    private static bool TryGetLocalUfrag(ReadOnlySpan<byte> packet, out string ufrag, out StunMessage? message)
    {
        ufrag = "";
        if (!StunMessage.TryDecode(packet, out message, out _) || message!.Type != StunMessageType.BindingRequest || message.Username is not { } username)
        {
            return false;
        }

        var colon = username.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }

        ufrag = username[..colon];
        return true;
    }

    private void CountFault(Exception ex, string message)
    {
        Interlocked.Increment(ref _c.SessionFaults);
        _netMetrics.Fault("transport-host");
        SafeLog(l => NetLog.DriverFault(l, ex, message));
    }

    /// <summary>Logs with a logger that may itself throw (a user's): a failing log line is lost, nothing else.</summary>
    private void SafeLog(Action<ILogger> log) => SafeLogger.Log(_logger, log);

    /// <summary>The host's <c>Airlift.Transport</c> instruments (its sessions and loops count their drops there).</summary>
    internal TransportMetrics Metrics => _metrics;

    private void CloseIdleTcpConnections()
    {
        var now = Now;
        foreach (var connection in _tcpConnections.Values)
        {
            var limit = connection.Bound ? _options.TcpIdleTimeout : _options.TcpUnboundTimeout;
            if (now - connection.LastActivity >= limit)
            {
                Interlocked.Increment(ref _c.TcpIdle);
                CloseTcp(connection, "idle");
            }
        }
    }

    private async Task AcceptLoop(TcpListener listener, CancellationToken ct)
    {
        var local = (IPEndPoint)listener.LocalEndpoint;
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(ct).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                continue;
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && ct.IsCancellationRequested)
            {
                return;
            }

            var remote = Normalize((IPEndPoint)socket.RemoteEndPoint!);
            var tuple = new IceTuple(local, remote, IceProtocol.Tcp);
            TransportTcpConnection? connection = null;
            lock (_tcpGate)
            {
                if (_tcpConnections.Count >= _options.MaxTcpConnections || _tcpConnections.ContainsKey(tuple))
                {
                    Interlocked.Increment(ref _c.TcpRejected);
                    _metrics.TcpClosed.Add(1, new KeyValuePair<string, object?>("cause", "limit"));
                }
                else
                {
                    connection = new TransportTcpConnection(socket, tuple, _options.MaxTcpFrameSize, _options.TcpSendQueueCapacity, Now);
                    _tcpConnections[tuple] = connection;
                    Interlocked.Increment(ref _c.TcpAccepted);
                    _metrics.TcpConnections.Add(1);
                }
            }

            if (connection is null)
            {
                socket.Dispose();
                continue;
            }

            socket.NoDelay = true;
            connection.Start(ReadLoop(connection, ct));
        }
    }

    private async Task ReadLoop(TransportTcpConnection connection, CancellationToken ct)
    {
        var framer = connection.Framer; // only this reader touches the framer
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var read = await connection.Socket.ReceiveAsync(framer.GetWriteBuffer(), SocketFlags.None, ct).ConfigureAwait(false);
                if (read == 0)
                {
                    // The peer closed its side: an ICE-TCP connection is not kept half-open.
                    Interlocked.Increment(ref _c.TcpByPeer);
                    CloseTcp(connection, "peer_closed");
                    return;
                }

                framer.Advance(read);
                if (connection.Closed)
                {
                    return;
                }

                connection.LastActivity = Now;
                while (framer.TryReadFrame(out var frame))
                {
                    if (frame.IsEmpty)
                    {
                        continue;
                    }

                    if (!Route(connection.Tuple, frame, connection, null) && !connection.Bound)
                    {
                        // The first frames of a connection must be checks for a session; anything else is not ICE-TCP.
                        CloseTcp(connection, "unrouted");
                        return;
                    }
                }

                if (framer.IsOversized)
                {
                    Interlocked.Increment(ref _c.TcpOversized);
                    CloseTcp(connection, "oversized_frame");
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            if (!connection.Closed && !ct.IsCancellationRequested)
            {
                Interlocked.Increment(ref _c.TcpByPeer);
            }

            CloseTcp(connection, "reset");
        }
        catch (Exception ex)
        {
            // The host's own framing or routing failed on this connection (sessions have their own boundary): close it only.
            CountFault(ex, "ICE-TCP connection failed; closed");
            CloseTcp(connection, "internal_error");
        }
    }

    /// <summary>Closes a connection and unroutes its tuple. Takes the TCP lock, then the owning loop's lock (never the other way).</summary>
    private void CloseTcp(TransportTcpConnection connection, string cause)
    {
        lock (_tcpGate)
        {
            if (connection.Closed)
            {
                return;
            }

            _metrics.TcpClosed.Add(1, new KeyValuePair<string, object?>("cause", cause));
            SafeLog(l => NetLog.TcpClosed(l, connection.Tuple, cause));
            _tcpConnections.TryRemove(connection.Tuple, out _);
            connection.Close();
        }

        if (_byTuple.TryRemove(connection.Tuple, out var session))
        {
            lock (session.Loop!.Gate)
            {
                session.Tuples.Remove(connection.Tuple);
            }
        }
    }

    private static IPEndPoint Normalize(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;

    /// <summary>A UDP peer as a loop receives it: the index of the local address (the same on every loop) and the sender's
    /// address bytes (compared and hashed by content).</summary>
    private readonly record struct UdpRoute(int LocalIndex, SocketAddress Remote);

    /// <summary>Where a <see cref="UdpRoute"/> goes: the session and the tuple the transport knows it by.</summary>
    private readonly record struct UdpBinding(TransportSession Session, IceTuple Tuple);

    private sealed class Counters
    {
        public long UdpReceived;
        public long Unrouted;
        public long SendErrors;
        public long TcpAccepted;
        public long TcpRejected;
        public long TcpOversized;
        public long TcpIdle;
        public long TcpByPeer;
        public long TcpFramesDropped;
        public long SessionFaults;
    }

    /// <summary>
    /// One receive loop: its sockets (one per UDP address, <c>SO_REUSEPORT</c> siblings of the other loops'), the sessions
    /// it owns (their timers and drains run here, under <see cref="Gate"/>), and its driver.
    /// </summary>
    internal sealed class Loop : ISocketDriverHandler
    {
        /// <summary>Shortest time between two sweeps of idle ICE-TCP connections.</summary>
        private static readonly TimeSpan TcpSweepInterval = TimeSpan.FromMilliseconds(100);

        private readonly TransportHost _host;
        private readonly int _index;
        private readonly Dictionary<IPEndPoint, Socket> _byLocal = [];
        private readonly IPEndPoint[] _locals;
        private readonly byte[] _pollBuffer = new byte[65535];
        private readonly List<TransportSession> _scratch = [];
        private TimeSpan _nextScan;
        private TimeSpan _nextTcpSweep;

        public Loop(TransportHost host, int index, List<Socket> sockets)
        {
            _host = host;
            _index = index;
            _locals = new IPEndPoint[sockets.Count];
            for (var i = 0; i < sockets.Count; i++)
            {
                _locals[i] = (IPEndPoint)sockets[i].LocalEndPoint!;
                _byLocal[_locals[i]] = sockets[i];
            }

            // The TCP idle sweep and the loop's sessions need a turn at least every second.
            Driver = new SocketDriver(sockets, host._time, host._origin, this, host._logger, TimeSpan.FromSeconds(1), "Transport host loop");
        }

        public Lock Gate { get; } = new();

        public SocketDriver Driver { get; }

        /// <summary>Sessions owned by this loop (under <see cref="Gate"/>).</summary>
        public List<TransportSession> Sessions { get; } = [];

        public TimeSpan FireTimers()
        {
            TimeSpan next;
            var sweep = false;
            lock (Gate)
            {
                if (_index == 0 && !_host._tcpConnections.IsEmpty && _host.Now >= _nextTcpSweep)
                {
                    // At most every TcpSweepInterval: a timer pass also follows every burst of datagrams, and a sweep walks
                    // (and copies) the connection table. The 1 s maxSleep still gives it a turn when all is quiet.
                    sweep = true;
                    _nextTcpSweep = _host.Now + TcpSweepInterval;
                }

                try
                {
                    next = FireTimersLocked();
                }
                catch (Exception ex)
                {
                    // Sessions have their own boundary; the timer pass itself must never stop the loop.
                    _host.CountFault(ex, "Transport host timer pass failed");
                    next = SocketDriver.NoDeadline;
                }
            }

            if (sweep)
            {
                _host.CloseIdleTcpConnections(); // outside the loop's lock: the ICE-TCP lock is never taken after a loop lock
            }

            return next;
        }

        /// <summary>A datagram of a bound peer goes to its session by the address bytes, allocation-free; any other is made an
        /// <see cref="IceTuple"/> and routed by tuple, or by the ufrag of its STUN check.</summary>
        public void OnDatagram(int socketIndex, SocketAddress remote, ReadOnlySpan<byte> datagram)
        {
            Interlocked.Increment(ref _host._c.UdpReceived);
            if (_host._byUdpAddress.TryGetValue(new UdpRoute(socketIndex, remote), out var bound) && _host.TryHandleRouted(bound.Session, bound.Tuple, datagram, this))
            {
                return;
            }

            var tuple = new IceTuple(_locals[socketIndex], Normalize(SocketDriver.ToEndPoint(remote)), IceProtocol.Udp);
            _host.Route(tuple, datagram, null, this, socketIndex, remote);
        }

        public void OnLoopFault(Exception exception, string message) => _host.CountFault(exception, "Transport host failed to route a datagram; dropped");

        private TimeSpan FireTimersLocked()
        {
            var now = _host.Now;
            if (now < _nextScan)
            {
                return _nextScan; // no session is due earlier: drains lower _nextScan when they bring an earlier deadline
            }

            var next = SocketDriver.NoDeadline;
            _scratch.Clear();
            _scratch.AddRange(Sessions);
            foreach (var session in _scratch)
            {
                try
                {
                    if (session.Deadline <= now)
                    {
                        session.Transport.HandleTimeout(now);
                        DrainLocked(session);
                    }
                }
                catch (Exception ex)
                {
                    FailSessionLocked(session, ex);
                }

                if (!session.Removed && session.Deadline < next)
                {
                    next = session.Deadline;
                }
            }

            _scratch.Clear();
            _nextScan = next;
            return next;
        }

        public void SafeDrainLocked(TransportSession session)
        {
            try
            {
                DrainLocked(session);
            }
            catch (Exception ex)
            {
                FailSessionLocked(session, ex);
            }
        }

        /// <summary>Polls the transport until its next deadline (the drain rule): datagrams go out at once, events to the session.</summary>
        public void DrainLocked(TransportSession session)
        {
            var transport = session.Transport;
            while (true)
            {
                var output = transport.PollOutput(_pollBuffer);
                switch (output.Kind)
                {
                    case WebRtcOutputKind.Transmit:
                        Send(output.Tuple, _pollBuffer.AsSpan(0, output.Length));
                        break;
                    case WebRtcOutputKind.Event:
                        session.Publish(output.Event!);
                        break;
                    case WebRtcOutputKind.RtpReceived when session.Media is { } media:
                        session.BufferMedia(media, MediaPacketKind.Rtp, _pollBuffer.AsSpan(0, output.Length));
                        break;
                    case WebRtcOutputKind.RtcpReceived when session.Media is { } media:
                        session.BufferMedia(media, MediaPacketKind.Rtcp, _pollBuffer.AsSpan(0, output.Length));
                        break;
                    case WebRtcOutputKind.RtpReceived:
                        session.Publish(new RtpPacketReceived(output.Tuple, _pollBuffer.AsSpan(0, output.Length).ToArray()));
                        break;
                    case WebRtcOutputKind.RtcpReceived:
                        session.Publish(new RtcpPacketReceived(output.Tuple, _pollBuffer.AsSpan(0, output.Length).ToArray()));
                        break;
                    default:
                        session.Deadline = output.Deadline;
                        if (output.Deadline < _nextScan)
                        {
                            _nextScan = output.Deadline;
                        }

                        if (transport.IsFinished && !session.Removed && output.Deadline == DtlsOutput.NoDeadline)
                        {
                            RemoveLocked(session);
                        }

                        return;
                }
            }
        }

        private void Send(IceTuple tuple, ReadOnlySpan<byte> datagram)
        {
            if (tuple.Protocol == IceProtocol.Tcp)
            {
                if (!_host._tcpConnections.TryGetValue(tuple, out var connection) || !connection.TrySend(datagram))
                {
                    Interlocked.Increment(ref _host._c.TcpFramesDropped);
                    _host._metrics.Drop("tcp_send_queue");
                }

                return;
            }

            // This loop's socket for that local address: every loop has one (same address and port), any may send.
            if (!_byLocal.TryGetValue(tuple.Local, out var socket))
            {
                Interlocked.Increment(ref _host._c.SendErrors);
                return;
            }

            try
            {
                if (_host._udpRouteOf.TryGetValue(tuple, out var route))
                {
                    socket.SendTo(datagram, SocketFlags.None, route.Remote); // the peer's address as received: no serialization per send
                }
                else
                {
                    socket.SendTo(datagram, SocketFlags.None, tuple.Remote);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                Interlocked.Increment(ref _host._c.SendErrors);
                LogSendFailed(tuple.Remote, ex);
            }
        }

        /// <summary>Its own method: a log closure capturing a parameter of <see cref="Send"/> would be allocated on every send.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private void LogSendFailed(IPEndPoint remote, Exception ex) => _host.SafeLog(l => NetLog.HostSendFailed(l, remote, ex.Message));

        /// <summary>The boundary: one session's failure fails and removes that session only.</summary>
        public void FailSessionLocked(TransportSession session, Exception ex)
        {
            _host.CountFault(ex, $"Transport session {session.LocalUfrag} failed with an internal error; removed");
            if (session.Removed)
            {
                return;
            }

            session.Publish(new TransportFailed(TransportFailureReason.InternalError, $"transport host: {ex.GetType().Name}: {ex.Message}", null));
            RemoveLocked(session);
        }

        public void RemoveLocked(TransportSession session)
        {
            session.Removed = true;
            if (_host._byUfrag.TryRemove(session.LocalUfrag, out _))
            {
                Interlocked.Decrement(ref _host._sessions);
            }

            foreach (var tuple in session.Tuples)
            {
                _host._byTuple.TryRemove(tuple, out _);
                _host.UnbindUdp(tuple);
            }

            session.Tuples.Clear();
            Sessions.Remove(session);
            session.Complete();
        }
    }
}
