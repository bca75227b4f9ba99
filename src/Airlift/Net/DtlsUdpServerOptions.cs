using Airlift.Dtls;

namespace Airlift.Net;

/// <summary>
/// Configuration of a <see cref="DtlsUdpServer"/>: the DTLS options of every session and the limits that keep what a
/// peer (or many peers from one host) can make the server keep finite. Immutable; call <see cref="Validate"/> (the
/// server does) for a clear error on a bad value.
/// </summary>
/// <remarks>
/// Sessions in the handshake end by <see cref="DtlsOptions.HandshakeTimeout"/>; connected sessions end by
/// close_notify, a failure or <see cref="IdleTimeout"/>; a client restarting on the same address and port replaces its
/// old session only after a valid cookie (RFC 6347 4.2.8). So a server holds at most <see cref="MaxSessions"/> sessions,
/// at most <see cref="MaxSessionsPerAddress"/> of them for one IP address, and at most about
/// <see cref="EventQueueCapacity"/> unread events (see <see cref="EventQueueCapacity"/> for the overflow policy).
/// </remarks>
public sealed record DtlsUdpServerOptions
{
    /// <summary>Creates options serving every session with <paramref name="dtls"/>.</summary>
    public DtlsUdpServerOptions(DtlsOptions dtls)
    {
        Dtls = dtls ?? throw new ArgumentNullException(nameof(dtls));
    }

    /// <summary>Options of every server endpoint (certificate, peer verification, suites, timers).</summary>
    public DtlsOptions Dtls { get; init; }

    /// <summary>Sessions served at once, in the handshake or connected. Datagrams from further new peers are dropped and
    /// counted (<see cref="DtlsUdpServer.DroppedSessionLimit"/>). Default 1024.</summary>
    public int MaxSessions { get; init; } = 1024;

    /// <summary>
    /// Sessions served at once for one remote IP address (any port), so that one host cannot take every session
    /// (a handshake is cheap to start and costs the server a session for up to <see cref="DtlsOptions.HandshakeTimeout"/>).
    /// Further ClientHellos from that address are dropped before the cookie exchange and counted
    /// (<see cref="DtlsUdpServer.DroppedAddressLimit"/>). Default 32: a few clients behind one NAT fit; load tests from
    /// one host raise it.
    /// </summary>
    public int MaxSessionsPerAddress { get; init; } = 32;

    /// <summary>
    /// A session past its handshake (connected, or closed but still answering) that has received no datagram from its
    /// peer for this long is removed without close_notify (the peer is presumed gone; a close_notify would only reach
    /// a stranger who took over its address), with a <see cref="DtlsSessionRemoved"/> event of reason
    /// <see cref="DtlsSessionRemovalReason.IdleTimeout"/>. Never while the final flight is still retained (the peer may
    /// yet retransmit its last flight). Applications that keep quiet connections open send their own keep-alives or
    /// raise this; <see cref="Timeout.InfiniteTimeSpan"/> disables it. Default 30 s.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Events queued for the reader of <see cref="DtlsUdpServer.Events"/>. Overflow policy: when this many events are
    /// unread, received application data is dropped and counted (<see cref="DtlsUdpServer.EventsDropped"/>; the peer's
    /// own protocol recovers it, as for a lost datagram), and no new peer is admitted (its datagrams are dropped and
    /// counted in <see cref="DtlsUdpServer.DroppedEventBacklog"/>). Lifecycle events (certificate, connected, keying
    /// material, closed, failed, removed) are never dropped: each session has at most five and no new session starts
    /// while the queue is full, so the queue never holds more than this plus five per session. Default 1024.
    /// </summary>
    public int EventQueueCapacity { get; init; } = 1024;

    /// <summary>
    /// True (the default): received application data is published on <see cref="DtlsUdpServer.Events"/> as
    /// <see cref="DtlsApplicationData"/> events (one array per record). False: each session buffers it, up to
    /// <see cref="SessionReceiveBufferSize"/> bytes, for <see cref="DtlsUdpSession.ReceiveAsync"/>, which copies each record into
    /// the caller's buffer: no allocation per record (the zero-allocation record path; lifecycle events still come as events).
    /// </summary>
    public bool ApplicationDataAsEvents { get; init; } = true;

    /// <summary>
    /// With <see cref="ApplicationDataAsEvents"/> false: bytes of received application data each session buffers for its reader
    /// (4 bytes per record besides the data; allocated at the session's first record). A record that does not fit is dropped
    /// and counted in <see cref="DtlsUdpServer.EventsDropped"/> (the peer's protocol recovers it like a lost datagram).
    /// 4 KiB..64 MiB; default 256 KiB.
    /// </summary>
    public int SessionReceiveBufferSize { get; init; } = 256 * 1024;

    /// <summary>
    /// Logger factory for the server: the socket driver logs to its <c>Airlift.Net</c> category (handshakes started and
    /// connected, sessions removed, faults) and, unless <see cref="DtlsOptions.LoggerFactory"/> of <see cref="Dtls"/> is set,
    /// every endpoint to <c>Airlift.Dtls</c> (the handshake timeline). Null: no logging (or the constructor's logger).
    /// </summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Meter factory for the driver's <c>Airlift.Net</c> counters and, unless <see cref="DtlsOptions.MeterFactory"/> of
    /// <see cref="Dtls"/> is set, the endpoints' <c>Airlift.Dtls</c> counters. Null records on process-wide meters.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>
    /// Receive loops of the server, each on its own UDP socket of the same port (<c>SO_REUSEPORT</c>; the kernel spreads
    /// peers over the sockets by their address and port, so each peer's session stays in one loop and one core runs it),
    /// so one server uses every core. The caps above stay global, the cookie secret is shared; the store of unfinished
    /// multi-datagram DTLS 1.3 hellos (<see cref="DtlsOptions.MaxPendingClientHelloBytes"/>) is per loop, so the server holds
    /// at most this many times that. Linux only: elsewhere the server runs one loop. Default
    /// <see cref="Environment.ProcessorCount"/>; 1 gives the single-socket server.
    /// </summary>
    public int ReceiveLoops { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Bytes of kernel receive queue requested for each UDP socket (<c>SO_RCVBUF</c>, on every <c>SO_REUSEPORT</c> socket of
    /// the receive loops). A burst of ClientHellos (a handshake storm, many browsers reconnecting at once) arrives faster
    /// than the loops run handshakes; what does not fit the queue is dropped by the kernel (counted host-wide in
    /// <c>/proc/net/snmp</c> <c>Udp: RcvbufErrors</c>, see <see cref="KernelUdpCounters"/>) and costs those clients a
    /// retransmission timeout. The kernel caps the request at <c>net.core.rmem_max</c> (often 208 KiB: raise it with
    /// sysctl); what it granted is logged at start and readable in <see cref="DtlsUdpServer.SocketBuffers"/>. <c>SO_RCVBUFFORCE</c> is not used.
    /// 0 keeps the kernel default; otherwise 4 KiB..256 MiB. Default <see cref="UdpSocketBufferSizes.DefaultReceiveBufferSize"/> (4 MiB).
    /// </summary>
    public int ReceiveBufferSize { get; init; } = UdpSocketBufferSizes.DefaultReceiveBufferSize;

    /// <summary>
    /// Bytes of kernel send queue requested for each UDP socket (<c>SO_SNDBUF</c>; capped at <c>net.core.wmem_max</c>); a full
    /// queue makes sends fail, which the protocols survive as loss. 0 keeps the kernel default; otherwise 4 KiB..256 MiB.
    /// Default <see cref="UdpSocketBufferSizes.DefaultSendBufferSize"/> (1 MiB).
    /// </summary>
    public int SendBufferSize { get; init; } = UdpSocketBufferSizes.DefaultSendBufferSize;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting (and validates <see cref="Dtls"/> for the server role,
    /// which needs an expected client fingerprint, a validator, <see cref="DtlsOptions.AllowAnyPeerCertificate"/> or no client certificate).</summary>
    public void Validate()
    {
        Dtls.Validate(DtlsRole.Server);
        if (MaxSessions < 1)
        {
            throw new ArgumentException("MaxSessions must be at least 1.", nameof(MaxSessions));
        }

        if (MaxSessionsPerAddress < 1)
        {
            throw new ArgumentException("MaxSessionsPerAddress must be at least 1.", nameof(MaxSessionsPerAddress));
        }

        if (IdleTimeout <= TimeSpan.Zero && IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException("IdleTimeout must be positive (or Timeout.InfiniteTimeSpan to disable it).", nameof(IdleTimeout));
        }

        if (ReceiveLoops is < 1 or > 1024)
        {
            throw new ArgumentException("ReceiveLoops must be within 1..1024.", nameof(ReceiveLoops));
        }

        UdpSocketBufferSizes.Validate(ReceiveBufferSize, nameof(ReceiveBufferSize));
        if (SessionReceiveBufferSize is < 4096 or > 64 * 1024 * 1024)
        {
            throw new ArgumentException("SessionReceiveBufferSize must be within 4096..67108864 bytes.", nameof(SessionReceiveBufferSize));
        }

        UdpSocketBufferSizes.Validate(SendBufferSize, nameof(SendBufferSize));

        if (EventQueueCapacity < 16)
        {
            throw new ArgumentException("EventQueueCapacity must be at least 16.", nameof(EventQueueCapacity));
        }
    }
}
