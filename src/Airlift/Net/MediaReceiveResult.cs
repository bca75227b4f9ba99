namespace Airlift.Net;

/// <summary>What <see cref="TransportSession.ReceiveMediaAsync"/> returned.</summary>
public enum MediaReceiveStatus
{
    /// <summary>The session ended (closed, failed or removed) and every packet received before the end was read.</summary>
    None,

    /// <summary>The next packet is in the caller's buffer (<see cref="MediaReceiveResult.Length"/> bytes).</summary>
    Received,

    /// <summary>The next packet did not fit the caller's buffer (<see cref="MediaReceiveResult.Length"/> is its size); it stays for the next call.</summary>
    BufferTooSmall,
}

/// <summary>Which protocol a received media packet belongs to (demultiplexed by the transport, RFC 5761).</summary>
public enum MediaPacketKind
{
    /// <summary>An RTP packet (SRTP, as received: the host does not decrypt).</summary>
    Rtp,

    /// <summary>An RTCP packet (SRTCP, as received).</summary>
    Rtcp,
}

/// <summary>The result of the allocation-free <see cref="TransportSession.ReceiveMediaAsync"/>.</summary>
/// <param name="Status">What was delivered.</param>
/// <param name="Kind">RTP or RTCP (<see cref="MediaReceiveStatus.Received"/> and <see cref="MediaReceiveStatus.BufferTooSmall"/>).</param>
/// <param name="Length">Bytes written (<see cref="MediaReceiveStatus.Received"/>) or needed (<see cref="MediaReceiveStatus.BufferTooSmall"/>); 0 otherwise.</param>
public readonly record struct MediaReceiveResult(MediaReceiveStatus Status, MediaPacketKind Kind, int Length);
