using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Airlift.Codec;
using Airlift.Diagnostics;
using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Microsoft.Extensions.Logging;

namespace Airlift.Net;

/// <summary>Limits of a <see cref="DtlsSocketLoop"/> (see <see cref="DtlsUdpServerOptions"/> for their meaning).</summary>
internal sealed record DtlsSocketLoopLimits(int MaxSessions, int MaxSessionsPerAddress, TimeSpan IdleTimeout, int EventQueueCapacity, System.Diagnostics.Metrics.IMeterFactory? MeterFactory = null)
{
    /// <summary>A client's loop: one session, owned by the client until it is disposed.</summary>
    public static DtlsSocketLoopLimits Client { get; } = new(1, 1, Timeout.InfiniteTimeSpan, 1024);

    public static DtlsSocketLoopLimits From(DtlsUdpServerOptions o) => new(o.MaxSessions, o.MaxSessionsPerAddress, o.IdleTimeout, o.EventQueueCapacity, o.MeterFactory ?? o.Dtls.MeterFactory);
}

/// <summary>
/// The one loop that ties sans-IO endpoints to a UDP socket and a <see cref="TimeProvider"/>: it receives datagrams,
/// routes them by remote endpoint, fires timers at the earliest deadline, sends what the endpoints produce and
/// publishes their events. Both <see cref="DtlsUdpClient"/> and <see cref="DtlsUdpServer"/> run on it.
/// All endpoint access happens under one lock, so application sends from other threads are safe.
/// </summary>
/// <remarks>
/// Exception boundary: whatever handling one session throws (a bug, a throwing logger) fails and removes that session
/// only, is counted (<see cref="SessionFaults"/>, <c>airlift.net.session_faults</c>) and logged; the loop keeps serving
/// every other session, and <see cref="DisposeAsync"/> never rethrows it.
/// </remarks>
internal sealed class DtlsSocketLoop : IAsyncDisposable
{
    private const string Driver = "dtls-udp";
    private const int MaxConsecutiveReceiveErrors = 1000;

    private readonly Socket _socket;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ILogger? _logger;
    private readonly NetMetrics _metrics;
    private readonly DtlsServerListener? _listener;
    private readonly DtlsSocketLoopLimits _limits;
    private readonly Dictionary<IPEndPoint, DtlsUdpSession> _sessions = [];
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly HashSet<DtlsUdpSession> _removedUnread = [];
    private readonly Channel<DtlsSessionEvent> _events = Channel.CreateUnbounded<DtlsSessionEvent>(new UnboundedChannelOptions { SingleReader = false }); // multi-reader: it counts
    private readonly List<DtlsEvent> _drained = [];
    private readonly List<DtlsUdpSession> _scratch = [];
    private readonly Lock _gate = new();
    private readonly byte[] _sendBuffer = new byte[65535];
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;
    private bool _stopping;
    private volatile TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DtlsSocketLoop(Socket socket, TimeProvider time, ILogger? logger, DtlsServerListener? listener, DtlsSocketLoopLimits limits)
    {
        _socket = socket;
        _time = time;
        _origin = time.GetTimestamp();
        _logger = logger;
        _metrics = NetMetrics.For(limits.MeterFactory);
        _listener = listener;
        _limits = limits;
        Events = new SessionEventReader(this);
    }

    /// <summary>Events of every session; reading a <see cref="DtlsSessionRemoved"/> disposes that session's endpoint.</summary>
    public ChannelReader<DtlsSessionEvent> Events { get; }

    public long DroppedSessionLimit { get; private set; }

    public long DroppedAddressLimit { get; private set; }

    public long DroppedEventBacklog { get; private set; }

    public long EventsDropped { get; private set; }

    public long SessionFaults { get; private set; }

    public int SessionCount
    {
        get
        {
            lock (_gate)
            {
                return _sessions.Count;
            }
        }
    }

    public TimeSpan Now => _time.GetElapsedTime(_origin);

    public Socket Socket => _socket;

    /// <summary>Server mode: finished, idle and replaced sessions are removed (a client keeps its one session until disposed).</summary>
    private bool Serving => _listener is not null;

    public void Start() => _run = Task.Run(() => RunAsync(_stop.Token));

    public DtlsUdpSession Add(IPEndPoint remote, DtlsEndpoint endpoint)
    {
        lock (_gate)
        {
            var session = new DtlsUdpSession(this, remote, endpoint, null, Now);
            AddLocked(session);
            SafeDrainLocked(session);
            return session;
        }
    }

    /// <summary>Runs <paramref name="action"/> on a session's endpoint under the loop's lock, then drains its output.
    /// Exceptions of <paramref name="action"/> (the endpoint's API contract) reach the caller; failures while draining fail the session.</summary>
    internal void WithEndpoint(DtlsUdpSession session, Action<DtlsEndpoint, TimeSpan> action)
    {
        lock (_gate)
        {
            if (session.Removal is not null || session.Faulted)
            {
                throw new InvalidOperationException($"The session with {session.Remote} is no longer served ({(session.Faulted ? "failed" : session.Removal)}).");
            }

            action(session.Endpoint, Now);
            SafeDrainLocked(session);
        }

        Wake();
    }

    internal T Locked<T>(DtlsUdpSession session, Func<DtlsUdpSession, T> read)
    {
        lock (_gate)
        {
            return read(session);
        }
    }

    private void Wake() => _wake.TrySetResult();

    private async Task RunAsync(CancellationToken ct)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(65535);
        var from = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        Task<SocketReceiveFromResult>? receive = null;
        var receiveErrors = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                TimeSpan deadline;
                lock (_gate)
                {
                    deadline = FireTimersLocked();
                }

                receive ??= _socket.ReceiveFromAsync(buffer, SocketFlags.None, from, ct).AsTask();
                var wake = _wake.Task;
                var delay = deadline == DtlsOutput.NoDeadline ? Timeout.InfiniteTimeSpan : Max(deadline - Now, TimeSpan.Zero) + TimeSpan.FromMilliseconds(1);
                using var delayCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var timer = Task.Delay(delay, _time, delayCts.Token);
                var done = await Task.WhenAny(receive, timer, wake).ConfigureAwait(false);
                await delayCts.CancelAsync().ConfigureAwait(false);
                if (done == wake)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                if (done != receive)
                {
                    continue;
                }

                SocketReceiveFromResult result;
                try
                {
                    result = await receive.ConfigureAwait(false);
                    receiveErrors = 0;
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
                {
                    // ICMP port unreachable from a peer that went away, or a datagram larger than the buffer: not fatal for the loop.
                    receive = null;
                    continue;
                }
                catch (SocketException ex) when (!ct.IsCancellationRequested && ++receiveErrors < MaxConsecutiveReceiveErrors)
                {
                    // A transient socket error (no buffer space, ...): the datagram is lost, the loop goes on.
                    receive = null;
                    SafeLog(l => NetLog.ReceiveFailed(l, ex.SocketErrorCode));
                    continue;
                }

                receive = null;
                try
                {
                    OnDatagram((IPEndPoint)result.RemoteEndPoint, buffer.AsSpan(0, result.ReceivedBytes));
                }
                catch (Exception ex)
                {
                    // Per-session work has its own boundary; this is the loop's own code failing on one datagram.
                    CountFault(ex, "DTLS socket loop failed on a datagram; dropped");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Only the socket itself can get here (per-session work has its own boundary): the loop cannot go on.
            SafeLog(l => NetLog.LoopStopped(l, ex));
        }
        finally
        {
            _events.Writer.TryComplete();
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private void OnDatagram(IPEndPoint remote, ReadOnlySpan<byte> datagram)
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            var now = Now;
            if (_sessions.TryGetValue(remote, out var session))
            {
                if (Serving && IsNewClientHello(session, datagram))
                {
                    // RFC 6347 4.2.8: a new ClientHello (epoch 0, another random) from the address of an existing session
                    // goes through the cookie exchange; only a valid cookie replaces the old session.
                    if (!EventBacklogFull())
                    {
                        Admit(remote, datagram, now, replacing: session);
                    }

                    return;
                }

                session.LastReceived = now;
                try
                {
                    session.Endpoint.HandleDatagram(now, datagram);
                    DrainLocked(session);
                }
                catch (Exception ex)
                {
                    FailLocked(session, ex);
                }

                return;
            }

            if (!Serving)
            {
                SafeLog(l => NetLog.UnknownPeer(l, remote));
                return;
            }

            if (_sessions.Count >= _limits.MaxSessions)
            {
                DroppedSessionLimit++;
                _metrics.Drop("session_limit");
                SafeLog(l => NetLog.SessionLimit(l, _limits.MaxSessions, remote));
                return;
            }

            if (_perAddress.GetValueOrDefault(remote.Address) >= _limits.MaxSessionsPerAddress)
            {
                DroppedAddressLimit++;
                _metrics.Drop("address_limit");
                SafeLog(l => NetLog.AddressLimit(l, _limits.MaxSessionsPerAddress, remote.Address));
                return;
            }

            if (EventBacklogFull())
            {
                return;
            }

            Admit(remote, datagram, now, replacing: null);
        }
    }

    private bool EventBacklogFull()
    {
        if (_events.Reader.Count < _limits.EventQueueCapacity)
        {
            return false;
        }

        DroppedEventBacklog++;
        _metrics.Drop("event_backlog");
        return true;
    }

    /// <summary>A datagram from a peer without a session (or a new ClientHello from one with a session): the cookie front decides.</summary>
    private void Admit(IPEndPoint remote, ReadOnlySpan<byte> datagram, TimeSpan now, DtlsUdpSession? replacing)
    {
        DtlsListenerDecision decision;
        int length, copies;
        DtlsEndpoint? endpoint;
        try
        {
            decision = _listener!.HandleDatagram(now, remote, datagram, _sendBuffer, out length, out copies, out endpoint);
        }
        catch (Exception ex)
        {
            CountFault(ex, "DTLS listener failed on a datagram; dropped");
            return;
        }

        if (decision is DtlsListenerDecision.HelloVerifyRequest or DtlsListenerDecision.HelloRetryRequest)
        {
            for (var i = 0; i < copies; i++)
            {
                SendTo(_sendBuffer.AsSpan(0, length), remote);
            }
        }
        else if (decision == DtlsListenerDecision.Accepted)
        {
            if (replacing is not null)
            {
                RemoveLocked(replacing, DtlsSessionRemovalReason.Replaced);
            }

            var created = new DtlsUdpSession(this, remote, endpoint!, TryReadClientRandom(datagram, out var random) ? random.ToArray() : null, now);
            AddLocked(created);
            try
            {
                if (_logger is not null)
                {
                    if (replacing is null)
                    {
                        NetLog.HandshakeStarted(_logger, remote);
                    }
                    else
                    {
                        NetLog.HandshakeRestarted(_logger, remote);
                    }
                }

                DrainLocked(created);
            }
            catch (Exception ex)
            {
                FailLocked(created, ex);
            }
        }
    }

    private void AddLocked(DtlsUdpSession session)
    {
        _sessions[session.Remote] = session;
        _perAddress[session.Remote.Address] = _perAddress.GetValueOrDefault(session.Remote.Address) + 1;
    }

    private static bool IsNewClientHello(DtlsUdpSession session, ReadOnlySpan<byte> datagram) =>
        session.ClientRandom is { } known && TryReadClientRandom(datagram, out var random) && !random.SequenceEqual(known);

    /// <summary>The random of a ClientHello whose first fragment starts the datagram in an epoch-0 record.</summary>
    private static bool TryReadClientRandom(ReadOnlySpan<byte> datagram, out ReadOnlySpan<byte> random)
    {
        random = default;
        if (!RecordHeader.TryRead(datagram, out var record) || record.Type != ContentType.Handshake || record.Epoch != 0
            || datagram.Length < RecordHeader.Size + record.Length)
        {
            return false;
        }

        var reader = new WireReader(datagram.Slice(RecordHeader.Size, record.Length));
        return HandshakeHeader.TryRead(ref reader, out var handshake)
            && handshake.Type == HandshakeType.ClientHello
            && handshake.FragmentOffset == 0
            && reader.TryReadBytes(handshake.FragmentLength, out var fragment)
            && ClientHello.TryReadPrefix(fragment, out _, out random, out _, out _, out _);
    }

    private TimeSpan FireTimersLocked()
    {
        var now = Now;
        var next = DtlsOutput.NoDeadline;
        _scratch.Clear();
        _scratch.AddRange(_sessions.Values);
        foreach (var session in _scratch)
        {
            try
            {
                if (session.Deadline <= now)
                {
                    session.Endpoint.HandleTimeout(now);
                    DrainLocked(session);
                }

                if (session.Removal is not null)
                {
                    continue;
                }

                var idleAt = IdleDeadline(session);
                if (Serving && session.Endpoint.State is DtlsState.Failed or DtlsState.Closed && session.Deadline == DtlsOutput.NoDeadline)
                {
                    RemoveLocked(session, DtlsSessionRemovalReason.Finished);
                    continue;
                }

                if (Serving && idleAt <= now)
                {
                    SafeLog(l => NetLog.SessionIdle(l, session.Remote, _limits.IdleTimeout));
                    RemoveLocked(session, DtlsSessionRemovalReason.IdleTimeout);
                    continue;
                }

                next = Min(next, Min(session.Deadline, Serving ? idleAt : DtlsOutput.NoDeadline));
            }
            catch (Exception ex)
            {
                FailLocked(session, ex);
            }
        }

        _scratch.Clear();
        return next;
    }

    /// <summary>When an idle session past its handshake is removed; never while it keeps its final flight.</summary>
    private TimeSpan IdleDeadline(DtlsUdpSession session)
    {
        if (_limits.IdleTimeout == Timeout.InfiniteTimeSpan || session.Endpoint.State == DtlsState.Connecting || session.FinalFlightRetainedLocked)
        {
            return DtlsOutput.NoDeadline;
        }

        return session.LastReceived + _limits.IdleTimeout;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private void SafeDrainLocked(DtlsUdpSession session)
    {
        try
        {
            DrainLocked(session);
        }
        catch (Exception ex)
        {
            FailLocked(session, ex);
        }
    }

    /// <summary>
    /// Polls the endpoint until its next deadline: datagrams go out at once; events are recorded on the session first and
    /// published after the whole drain, so a consumer that sees any of them finds every fact of the same drain in place.
    /// </summary>
    private void DrainLocked(DtlsUdpSession session)
    {
        _drained.Clear();
        try
        {
            while (true)
            {
                var output = session.Endpoint.PollOutput(_sendBuffer);
                if (output.Kind == DtlsOutputKind.Datagram)
                {
                    SendTo(_sendBuffer.AsSpan(0, output.DatagramLength), session.Remote);
                }
                else if (output.Kind == DtlsOutputKind.Event)
                {
                    session.Record(output.Event!);
                    _drained.Add(output.Event!);
                }
                else
                {
                    session.Deadline = output.Deadline;
                    break;
                }
            }
        }
        finally
        {
            foreach (var e in _drained)
            {
                Publish(session, e);
            }
        }

        session.UpdateReleased();
        foreach (var e in _drained)
        {
            LogEvent(session, e);
        }

        _drained.Clear();
    }

    private void Publish(DtlsUdpSession session, DtlsEvent e)
    {
        if (e is DtlsApplicationData && _events.Reader.Count >= _limits.EventQueueCapacity)
        {
            // Overflow policy: data is dropped and counted (the peer's protocol recovers it like a lost datagram); lifecycle
            // events are never dropped and stay bounded because no new session starts while the queue is full.
            EventsDropped++;
            _metrics.Drop("event_queue_full");
            return;
        }

        _events.Writer.TryWrite(new DtlsSessionEvent(session, e));
    }

    private void CountFault(Exception ex, string message)
    {
        lock (_gate)
        {
            SessionFaults++;
        }

        _metrics.Fault(Driver);
        SafeLog(l => NetLog.DriverFault(l, ex, message));
    }

    /// <summary>The boundary: one session's failure fails and removes that session only.</summary>
    private void FailLocked(DtlsUdpSession session, Exception ex)
    {
        SessionFaults++;
        _metrics.Fault(Driver);
        var wasFinished = session.Faulted || session.Endpoint.State is DtlsState.Failed or DtlsState.Closed;
        session.Faulted = true;
        SafeLog(l => NetLog.SessionFault(l, ex, session.Remote));
        if (!wasFinished)
        {
            Publish(session, new DtlsFailed(DtlsFailureReason.InternalError, $"socket driver: {ex.GetType().Name}: {ex.Message}", null, null));
        }

        if (session.Removal is null)
        {
            RemoveLocked(session, DtlsSessionRemovalReason.InternalError);
        }
    }

    /// <summary>Stops routing to a session. A server publishes <see cref="DtlsSessionRemoved"/> (the endpoint is disposed when it is read).</summary>
    private void RemoveLocked(DtlsUdpSession session, DtlsSessionRemovalReason reason)
    {
        session.Removal = reason;
        if (_sessions.TryGetValue(session.Remote, out var current) && current == session)
        {
            _sessions.Remove(session.Remote);
            var left = _perAddress.GetValueOrDefault(session.Remote.Address) - 1;
            if (left > 0)
            {
                _perAddress[session.Remote.Address] = left;
            }
            else
            {
                _perAddress.Remove(session.Remote.Address);
            }
        }

        _metrics.SessionsRemoved.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
        session.UpdateReleased();
        if (Serving)
        {
            _removedUnread.Add(session);
            Publish(session, new DtlsSessionRemoved(reason));
        }
        else
        {
            DisposeEndpointLocked(session);
        }
    }

    private void OnRemovedEventRead(DtlsUdpSession session)
    {
        lock (_gate)
        {
            if (_removedUnread.Remove(session))
            {
                DisposeEndpointLocked(session);
            }
        }
    }

    private static void DisposeEndpointLocked(DtlsUdpSession session)
    {
        if (session.EndpointDisposed)
        {
            return;
        }

        session.EndpointDisposed = true;
        try
        {
            session.Endpoint.Dispose(); // zeroes the master secret, releases the record keys
        }
        catch (Exception)
        {
            // Disposing must not take the loop down; the secrets then go with the garbage collector.
        }
    }

    private void LogEvent(DtlsUdpSession session, DtlsEvent e)
    {
        switch (e)
        {
            case DtlsConnected c:
                if (_logger is not null)
                {
                    NetLog.Connected(_logger, session.Remote, c.CipherSuite, c.SrtpProfile?.Name ?? "none", (long)Math.Round(c.HandshakeDuration.TotalMilliseconds));
                }

                break;
            case DtlsFailed f:
                if (_logger is not null)
                {
                    NetLog.Failed(_logger, session.Remote, f.Reason, f.Message);
                }

                break;
        }
    }

    /// <summary>Logs with a logger that may itself throw (a user's): a failing log line is lost, nothing else.</summary>
    private void SafeLog(Action<ILogger> log) => SafeLogger.Log(_logger, log);

    private void SendTo(ReadOnlySpan<byte> datagram, IPEndPoint remote)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, remote);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // A send failure is a lost datagram, which the protocol already survives.
            SafeLog(l => NetLog.SendFailed(l, remote, ex.Message));
        }
    }

    /// <summary>
    /// Sends close_notify to every connected peer (a server's peers then stop at once instead of at their own timeout),
    /// stops the loop, releases the socket and disposes every endpoint. Never throws because of a session.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            var now = Now;
            _scratch.Clear();
            _scratch.AddRange(_sessions.Values);
            foreach (var session in _scratch)
            {
                try
                {
                    if (session.Endpoint.State == DtlsState.Connected)
                    {
                        session.Endpoint.Close(now);
                        DrainLocked(session);
                    }
                }
                catch (Exception ex)
                {
                    FailLocked(session, ex);
                }

                if (Serving && session.Removal is null)
                {
                    RemoveLocked(session, DtlsSessionRemovalReason.ServerStopped);
                }
            }

            _scratch.Clear();
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        if (_run is not null)
        {
            try
            {
                await _run.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                SafeLog(l => NetLog.LoopEnded(l, ex));
            }
        }

        lock (_gate)
        {
            foreach (var session in _sessions.Values)
            {
                DisposeEndpointLocked(session);
            }

            foreach (var session in _removedUnread)
            {
                DisposeEndpointLocked(session);
            }

            _removedUnread.Clear();
        }

        _events.Writer.TryComplete();
        _stop.Dispose();
    }

    /// <summary>The public reader: disposes a session's endpoint when its <see cref="DtlsSessionRemoved"/> event is read.</summary>
    private sealed class SessionEventReader(DtlsSocketLoop loop) : ChannelReader<DtlsSessionEvent>
    {
        private readonly ChannelReader<DtlsSessionEvent> _inner = loop._events.Reader;

        public override Task Completion => _inner.Completion;

        public override bool CanCount => _inner.CanCount;

        public override int Count => _inner.Count;

        public override bool CanPeek => _inner.CanPeek;

        public override bool TryPeek(out DtlsSessionEvent item) => _inner.TryPeek(out item!);

        public override bool TryRead(out DtlsSessionEvent item)
        {
            if (!_inner.TryRead(out item!))
            {
                return false;
            }

            if (item.Event is DtlsSessionRemoved)
            {
                loop.OnRemovedEventRead(item.Session);
            }

            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _inner.WaitToReadAsync(cancellationToken);
    }
}
