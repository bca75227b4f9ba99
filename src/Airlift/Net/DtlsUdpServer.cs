using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Airlift.Dtls;
using Microsoft.Extensions.Logging;

namespace Airlift.Net;

/// <summary>
/// An async DTLS server on one UDP socket serving many peers (by remote endpoint). New peers go through the
/// stateless cookie exchange of <see cref="DtlsServerListener"/>; read <see cref="Events"/> for handshakes, data and failures.
/// </summary>
public sealed class DtlsUdpServer : IAsyncDisposable
{
    private readonly DtlsSocketLoop _loop;

    /// <summary>Binds the socket and starts serving.</summary>
    /// <param name="listen">Address and port (0 for any free port).</param>
    /// <param name="options">Options of every server endpoint.</param>
    /// <param name="time">Clock; <see cref="TimeProvider.System"/> by default.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="maxSessions">Concurrent peers kept; datagrams from further new peers are dropped and counted.</param>
    public DtlsUdpServer(IPEndPoint listen, DtlsOptions options, TimeProvider? time = null, ILogger? logger = null, int maxSessions = 1024)
    {
        ArgumentNullException.ThrowIfNull(listen);
        var socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(listen);
        LocalEndpoint = (IPEndPoint)socket.LocalEndPoint!;
        Listener = new DtlsServerListener(options);
        _loop = new DtlsSocketLoop(socket, time ?? TimeProvider.System, logger, Listener, maxSessions);
        _loop.Start();
    }

    /// <summary>The bound address.</summary>
    public IPEndPoint LocalEndpoint { get; }

    /// <summary>The cookie front (its counters).</summary>
    public DtlsServerListener Listener { get; }

    /// <summary>Events from every session, in order per session.</summary>
    public ChannelReader<DtlsSessionEvent> Events => _loop.Events;

    /// <summary>Datagrams from new peers dropped because the session limit was reached.</summary>
    public long DroppedSessionLimit => _loop.DroppedSessionLimit;

    /// <summary>Stops serving and releases the socket.</summary>
    public ValueTask DisposeAsync() => _loop.DisposeAsync();
}
