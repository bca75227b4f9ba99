using Airlift.WebRtc;

namespace Airlift.Cli.Serve;

/// <summary>
/// What one echo session keeps and sends because of its peer. Immutable; <see cref="Validate"/> names the first bad value.
/// The echo itself sends at most what it received (an RTP packet comes back as one packet of the same length, RTCP is
/// translated into no more bytes than it had); only NACK answers (resends from <see cref="RtpHistory"/>) can be larger than
/// what caused them, so they are bounded here: each sequence number once per NACK, each packet at most once per
/// <see cref="NackResendInterval"/>, at most <see cref="MaxResendsPerRtcp"/> per received RTCP packet, and all of them
/// under a byte budget earned from what the peer sent (<see cref="ResendBudgetRatio"/>) and limited in time
/// (<see cref="ResendBytesPerSecond"/>, <see cref="ResendBurstBytes"/>). Bytes are counted on the wire: the SRTP packet plus
/// 28 bytes of IPv4 and UDP header.
/// </summary>
internal sealed record EchoLimits
{
    /// <summary>IPv4 (20) + UDP (8) header bytes counted per datagram in budgets and amplification factors.</summary>
    public const int DatagramOverhead = NackAnswerOptions.DatagramOverhead;

    /// <summary>Defaults used by <c>airlift serve</c>.</summary>
    public static EchoLimits Default { get; } = new();

    /// <summary>
    /// NACK answer bytes earned per byte received from the peer (every authenticated SRTP and SRTCP packet). Default 0.5:
    /// repairing up to half of what the peer sends is far more than any real loss needs, and bounds the session's whole
    /// amplification factor by 1 + 0.5.
    /// </summary>
    public double ResendBudgetRatio { get; init; } = 0.5;

    /// <summary>Most NACK answer bytes sent at once (the earned credit and the time bucket both hold at most this). Default 64 KiB.</summary>
    public int ResendBurstBytes { get; init; } = 64 * 1024;

    /// <summary>NACK answer bytes per second at most, whatever was earned. Default 512 KiB/s (4 Mbit/s, above a 720p camera's whole stream).</summary>
    public int ResendBytesPerSecond { get; init; } = 512 * 1024;

    /// <summary>
    /// A packet is resent at most once within this time (about a round trip: a packet NACKed again sooner is most likely
    /// still on its way). Default 20 ms.
    /// </summary>
    public TimeSpan NackResendInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Most packets resent because of one received RTCP packet (all its NACKs together). Default 64.</summary>
    public int MaxResendsPerRtcp { get; init; } = 64;

    /// <summary>Most video sections per session with an <see cref="RtpHistory"/> (each up to 256 x 1500 bytes). Default 4.</summary>
    public int MaxHistoryStreams { get; init; } = 4;

    /// <summary>Most offerer SSRCs remembered per session (declared and learned); RTP from a new SSRC beyond it is dropped and counted. Default 64.</summary>
    public int MaxRemoteSsrcs { get; init; } = 64;

    /// <summary>The NACK answer bounds of the library's <see cref="NackResponder"/>.</summary>
    public NackAnswerOptions ToNackOptions() => new()
    {
        ResendBudgetRatio = ResendBudgetRatio,
        ResendBurstBytes = ResendBurstBytes,
        ResendBytesPerSecond = ResendBytesPerSecond,
        NackResendInterval = NackResendInterval,
        MaxResendsPerRtcp = MaxResendsPerRtcp,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (double.IsNaN(ResendBudgetRatio) || ResendBudgetRatio is < 0 or > 4)
        {
            throw new ArgumentException("ResendBudgetRatio must be within 0..4.", nameof(ResendBudgetRatio));
        }

        if (ResendBurstBytes is < 0 or > 16 * 1024 * 1024 || ResendBytesPerSecond is < 0 or > 1024 * 1024 * 1024)
        {
            throw new ArgumentException("ResendBurstBytes must be within 0..16 MiB and ResendBytesPerSecond within 0..1 GiB.", nameof(ResendBurstBytes));
        }

        if (NackResendInterval < TimeSpan.Zero || NackResendInterval > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException("NackResendInterval must be within 0..10 s.", nameof(NackResendInterval));
        }

        if (MaxResendsPerRtcp is < 0 or > RtpHistory.Capacity || MaxHistoryStreams is < 0 or > 16 || MaxRemoteSsrcs is < 1 or > 4096)
        {
            throw new ArgumentException($"MaxResendsPerRtcp must be within 0..{RtpHistory.Capacity}, MaxHistoryStreams within 0..16 and MaxRemoteSsrcs within 1..4096.", nameof(MaxResendsPerRtcp));
        }
    }
}
