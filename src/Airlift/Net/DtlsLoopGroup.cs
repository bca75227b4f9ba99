using System.Net;
using System.Threading.Channels;
using Airlift.Dtls;

namespace Airlift.Net;

/// <summary>
/// What the receive loops of one <see cref="DtlsUdpServer"/> (or the one loop of a <see cref="DtlsUdpClient"/>) share:
/// the event queue, the session caps (global, not per loop), the drop counters and the clock origin. Thread-safe:
/// counters are atomic, the caps are checked and taken under one small lock (only when a session starts or ends).
/// </summary>
internal sealed class DtlsLoopGroup
{
    private readonly Lock _caps = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Channel<DtlsSessionEvent> _events = Channel.CreateUnbounded<DtlsSessionEvent>(new UnboundedChannelOptions { SingleReader = false }); // multi-reader: it counts
    private int _sessions;
    private int _loopsRunning;
    private long _droppedSessionLimit;
    private long _droppedAddressLimit;
    private long _droppedEventBacklog;
    private long _eventsDropped;
    private long _sessionFaults;

    public DtlsLoopGroup(DtlsSocketLoopLimits limits, TimeProvider time)
    {
        Limits = limits;
        Time = time;
        Origin = time.GetTimestamp();
        Events = new SessionEventReader(_events.Reader);
    }

    public DtlsSocketLoopLimits Limits { get; }

    public TimeProvider Time { get; }

    public long Origin { get; }

    /// <summary>Events of every session of every loop; reading a <see cref="DtlsSessionRemoved"/> disposes that session's endpoint.</summary>
    public ChannelReader<DtlsSessionEvent> Events { get; }

    public int UnreadEvents => _events.Reader.Count;

    public int SessionCount => Volatile.Read(ref _sessions);

    public long DroppedSessionLimit => Interlocked.Read(ref _droppedSessionLimit);

    public long DroppedAddressLimit => Interlocked.Read(ref _droppedAddressLimit);

    public long DroppedEventBacklog => Interlocked.Read(ref _droppedEventBacklog);

    public long EventsDropped => Interlocked.Read(ref _eventsDropped);

    public long SessionFaults => Interlocked.Read(ref _sessionFaults);

    public void CountEventBacklogDrop() => Interlocked.Increment(ref _droppedEventBacklog);

    public void CountEventDropped() => Interlocked.Increment(ref _eventsDropped);

    public void CountFault() => Interlocked.Increment(ref _sessionFaults);

    /// <summary>Whether a new session of <paramref name="address"/> would fit the caps now (a refusal is counted).</summary>
    public bool CheckCaps(IPAddress address, out string? refusedBy)
    {
        lock (_caps)
        {
            return Fits(address, out refusedBy);
        }
    }

    private bool Fits(IPAddress address, out string? refusedBy)
    {
        if (_sessions >= Limits.MaxSessions)
        {
            Interlocked.Increment(ref _droppedSessionLimit);
            refusedBy = "session_limit";
            return false;
        }

        if (_perAddress.GetValueOrDefault(address) >= Limits.MaxSessionsPerAddress)
        {
            Interlocked.Increment(ref _droppedAddressLimit);
            refusedBy = "address_limit";
            return false;
        }

        refusedBy = null;
        return true;
    }

    /// <summary>
    /// Takes a place for a new session of <paramref name="address"/> within <see cref="DtlsSocketLoopLimits.MaxSessions"/> and
    /// <see cref="DtlsSocketLoopLimits.MaxSessionsPerAddress"/>, across every loop; false (counted) when a cap is reached.
    /// </summary>
    public bool TryReserve(IPAddress address, out string? refusedBy)
    {
        lock (_caps)
        {
            if (!Fits(address, out refusedBy))
            {
                return false;
            }

            _perAddress[address] = _perAddress.GetValueOrDefault(address) + 1;
            _sessions++;
            return true;
        }
    }

    /// <summary>Takes a place without checking the caps (a client's own session, or a session replacing another of the same peer).</summary>
    public void Reserve(IPAddress address)
    {
        lock (_caps)
        {
            _perAddress[address] = _perAddress.GetValueOrDefault(address) + 1;
            _sessions++;
        }
    }

    /// <summary>Gives back the place of a session that is no longer routed to.</summary>
    public void Release(IPAddress address)
    {
        lock (_caps)
        {
            var left = _perAddress.GetValueOrDefault(address) - 1;
            if (left > 0)
            {
                _perAddress[address] = left;
            }
            else
            {
                _perAddress.Remove(address);
            }

            _sessions--;
        }
    }

    public void Write(DtlsSessionEvent e) => _events.Writer.TryWrite(e);

    public void LoopStarted() => Interlocked.Increment(ref _loopsRunning);

    /// <summary>A loop ended; the event queue completes when the last one has.</summary>
    public void LoopEnded()
    {
        if (Interlocked.Decrement(ref _loopsRunning) <= 0)
        {
            _events.Writer.TryComplete();
        }
    }

    public void Complete() => _events.Writer.TryComplete();

    /// <summary>The public reader: disposes a session's endpoint when its <see cref="DtlsSessionRemoved"/> event is read.</summary>
    private sealed class SessionEventReader(ChannelReader<DtlsSessionEvent> inner) : ChannelReader<DtlsSessionEvent>
    {
        public override Task Completion => inner.Completion;

        public override bool CanCount => inner.CanCount;

        public override int Count => inner.Count;

        public override bool CanPeek => inner.CanPeek;

        public override bool TryPeek(out DtlsSessionEvent item) => inner.TryPeek(out item!);

        public override bool TryRead(out DtlsSessionEvent item)
        {
            if (!inner.TryRead(out item!))
            {
                return false;
            }

            if (item.Event is DtlsSessionRemoved)
            {
                item.Session.Loop.OnRemovedEventRead(item.Session);
            }

            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => inner.WaitToReadAsync(cancellationToken);
    }
}
