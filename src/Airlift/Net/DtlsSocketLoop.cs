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
internal sealed record DtlsSocketLoopLimits(int MaxSessions, int MaxSessionsPerAddress, TimeSpan IdleTimeout, int EventQueueCapacity, System.Diagnostics.Metrics.IMeterFactory? MeterFactory = null, int SessionReceiveBufferSize = 0)
{
    /// <summary>A client's loop: one session, owned by the client until it is disposed; received data buffered for its reader.</summary>
    public static DtlsSocketLoopLimits Client { get; } = new(1, 1, Timeout.InfiniteTimeSpan, 1024, null, DtlsUdpClient.ReceiveBufferSize);

    /// <summary>SessionReceiveBufferSize 0: received application data leaves as <see cref="DtlsApplicationData"/> events;
    /// otherwise each session buffers that many bytes of it for <see cref="DtlsUdpSession.ReceiveAsync"/>.</summary>
    public static DtlsSocketLoopLimits From(DtlsUdpServerOptions o) =>
        new(o.MaxSessions, o.MaxSessionsPerAddress, o.IdleTimeout, o.EventQueueCapacity, o.MeterFactory ?? o.Dtls.MeterFactory, o.ApplicationDataAsEvents ? 0 : o.SessionReceiveBufferSize);
}

/// <summary>
/// One receive loop of DTLS sessions on a UDP socket: it routes datagrams by remote endpoint to sans-IO endpoints, fires
/// their timers, sends what they produce and publishes their events, on the shared <see cref="SocketDriver"/>.
/// <see cref="DtlsUdpClient"/> runs one; <see cref="DtlsUdpServer"/> runs one per core over <c>SO_REUSEPORT</c> sockets of
/// one port (the kernel keeps each peer on one socket, so each peer's session lives in one loop), all in one
/// <see cref="DtlsLoopGroup"/> (one event queue, global caps). All endpoint access of a loop happens under its lock, so
/// application sends from other threads are safe.
/// </summary>
/// <remarks>
/// Exception boundary: whatever handling one session throws (a bug, a throwing logger) fails and removes that session
/// only, is counted (<see cref="DtlsLoopGroup.SessionFaults"/>, <c>airlift.net.session_faults</c>) and logged; the loop keeps
/// serving every other session, and <see cref="DisposeAsync"/> never rethrows it.
/// </remarks>
internal sealed class DtlsSocketLoop : IAsyncDisposable, ISocketDriverHandler
{
    private const string Driver = "dtls-udp";

    private readonly Socket _socket;
    private readonly DtlsLoopGroup _group;
    private readonly SocketDriver _driver;
    private readonly ILogger? _logger;
    private readonly NetMetrics _metrics;
    private readonly DtlsServerListener? _listener;
    private readonly DtlsSocketLoopLimits _limits;
    private readonly Dictionary<IPEndPoint, DtlsUdpSession> _sessions = [];

    /// <summary>The same sessions by their peer's serialized address (content equality): a datagram is routed without an
    /// <see cref="IPEndPoint"/>; only a sender found nowhere here gets one.</summary>
    private readonly Dictionary<SocketAddress, DtlsUdpSession> _byAddress = [];
    private readonly HashSet<DtlsUdpSession> _removedUnread = [];
    private readonly List<DtlsEvent> _drained = [];
    private readonly List<DtlsUdpSession> _scratch = [];
    private readonly Lock _gate = new();
    private readonly byte[] _sendBuffer = new byte[65535];
    private readonly byte[] _receiveBuffer = new byte[65535];
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;
    private bool _stopping;
    private TimeSpan _nextScan;

    public DtlsSocketLoop(Socket socket, TimeProvider time, ILogger? logger, DtlsServerListener? listener, DtlsSocketLoopLimits limits)
        : this(socket, new DtlsLoopGroup(limits, time), logger, listener)
    {
    }

    public DtlsSocketLoop(Socket socket, DtlsLoopGroup group, ILogger? logger, DtlsServerListener? listener)
    {
        _socket = socket;
        _group = group;
        _logger = logger;
        _metrics = NetMetrics.For(group.Limits.MeterFactory);
        _listener = listener;
        _limits = group.Limits;
        _driver = new SocketDriver([socket], group.Time, group.Origin, this, logger, Timeout.InfiniteTimeSpan, "DTLS socket loop");
    }

    /// <summary>Events of every session of the group; reading a <see cref="DtlsSessionRemoved"/> disposes that session's endpoint.</summary>
    public ChannelReader<DtlsSessionEvent> Events => _group.Events;

    public DtlsLoopGroup Group => _group;

    public long DroppedSessionLimit => _group.DroppedSessionLimit;

    public long DroppedAddressLimit => _group.DroppedAddressLimit;

    public long DroppedEventBacklog => _group.DroppedEventBacklog;

    public long EventsDropped => _group.EventsDropped;

    public long SessionFaults => _group.SessionFaults;

    /// <summary>Sessions of this loop.</summary>
    public int LoopSessionCount
    {
        get
        {
            lock (_gate)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>Sessions of the whole group.</summary>
    public int SessionCount => _group.SessionCount;

    public TimeSpan Now => _driver.Now;

    public Socket Socket => _socket;

    /// <summary>Server mode: finished, idle and replaced sessions are removed (a client keeps its one session until disposed).</summary>
    private bool Serving => _listener is not null;

    public void Start()
    {
        _group.LoopStarted();
        _run = Task.Run(() => RunAsync(_stop.Token));
    }

    public DtlsUdpSession Add(IPEndPoint remote, DtlsEndpoint endpoint)
    {
        lock (_gate)
        {
            var session = new DtlsUdpSession(this, remote, endpoint, null, Now, _limits.SessionReceiveBufferSize);
            _group.Reserve(remote.Address);
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

    private void Wake() => _driver.Wake();

    private async Task RunAsync(CancellationToken ct)
    {
        try
        {
            await _driver.RunAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _group.LoopEnded();
        }
    }

    TimeSpan ISocketDriverHandler.FireTimers()
    {
        lock (_gate)
        {
            return FireTimersLocked();
        }
    }

    void ISocketDriverHandler.OnDatagram(int socketIndex, SocketAddress remote, ReadOnlySpan<byte> datagram) => OnDatagram(remote, datagram);

    void ISocketDriverHandler.OnLoopFault(Exception exception, string message) => CountFault(exception, message);

    /// <summary>A datagram from <paramref name="address"/>: a known peer's goes to its session by the address's bytes (no
    /// allocation); an unknown sender is made an <see cref="IPEndPoint"/> and goes to the cookie front.</summary>
    private void OnDatagram(SocketAddress address, ReadOnlySpan<byte> datagram)
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            var now = Now;
            if (!_byAddress.TryGetValue(address, out var session))
            {
                // Not by the address's bytes: by endpoint (a platform whose received form differs from IPEndPoint.Serialize's),
                // else a new peer.
                var remote = SocketDriver.ToEndPoint(address);
                if (!_sessions.TryGetValue(remote, out session))
                {
                    OnUnknownSenderLocked(remote, datagram, now);
                    return;
                }
            }

            if (Serving && ClassifyClientHello(session, datagram) == HelloFromKnownAddress.New)
            {
                // RFC 6347 4.2.8: a new ClientHello (epoch 0, another random) from the address of an existing session
                // goes through the cookie exchange; only a valid cookie replaces the old session.
                if (!EventBacklogFull())
                {
                    Admit(session.Remote, datagram, now, replacing: session);
                }

                return;
            }

            session.LastReceived = now;
            var allocated = MeasureAllocations ? GC.GetAllocatedBytesForCurrentThread() : 0;
            try
            {
                ReceiveLocked(session, now, datagram);
            }
            catch (Exception ex)
            {
                FailLocked(session, ex);
            }

            if (MeasureAllocations)
            {
                AllocatedOnRecordPath += GC.GetAllocatedBytesForCurrentThread() - allocated;
            }
        }
    }

    /// <summary>A datagram from a peer without a session (a separate method: its log closures must not cost the known
    /// peers' path an allocation).</summary>
    private void OnUnknownSenderLocked(IPEndPoint remote, ReadOnlySpan<byte> datagram, TimeSpan now)
    {
        if (!Serving)
        {
            SafeLog(l => NetLog.UnknownPeer(l, remote));
            return;
        }

        if (!_group.CheckCaps(remote.Address, out var refusedBy))
        {
            LogCapDrop(remote, refusedBy!);
            return;
        }

        if (EventBacklogFull())
        {
            return;
        }

        Admit(remote, datagram, now, replacing: null);
    }

    private void LogCapDrop(IPEndPoint remote, string refusedBy)
    {
        _metrics.Drop(refusedBy);
        if (refusedBy == "session_limit")
        {
            SafeLog(l => NetLog.SessionLimit(l, _limits.MaxSessions, remote));
        }
        else
        {
            SafeLog(l => NetLog.AddressLimit(l, _limits.MaxSessionsPerAddress, remote.Address));
        }
    }

    private bool EventBacklogFull()
    {
        if (_group.UnreadEvents < _limits.EventQueueCapacity)
        {
            return false;
        }

        _group.CountEventBacklogDrop();
        _metrics.Drop("event_backlog");
        return true;
    }

    /// <summary>
    /// A datagram of a known session. Connected sessions take the zero-allocation path: the first application-data record is
    /// opened into the loop's receive buffer and then copied into the session's receive buffer (or, for a server that
    /// publishes data as events, into the one array of a <see cref="DtlsApplicationData"/> event). The data is delivered
    /// before the drain, so a close_notify in the same datagram is published after it; a session still in its handshake
    /// takes the plain path, so that its Connected event comes before any data.
    /// </summary>
    private void ReceiveLocked(DtlsUdpSession session, TimeSpan now, ReadOnlySpan<byte> datagram)
    {
        if (session.Endpoint.State != DtlsState.Connected)
        {
            session.Endpoint.HandleDatagram(now, datagram);
            OutputLeavesNow(session.Endpoint, now);
            DrainLocked(session);
            return;
        }

        var mark = Mark();
        var received = session.Endpoint.HandleDatagramInto(now, datagram, _receiveBuffer);
        mark = Count(0, mark);
        if (received.Status == DtlsReceiveStatus.Received)
        {
            Deliver(session, _receiveBuffer.AsSpan(0, received.Length));
        }

        mark = Count(1, mark);
        DrainLocked(session);
        Count(2, mark);
    }

    private long Mark() => MeasureAllocations ? GC.GetAllocatedBytesForCurrentThread() : 0;

    /// <summary>Test hook: adds what was allocated since <paramref name="mark"/> to bucket <paramref name="bucket"/>.</summary>
    private long Count(int bucket, long mark)
    {
        if (!MeasureAllocations)
        {
            return 0;
        }

        var now = GC.GetAllocatedBytesForCurrentThread();
        AllocatedBy[bucket] += now - mark;
        return GC.GetAllocatedBytesForCurrentThread();
    }

    /// <summary>Test hook: bytes allocated by step (0 open, 1 deliver, 2 drain after receive, 3 seal, 4 send, 5 drain after send).</summary>
    internal long[] AllocatedBy { get; } = new long[6];

    /// <summary>One received record to its reader: the session's buffer, or an event (then one array per record).</summary>
    private void Deliver(DtlsUdpSession session, ReadOnlySpan<byte> record)
    {
        if (session.Received is { } buffer)
        {
            if (!buffer.TryWrite(record) && session.Removal is null && !session.Faulted)
            {
                _group.CountEventDropped();
                _metrics.Drop("receive_buffer_full");
            }

            return;
        }

        Publish(session, new DtlsApplicationData(record.ToArray()));
    }

    /// <summary>
    /// Application data from the application: sealed straight into the loop's send buffer and sent (no queue, no copy, no
    /// allocation), then the endpoint is drained as after any call; the loop is woken only when that armed an earlier timer.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not connected, or the session is no longer served.</exception>
    /// <exception cref="ArgumentException">Larger than the endpoint's maximum application-data size.</exception>
    internal void SendApplicationData(DtlsUdpSession session, ReadOnlySpan<byte> data)
    {
        bool wake;
        lock (_gate)
        {
            if (session.Removal is not null || session.Faulted)
            {
                throw new InvalidOperationException($"The session with {session.Remote} is no longer served ({(session.Faulted ? "failed" : session.Removal)}).");
            }

            var allocated = MeasureAllocations ? GC.GetAllocatedBytesForCurrentThread() : 0;
            var scanBefore = _nextScan;
            var mark = Mark();
            var status = session.Endpoint.TrySealApplicationData(data, _sendBuffer, out var length);
            mark = Count(3, mark);
            switch (status)
            {
                case DtlsSealStatus.Sealed:
                    SendTo(_sendBuffer.AsSpan(0, length), session);
                    mark = Count(4, mark);
                    break;
                case DtlsSealStatus.NotConnected:
                    throw new InvalidOperationException($"The session with {session.Remote} is not connected ({session.Endpoint.State}).");
                case DtlsSealStatus.TooLarge:
                    throw new ArgumentException($"Application data of {data.Length} bytes is larger than the {session.Endpoint.MaxApplicationDataSize} bytes one record carries.", nameof(data));
                default:
                    session.Endpoint.Send(data); // cannot happen with a 64 KiB buffer; the queued path then
                    break;
            }

            SafeDrainLocked(session);
            Count(5, mark);
            wake = _nextScan < scanBefore;
            if (MeasureAllocations)
            {
                AllocatedOnRecordPath += GC.GetAllocatedBytesForCurrentThread() - allocated;
            }
        }

        if (wake)
        {
            Wake();
        }
    }

    /// <summary>Test hook: count the bytes the record paths (receive, deliver, seal, send, drain) allocate on the threads running them.</summary>
    internal bool MeasureAllocations { get; set; }

    /// <summary>Bytes allocated on the record paths while <see cref="MeasureAllocations"/> was on.</summary>
    internal long AllocatedOnRecordPath { get; private set; }

    /// <summary>A datagram from a peer without a session (or a new ClientHello from one with a session): the cookie front decides.</summary>
    private void Admit(IPEndPoint remote, ReadOnlySpan<byte> datagram, TimeSpan now, DtlsUdpSession? replacing)
    {
        DtlsListenerDecision decision;
        int length, copies;
        DtlsEndpoint? endpoint;
        byte[]? acceptedRandom;
        try
        {
            decision = _listener!.HandleDatagram(now, remote, datagram, _sendBuffer, out length, out copies, out endpoint, out acceptedRandom);
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
                _group.Reserve(remote.Address);
            }
            else if (!_group.TryReserve(remote.Address, out var refusedBy))
            {
                // Another loop took the last place since the check: the caps are global, so this peer waits like any other.
                LogCapDrop(remote, refusedBy!);
                DisposeQuietly(endpoint!);
                return;
            }

            var created = new DtlsUdpSession(this, remote, endpoint!, acceptedRandom, now, _limits.SessionReceiveBufferSize);
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

                OutputLeavesNow(created.Endpoint, now);
                DrainLocked(created);
            }
            catch (Exception ex)
            {
                FailLocked(created, ex);
            }
        }
    }

    /// <summary>
    /// The handshake work of a call made at <paramref name="handledAt"/> is done and its output is about to be drained and
    /// sent: the clock is read again and the engine told when its output really leaves, so that a flight armed in a slow call
    /// (the first handshake of a fresh process: JIT, key generation; a loaded machine) gets its whole first retransmit
    /// timeout on the wire instead of losing the CPU time to it (docs/reliability.md). The engine is told the truth, never
    /// fires early, and stays sans-IO: the driver owns the clock.
    /// </summary>
    private void OutputLeavesNow(DtlsEndpoint endpoint, TimeSpan handledAt)
    {
        var sentAt = Now;
        if (sentAt > handledAt)
        {
            endpoint.OutputLeft(handledAt, sentAt);
        }
    }

    /// <summary>Routes to a session whose place in the group's caps was taken.</summary>
    private void AddLocked(DtlsUdpSession session)
    {
        _sessions[session.Remote] = session;
        _byAddress[session.RemoteAddress] = session;
    }

    private static void DisposeQuietly(DtlsEndpoint endpoint)
    {
        try
        {
            endpoint.Dispose();
        }
        catch (Exception)
        {
            // Nothing else to do; the secrets then go with the garbage collector.
        }
    }

    private enum HelloFromKnownAddress
    {
        /// <summary>Not a ClientHello fragment of another handshake: the session's own traffic.</summary>
        Session,

        /// <summary>A ClientHello of a new handshake (another random, or a later fragment of one): the listener's.</summary>
        New,
    }

    /// <summary>
    /// RFC 6347 4.2.8 for a datagram from the address of a server session: the first fragment of a ClientHello with another
    /// random than the session's starts a new handshake (marked on the session), and until the session is replaced the later
    /// fragments of that hello (epoch 0, offset above 0) belong to it as well; the session's own client's hello, or any other
    /// datagram (its client is still there), clears the mark. Anything else is the session's. While marked, a session still
    /// in its handshake sends nothing (<see cref="DrainLocked"/>): its retransmitted flight would reach the new client and be
    /// taken as the answer to the new hello.
    /// </summary>
    private static HelloFromKnownAddress ClassifyClientHello(DtlsUdpSession session, ReadOnlySpan<byte> datagram)
    {
        if (session.ClientRandom is not { } known)
        {
            return HelloFromKnownAddress.Session;
        }

        if (!DtlsServerListener.TryReadClientHelloFragment(datagram, out _, out var handshake, out var fragment))
        {
            session.NewHelloPending = false;
            return HelloFromKnownAddress.Session;
        }

        if (handshake.FragmentOffset == 0)
        {
            var isNew = ClientHello.TryReadPrefix(fragment, out _, out var random, out _, out _, out _) && !random.SequenceEqual(known);
            session.NewHelloPending = isNew;
            return isNew ? HelloFromKnownAddress.New : HelloFromKnownAddress.Session;
        }

        return session.NewHelloPending ? HelloFromKnownAddress.New : HelloFromKnownAddress.Session;
    }

    private TimeSpan FireTimersLocked()
    {
        var now = Now;
        if (now < _nextScan)
        {
            // Nothing is due: no deadline of any session is earlier (drains lower _nextScan when they bring one).
            return _nextScan;
        }

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
                    RemoveIdleLocked(session);
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
        _nextScan = next;
        return next;
    }

    /// <summary>Its own method: a log closure capturing the scan's loop variable would be allocated for every session of every
    /// timer scan, idle or not.</summary>
    private void RemoveIdleLocked(DtlsUdpSession session)
    {
        SafeLog(l => NetLog.SessionIdle(l, session.Remote, _limits.IdleTimeout));
        RemoveLocked(session, DtlsSessionRemovalReason.IdleTimeout);
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
                    if (session.NewHelloPending && session.Endpoint.State == DtlsState.Connecting)
                    {
                        // RFC 6347 4.2.8: a new hello came from this half-open session's address (its client restarted on
                        // the same port): the session's flight would now reach the new client, not its own, so it is held
                        // back until the cookie exchange replaces the session or the old client shows up again. A spoofed
                        // hello delays the real client's handshake by at most one of its own retransmissions.
                        _metrics.Drop("superseded_session_send");
                    }
                    else
                    {
                        SendTo(_sendBuffer.AsSpan(0, output.DatagramLength), session);
                    }
                }
                else if (output.Kind == DtlsOutputKind.Event)
                {
                    session.Record(output.Event!);
                    _drained.Add(output.Event!);
                }
                else
                {
                    session.Deadline = output.Deadline;
                    var due = Serving ? Min(output.Deadline, IdleDeadline(session)) : output.Deadline;
                    if (due < _nextScan || (Serving && session.Endpoint.State is DtlsState.Failed or DtlsState.Closed))
                    {
                        _nextScan = TimeSpan.Zero; // the next timer pass scans every session again
                    }

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
        if (session.Received is { } received)
        {
            if (e is DtlsApplicationData data)
            {
                Deliver(session, data.Data); // a second record of one datagram, or one that came with the handshake's last flight
                return;
            }

            if (e is DtlsClosed or DtlsFailed or DtlsSessionRemoved)
            {
                received.End(); // after every record before it; the reader gets those first
            }
        }

        if (e is DtlsApplicationData && _group.UnreadEvents >= _limits.EventQueueCapacity)
        {
            // Overflow policy: data is dropped and counted (the peer's protocol recovers it like a lost datagram); lifecycle
            // events are never dropped and stay bounded because no new session starts while the queue is full.
            _group.CountEventDropped();
            _metrics.Drop("event_queue_full");
            return;
        }

        _group.Write(new DtlsSessionEvent(session, e));
    }

    private void CountFault(Exception ex, string message)
    {
        _group.CountFault();

        _metrics.Fault(Driver);
        SafeLog(l => NetLog.DriverFault(l, ex, message));
    }

    /// <summary>The boundary: one session's failure fails and removes that session only.</summary>
    private void FailLocked(DtlsUdpSession session, Exception ex)
    {
        _group.CountFault();
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
            _byAddress.Remove(session.RemoteAddress);
            _group.Release(session.Remote.Address);
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
            session.Received?.End();
            DisposeEndpointLocked(session);
        }
    }

    internal void OnRemovedEventRead(DtlsUdpSession session)
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

    /// <summary>Sends to a session's peer through its serialized address (no per-datagram allocation).</summary>
    private void SendTo(ReadOnlySpan<byte> datagram, DtlsUdpSession session)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, session.RemoteAddress);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            LogSendFailed(session.Remote, ex);
        }
    }

    /// <summary>Its own method: a log closure capturing a parameter of <see cref="SendTo(ReadOnlySpan{byte}, DtlsUdpSession)"/>
    /// would be allocated on every send, failed or not.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void LogSendFailed(IPEndPoint remote, Exception ex) => SafeLog(l => NetLog.SendFailed(l, remote, ex.Message));

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
                session.Received?.End();
                DisposeEndpointLocked(session);
            }

            foreach (var session in _removedUnread)
            {
                DisposeEndpointLocked(session);
            }

            _removedUnread.Clear();
        }

        if (_run is null)
        {
            _group.Complete(); // never started: nothing else completes the queue
        }

        _stop.Dispose();
    }
}
