namespace Airlift.Dtls.Reliability;

/// <summary>What <see cref="FlightPacing.PathChanged"/> decided.</summary>
internal enum PathChangeDecision
{
    /// <summary>Resend now (the budget allows it and the spacing passed).</summary>
    Resend,

    /// <summary>Inside the spacing of the last path-change resend: resend at the returned time.</summary>
    Deferred,

    /// <summary>The per-flight triggered-resend budget is spent.</summary>
    Refused,
}

/// <summary>
/// The retransmission rules both engines share (RFC 6347 4.2.4, RFC 9147 5.8): the first timeout of a flight from the
/// measured or given RTT, Karn's rule for RTT samples, the per-flight budget and spacing of resends a peer or a path change
/// can trigger, and path-MTU fallback after repeated timeouts while the peer shows it is alive. The DTLS 1.2 engine resends
/// whole flights, the DTLS 1.3 engine only unacknowledged records; both ask this class when, how often and at what size.
/// </summary>
internal sealed class FlightPacing(DtlsOptions options, DtlsStats stats)
{
    private bool _rttSampled;
    private TimeSpan? _lastTriggered;
    private TimeSpan? _lastPathResend;
    private int _triggered;
    private int _fallbackStep;

    /// <summary>The smoothed RTT measured on flights sent once (Karn's rule), if any.</summary>
    public TimeSpan? SmoothedRtt { get; set; }

    /// <summary>Timer expiries of the current flight since it was sent (or since the last size change).</summary>
    public int FlightTimeouts { get; private set; }

    /// <summary>The current flight was resent at least once (its RTT sample would be ambiguous).</summary>
    public bool Retransmitted { get; private set; }

    /// <summary>The peer resent its previous flight while we waited: it is alive, so our datagrams may be too large.</summary>
    public bool PeerRetransmitted { get; set; }

    /// <summary>Largest datagram of this session's peer that reached us: the path carries that size.</summary>
    public int LargestPeerDatagram { get; set; }

    /// <summary>When the current flight was first sent.</summary>
    public TimeSpan SentAt { get; private set; }

    /// <summary>When anything of the current flight was last (re)sent.</summary>
    public TimeSpan LastTransmitAt { get; set; }

    /// <summary>
    /// First retransmission timeout of a new flight: the configured value, else clamp(2 x RTT, 50 ms, 3 s) from the
    /// RTT measured on earlier flights or the caller's estimate, else 400 ms.
    /// </summary>
    public TimeSpan InitialTimeout()
    {
        if (options.InitialRetransmitTimeout is { } fixedTimeout)
        {
            return fixedTimeout;
        }

        var rtt = SmoothedRtt ?? options.RttEstimate;
        return rtt is { } r
            ? TimeSpan.FromTicks(Math.Clamp(2 * r.Ticks, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(3).Ticks))
            : options.EffectiveInitialRetransmitTimeout;
    }

    /// <summary>A new flight goes out: its budget, its timeouts and its RTT sample start over.</summary>
    public void StartFlight(TimeSpan now)
    {
        FlightTimeouts = 0;
        Retransmitted = false;
        SentAt = now;
        _rttSampled = false;
        _triggered = 0;
        PeerRetransmitted = false;
        _lastTriggered = null;
    }

    /// <summary>The peer answered the current flight: one RTT sample per flight, and only for flights sent once.</summary>
    public void SampleRtt(TimeSpan now)
    {
        if (_rttSampled || Retransmitted)
        {
            return;
        }

        _rttSampled = true;
        var sample = now - SentAt;
        SmoothedRtt = SmoothedRtt is { } srtt ? TimeSpan.FromTicks((7 * srtt.Ticks + sample.Ticks) / 8) : sample;
    }

    /// <summary>
    /// May the peer make us resend now? At most one per initial-timeout interval unless the trigger was authenticated
    /// (no one but the peer can produce it), and never more than <see cref="DtlsOptions.MaxTriggeredResends"/> per flight.
    /// A yes is counted as a triggered retransmission, a no as a suppressed one.
    /// </summary>
    public bool TryPeerTriggeredResend(TimeSpan now, bool authenticated)
    {
        if (_triggered >= options.MaxTriggeredResends || (!authenticated && _lastTriggered is { } last && now - last < InitialTimeout()))
        {
            stats.SuppressedRetransmissions++;
            return false;
        }

        _triggered++;
        _lastTriggered = now;
        Retransmitted = true;
        stats.TriggeredRetransmissions++;
        options.Metrics.Retransmissions.Add(1, new KeyValuePair<string, object?>("trigger", "peer"));
        return true;
    }

    /// <summary>
    /// The ICE path changed: resend now, later (<paramref name="deferUntil"/>), or not at all. Path-change resends share the
    /// per-flight budget and are spaced by <see cref="DtlsOptions.MinPathChangeResendInterval"/>, so a peer flapping between
    /// tuples cannot make us amplify; a resend starts the path over (no fallback carried, no peer size known).
    /// </summary>
    public PathChangeDecision PathChanged(TimeSpan now, out TimeSpan deferUntil)
    {
        deferUntil = default;
        var interval = options.MinPathChangeResendInterval ?? InitialTimeout();
        if (_triggered >= options.MaxTriggeredResends)
        {
            stats.SuppressedRetransmissions++;
            return PathChangeDecision.Refused;
        }

        if (_lastPathResend is { } last && now - last < interval)
        {
            stats.SuppressedRetransmissions++;
            deferUntil = last + interval;
            return PathChangeDecision.Deferred;
        }

        _triggered++;
        _lastPathResend = now;
        Retransmitted = true;
        stats.TriggeredRetransmissions++;
        _fallbackStep = 0;
        FlightTimeouts = 0;
        LargestPeerDatagram = 0;
        return PathChangeDecision.Resend;
    }

    /// <summary>The retransmission timer of the current flight expired.</summary>
    public void TimedOut()
    {
        FlightTimeouts++;
        Retransmitted = true;
        stats.TimeoutRetransmissions++;
        options.Metrics.Retransmissions.Add(1, new KeyValuePair<string, object?>("trigger", "timeout"));
        _lastTriggered = null;
    }

    /// <summary>
    /// A new path has its own MTU: a datagram size lowered on the old one does not carry over. Returns what to log when the
    /// size in force (<see cref="DtlsStats.EffectiveMaxDatagramSize"/>) went back to the configured one, else null.
    /// </summary>
    public string? RestoreDatagramSize()
    {
        if (stats.EffectiveMaxDatagramSize == options.MaxDatagramSize)
        {
            return null;
        }

        stats.EffectiveMaxDatagramSize = options.MaxDatagramSize;
        return $"path changed: datagram size back to {options.MaxDatagramSize}";
    }

    /// <summary>
    /// Path-MTU fallback after a timeout: two timeouts of a flight whose datagrams exceed a fallback size, while the peer
    /// shows it is alive, look like a black hole rather than plain loss, and the size in force
    /// (<see cref="DtlsStats.EffectiveMaxDatagramSize"/>) is lowered. Never below a datagram size the peer's own datagrams
    /// proved (<see cref="DtlsOptions.FallbackAboveLargestPeerDatagram"/>): that would only add datagrams, and loss exposure,
    /// to a flight lost to plain loss. Returns what to log, or null when nothing was decided.
    /// </summary>
    public string? LowerDatagramSize(int flightLargestDatagram)
    {
        if (FlightTimeouts < 2 || !PeerRetransmitted)
        {
            return null;
        }

        var effective = stats.EffectiveMaxDatagramSize;

        var floor = options.FallbackAboveLargestPeerDatagram ? LargestPeerDatagram : 0;
        var ladder = options.DatagramSizeFallbacks;
        while (_fallbackStep < ladder.Count)
        {
            var candidate = ladder[_fallbackStep++];
            if (candidate < floor)
            {
                _fallbackStep = ladder.Count;
                return $"flight timed out {FlightTimeouts} times, but the peer's {floor}-byte datagrams reach us: keeping datagram size {effective}";
            }

            if (candidate < effective && candidate < flightLargestDatagram)
            {
                var why = $"flight timed out {FlightTimeouts} times with datagrams up to {flightLargestDatagram} bytes: lowering datagram size {effective} -> {candidate}";
                stats.EffectiveMaxDatagramSize = candidate;
                stats.DatagramSizeFallbacks++;
                FlightTimeouts = 0;
                return why;
            }
        }

        return null;
    }
}
