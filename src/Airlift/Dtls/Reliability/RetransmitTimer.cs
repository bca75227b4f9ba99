namespace Airlift.Dtls.Reliability;

/// <summary>The engine's timers: one slot each, in one table (STYLE.md: timers keyed by an enum).</summary>
internal enum EngineTimer
{
    /// <summary>The whole handshake must finish by then (<see cref="DtlsOptions.HandshakeTimeout"/>).</summary>
    HandshakeDeadline,

    /// <summary>Flight retransmission (RFC 6347 4.2.4).</summary>
    Retransmit,

    /// <summary>Part of the peer's next flight arrived and then nothing more: the rest was probably lost; resend ours to ask again.</summary>
    PartialFlight,

    /// <summary>End of keeping our final flight for the peer's retransmissions.</summary>
    FinalFlightRetention,

    /// <summary>A path change came inside <see cref="DtlsOptions.MinPathChangeResendInterval"/> of the last path-change resend: move the flight then.</summary>
    DeferredPathResend,

    /// <summary>DTLS 1.3: part of the peer's flight arrived; acknowledge what we have if the rest does not follow (RFC 9147 7.1).</summary>
    Ack,
}

/// <summary>Absolute deadlines of the <see cref="EngineTimer"/>s.</summary>
internal sealed class TimerTable
{
    private readonly TimeSpan?[] _at = new TimeSpan?[Enum.GetValues<EngineTimer>().Length];

    // The `now` a new flight armed its first retransmit timeout with (null once it fired, was cleared or set otherwise).
    private TimeSpan? _flightArmedAt;

    public void Set(EngineTimer timer, TimeSpan at)
    {
        _at[(int)timer] = at;
        if (timer == EngineTimer.Retransmit)
        {
            _flightArmedAt = null;
        }
    }

    public void Clear(EngineTimer timer)
    {
        _at[(int)timer] = null;
        if (timer == EngineTimer.Retransmit)
        {
            _flightArmedAt = null;
        }
    }

    /// <summary>A flight was (re)sent at <paramref name="now"/>: its first retransmit timeout expires <paramref name="delay"/> later.</summary>
    public void StartFlight(TimeSpan now, TimeSpan delay)
    {
        _at[(int)EngineTimer.Retransmit] = now + delay;
        _flightArmedAt = now;
    }

    /// <summary>
    /// The output of the call made at <paramref name="handledAt"/> left at <paramref name="sentAt"/> (the driver read its
    /// clock again after slow work, e.g. the first handshake of a fresh process): a flight sent in that call gets its full
    /// first timeout from the moment it left. Only ever moves that one timer later; anything else is left alone.
    /// </summary>
    public void OutputLeft(TimeSpan handledAt, TimeSpan sentAt)
    {
        if (_flightArmedAt == handledAt && sentAt > handledAt && _at[(int)EngineTimer.Retransmit] is { } at)
        {
            _at[(int)EngineTimer.Retransmit] = at + (sentAt - handledAt);
            _flightArmedAt = sentAt;
        }
    }

    public TimeSpan? Get(EngineTimer timer) => _at[(int)timer];

    public bool IsDue(EngineTimer timer, TimeSpan now) => _at[(int)timer] is { } at && now >= at;

    public void ClearAll()
    {
        Array.Clear(_at);
        _flightArmedAt = null;
    }

    /// <summary>The earliest deadline, or <see cref="DtlsOutput.NoDeadline"/>.</summary>
    public TimeSpan Next
    {
        get
        {
            var next = DtlsOutput.NoDeadline;
            foreach (var at in _at)
            {
                if (at is { } t && t < next)
                {
                    next = t;
                }
            }

            return next;
        }
    }
}

/// <summary>
/// Flight retransmission backoff: each new flight starts at the initial timeout (from the caller's RTT estimate, a
/// measured flight RTT, or the 400 ms default), every expiry doubles it up to a cap, and each delay gets seeded relative
/// jitter so that peers started together do not retransmit in lockstep. Pure arithmetic; the deadline lives in the
/// <see cref="TimerTable"/>.
/// </summary>
internal sealed class RetransmitTimer
{
    private readonly TimeSpan _cap;
    private readonly double _jitter;
    private readonly RandomSource _random;

    public RetransmitTimer(TimeSpan cap, double jitter, RandomSource random)
    {
        _cap = cap;
        _jitter = jitter;
        _random = random;
    }

    /// <summary>The un-jittered timeout of the current interval.</summary>
    public TimeSpan Current { get; private set; }

    /// <summary>Starts over for a new flight; returns the delay until the first expiry.</summary>
    public TimeSpan StartNewFlight(TimeSpan initial)
    {
        Current = initial <= _cap ? initial : _cap;
        return Jittered();
    }

    /// <summary>After an expiry: doubles (to the cap); returns the delay until the next expiry.</summary>
    public TimeSpan Backoff()
    {
        Current = TimeSpan.FromTicks(Math.Min(_cap.Ticks, Current.Ticks * 2));
        return Jittered();
    }

    private TimeSpan Jittered() => TimeSpan.FromTicks((long)(Current.Ticks * (1 + _jitter * (2 * _random.NextDouble() - 1))));
}
