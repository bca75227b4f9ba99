using Airlift.Dtls;

namespace Airlift.Net;

/// <summary>An event from one peer's endpoint, as seen by a socket driver.</summary>
/// <param name="Session">The session it belongs to.</param>
/// <param name="Event">The event.</param>
/// <remarks>
/// Race-free by construction: the facts a consumer needs to act on an event are kept on <paramref name="Session"/>
/// (<see cref="DtlsUdpSession.Connection"/>, <see cref="DtlsUdpSession.PeerCertificate"/>,
/// <see cref="DtlsUdpSession.KeyingMaterial"/>) before the event is published, and never cleared; and the session's
/// exporter (<see cref="DtlsUdpSession.ExportKeyingMaterial"/>) keeps working, also after the connection closed, until
/// the reader has read that session's <see cref="DtlsSessionRemoved"/> event. So however late a consumer reads an event,
/// the session's state may have moved on but nothing the event promised has gone.
/// </remarks>
public sealed record DtlsSessionEvent(DtlsUdpSession Session, DtlsEvent Event);

/// <summary>Why a <see cref="DtlsUdpServer"/> stopped serving a session.</summary>
public enum DtlsSessionRemovalReason
{
    /// <summary>The connection closed or failed and its endpoint has nothing left to do (no retransmission pending).</summary>
    Finished,

    /// <summary>A connected session heard nothing from its peer for <see cref="DtlsUdpServerOptions.IdleTimeout"/>; removed without close_notify.</summary>
    IdleTimeout,

    /// <summary>A new handshake from the same address and port proved itself with a valid cookie (the client restarted, RFC 6347 4.2.8).</summary>
    Replaced,

    /// <summary>Handling this session threw (a bug, or a throwing logger); the session was failed with <see cref="DtlsFailureReason.InternalError"/>. Other sessions are unaffected.</summary>
    InternalError,

    /// <summary>The server was disposed (connected peers were sent close_notify first).</summary>
    ServerStopped,
}

/// <summary>
/// The last event of every session of a <see cref="DtlsUdpServer"/>: the server no longer routes datagrams to it. When
/// the reader reads this event, the session's endpoint is disposed (its master secret and keys are zeroed) and its
/// exporter stops working; the facts kept on <see cref="DtlsUdpSession"/> stay.
/// </summary>
/// <param name="Reason">Why.</param>
public sealed record DtlsSessionRemoved(DtlsSessionRemovalReason Reason) : DtlsEvent;
