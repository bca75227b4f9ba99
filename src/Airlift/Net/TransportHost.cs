using System.Net;
using System.Net.Sockets;
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
/// Time comes from a <see cref="TimeProvider"/>; one lock guards every transport, so application calls from any thread are safe.
/// </summary>
/// <remarks>
/// Exception boundary: whatever handling one session throws (a bug, a throwing logger) fails that session with a
/// <see cref="TransportFailed"/> of reason <see cref="TransportFailureReason.InternalError"/>, removes it, counts it
/// (<see cref="TransportHostStats.SessionFaults"/>, <c>airlift.net.session_faults</c>) and logs it; the UDP, TCP and
/// timer loops keep serving every other session, and <see cref="DisposeAsync"/> never rethrows it.
/// </remarks>
public sealed class TransportHost : IAsyncDisposable
{
    private readonly TransportHostOptions _options;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ILogger? _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPEndPoint, Socket> _udp = [];
    private readonly List<TcpListener> _tcp = [];
    private readonly Dictionary<string, TransportSession> _byUfrag = new(StringComparer.Ordinal);
    private readonly Dictionary<IceTuple, TransportSession> _byTuple = [];
    private readonly Dictionary<IceTuple, TransportTcpConnection> _tcpConnections = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly byte[] _pollBuffer = new byte[65535];
    private volatile TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Counters _c;

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
        _logger = logger;
        try
        {
            foreach (var listen in options.UdpListen)
            {
                var socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                if (listen.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.DualMode = false;
                }

                socket.Bind(listen);
                _udp[(IPEndPoint)socket.LocalEndPoint!] = socket;
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
            foreach (var s in _udp.Values)
            {
                s.Dispose();
            }

            foreach (var l in _tcp)
            {
                l.Stop();
            }

            throw;
        }

        UdpEndpoints = [.. _udp.Keys];
        TcpEndpoints = [.. _tcp.Select(l => (IPEndPoint)l.LocalEndpoint)];
        foreach (var (local, socket) in _udp)
        {
            _tasks.Add(Task.Run(() => UdpReceiveLoop(local, socket, _stop.Token)));
        }

        foreach (var listener in _tcp)
        {
            _tasks.Add(Task.Run(() => AcceptLoop(listener, _stop.Token)));
        }

        _tasks.Add(Task.Run(() => TimerLoop(_stop.Token)));
    }

    /// <summary>The bound UDP addresses (with the ports picked), for host candidates.</summary>
    public IReadOnlyList<IPEndPoint> UdpEndpoints { get; }

    /// <summary>The bound TCP listener addresses, for passive TCP host candidates.</summary>
    public IReadOnlyList<IPEndPoint> TcpEndpoints { get; }

    /// <summary>Host counters.</summary>
    public TransportHostStats Stats
    {
        get
        {
            lock (_gate)
            {
                return new(_c.UdpReceived, _c.Unrouted, _c.SendErrors, _c.TcpAccepted, _c.TcpRejected, _c.TcpOversized, _c.TcpIdle, _c.TcpByPeer, _c.TcpFramesDropped, _c.SessionFaults);
            }
        }
    }

    /// <summary>ICE-TCP connections open now.</summary>
    public int TcpConnectionCount
    {
        get
        {
            lock (_gate)
            {
                return _tcpConnections.Count;
            }
        }
    }

    internal TimeSpan Now => _time.GetElapsedTime(_origin);

    /// <summary>Creates a transport and serves it; signal its <see cref="TransportSession.LocalUfrag"/> and friends to the peer.</summary>
    /// <exception cref="ArgumentException">Invalid options, or the local ufrag is already in use on this host.</exception>
    /// <exception cref="InvalidOperationException"><see cref="TransportHostOptions.MaxSessions"/> reached.</exception>
    public TransportSession CreateSession(WebRtcTransportOptions options)
    {
        lock (_gate)
        {
            if (_byUfrag.Count >= _options.MaxSessions)
            {
                throw new InvalidOperationException($"The host serves its maximum of {_options.MaxSessions} sessions.");
            }

            if (options.LocalUfrag is { } ufrag && _byUfrag.ContainsKey(ufrag))
            {
                throw new ArgumentException($"Local ufrag '{ufrag}' is already used by a session of this host.", nameof(options));
            }

            var transport = new WebRtcTransport(options with { Logger = options.Logger ?? _logger }, Now);
            if (_byUfrag.ContainsKey(transport.LocalUfrag))
            {
                throw new ArgumentException("Generated local ufrag collides with an existing session; retry.", nameof(options));
            }

            var session = new TransportSession(this, transport, _options.EventQueueCapacity);
            _byUfrag[transport.LocalUfrag] = session;
            SafeDrainLocked(session);
            return session;
        }
    }

    /// <summary>Stops every loop, closes every socket and completes every session's events.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var socket in _udp.Values)
            {
                socket.Dispose();
            }

            foreach (var listener in _tcp)
            {
                listener.Stop();
            }

            foreach (var connection in _tcpConnections.Values.ToList())
            {
                connection.Close();
            }

            foreach (var session in _byUfrag.Values)
            {
                session.Complete();
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
            SafeLog(l => l.LogError(ex, "A transport host loop ended with an error"));
        }

        _stop.Dispose();
    }

    /// <summary>Runs an application call on a session's transport. Exceptions of <paramref name="action"/> (the transport's API
    /// contract) reach the caller; a failure while draining fails that session.</summary>
    internal T WithTransport<T>(TransportSession session, Func<WebRtcTransport, T> action, bool drain = false)
    {
        T result;
        lock (_gate)
        {
            result = action(session.Transport);
            if (drain && !session.Removed)
            {
                SafeDrainLocked(session);
            }
        }

        return result;
    }

    internal void CloseSession(TransportSession session)
    {
        lock (_gate)
        {
            if (session.Removed)
            {
                return;
            }

            try
            {
                session.Transport.Close(Now);
                DrainLocked(session);
            }
            catch (Exception ex)
            {
                FailSessionLocked(session, ex);
            }

            if (!session.Removed)
            {
                RemoveLocked(session);
            }
        }
    }

    private void RemoveLocked(TransportSession session)
    {
        session.Removed = true;
        _byUfrag.Remove(session.LocalUfrag);
        foreach (var tuple in session.Tuples)
        {
            _byTuple.Remove(tuple);
        }

        session.Tuples.Clear();
        session.Complete();
    }

    private async Task UdpReceiveLoop(IPEndPoint local, Socket socket, CancellationToken ct)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(65535);
        var any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, ct).ConfigureAwait(false);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
            {
                continue;
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && ct.IsCancellationRequested)
            {
                return;
            }

            var tuple = new IceTuple(local, Normalize((IPEndPoint)result.RemoteEndPoint), IceProtocol.Udp);
            lock (_gate)
            {
                _c.UdpReceived++;
                try
                {
                    OnPacketLocked(tuple, buffer.AsSpan(0, result.ReceivedBytes), null);
                }
                catch (Exception ex)
                {
                    // Session work has its own boundary; this is the host's own routing failing on one datagram.
                    CountFaultLocked(ex, "Transport host failed to route a datagram; dropped");
                }
            }

            Wake();
        }
    }

    /// <summary>Routes one datagram or frame. Returns false when it could not be routed (a TCP connection is then closed).</summary>
    private bool OnPacketLocked(IceTuple tuple, ReadOnlySpan<byte> packet, TransportTcpConnection? connection)
    {
        var now = Now;
        if (_byTuple.TryGetValue(tuple, out var session))
        {
            try
            {
                session.Transport.HandleDatagram(now, tuple, packet);
                DrainLocked(session);
            }
            catch (Exception ex)
            {
                FailSessionLocked(session, ex);
            }

            return true;
        }

        if (PacketClassifier.Classify(packet) != PacketKind.Stun || !TryGetLocalUfrag(packet, out var ufrag) || !_byUfrag.TryGetValue(ufrag, out session))
        {
            _c.Unrouted++;
            TransportMetrics.Drop("unrouted");
            return false;
        }

        try
        {
            var answeredBefore = session.Transport.IceStats.ChecksAnswered;
            session.Transport.HandleDatagram(now, tuple, packet);
            if (session.Transport.IceStats.ChecksAnswered > answeredBefore && session.Tuples.Count < _options.MaxTuplesPerSession)
            {
                // An authenticated check: this remote is the session's peer from now on.
                _byTuple[tuple] = session;
                session.Tuples.Add(tuple);
                if (connection is not null)
                {
                    connection.Bound = true;
                }
            }

            DrainLocked(session);
        }
        catch (Exception ex)
        {
            FailSessionLocked(session, ex);
        }

        return true;
    }

    private static bool TryGetLocalUfrag(ReadOnlySpan<byte> packet, out string ufrag)
    {
        ufrag = "";
        if (!StunMessage.TryDecode(packet, out var message, out _) || message!.Type != StunMessageType.BindingRequest || message.Username is not { } username)
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

    private void DrainLocked(TransportSession session)
    {
        var transport = session.Transport;
        while (true)
        {
            var output = transport.PollOutput(_pollBuffer);
            switch (output.Kind)
            {
                case WebRtcOutputKind.Transmit:
                    SendLocked(output.Tuple, _pollBuffer.AsSpan(0, output.Length));
                    break;
                case WebRtcOutputKind.Event:
                    session.Publish(output.Event!);
                    break;
                case WebRtcOutputKind.RtpReceived:
                    session.Publish(new RtpPacketReceived(output.Tuple, _pollBuffer.AsSpan(0, output.Length).ToArray()));
                    break;
                case WebRtcOutputKind.RtcpReceived:
                    session.Publish(new RtcpPacketReceived(output.Tuple, _pollBuffer.AsSpan(0, output.Length).ToArray()));
                    break;
                default:
                    session.Deadline = output.Deadline;
                    if (transport.IsFinished && !session.Removed && output.Deadline == DtlsOutput.NoDeadline)
                    {
                        RemoveLocked(session);
                    }

                    return;
            }
        }
    }

    private void SendLocked(IceTuple tuple, ReadOnlySpan<byte> datagram)
    {
        if (tuple.Protocol == IceProtocol.Tcp)
        {
            if (!_tcpConnections.TryGetValue(tuple, out var connection) || !connection.TrySend(datagram))
            {
                _c.TcpFramesDropped++;
                TransportMetrics.Drop("tcp_send_queue");
            }

            return;
        }

        if (!_udp.TryGetValue(tuple.Local, out var socket))
        {
            _c.SendErrors++;
            return;
        }

        try
        {
            socket.SendTo(datagram, SocketFlags.None, tuple.Remote);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _c.SendErrors++;
            SafeLog(l => l.LogDebug("UDP send to {Remote} failed: {Error}", tuple.Remote, ex.Message));
        }
    }

    private void Wake() => _wake.TrySetResult();

    private void SafeDrainLocked(TransportSession session)
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

    /// <summary>The boundary: one session's failure fails and removes that session only.</summary>
    private void FailSessionLocked(TransportSession session, Exception ex)
    {
        CountFaultLocked(ex, $"Transport session {session.LocalUfrag} failed with an internal error; removed");
        if (session.Removed)
        {
            return;
        }

        session.Publish(new TransportFailed(TransportFailureReason.InternalError, $"transport host: {ex.GetType().Name}: {ex.Message}", null));
        RemoveLocked(session);
    }

    private void CountFaultLocked(Exception ex, string message)
    {
        _c.SessionFaults++;
        NetMetrics.Fault("transport-host");
        SafeLog(l => l.LogError(ex, "{Message}", message));
    }

    /// <summary>Logs with a logger that may itself throw (a user's): a failing log line is lost, nothing else.</summary>
    private void SafeLog(Action<ILogger> log) => SafeLogger.Log(_logger, log);

    private async Task TimerLoop(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TimeSpan next;
            lock (_gate)
            {
                try
                {
                    next = FireTimersLocked();
                }
                catch (Exception ex)
                {
                    // Sessions have their own boundary; the timer loop itself must never stop.
                    CountFaultLocked(ex, "Transport host timer pass failed");
                    next = DtlsOutput.NoDeadline;
                }
            }

            var wake = _wake.Task;
            var delay = next == DtlsOutput.NoDeadline ? TimeSpan.FromSeconds(1) : Clamp(next - Now, TimeSpan.Zero, TimeSpan.FromSeconds(1));
            try
            {
                await Task.WhenAny(Task.Delay(delay + TimeSpan.FromMilliseconds(1), _time, ct), wake).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (wake.IsCompleted)
            {
                _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    private TimeSpan FireTimersLocked()
    {
        var now = Now;
        var next = DtlsOutput.NoDeadline;
        foreach (var session in _byUfrag.Values.ToList())
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

        foreach (var connection in _tcpConnections.Values.ToList())
        {
            var limit = connection.Bound ? _options.TcpIdleTimeout : _options.TcpUnboundTimeout;
            if (now - connection.LastActivity >= limit)
            {
                _c.TcpIdle++;
                CloseTcpLocked(connection, "idle");
            }
        }

        return next;
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
            lock (_gate)
            {
                if (_tcpConnections.Count >= _options.MaxTcpConnections || _tcpConnections.ContainsKey(tuple))
                {
                    _c.TcpRejected++;
                    TransportMetrics.TcpClosed.Add(1, new KeyValuePair<string, object?>("cause", "limit"));
                }
                else
                {
                    connection = new TransportTcpConnection(socket, tuple, _options.MaxTcpFrameSize, _options.TcpSendQueueCapacity, Now);
                    _tcpConnections[tuple] = connection;
                    _c.TcpAccepted++;
                    TransportMetrics.TcpConnections.Add(1);
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
        var framer = connection.Framer;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var read = await connection.Socket.ReceiveAsync(framer.GetWriteBuffer(), SocketFlags.None, ct).ConfigureAwait(false);
                if (read == 0)
                {
                    // The peer closed its side: an ICE-TCP connection is not kept half-open.
                    lock (_gate)
                    {
                        _c.TcpByPeer++;
                        CloseTcpLocked(connection, "peer_closed");
                    }

                    return;
                }

                framer.Advance(read);
                lock (_gate)
                {
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

                        if (!OnPacketLocked(connection.Tuple, frame, connection) && !connection.Bound)
                        {
                            // The first frames of a connection must be checks for a session; anything else is not ICE-TCP.
                            CloseTcpLocked(connection, "unrouted");
                            return;
                        }
                    }

                    if (framer.IsOversized)
                    {
                        _c.TcpOversized++;
                        CloseTcpLocked(connection, "oversized_frame");
                        return;
                    }
                }

                Wake();
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            lock (_gate)
            {
                if (!connection.Closed && !ct.IsCancellationRequested)
                {
                    _c.TcpByPeer++;
                }

                CloseTcpLocked(connection, "reset");
            }
        }
        catch (Exception ex)
        {
            // The host's own framing or routing failed on this connection (sessions have their own boundary): close it only.
            lock (_gate)
            {
                CountFaultLocked(ex, "ICE-TCP connection failed; closed");
                CloseTcpLocked(connection, "internal_error");
            }
        }
    }

    private void CloseTcpLocked(TransportTcpConnection connection, string cause)
    {
        if (connection.Closed)
        {
            return;
        }

        TransportMetrics.TcpClosed.Add(1, new KeyValuePair<string, object?>("cause", cause));
        SafeLog(l => l.LogDebug("ICE-TCP connection {Tuple} closed: {Cause}", connection.Tuple, cause));
        _tcpConnections.Remove(connection.Tuple);
        if (_byTuple.Remove(connection.Tuple, out var session))
        {
            session.Tuples.Remove(connection.Tuple);
        }

        connection.Close();
    }

    private static IPEndPoint Normalize(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;

    private struct Counters
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
}
