namespace Airlift.Srtp;

/// <summary>Counters of one <see cref="SrtpContext"/>. Drops are counted by cause; the same counts go to the <c>Airlift.Srtp</c> meter.</summary>
public sealed class SrtpStats
{
    /// <summary>RTP packets protected or unprotected successfully.</summary>
    public long RtpPackets { get; internal set; }

    /// <summary>RTCP packets protected or unprotected successfully.</summary>
    public long RtcpPackets { get; internal set; }

    /// <summary>SSRCs with state in the context.</summary>
    public int Ssrcs { get; internal set; }

    /// <summary>Packets shorter than header plus trailer.</summary>
    public long DroppedTruncated { get; internal set; }

    /// <summary>Packets that are not RTP/RTCP version 2 or whose length does not fit the buffer.</summary>
    public long DroppedMalformed { get; internal set; }

    /// <summary>Protect calls whose buffer had no room for the trailer.</summary>
    public long DroppedBufferTooSmall { get; internal set; }

    /// <summary>Packets whose authentication tag did not verify.</summary>
    public long DroppedAuthentication { get; internal set; }

    /// <summary>Packets whose index was already seen.</summary>
    public long DroppedReplay { get; internal set; }

    /// <summary>Packets behind the replay window.</summary>
    public long DroppedTooOld { get; internal set; }

    /// <summary>Packets of a new SSRC beyond <see cref="SrtpOptions.MaxSsrcs"/>.</summary>
    public long DroppedSsrcLimit { get; internal set; }

    /// <summary>Packets refused because the key's index space is spent.</summary>
    public long DroppedKeyExhausted { get; internal set; }

    /// <summary>All drops.</summary>
    public long Dropped => DroppedTruncated + DroppedMalformed + DroppedBufferTooSmall + DroppedAuthentication + DroppedReplay
        + DroppedTooOld + DroppedSsrcLimit + DroppedKeyExhausted;

    internal void Count(SrtpStatus status)
    {
        switch (status)
        {
            case SrtpStatus.Truncated: DroppedTruncated++; break;
            case SrtpStatus.Malformed: DroppedMalformed++; break;
            case SrtpStatus.BufferTooSmall: DroppedBufferTooSmall++; break;
            case SrtpStatus.AuthenticationFailed: DroppedAuthentication++; break;
            case SrtpStatus.Replayed: DroppedReplay++; break;
            case SrtpStatus.TooOld: DroppedTooOld++; break;
            case SrtpStatus.SsrcLimitReached: DroppedSsrcLimit++; break;
            case SrtpStatus.KeyExhausted: DroppedKeyExhausted++; break;
            default: break;
        }
    }
}
