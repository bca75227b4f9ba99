namespace Airlift.WebRtc;

/// <summary>What <see cref="NackResponder.TryAnswer"/> decided for one NACKed sequence number.</summary>
public enum NackAnswer
{
    /// <summary>Not in the stream's history: the caller may forward the request to the original sender.</summary>
    NotHeld,

    /// <summary>Resend it: added to <see cref="NackResponder.Accepted"/> and paid from the budget.</summary>
    Resend,

    /// <summary>Already accepted for this RTCP packet (a second NACK of the same compound).</summary>
    Duplicate,

    /// <summary>Resent less than <see cref="NackAnswerOptions.NackResendInterval"/> ago.</summary>
    TooSoon,

    /// <summary>Over <see cref="NackAnswerOptions.MaxResendsPerRtcp"/> for this RTCP packet.</summary>
    OverCap,

    /// <summary>The <see cref="ResendBudget"/> could not pay for it.</summary>
    OverBudget,
}

/// <summary>
/// Decides which NACKed packets (RFC 4585 6.2.1) a session resends from its <see cref="RtpHistory"/>s, so that what a NACK
/// makes us send stays bounded whatever the NACK says: each packet at most once per
/// <see cref="NackAnswerOptions.NackResendInterval"/>, at most <see cref="NackAnswerOptions.MaxResendsPerRtcp"/> per received
/// RTCP packet, every resend paid from the session's <see cref="ResendBudget"/>, and a packet asked for twice in one RTCP
/// packet resent once. Usage per received RTCP packet: <see cref="Begin"/>, <see cref="TryAnswer"/> for each NACKed
/// sequence number (<see cref="Rtcp.RtcpNack.TryRead"/> lists them), then resend <see cref="Accepted"/> from the histories.
/// Time is passed in. Not thread-safe. Allocates nothing per packet once warm.
/// </summary>
public sealed class NackResponder
{
    private readonly RtpHistory?[] _histories;
    private readonly NackAnswerOptions _options;
    private readonly List<(int Stream, ushort Seq)> _accepted = [];
    private TimeSpan _now;

    /// <summary>A responder over one history per stream (null: that stream keeps none).</summary>
    /// <exception cref="ArgumentException">Invalid options.</exception>
    public NackResponder(IReadOnlyList<RtpHistory?> histories, NackAnswerOptions options, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(histories);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _histories = [.. histories];
        _options = options;
        _now = now;
        Budget = new ResendBudget(options, now);
    }

    /// <summary>The byte budget (earn it from every authenticated packet received: <see cref="ResendBudget.Earn"/>).</summary>
    public ResendBudget Budget { get; }

    /// <summary>The packets to resend for the RTCP packet since <see cref="Begin"/>, in request order, each once.</summary>
    public IReadOnlyList<(int Stream, ushort Seq)> Accepted => _accepted;

    /// <summary>The history of stream <paramref name="stream"/>, or null.</summary>
    public RtpHistory? History(int stream) => (uint)stream < (uint)_histories.Length ? _histories[stream] : null;

    /// <summary>Starts the answers to one received RTCP packet.</summary>
    public void Begin(TimeSpan now)
    {
        _accepted.Clear();
        _now = now;
    }

    /// <summary>Decides for NACKed sequence number <paramref name="seq"/> of stream <paramref name="stream"/>.</summary>
    public NackAnswer TryAnswer(int stream, ushort seq)
    {
        var history = History(stream);
        if (history is null || !history.Contains(seq))
        {
            return NackAnswer.NotHeld;
        }

        if (_accepted.Contains((stream, seq)))
        {
            return NackAnswer.Duplicate;
        }

        if (history.ResentWithin(seq, _now, _options.NackResendInterval))
        {
            return NackAnswer.TooSoon;
        }

        if (_accepted.Count >= _options.MaxResendsPerRtcp)
        {
            return NackAnswer.OverCap;
        }

        if (!Budget.TrySpend(_now, history.LengthOf(seq) + NackAnswerOptions.DatagramOverhead))
        {
            return NackAnswer.OverBudget;
        }

        history.MarkResent(seq, _now);
        _accepted.Add((stream, seq));
        return NackAnswer.Resend;
    }
}
