using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Airlift.Diagnostics;
using Airlift.Dtls;
using Microsoft.Extensions.Logging;

namespace Airlift.Net;

/// <summary>
/// An async DTLS server on one UDP port serving many peers (by remote endpoint) with one receive loop per core. New peers go through the
/// stateless cookie exchange of <see cref="DtlsServerListener"/>; read <see cref="Events"/> for handshakes, data and failures.
/// </summary>
/// <remarks>
/// <para>What a peer can make the server keep is bounded by <see cref="DtlsUdpServerOptions"/>: sessions in all and per
/// IP address, an idle timeout for connected sessions, and the event queue (with its overflow policy).</para>
/// <para>Events are race-free: the facts an event announces stay on its <see cref="DtlsUdpSession"/> and its exporter
/// keeps working until the reader reads the session's last event, <see cref="DtlsSessionRemoved"/>
/// (see <see cref="DtlsSessionEvent"/>). Read the events: while <see cref="DtlsUdpServerOptions.EventQueueCapacity"/>
/// events are unread, no new peer is admitted.</para>
/// <para>A client that restarts on the same address and port gets a new session once its new ClientHello passes the
/// cookie exchange (RFC 6347 4.2.8); an unverified ClientHello never disturbs the existing session.</para>
/// <para>Whatever handling one session throws fails and removes that session only (counted in <see cref="SessionFaults"/>).</para>
/// </remarks>
public sealed class DtlsUdpServer : IAsyncDisposable
{
    private readonly DtlsLoopGroup _group;
    private readonly DtlsSocketLoop[] _loops;

    /// <summary>Binds the socket (one per receive loop, see <see cref="DtlsUdpServerOptions.ReceiveLoops"/>) and starts serving.</summary>
    /// <param name="listen">Address and port (0 for any free port).</param>
    /// <param name="options">Options of the server and of every endpoint.</param>
    /// <param name="time">Clock; <see cref="TimeProvider.System"/> by default.</param>
    /// <param name="logger">Logger of the socket driver (handshakes started, failures, faults); by default the
    /// <c>Airlift.Net</c> logger of <see cref="DtlsUdpServerOptions.LoggerFactory"/>.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="SocketException">The address could not be bound.</exception>
    public DtlsUdpServer(IPEndPoint listen, DtlsUdpServerOptions options, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        options = WithFactories(options);
        Options = options;
        var loops = ReusePortSockets.LoopCount(options.ReceiveLoops);
        var dtls = options.Dtls;
        if (loops > 1 && dtls.Random != RandomSource.Cryptographic)
        {
            // A caller's source (a seeded one in tests) need not be thread-safe; the loops draw from it concurrently.
            dtls = dtls with { Random = new LockedRandomSource(dtls.Random) };
        }

        Listener = new DtlsServerListener(dtls);
        var sockets = ReusePortSockets.Bind(listen, loops, options.ReceiveBufferSize, options.SendBufferSize);
        logger ??= AirliftLoggers.Create(options.LoggerFactory ?? options.Dtls.LoggerFactory, AirliftLogCategories.Net);
        LocalEndpoint = (IPEndPoint)sockets[0].LocalEndPoint!;
        SocketBuffers = UdpSocketBufferSizes.Read(sockets[0], options.ReceiveBufferSize, options.SendBufferSize);
        var buffers = SocketBuffers;
        SafeLogger.Log(logger, l => NetLog.SocketBuffers(l, "DTLS server", buffers.ReceiveGranted, buffers.ReceiveRequested, buffers.SendGranted, buffers.SendRequested));
        _group = new DtlsLoopGroup(DtlsSocketLoopLimits.From(options), time ?? TimeProvider.System);
        _loops = new DtlsSocketLoop[loops];
        for (var i = 0; i < loops; i++)
        {
            _loops[i] = new DtlsSocketLoop(sockets[i], _group, logger, i == 0 ? Listener : new DtlsServerListener(Listener, dtls));
        }

        foreach (var loop in _loops)
        {
            loop.Start();
        }
    }

    /// <summary>Binds the socket and starts serving with the default limits of <see cref="DtlsUdpServerOptions"/> and <paramref name="maxSessions"/>.</summary>
    /// <param name="listen">Address and port (0 for any free port).</param>
    /// <param name="options">Options of every server endpoint.</param>
    /// <param name="time">Clock; <see cref="TimeProvider.System"/> by default.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="maxSessions">Concurrent peers kept; datagrams from further new peers are dropped and counted.</param>
    public DtlsUdpServer(IPEndPoint listen, DtlsOptions options, TimeProvider? time = null, ILogger? logger = null, int maxSessions = 1024)
        : this(listen, new DtlsUdpServerOptions(options) { MaxSessions = maxSessions }, time, logger)
    {
    }

    /// <summary>The server's factories also serve its endpoints, unless their DTLS options name their own.</summary>
    private static DtlsUdpServerOptions WithFactories(DtlsUdpServerOptions options) =>
        (options.Dtls.LoggerFactory is null && options.LoggerFactory is not null) || (options.Dtls.MeterFactory is null && options.MeterFactory is not null)
            ? options with { Dtls = options.Dtls with { LoggerFactory = options.Dtls.LoggerFactory ?? options.LoggerFactory, MeterFactory = options.Dtls.MeterFactory ?? options.MeterFactory } }
            : options;

    /// <summary>The bound address.</summary>
    public IPEndPoint LocalEndpoint { get; }

    /// <summary>The options in force.</summary>
    public DtlsUdpServerOptions Options { get; }

    /// <summary>The UDP socket buffers requested and what the kernel granted (the same for every receive loop's socket; see
    /// <see cref="DtlsUdpServerOptions.ReceiveBufferSize"/>).</summary>
    public UdpSocketBufferSizes SocketBuffers { get; }

    /// <summary>The cookie front (its counters).</summary>
    public DtlsServerListener Listener { get; }

    /// <summary>
    /// Events from every session, in order per session; the last one of each session is <see cref="DtlsSessionRemoved"/>.
    /// Bounded by <see cref="DtlsUdpServerOptions.EventQueueCapacity"/> with the overflow policy described there.
    /// Completes when the server is disposed.
    /// </summary>
    public ChannelReader<DtlsSessionEvent> Events => _group.Events;

    /// <summary>Sessions served now (by every receive loop).</summary>
    public int SessionCount => _group.SessionCount;

    /// <summary>Receive loops serving (each on its own socket of <see cref="LocalEndpoint"/>; see <see cref="DtlsUdpServerOptions.ReceiveLoops"/>).</summary>
    public int ReceiveLoops => _loops.Length;

    /// <summary>The receive loops (tests).</summary>
    internal IReadOnlyList<DtlsSocketLoop> Loops => _loops;

    /// <summary>The receive loops' sockets (tests).</summary>
    internal IEnumerable<Socket> Sockets => _loops.Select(l => l.Socket);

    /// <summary>Sessions of each receive loop now (how the kernel spread the peers).</summary>
    public IReadOnlyList<int> SessionsPerLoop => [.. _loops.Select(l => l.LoopSessionCount)];

    /// <summary>Datagrams from new peers dropped because <see cref="DtlsUdpServerOptions.MaxSessions"/> was reached.</summary>
    public long DroppedSessionLimit => _group.DroppedSessionLimit;

    /// <summary>Datagrams from new peers dropped because their IP address had <see cref="DtlsUdpServerOptions.MaxSessionsPerAddress"/> sessions.</summary>
    public long DroppedAddressLimit => _group.DroppedAddressLimit;

    /// <summary>Datagrams from new peers dropped because <see cref="DtlsUdpServerOptions.EventQueueCapacity"/> events were unread.</summary>
    public long DroppedEventBacklog => _group.DroppedEventBacklog;

    /// <summary>Application-data events dropped because <see cref="DtlsUdpServerOptions.EventQueueCapacity"/> events were unread,
    /// or records dropped because a session's receive buffer (<see cref="DtlsUdpServerOptions.SessionReceiveBufferSize"/>) was full.</summary>
    public long EventsDropped => _group.EventsDropped;

    /// <summary>Sessions failed and removed because handling them threw (<see cref="DtlsSessionRemovalReason.InternalError"/>).</summary>
    public long SessionFaults => _group.SessionFaults;

    /// <summary>
    /// Sends close_notify to every connected peer, stops serving, releases the socket and disposes every endpoint
    /// (their secrets are zeroed). <see cref="Events"/> then holds a <see cref="DtlsSessionRemoved"/> for each session
    /// served and completes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var loop in _loops)
        {
            await loop.DisposeAsync().ConfigureAwait(false);
        }
    }
}
