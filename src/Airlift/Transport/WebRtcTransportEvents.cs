using Airlift.Dtls;
using Airlift.Ice;

namespace Airlift.Transport;

/// <summary>DTLS state of a <see cref="WebRtcTransport"/> (W3C RTCDtlsTransportState).</summary>
public enum TransportDtlsState
{
    /// <summary>No tuple selected yet: the DTLS endpoint does not exist and nothing is sent.</summary>
    New,

    /// <summary>The handshake runs on the selected tuple.</summary>
    Connecting,

    /// <summary>The handshake completed.</summary>
    Connected,

    /// <summary>The handshake or the transport failed.</summary>
    Failed,

    /// <summary>Closed (close_notify either way, or <see cref="WebRtcTransport.Close"/>).</summary>
    Closed,
}

/// <summary>Why a transport failed.</summary>
public enum TransportFailureReason
{
    /// <summary>Consent expired on every tuple and the failure grace period passed (RFC 7675).</summary>
    IceFailed,

    /// <summary>The DTLS handshake or connection failed (see <see cref="TransportFailed.Dtls"/>).</summary>
    DtlsFailed,

    /// <summary>An unexpected exception (a bug) while handling a datagram or timer; caught, counted and logged, this transport only is closed.</summary>
    InternalError,
}

/// <summary>Something a <see cref="WebRtcTransport"/> reports to its caller.</summary>
public abstract record WebRtcTransportEvent;

/// <summary>The ICE state changed.</summary>
/// <param name="State">The new state.</param>
public sealed record IceStateChange(IceState State) : WebRtcTransportEvent;

/// <summary>The DTLS state changed.</summary>
/// <param name="State">The new state.</param>
public sealed record DtlsStateChange(TransportDtlsState State) : WebRtcTransportEvent;

/// <summary>The selected tuple changed; DTLS and media now go to <paramref name="Tuple"/> (null: none holds consent, nothing is sent).</summary>
/// <param name="Tuple">Local address, remote address and protocol, or null.</param>
public sealed record SelectedTupleChange(IceTuple? Tuple) : WebRtcTransportEvent;

/// <summary>DTLS-SRTP keying material for the SRTP layer (RFC 5764 4.2), with our role to pick the local and remote halves.</summary>
/// <param name="Profile">The negotiated SRTP protection profile.</param>
/// <param name="Material">client write key | server write key | client salt | server salt.</param>
/// <param name="Role">Our DTLS role: the client's keys protect what the client sends.</param>
public sealed record KeyingMaterial(SrtpProtectionProfile Profile, byte[] Material, DtlsRole Role) : WebRtcTransportEvent;

/// <summary>The peer's verified certificate chain.</summary>
/// <param name="Certificate">The DTLS event, as reported by the endpoint.</param>
public sealed record PeerCertificate(DtlsPeerCertificate Certificate) : WebRtcTransportEvent;

/// <summary>An RTP packet (still SRTP-protected) arrived on the selected tuple. Made by drivers that hand media on as events
/// (<see cref="Net.TransportHost"/>); <see cref="WebRtcTransport.PollOutput"/> itself returns
/// <see cref="WebRtcOutputKind.RtpReceived"/> with the bytes in the caller's buffer.</summary>
/// <param name="Tuple">The tuple it arrived on.</param>
/// <param name="Packet">The datagram's bytes (a copy the caller owns).</param>
public sealed record RtpPacketReceived(IceTuple Tuple, byte[] Packet) : WebRtcTransportEvent;

/// <summary>An RTCP packet (still SRTCP-protected) arrived on the selected tuple (RFC 5761 demux); made by event-based drivers
/// like <see cref="RtpPacketReceived"/>.</summary>
/// <param name="Tuple">The tuple it arrived on.</param>
/// <param name="Packet">The datagram's bytes (a copy the caller owns).</param>
public sealed record RtcpPacketReceived(IceTuple Tuple, byte[] Packet) : WebRtcTransportEvent;

/// <summary>DTLS application data from the peer.</summary>
/// <param name="Data">The plaintext.</param>
public sealed record ApplicationDataReceived(byte[] Data) : WebRtcTransportEvent;

/// <summary>The transport failed; it sends nothing more.</summary>
/// <param name="Reason">Typed reason.</param>
/// <param name="Message">Human-readable detail.</param>
/// <param name="Dtls">The DTLS failure, when DTLS failed.</param>
public sealed record TransportFailed(TransportFailureReason Reason, string Message, DtlsFailed? Dtls) : WebRtcTransportEvent;

/// <summary>What <see cref="WebRtcTransport.PollOutput"/> produced.</summary>
public enum WebRtcOutputKind
{
    /// <summary><see cref="WebRtcOutput.Length"/> bytes were written to the caller's buffer: send them from
    /// <see cref="WebRtcOutput.Tuple"/>'s local address to its remote address over its protocol.</summary>
    Transmit,

    /// <summary>An event is in <see cref="WebRtcOutput.Event"/>.</summary>
    Event,

    /// <summary>Nothing more until <see cref="WebRtcOutput.Deadline"/> (call HandleTimeout then) or the next datagram.</summary>
    Timeout,

    /// <summary>An RTP packet (still SRTP-protected) from <see cref="WebRtcOutput.Tuple"/>: <see cref="WebRtcOutput.Length"/>
    /// bytes in the caller's buffer.</summary>
    RtpReceived,

    /// <summary>An RTCP packet (still SRTCP-protected, RFC 5761 demux) from <see cref="WebRtcOutput.Tuple"/>:
    /// <see cref="WebRtcOutput.Length"/> bytes in the caller's buffer.</summary>
    RtcpReceived,

    /// <summary>The caller's buffer is smaller than <see cref="WebRtcTransport.PollBufferSize"/>, which is in
    /// <see cref="WebRtcOutput.Length"/>; nothing was taken from the transport.</summary>
    BufferTooSmall,
}

/// <summary>One output of <see cref="WebRtcTransport.PollOutput"/>.</summary>
/// <param name="Kind">What this is.</param>
/// <param name="Tuple">For <see cref="WebRtcOutputKind.Transmit"/>: where to send; for received media: where it came from.</param>
/// <param name="Length">For <see cref="WebRtcOutputKind.Transmit"/> and received media: bytes written to the buffer; for
/// <see cref="WebRtcOutputKind.BufferTooSmall"/>: the size needed.</param>
/// <param name="Event">For <see cref="WebRtcOutputKind.Event"/>: the event.</param>
/// <param name="Deadline">For <see cref="WebRtcOutputKind.Timeout"/>: when to call HandleTimeout (<see cref="DtlsOutput.NoDeadline"/>: no timer).</param>
public readonly record struct WebRtcOutput(WebRtcOutputKind Kind, IceTuple Tuple, int Length, WebRtcTransportEvent? Event, TimeSpan Deadline);

/// <summary>Counters of one <see cref="WebRtcTransport"/> (a snapshot). Every dropped datagram is counted under one cause.</summary>
/// <param name="DatagramsReceived">Datagrams handed to HandleDatagram.</param>
/// <param name="StunReceived">Datagrams classified as STUN (given to the ICE agent; see its own counters for what it did).</param>
/// <param name="DtlsReceived">DTLS datagrams from the selected tuple, given to the DTLS endpoint.</param>
/// <param name="DtlsFromUnselectedTuple">DTLS datagrams dropped because they did not come from the selected tuple (or none was selected).</param>
/// <param name="DtlsUnsentNoTuple">DTLS datagrams the endpoint produced while no tuple was selected (consent lost): not sent.</param>
/// <param name="RtpReceived">RTP packets delivered.</param>
/// <param name="RtcpReceived">RTCP packets delivered.</param>
/// <param name="MediaFromUnselectedTuple">RTP/RTCP dropped because it did not come from the selected tuple.</param>
/// <param name="ZrtpDropped">ZRTP datagrams dropped (not supported).</param>
/// <param name="TurnChannelDropped">TURN ChannelData dropped (an ICE-lite endpoint has no relay).</param>
/// <param name="UnknownDropped">Empty or unclassifiable datagrams dropped (RFC 7983).</param>
/// <param name="IgnoredAfterClose">Input after the transport closed or failed.</param>
/// <param name="QueueOverflowDrops">Outputs dropped because <see cref="WebRtcTransportOptions.MaxQueuedOutputs"/> was reached.</param>
/// <param name="TupleChanges">Changes of the selected tuple.</param>
/// <param name="FlightResendsOnTupleChange">Pending DTLS flights resent at once because the tuple changed (F3).</param>
/// <param name="DatagramsSent">Datagrams handed out by PollOutput.</param>
/// <param name="InternalErrors">Unexpected exceptions caught at the transport boundary (each failed this transport with <see cref="TransportFailureReason.InternalError"/>).</param>
public sealed record WebRtcTransportStats(
    long DatagramsReceived,
    long StunReceived,
    long DtlsReceived,
    long DtlsFromUnselectedTuple,
    long DtlsUnsentNoTuple,
    long RtpReceived,
    long RtcpReceived,
    long MediaFromUnselectedTuple,
    long ZrtpDropped,
    long TurnChannelDropped,
    long UnknownDropped,
    long IgnoredAfterClose,
    long QueueOverflowDrops,
    long TupleChanges,
    long FlightResendsOnTupleChange,
    long DatagramsSent,
    long InternalErrors)
{
    /// <summary>RTP/RTCP datagrams dropped because they were larger than <see cref="WebRtcTransportOptions.MaxMediaPacketSize"/>.</summary>
    public long MediaTooLarge { get; init; }
}
