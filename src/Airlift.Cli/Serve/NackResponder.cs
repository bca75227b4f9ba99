namespace Airlift.Cli.Serve;

/// <summary>
/// Decides which NACKed packets (RFC 4585 6.2.1) one session resends from its <see cref="RtpHistory"/>s, so that what a
/// NACK makes us send stays bounded whatever the NACK says: each packet at most once per
/// <see cref="EchoLimits.NackResendInterval"/>, at most <see cref="EchoLimits.MaxResendsPerRtcp"/> per received RTCP packet,
/// and every resend paid from the session's <see cref="ResendBudget"/>; a packet asked for twice in one RTCP packet is
/// resent once (repeats within one NACK are removed by <see cref="EchoRouter"/> before they get here). A packet we hold but do not resend is dropped and counted, never
/// forwarded to the offerer's sender: that one reached us already, so its resend would be an SRTP replay here.
/// Time is passed in. Not thread-safe.
/// </summary>
internal sealed class NackResponder
{
    private readonly RtpHistory?[] _histories;
    private readonly EchoLimits _limits;
    private readonly List<(int Stream, ushort Seq)> _accepted = [];
    private TimeSpan _now;

    public NackResponder(IReadOnlyList<RtpHistory?> histories, EchoLimits limits, TimeSpan now)
    {
        _histories = [.. histories];
        _limits = limits;
        _now = now;
        Budget = new ResendBudget(limits, now);
    }

    public ResendBudget Budget { get; }

    /// <summary>The packets to resend for the RTCP packet since <see cref="Begin"/>, in request order, each once.</summary>
    public IReadOnlyList<(int Stream, ushort Seq)> Accepted => _accepted;

    public RtpHistory? History(int stream) => stream < _histories.Length ? _histories[stream] : null;

    /// <summary>Starts the answers to one received RTCP packet.</summary>
    public void Begin(TimeSpan now)
    {
        _accepted.Clear();
        _now = now;
    }

    /// <summary>
    /// A NACKed sequence number of section <paramref name="stream"/>: false when we do not hold it (the caller forwards the
    /// request); true when we do, whether it is resent (added to <see cref="Accepted"/>) or dropped and counted.
    /// </summary>
    public bool TryAnswer(int stream, ushort seq, ref RtcpCounts counts)
    {
        var history = History(stream);
        if (history is null || !history.Contains(seq))
        {
            return false;
        }

        if (_accepted.Contains((stream, seq)))
        {
            counts.NackDuplicate++; // a second NACK packet of the same compound
        }
        else if (history.ResentWithin(seq, _now, _limits.NackResendInterval))
        {
            counts.NackTooSoon++;
        }
        else if (_accepted.Count >= _limits.MaxResendsPerRtcp)
        {
            counts.NackOverCap++;
        }
        else if (!Budget.TrySpend(_now, history.LengthOf(seq) + EchoLimits.DatagramOverhead))
        {
            counts.NackOverBudget++;
        }
        else
        {
            history.MarkResent(seq, _now);
            _accepted.Add((stream, seq));
            counts.NackServed++;
        }

        return true;
    }
}
