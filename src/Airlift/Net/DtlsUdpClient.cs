using System.Net;
using System.Net.Sockets;
using Airlift.Diagnostics;
using Airlift.Dtls;
using Microsoft.Extensions.Logging;

namespace Airlift.Net;

/// <summary>Raised when a handshake fails; carries the endpoint's <see cref="DtlsFailed"/> event.</summary>
public sealed class DtlsHandshakeException : Exception
{
    /// <summary>Creates the exception from a failure event.</summary>
    public DtlsHandshakeException(DtlsFailed failure)
        : this(failure, null)
    {
    }

    /// <summary>Creates the exception from a failure event and the failed endpoint's counters.</summary>
    public DtlsHandshakeException(DtlsFailed failure, DtlsStats? stats)
        : base($"DTLS handshake failed: {failure.Reason}: {failure.Message}")
    {
        Failure = failure;
        Stats = stats;
    }

    /// <summary>The failure.</summary>
    public DtlsFailed Failure { get; }

    /// <summary>The counters of the endpoint that failed (datagrams sent and received, retransmissions, drops), when known.</summary>
    public DtlsStats? Stats { get; }
}

/// <summary>An async DTLS client over a UDP socket.</summary>
public sealed class DtlsUdpClient : IAsyncDisposable
{
    private readonly DtlsSocketLoop _loop;
    private readonly DtlsUdpSession _session;

    private DtlsUdpClient(DtlsSocketLoop loop, DtlsUdpSession session)
    {
        _loop = loop;
        _session = session;
    }

    /// <summary>Negotiated parameters.</summary>
    public DtlsConnected Connection { get; private set; } = null!;

    /// <summary>The server's certificate chain.</summary>
    public DtlsPeerCertificate? PeerCertificate { get; private set; }

    /// <summary>DTLS-SRTP keying material, when SRTP was negotiated.</summary>
    public DtlsKeyingMaterial? KeyingMaterial { get; private set; }

    /// <summary>The client's socket loop (tests).</summary>
    internal DtlsSocketLoop Loop => _loop;

    /// <summary>The underlying session (stats, trace, exporter).</summary>
    public DtlsUdpSession Session => _session;

    /// <summary>Connects and completes the handshake.</summary>
    /// <exception cref="ArgumentException">The options are invalid, e.g. they neither expect a server fingerprint, nor validate the
    /// server's certificate, nor explicitly allow any (<see cref="DtlsOptions.AllowAnyPeerCertificate"/>).</exception>
    /// <exception cref="DtlsHandshakeException">The handshake failed (including its own timeout).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public static async Task<DtlsUdpClient> ConnectAsync(IPEndPoint server, DtlsOptions options, TimeProvider? time = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(DtlsRole.Client); // before a socket exists: no fingerprint, validator or explicit AllowAnyPeerCertificate is an error
        var v6 = server.AddressFamily == AddressFamily.InterNetworkV6;
        var local = IPAddress.IsLoopback(server.Address)
            ? (v6 ? IPAddress.IPv6Loopback : IPAddress.Loopback)
            : (v6 ? IPAddress.IPv6Any : IPAddress.Any);
        var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(local, 0));
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var loop = new DtlsSocketLoop(socket, time ?? TimeProvider.System, logger ?? AirliftLoggers.Create(options.LoggerFactory, AirliftLogCategories.Net), listener: null, DtlsSocketLoopLimits.Client with { MeterFactory = options.MeterFactory });
        var session = loop.Add(server, DtlsEndpoint.CreateClient(options, loop.Now));
        var client = new DtlsUdpClient(loop, session);
        loop.Start();
        try
        {
            await foreach (var e in loop.Events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                switch (e.Event)
                {
                    case DtlsPeerCertificate p:
                        client.PeerCertificate = p;
                        break;
                    case DtlsConnected c:
                        client.Connection = c;
                        break;
                    case DtlsKeyingMaterial k:
                        client.KeyingMaterial = k;
                        break;
                    case DtlsFailed f:
                        throw new DtlsHandshakeException(f, session.Stats);
                }

                if (client.Connection is not null && (client.KeyingMaterial is not null || client.Connection.SrtpProfile is null))
                {
                    return client;
                }
            }

            throw new InvalidOperationException("The client loop stopped before the handshake completed.");
        }
        catch
        {
            await loop.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Bytes of received application data the client buffers for its reader (1 MiB); beyond it records are dropped
    /// (the peer's protocol recovers them like lost datagrams).</summary>
    internal const int ReceiveBufferSize = 1024 * 1024;

    /// <summary>Sends application data as one record (sealed straight into the driver's send buffer: no allocation).</summary>
    /// <exception cref="InvalidOperationException">Not connected.</exception>
    /// <exception cref="ArgumentException">Larger than the endpoint's maximum application-data size.</exception>
    public void Send(ReadOnlySpan<byte> data) => _session.Send(data);

    /// <summary>Receives the next application-data record as a new array, or null when the connection closed or failed.
    /// <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/> receives into the caller's buffer without allocating.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before a record arrived
    /// (a peer that does not answer; the connection stays usable).</exception>
    public async ValueTask<byte[]?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        var size = await _session.ReceiveAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (size.Status == DtlsReceiveStatus.None)
        {
            return null;
        }

        if (size.Status == DtlsReceiveStatus.Received)
        {
            return []; // an empty record
        }

        var record = new byte[size.Length];
        var received = await _session.ReceiveAsync(record, cancellationToken).ConfigureAwait(false); // buffered: returns at once
        return received.Status == DtlsReceiveStatus.Received ? record : null;
    }

    /// <summary>
    /// Receives the next application-data record into <paramref name="destination"/> without allocating:
    /// <see cref="DtlsReceiveStatus.Received"/> with its length, <see cref="DtlsReceiveStatus.BufferTooSmall"/> with the size
    /// needed (the record stays), <see cref="DtlsReceiveStatus.None"/> once the connection closed or failed (see
    /// <see cref="DtlsUdpSession.ReceiveAsync"/>).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before a record arrived.</exception>
    public ValueTask<DtlsReceiveResult> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken = default) =>
        _session.ReceiveAsync(destination, cancellationToken);

    /// <summary>Sends close_notify (when connected), releases the socket and disposes the endpoint (its secrets are zeroed).</summary>
    public ValueTask DisposeAsync() => _loop.DisposeAsync();
}
