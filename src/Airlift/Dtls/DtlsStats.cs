namespace Airlift.Dtls;

/// <summary>Counters of one endpoint. Drops are counted by cause; none of them is an error of the endpoint.</summary>
public sealed class DtlsStats
{
    /// <summary>Datagrams handed out by PollOutput.</summary>
    public long DatagramsSent { get; internal set; }

    /// <summary>Datagrams given to HandleDatagram.</summary>
    public long DatagramsReceived { get; internal set; }

    /// <summary>Bytes handed out by PollOutput.</summary>
    public long BytesSent { get; internal set; }

    /// <summary>Bytes given to HandleDatagram.</summary>
    public long BytesReceived { get; internal set; }

    /// <summary>Largest datagram sent.</summary>
    public int LargestDatagramSent { get; internal set; }

    /// <summary>Flights sent again because the timer fired.</summary>
    public int TimeoutRetransmissions { get; internal set; }

    /// <summary>Flights sent again because the peer retransmitted its previous flight.</summary>
    public int TriggeredRetransmissions { get; internal set; }

    /// <summary>Peer retransmissions that did not trigger a resend because the resend budget was spent (anti-amplification).</summary>
    public int SuppressedRetransmissions { get; internal set; }

    /// <summary>Total flight retransmissions.</summary>
    public int Retransmissions => TimeoutRetransmissions + TriggeredRetransmissions;

    /// <summary>The datagram size limit in force: the configured maximum, or lower after a path-MTU fallback.</summary>
    public int EffectiveMaxDatagramSize { get; internal set; }

    /// <summary>Times the datagram size was lowered after repeated timeouts (path-MTU black hole fallback).</summary>
    public int DatagramSizeFallbacks { get; internal set; }

    /// <summary>Records or datagrams that could not be parsed.</summary>
    public long DroppedMalformed { get; internal set; }

    /// <summary>Records that failed AEAD authentication.</summary>
    public long DroppedBadRecordMac { get; internal set; }

    /// <summary>Records seen before (replay window).</summary>
    public long DroppedReplay { get; internal set; }

    /// <summary>Records of an epoch that cannot be read (too old, too new, or early records beyond the buffer).</summary>
    public long DroppedEpoch { get; internal set; }

    /// <summary>Handshake fragments dropped: beyond the future window, over a size cap, or conflicting with bytes held.</summary>
    public long DroppedHandshakeFragments { get; internal set; }

    /// <summary>Records dropped because they are not allowed in the current state (e.g. application data before the handshake).</summary>
    public long DroppedUnexpected { get; internal set; }

    /// <summary>Unexpected exceptions caught at the endpoint boundary; each failed the connection with <see cref="DtlsFailureReason.InternalError"/>.</summary>
    public long InternalErrors { get; internal set; }

    /// <summary>DTLS 1.3 KeyUpdates completed, ours (acknowledged) and the peer's (received).</summary>
    public int KeyUpdates { get; internal set; }

    /// <summary>Application data dropped because the caller did not poll events (see <see cref="DtlsOptions.MaxPendingEvents"/>).</summary>
    public long DroppedEventQueueFull { get; internal set; }
}
