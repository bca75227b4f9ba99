namespace Airlift.WebRtc;

/// <summary>
/// Bounds on what NACKs (RFC 4585 6.2.1) from a peer can make a server resend: each packet at most once per
/// <see cref="NackResendInterval"/>, at most <see cref="MaxResendsPerRtcp"/> per received RTCP packet, and all of them under
/// a byte budget earned from what the peer sent (<see cref="ResendBudgetRatio"/>) and limited in time
/// (<see cref="ResendBytesPerSecond"/>, <see cref="ResendBurstBytes"/>). Bytes are counted on the wire: the SRTP packet plus
/// <see cref="DatagramOverhead"/>. Immutable; <see cref="Validate"/> names the first bad value.
/// </summary>
public sealed record NackAnswerOptions
{
    /// <summary>IPv4 (20) + UDP (8) header bytes counted per datagram in budgets and amplification factors.</summary>
    public const int DatagramOverhead = 28;

    /// <summary>The defaults.</summary>
    public static NackAnswerOptions Default { get; } = new();

    /// <summary>Resend bytes earned per byte received from the peer. Default 0.5: bounds the amplification by 1.5.</summary>
    public double ResendBudgetRatio { get; init; } = 0.5;

    /// <summary>Most resend bytes sent at once (the earned credit and the time bucket both hold at most this). Default 64 KiB.</summary>
    public int ResendBurstBytes { get; init; } = 64 * 1024;

    /// <summary>Resend bytes per second at most, whatever was earned. Default 512 KiB/s.</summary>
    public int ResendBytesPerSecond { get; init; } = 512 * 1024;

    /// <summary>A packet is resent at most once within this time (about a round trip). Default 20 ms.</summary>
    public TimeSpan NackResendInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Most packets resent because of one received RTCP packet (all its NACKs together). Default 64.</summary>
    public int MaxResendsPerRtcp { get; init; } = 64;

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

        if (MaxResendsPerRtcp is < 0 or > RtpHistory.Capacity)
        {
            throw new ArgumentException($"MaxResendsPerRtcp must be within 0..{RtpHistory.Capacity}.", nameof(MaxResendsPerRtcp));
        }
    }
}
