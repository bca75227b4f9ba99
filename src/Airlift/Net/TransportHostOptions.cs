using System.Net;

namespace Airlift.Net;

/// <summary>Sockets and limits of a <see cref="TransportHost"/>. Immutable; every limit bounds memory or work per peer.</summary>
public sealed record TransportHostOptions
{
    /// <summary>UDP addresses to bind (one socket each; IPv4 and IPv6 alike, IPv6 sockets are IPv6-only). Port 0 picks a free port.</summary>
    public IReadOnlyList<IPEndPoint> UdpListen { get; init; } = [];

    /// <summary>TCP addresses to listen on for ICE-TCP passive candidates (RFC 6544, RFC 4571 framing).</summary>
    public IReadOnlyList<IPEndPoint> TcpListen { get; init; } = [];

    /// <summary>Most sessions (transports) at once. Default 1024.</summary>
    public int MaxSessions { get; init; } = 1024;

    /// <summary>Most remote tuples routed to one session without a ufrag lookup. Default 32.</summary>
    public int MaxTuplesPerSession { get; init; } = 32;

    /// <summary>Events buffered per session for its reader; beyond it media and application data are dropped and counted, state
    /// events have a reserve of 64 more (see <see cref="TransportSession.Events"/>). Default 1024.</summary>
    public int EventQueueCapacity { get; init; } = 1024;

    /// <summary>
    /// True (the default): received RTP and RTCP leave as <see cref="Transport.RtpPacketReceived"/> and <see cref="Transport.RtcpPacketReceived"/>
    /// events on <see cref="TransportSession.Events"/> (an array and an event per packet). False: they are copied into a
    /// per-session buffer of <see cref="MediaReceiveBufferSize"/> bytes and read with the allocation-free
    /// <see cref="TransportSession.ReceiveMediaAsync"/>; packets that do not fit are dropped and counted
    /// (<see cref="TransportSession.MediaDropped"/>).
    /// </summary>
    public bool MediaAsEvents { get; init; } = true;

    /// <summary>
    /// With <see cref="MediaAsEvents"/> false: bytes of received media each session buffers for its reader (4 bytes of
    /// framing per packet included; allocated at the first packet, never grown). Within 4096..67108864. Default 256 KiB
    /// (about 1500 packets of 172 bytes).
    /// </summary>
    public int MediaReceiveBufferSize { get; init; } = 256 * 1024;

    /// <summary>Most ICE-TCP connections at once; further ones are closed on accept. Default 256.</summary>
    public int MaxTcpConnections { get; init; } = 256;

    /// <summary>Largest RFC 4571 frame accepted; a larger length prefix closes the connection. Default 4096.</summary>
    public int MaxTcpFrameSize { get; init; } = 4096;

    /// <summary>Frames queued for sending per TCP connection; beyond it frames are dropped and counted (the peer is not reading). Default 256.</summary>
    public int TcpSendQueueCapacity { get; init; } = 256;

    /// <summary>A TCP connection that has not delivered a valid ICE check within this time is closed. Default 10 s.</summary>
    public TimeSpan TcpUnboundTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A TCP connection that delivers no frame for this long is closed (consent checks come every few seconds). Default 40 s.</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>
    /// Logger factory: the host logs to its <c>Airlift.Net</c> category, and every session it creates (unless the session's
    /// own options name one) to <c>Airlift.Transport</c>, <c>Airlift.Ice</c> and <c>Airlift.Dtls</c>. Null: no logging
    /// (or the logger given to the host's constructor).
    /// </summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Meter factory for the host's <c>Airlift.Transport</c> and <c>Airlift.Net</c> counters and, unless a session's own options
    /// name one, its sessions' (<c>Airlift.Transport</c>, <c>Airlift.Dtls</c>). Null records on process-wide meters.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>
    /// Receive loops (one per core): each has its own <c>SO_REUSEPORT</c> socket per UDP address and owns the sessions
    /// created on it (round robin). Datagrams reach a session from any loop through the shared routing tables, so an ICE
    /// tuple change is followed wherever the kernel delivers it. Linux only: elsewhere the host runs one loop. Default
    /// <see cref="Environment.ProcessorCount"/>.
    /// </summary>
    public int ReceiveLoops { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Bytes of kernel receive queue requested for each UDP socket (<c>SO_RCVBUF</c>, on every <c>SO_REUSEPORT</c> socket of
    /// the receive loops). A burst of ClientHellos (a handshake storm, many browsers reconnecting at once) arrives faster
    /// than the loops run handshakes; what does not fit the queue is dropped by the kernel (counted host-wide in
    /// <c>/proc/net/snmp</c> <c>Udp: RcvbufErrors</c>, see <see cref="KernelUdpCounters"/>) and costs those clients a
    /// retransmission timeout. The kernel caps the request at <c>net.core.rmem_max</c> (often 208 KiB: raise it with
    /// sysctl); what it granted is logged at start and readable in <see cref="TransportHost.SocketBuffers"/>. <c>SO_RCVBUFFORCE</c> is not used.
    /// 0 keeps the kernel default; otherwise 4 KiB..256 MiB. Default <see cref="UdpSocketBufferSizes.DefaultReceiveBufferSize"/> (4 MiB).
    /// </summary>
    public int ReceiveBufferSize { get; init; } = UdpSocketBufferSizes.DefaultReceiveBufferSize;

    /// <summary>
    /// Bytes of kernel send queue requested for each UDP socket (<c>SO_SNDBUF</c>; capped at <c>net.core.wmem_max</c>); a full
    /// queue makes sends fail, which the protocols survive as loss. 0 keeps the kernel default; otherwise 4 KiB..256 MiB.
    /// Default <see cref="UdpSocketBufferSizes.DefaultSendBufferSize"/> (1 MiB).
    /// </summary>
    public int SendBufferSize { get; init; } = UdpSocketBufferSizes.DefaultSendBufferSize;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (UdpListen.Count == 0 && TcpListen.Count == 0)
        {
            throw new ArgumentException("At least one UDP or TCP address is needed.", nameof(UdpListen));
        }

        if (MaxSessions < 1 || MaxTuplesPerSession < 1 || EventQueueCapacity < 16 || MaxTcpConnections < 1 || TcpSendQueueCapacity < 1)
        {
            throw new ArgumentException("Session, tuple, event and connection limits must be positive (EventQueueCapacity >= 16).");
        }

        if (MediaReceiveBufferSize is < 4096 or > 64 * 1024 * 1024)
        {
            throw new ArgumentException("MediaReceiveBufferSize must be within 4096..67108864 bytes.", nameof(MediaReceiveBufferSize));
        }

        if (ReceiveLoops is < 1 or > 1024)
        {
            throw new ArgumentException("ReceiveLoops must be within 1..1024.", nameof(ReceiveLoops));
        }

        UdpSocketBufferSizes.Validate(ReceiveBufferSize, nameof(ReceiveBufferSize));
        UdpSocketBufferSizes.Validate(SendBufferSize, nameof(SendBufferSize));

        if (MaxTcpFrameSize is < 548 or > ushort.MaxValue)
        {
            throw new ArgumentException("MaxTcpFrameSize must be within 548..65535.", nameof(MaxTcpFrameSize));
        }

        if (TcpUnboundTimeout <= TimeSpan.Zero || TcpIdleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("TCP timeouts must be positive.", nameof(TcpIdleTimeout));
        }
    }
}
