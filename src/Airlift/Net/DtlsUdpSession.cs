using System.Net;
using Airlift.Dtls;

namespace Airlift.Net;

/// <summary>
/// One peer's DTLS association on a socket driver (<see cref="DtlsUdpServer"/> or <see cref="DtlsUdpClient"/>).
/// Thread-safe: every call runs under the driver's lock.
/// </summary>
/// <remarks>
/// The facts of the handshake (<see cref="Connection"/>, <see cref="PeerCertificate"/>, <see cref="KeyingMaterial"/>)
/// are set before the event that announces them is published and are never cleared, so a consumer reading events late
/// still finds them (see <see cref="DtlsSessionEvent"/> for the rule).
/// </remarks>
public sealed class DtlsUdpSession
{
    private readonly DtlsSocketLoop _loop;
    private readonly TaskCompletionSource _finalFlightReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal DtlsUdpSession(DtlsSocketLoop loop, IPEndPoint remote, DtlsEndpoint endpoint, byte[]? clientRandom, TimeSpan now, int receiveBufferSize = 0)
    {
        _loop = loop;
        Remote = remote;
        RemoteAddress = remote.Serialize();
        Received = receiveBufferSize > 0 ? new SessionReceiveBuffer(receiveBufferSize) : null;
        Endpoint = endpoint;
        ClientRandom = clientRandom;
        LastReceived = now;
    }

    /// <summary>The loop that owns this session (its lock guards the endpoint).</summary>
    internal DtlsSocketLoop Loop => _loop;

    /// <summary>The peer's address.</summary>
    public IPEndPoint Remote { get; }

    /// <summary>Current state (<see cref="DtlsState.Failed"/> also when the driver failed the session after an internal error).</summary>
    public DtlsState State => Faulted ? DtlsState.Failed : Endpoint.State;

    /// <summary>Counters.</summary>
    public DtlsStats Stats => Endpoint.Stats;

    /// <summary>Largest application-data payload <see cref="Send"/> accepts now.</summary>
    public int MaxApplicationDataSize => _loop.Locked(this, static s => s.Endpoint.MaxApplicationDataSize);

    /// <summary>The handshake timeline, for diagnostics.</summary>
    public string Trace => Endpoint.Trace;

    /// <summary>The negotiated parameters, once connected (kept after the connection ends).</summary>
    public DtlsConnected? Connection { get; private set; }

    /// <summary>The peer's verified certificate chain, once received (kept after the connection ends).</summary>
    public DtlsPeerCertificate? PeerCertificate { get; private set; }

    /// <summary>DTLS-SRTP keying material, once connected with an SRTP profile (kept after the connection ends).</summary>
    public DtlsKeyingMaterial? KeyingMaterial { get; private set; }

    /// <summary>Null while the server serves this session; then why it stopped.</summary>
    public DtlsSessionRemovalReason? Removal { get; internal set; }

    /// <summary>
    /// True while the endpoint keeps its last handshake flight to answer a retransmission of the peer's (the peer has not
    /// yet proved, with protected data or close_notify, that it finished, and the retention has not run out).
    /// </summary>
    public bool FinalFlightRetained => _loop.Locked(this, static s => s.FinalFlightRetainedLocked);

    /// <summary>
    /// Completes once the handshake is over and nothing more may be needed from this session to finish it: the peer proved
    /// it finished (protected data or close_notify), the final-flight retention ran out, the handshake failed, or the
    /// session was removed. A process that serves a fixed number of handshakes waits for this before it exits, so that a
    /// peer whose copy of the final flight was lost can still get it (field failure F2).
    /// </summary>
    public Task FinalFlightReleased => _finalFlightReleased.Task;

    /// <summary>The peer's address as the socket takes it, serialized once (sends then allocate nothing).</summary>
    internal System.Net.SocketAddress RemoteAddress { get; }

    /// <summary>Received application data waiting for <see cref="ReceiveAsync"/>; null when it leaves as events instead.</summary>
    internal SessionReceiveBuffer? Received { get; }

    /// <summary>The sans-IO endpoint; only touch it under the loop's lock.</summary>
    internal DtlsEndpoint Endpoint { get; }

    /// <summary>The ClientHello random that created a server session; a ClientHello with another one is a new handshake.</summary>
    internal byte[]? ClientRandom { get; }

    /// <summary>
    /// A new ClientHello's first fragment came from this session's address: its later fragments (a DTLS 1.3 hello with a
    /// post-quantum key share spans two datagrams) go to the listener too, not to this session, until the session is
    /// replaced or its own client's hello shows up again.
    /// </summary>
    internal bool NewHelloPending { get; set; }

    internal TimeSpan Deadline { get; set; } = DtlsOutput.NoDeadline;

    internal TimeSpan LastReceived { get; set; }

    internal bool Faulted { get; set; }

    internal bool EndpointDisposed { get; set; }

    internal bool FinalFlightRetainedLocked => !Faulted && !EndpointDisposed && Endpoint.FinalFlightRetained;

    /// <summary>
    /// Sends application data as one record, sealed straight into the driver's send buffer and sent on the calling thread:
    /// no copy, no queue, no allocation.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not connected, or no longer served.</exception>
    /// <exception cref="ArgumentException">Larger than the endpoint's maximum application-data size.</exception>
    public void Send(ReadOnlySpan<byte> data) => _loop.SendApplicationData(this, data);

    /// <summary>
    /// Receives the next application-data record into <paramref name="destination"/>, waiting while none is buffered:
    /// <see cref="DtlsReceiveStatus.Received"/> with its length; <see cref="DtlsReceiveStatus.BufferTooSmall"/> with the size
    /// needed (the record stays for the next call); <see cref="DtlsReceiveStatus.None"/> once the connection ended (closed,
    /// failed or removed) and every record before the end was read. Allocates nothing per record. One receive at a time.
    /// Available on a <see cref="DtlsUdpClient"/>'s session and on a server's sessions when
    /// <see cref="DtlsUdpServerOptions.ApplicationDataAsEvents"/> is false (then records are buffered per session, up to
    /// <see cref="DtlsUdpServerOptions.SessionReceiveBufferSize"/> bytes; beyond it they are dropped and counted).
    /// </summary>
    /// <exception cref="InvalidOperationException">This server publishes received data as <see cref="DtlsApplicationData"/>
    /// events instead, or another receive is already waiting.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first (the connection stays usable).</exception>
    public ValueTask<DtlsReceiveResult> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken = default) =>
        Received is { } received
            ? received.ReceiveAsync(destination, cancellationToken)
            : throw new InvalidOperationException("This server publishes received application data as DtlsApplicationData events (DtlsUdpServerOptions.ApplicationDataAsEvents).");

    /// <summary>Sends close_notify (nothing when the connection already ended).</summary>
    public void Close() => _loop.WithEndpoint(this, (e, now) =>
    {
        if (e.State == DtlsState.Connected)
        {
            e.Close(now);
        }
    });

    /// <summary>
    /// Keying material exporter (RFC 5705). Works once connected, also after the connection closed, until the reader has
    /// read this session's <see cref="DtlsSessionRemoved"/> event (or the driver was disposed); the DTLS-SRTP material
    /// is kept in <see cref="KeyingMaterial"/> for good.
    /// </summary>
    /// <exception cref="InvalidOperationException">The handshake never completed, or the session's secrets were already disposed.</exception>
    public byte[] ExportKeyingMaterial(string label, byte[]? context, int length) =>
        _loop.Locked(this, s => s.EndpointDisposed
            ? throw new InvalidOperationException($"The session with {s.Remote} was removed and its secrets disposed; export while handling its earlier events, or use KeyingMaterial.")
            : s.Endpoint.ExportKeyingMaterial(label, context, length));

    internal void Record(DtlsEvent e)
    {
        switch (e)
        {
            case DtlsConnected c:
                Connection ??= c;
                break;
            case DtlsPeerCertificate p:
                PeerCertificate ??= p;
                break;
            case DtlsKeyingMaterial k:
                KeyingMaterial ??= k;
                break;
        }
    }

    internal void UpdateReleased()
    {
        if (Removal is not null || Faulted || (Endpoint.State != DtlsState.Connecting && !FinalFlightRetainedLocked))
        {
            _finalFlightReleased.TrySetResult();
        }
    }
}
