using Airlift.WebRtc;

namespace Airlift.Cli.Serve;

/// <summary>
/// What one echo session keeps and sends because of its peer. Immutable; <see cref="Validate"/> names the first bad value.
/// The echo itself sends at most what it received (an RTP packet comes back as one packet of the same length, RTCP is
/// translated into no more bytes than it had); only NACK answers (resends from <see cref="RtpHistory"/>) can be larger than
/// what caused them, so they are bounded here: each sequence number once per NACK, each packet at most once per
/// <see cref="NackAnswerOptions.NackResendInterval"/>, at most <see cref="NackAnswerOptions.MaxResendsPerRtcp"/> per received RTCP packet, and all of them
/// under a byte budget earned from what the peer sent (<see cref="NackAnswerOptions.ResendBudgetRatio"/>) and limited in time
/// (<see cref="NackAnswerOptions.ResendBytesPerSecond"/>, <see cref="NackAnswerOptions.ResendBurstBytes"/>). Bytes are counted on the wire: the SRTP packet plus
/// 28 bytes of IPv4 and UDP header.
/// </summary>
internal sealed record EchoLimits
{
    /// <summary>IPv4 (20) + UDP (8) header bytes counted per datagram in budgets and amplification factors.</summary>
    public const int DatagramOverhead = NackAnswerOptions.DatagramOverhead;

    /// <summary>Defaults used by <c>airlift serve</c>.</summary>
    public static EchoLimits Default { get; } = new();

    /// <summary>The bounds on NACK answers (resends from <see cref="RtpHistory"/>): the library's <see cref="NackAnswerOptions"/>.</summary>
    public NackAnswerOptions Nack { get; init; } = NackAnswerOptions.Default;

    /// <summary>Most video sections per session with an <see cref="RtpHistory"/> (each up to 256 x 1500 bytes). Default 4.</summary>
    public int MaxHistoryStreams { get; init; } = 4;

    /// <summary>Most offerer SSRCs remembered per session (declared and learned); RTP from a new SSRC beyond it is dropped and counted. Default 64.</summary>
    public int MaxRemoteSsrcs { get; init; } = 64;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Nack, nameof(Nack));
        Nack.Validate();
        if (MaxHistoryStreams is < 0 or > 16 || MaxRemoteSsrcs is < 1 or > 4096)
        {
            throw new ArgumentException("MaxHistoryStreams must be within 0..16 and MaxRemoteSsrcs within 1..4096.", nameof(MaxHistoryStreams));
        }
    }
}
