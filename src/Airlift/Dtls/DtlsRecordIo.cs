namespace Airlift.Dtls;

/// <summary>Outcome of <see cref="DtlsEndpoint.TrySealApplicationData"/>.</summary>
public enum DtlsSealStatus
{
    /// <summary>One record was written into the caller's buffer: send it as one datagram.</summary>
    Sealed,

    /// <summary>The buffer is too small; the length it needs was returned. Nothing was consumed.</summary>
    BufferTooSmall,

    /// <summary>The endpoint is not connected.</summary>
    NotConnected,

    /// <summary>The data is larger than <see cref="DtlsEndpoint.MaxApplicationDataSize"/>.</summary>
    TooLarge,
}

/// <summary>What a datagram handed to <see cref="DtlsEndpoint.HandleDatagramInto"/> delivered.</summary>
public enum DtlsReceiveStatus
{
    /// <summary>No application data in this datagram (handshake records, alerts, drops).</summary>
    None,

    /// <summary>The first application-data record's plaintext is in the caller's buffer (<see cref="DtlsReceiveResult.Length"/> bytes).</summary>
    Received,

    /// <summary>
    /// The first application-data record did not fit the caller's buffer (<see cref="DtlsReceiveResult.Length"/> is its
    /// size); it was queued as a <see cref="DtlsApplicationData"/> event instead, so nothing is lost.
    /// </summary>
    BufferTooSmall,
}

/// <summary>
/// The result of the zero-allocation receive. Only the first application-data record of a datagram goes into the caller's
/// buffer; any further ones in the same datagram (rare: peers send one record per datagram) leave as
/// <see cref="DtlsApplicationData"/> events, as with the plain <see cref="DtlsEndpoint.HandleDatagram"/>.
/// </summary>
/// <param name="Status">What was delivered.</param>
/// <param name="Length">Bytes written (<see cref="DtlsReceiveStatus.Received"/>) or needed (<see cref="DtlsReceiveStatus.BufferTooSmall"/>); 0 otherwise.</param>
public readonly record struct DtlsReceiveResult(DtlsReceiveStatus Status, int Length);
