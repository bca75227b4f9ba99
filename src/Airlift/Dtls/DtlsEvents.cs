namespace Airlift.Dtls;

/// <summary>Which side of the handshake an endpoint plays.</summary>
public enum DtlsRole
{
    /// <summary>Sends the ClientHello.</summary>
    Client,

    /// <summary>Answers the ClientHello.</summary>
    Server,
}

/// <summary>Lifecycle of a DTLS endpoint.</summary>
public enum DtlsState
{
    /// <summary>Handshake in progress.</summary>
    Connecting,

    /// <summary>Handshake complete; application data flows.</summary>
    Connected,

    /// <summary>Closed by either side with close_notify, or locally.</summary>
    Closed,

    /// <summary>Failed; see the <see cref="DtlsFailed"/> event.</summary>
    Failed,
}

/// <summary>Why a handshake or connection failed.</summary>
public enum DtlsFailureReason
{
    /// <summary>The handshake did not complete within <see cref="DtlsOptions.HandshakeTimeout"/>.</summary>
    Timeout,

    /// <summary>The peer sent a fatal alert.</summary>
    PeerAlert,

    /// <summary>A message could not be decoded.</summary>
    DecodeError,

    /// <summary>A message arrived that the state does not allow.</summary>
    UnexpectedMessage,

    /// <summary>No common cipher suite, group, signature scheme or required extension.</summary>
    NoCommonParameters,

    /// <summary>The peer's certificate is missing, unusable, or does not match the expected fingerprint.</summary>
    BadCertificate,

    /// <summary>A signature or Finished verification failed.</summary>
    VerificationFailed,

    /// <summary>The peer refused extended_master_secret while it is required, or other security policy failure.</summary>
    InsufficientSecurity,

    /// <summary>The peer chose a version or parameter it was not offered.</summary>
    IllegalParameter,

    /// <summary>The peer tried to renegotiate.</summary>
    Renegotiation,

    /// <summary>An internal error (a bug; the message says more).</summary>
    InternalError,

    /// <summary>
    /// No DTLS version both sides allow: the peer offers or chose only versions <see cref="DtlsOptions.ProtocolVersions"/>
    /// excludes (e.g. a DTLS 1.0-only client). A protocol_version alert was sent.
    /// </summary>
    ProtocolVersion,
}

/// <summary>Something the endpoint reports to its caller.</summary>
public abstract record DtlsEvent;

/// <summary>The handshake completed.</summary>
/// <param name="Role">Our role.</param>
/// <param name="Version">Negotiated version (DTLS 1.2).</param>
/// <param name="CipherSuite">Negotiated cipher suite.</param>
/// <param name="SrtpProfile">Negotiated DTLS-SRTP profile, if any.</param>
/// <param name="ExtendedMasterSecret">Whether RFC 7627 extended master secret is in use.</param>
/// <param name="EffectiveMaxDatagramSize">The datagram size limit in force after any path-MTU fallback.</param>
/// <param name="HandshakeDuration">Time from the start of the handshake to completion.</param>
public sealed record DtlsConnected(
    DtlsRole Role,
    ProtocolVersion Version,
    CipherSuite CipherSuite,
    SrtpProtectionProfile? SrtpProfile,
    bool ExtendedMasterSecret,
    int EffectiveMaxDatagramSize,
    TimeSpan HandshakeDuration) : DtlsEvent;

/// <summary>The peer's certificate chain (DER, leaf first), reported once it has been verified against the expected fingerprint (if any).</summary>
/// <param name="ChainDer">DER certificates, leaf first.</param>
/// <param name="Sha256Fingerprint">The leaf's sha-256 fingerprint in SDP form.</param>
public sealed record DtlsPeerCertificate(IReadOnlyList<byte[]> ChainDer, CertificateFingerprint Sha256Fingerprint) : DtlsEvent;

/// <summary>DTLS-SRTP keying material (RFC 5764 4.2): EXTRACTOR-dtls_srtp output of the profile's length.</summary>
/// <param name="Profile">The negotiated profile.</param>
/// <param name="Material">client key | server key | client salt | server salt.</param>
public sealed record DtlsKeyingMaterial(SrtpProtectionProfile Profile, byte[] Material) : DtlsEvent;

/// <summary>Application data received from the peer.</summary>
/// <param name="Data">The record's plaintext.</param>
public sealed record DtlsApplicationData(byte[] Data) : DtlsEvent;

/// <summary>The connection closed (close_notify from the peer, or <see cref="DtlsEndpoint.Close"/>).</summary>
/// <param name="ByPeer">True when the peer sent close_notify.</param>
public sealed record DtlsClosed(bool ByPeer) : DtlsEvent;

/// <summary>The handshake or connection failed; the endpoint is finished.</summary>
/// <param name="Reason">Typed reason.</param>
/// <param name="Message">Human-readable detail.</param>
/// <param name="Alert">The alert sent or received, if any.</param>
/// <param name="Report">For timeouts: what was sent and received, flight by flight.</param>
public sealed record DtlsFailed(DtlsFailureReason Reason, string Message, AlertDescription? Alert, string? Report) : DtlsEvent;

/// <summary>What <see cref="DtlsEndpoint.PollOutput"/> produced.</summary>
public enum DtlsOutputKind
{
    /// <summary>A datagram of <see cref="DtlsOutput.DatagramLength"/> bytes was written into the caller's buffer: send it.</summary>
    Datagram,

    /// <summary>An event is in <see cref="DtlsOutput.Event"/>.</summary>
    Event,

    /// <summary>Nothing more to do until <see cref="DtlsOutput.Deadline"/> (call HandleTimeout then) or until a datagram arrives.</summary>
    Timeout,

    /// <summary>
    /// Only from <see cref="DtlsEndpoint.TryPollOutput"/>: the caller's buffer is smaller than the next datagram, whose size is
    /// in <see cref="DtlsOutput.DatagramLength"/>; nothing was taken (poll again with a buffer at least that large).
    /// <see cref="DtlsEndpoint.PollOutput"/> never returns it.
    /// </summary>
    BufferTooSmall,
}

/// <summary>One output of the sans-IO endpoint. Drain rule: after every HandleDatagram, HandleTimeout, Send or Close, call
/// <see cref="DtlsEndpoint.PollOutput"/> until it returns <see cref="DtlsOutputKind.Timeout"/>.</summary>
/// <param name="Kind">What this is.</param>
/// <param name="DatagramLength">For <see cref="DtlsOutputKind.Datagram"/>: bytes written to the buffer; for
/// <see cref="DtlsOutputKind.BufferTooSmall"/>: the size needed.</param>
/// <param name="Event">For <see cref="DtlsOutputKind.Event"/>: the event.</param>
/// <param name="Deadline">For <see cref="DtlsOutputKind.Timeout"/>: when to call HandleTimeout (<see cref="NoDeadline"/>: no timer).</param>
public readonly record struct DtlsOutput(DtlsOutputKind Kind, int DatagramLength, DtlsEvent? Event, TimeSpan Deadline)
{
    /// <summary>No timer armed.</summary>
    public static readonly TimeSpan NoDeadline = TimeSpan.MaxValue;
}
