using System.Collections.Concurrent;
using System.Net;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Net;
using Airlift.NetEm;
using Airlift.NetEm.Proxy;
using Airlift.Transport;
using Airlift.WebRtc;
using Microsoft.Extensions.Logging;

namespace Airlift.Cli.Serve;

/// <summary>An impairment proxy put in front of the first UDP address (demonstrations and the lossy end-to-end test).</summary>
/// <param name="LossPercent">Random loss each way, in percent.</param>
/// <param name="MaxDatagram">Datagrams larger than this are dropped each way (null: no limit).</param>
/// <param name="Seed">Seed of the loss stream.</param>
internal sealed record EchoImpairment(double LossPercent, int? MaxDatagram, ulong Seed);

/// <summary>Settings of an <see cref="EchoServer"/>.</summary>
internal sealed record EchoServerOptions
{
    public required IReadOnlyList<IPEndPoint> Udp { get; init; }

    public IPEndPoint? Tcp { get; init; }

    /// <summary>Address put in the candidates instead of the bound one (a server behind a 1:1 NAT).</summary>
    public IPAddress? Announce { get; init; }

    public required DtlsCertificate Certificate { get; init; }

    public int MaxDatagramSize { get; init; } = 1200;

    /// <summary>DTLS versions offered to browsers (DTLS 1.3 preferred by default; both browsers offer it first).</summary>
    public IReadOnlyList<ProtocolVersion> DtlsVersions { get; init; } = [ProtocolVersion.Dtls13, ProtocolVersion.Dtls12];

    public IReadOnlyList<SrtpProtectionProfile> SrtpProfiles { get; init; } =
        [SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.AeadAes256Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80];

    public int MaxSessions { get; init; } = 64;

    /// <summary>Kernel receive queue asked for each UDP socket (<see cref="TransportHostOptions.ReceiveBufferSize"/>; 0: kernel default).</summary>
    public int ReceiveBufferSize { get; init; } = UdpSocketBufferSizes.DefaultReceiveBufferSize;

    /// <summary>
    /// Most live sessions one HTTP client may hold (by address: an IPv4 address, or the /64 of an IPv6 one); beyond it an
    /// offer gets 429 with Retry-After. Default 8. Behind a reverse proxy every client has the proxy's address.
    /// </summary>
    public int MaxSessionsPerClient { get; init; } = DefaultMaxSessionsPerClient;

    /// <summary>Default of <see cref="MaxSessionsPerClient"/>.</summary>
    public const int DefaultMaxSessionsPerClient = 8;

    /// <summary>What each session keeps and sends because of its peer (NACK budget, SSRCs, histories).</summary>
    public EchoLimits Limits { get; init; } = EchoLimits.Default;

    /// <summary>Test hook: called with the session id before each of its transport events is handled.</summary>
    internal Action<string, WebRtcTransportEvent>? BeforeEvent { get; init; }

    /// <summary>A session whose DTLS is not connected this long after the answer is closed.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Closed sessions whose stats stay readable (the oldest are forgotten first).</summary>
    public int ClosedSessionsKept { get; init; } = 32;

    public EchoImpairment? Impairment { get; init; }

    /// <summary>WHIP/WHEP caps and rates.</summary>
    public BroadcastLimits Broadcast { get; init; } = new();
}

/// <summary>The result of <see cref="EchoServer.CreateSession"/>: 201 with the answer, or an HTTP error status and reason.</summary>
/// <param name="RetryAfter">Seconds for a Retry-After header (429 and 503: a limit was reached).</param>
internal sealed record EchoCreateResult(int Status, string Body, string? Id, int? RetryAfter = null);

/// <summary>
/// The echo service behind <c>airlift serve</c>: one <see cref="TransportHost"/> (shared UDP sockets routed by ufrag, and
/// ICE-TCP), and an <see cref="EchoSession"/> per accepted offer. Thread-safe.
/// </summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly EchoServerOptions _options;
    private readonly ILogger? _logger;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly TransportHost _host;
    private readonly UdpImpairmentProxy? _proxy;
    private readonly ConcurrentDictionary<string, EchoSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _closedOrder = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _ssrcGate = new();
    private readonly HashSet<uint> _ssrcs = [];
    private readonly Lock _createGate = new();

    /// <summary>One immutable set of DTLS options for every session (each transport derives its own with the peer's fingerprint).</summary>
    private readonly DtlsOptions _dtls;

    // Echo sessions not finished, in all and per client (under _clientGate): counting _sessions walked every session, the
    // closed ones kept for their stats included, on every offer under the create lock.
    private readonly Lock _clientGate = new();
    private readonly Dictionary<string, int> _openByClient = new(StringComparer.Ordinal);
    private int _open;

    private EchoServer(EchoServerOptions options, ILogger? logger, ILoggerFactory? loggerFactory, TransportHost host, UdpImpairmentProxy? proxy, IReadOnlyList<IceCandidate> candidates)
    {
        _options = options;
        _logger = logger;
        _loggerFactory = loggerFactory;
        _host = host;
        _proxy = proxy;
        Candidates = candidates;
        _dtls = new DtlsOptions(options.Certificate)
        {
            MaxDatagramSize = options.MaxDatagramSize,
            SrtpProfiles = options.SrtpProfiles,
            ProtocolVersions = options.DtlsVersions,
            LoggerFactory = loggerFactory,
        };
        Broadcast = new BroadcastHub(options.Broadcast, candidates, CreateTransport, NewSsrc, options.ConnectTimeout, _stop.Token, logger);
    }

    /// <summary>The WHIP publishers and WHEP viewers on this server's transports.</summary>
    public BroadcastHub Broadcast { get; }

    /// <summary>A transport for an offer (fingerprint, ICE and setup checked), counted against <see cref="EchoServerOptions.MaxSessions"/>.</summary>
    private TransportSession? CreateTransport(SdpOffer offer, DtlsRole role, out EchoCreateResult? error)
    {
        CertificateFingerprint? remoteFingerprint = null;
        foreach (var fp in offer.Ice.Fingerprints)
        {
            if (CertificateFingerprint.TryParse(fp.ToString(), out remoteFingerprint))
            {
                break;
            }
        }

        if (remoteFingerprint is null || offer.Ice.Setup is null or SdpSetupRole.HoldConn || offer.Ice.Ufrag is null || offer.Ice.Password is null)
        {
            error = new(400, "bad offer: it needs a=fingerprint (sha-256/384/512), a=setup (not holdconn), a=ice-ufrag and a=ice-pwd (RFC 8842, RFC 8839)\n", null);
            return null;
        }

        if (OpenSessions + Broadcast.LiveCount >= _options.MaxSessions)
        {
            ServeMetrics.Refuse("max_sessions");
            error = new(503, $"the server serves its maximum of {_options.MaxSessions} sessions; retry later\n", null, RetryAfterSeconds);
            return null;
        }

        try
        {
            error = null;
            return _host.CreateSession(new WebRtcTransportOptions(_dtls, offer.Ice.Setup.Value, remoteFingerprint)
            {
                RemoteUfrag = offer.Ice.Ufrag,
                RemotePassword = offer.Ice.Password,
                ActPassAnswerRole = role, // the transport logs to the host's logger (the same one), see TransportHost.CreateSession
            });
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            error = new(503, "cannot create a transport: " + ex.Message + "\n", null);
            return null;
        }
    }

    /// <summary>The candidates every answer carries.</summary>
    public IReadOnlyList<IceCandidate> Candidates { get; }

    public IReadOnlyList<IPEndPoint> UdpEndpoints => _host.UdpEndpoints;

    /// <summary>The UDP socket buffers asked for and granted.</summary>
    public UdpSocketBufferSizes SocketBuffers => _host.SocketBuffers;

    public IReadOnlyList<IPEndPoint> TcpEndpoints => _host.TcpEndpoints;

    /// <summary>Where the impairment proxy listens, when there is one.</summary>
    public IPEndPoint? ProxyEndpoint => _proxy?.ListenEndpoint;

    /// <summary>Echo sessions open now (not finished).</summary>
    public int OpenSessions => Volatile.Read(ref _open);

    /// <summary>The key sessions are counted by per client: the IPv4 address, or the /64 prefix of an IPv6 one (one host usually holds a whole /64).</summary>
    public static string ClientKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(address))
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        bytes.AsSpan(8).Clear();
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>Binds the sockets (and starts the proxy, if asked).</summary>
    /// <exception cref="ArgumentException">Invalid limits.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">An address could not be bound.</exception>
    /// <param name="options">Addresses, certificate and limits.</param>
    /// <param name="logger">The server's own lines (sessions, refusals, errors).</param>
    /// <param name="loggerFactory">The DTLS handshake timeline of each session, in the Airlift.Dtls category; null: none.</param>
    public static async Task<EchoServer> StartAsync(EchoServerOptions options, ILogger? logger, ILoggerFactory? loggerFactory = null)
    {
        options.Limits.Validate();
        if (options.MaxSessionsPerClient < 1)
        {
            throw new ArgumentException("MaxSessionsPerClient must be at least 1.", nameof(options));
        }

        var host = new TransportHost(
            new TransportHostOptions
            {
                UdpListen = options.Udp,
                TcpListen = options.Tcp is { } tcpListen ? [tcpListen] : [],
                MaxSessions = options.MaxSessions,
                ReceiveBufferSize = options.ReceiveBufferSize,
            },
            TimeProvider.System,
            logger);
        UdpImpairmentProxy? proxy = null;
        try
        {
            var candidates = new List<IceCandidate>();
            if (options.Impairment is { } imp)
            {
                var loss = new LinkImpairment { LossRate = imp.LossPercent / 100, MaxDatagramSize = imp.MaxDatagram };
                var upstream = host.UdpEndpoints[0];
                proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(
                    new IPEndPoint(upstream.Address, 0),
                    upstream,
                    new NetEmOptions(loss, loss, [], imp.Seed) { MaxTraceEntries = 0 }));
                await proxy.StartAsync().ConfigureAwait(false);
                candidates.Add(IceCandidate.CreateHost(proxy.ListenEndpoint, IceProtocol.Udp, options.Announce));
            }
            else
            {
                foreach (var (udp, i) in host.UdpEndpoints.Select((e, i) => (e, i)))
                {
                    // Earlier addresses first: a lower local preference for each later one (RFC 8445 5.1.2.1).
                    candidates.Add(IceCandidate.CreateHost(udp, IceProtocol.Udp, options.Announce, foundation: $"u{i}", localPreference: IceCandidate.DefaultUdpLocalPreference - i));
                }
            }

            foreach (var tcp in host.TcpEndpoints)
            {
                candidates.Add(IceCandidate.CreateHost(tcp, IceProtocol.Tcp, options.Announce, foundation: "t0"));
            }

            return new EchoServer(options, logger, loggerFactory, host, proxy, candidates);
        }
        catch
        {
            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }

            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Answers <paramref name="offerText"/> from <paramref name="client"/> (a <see cref="ClientKey"/>); <paramref name="setup"/>
    /// is <c>passive</c> (default) or <c>active</c>, our DTLS role when the offer says actpass.
    /// </summary>
    public EchoCreateResult CreateSession(string offerText, string? setup, string client = "unknown")
    {
        var actPassRole = setup switch
        {
            null or "" or "passive" => DtlsRole.Server,
            "active" => DtlsRole.Client,
            _ => (DtlsRole?)null,
        };
        if (actPassRole is not { } role)
        {
            return new(400, "setup must be passive (we are the DTLS server) or active (we are the DTLS client)\n", null);
        }

        if (!SdpOffer.TryParse(offerText, out var offer, out var parseError))
        {
            return new(400, "bad offer: " + parseError + "\n", null);
        }

        CertificateFingerprint? remoteFingerprint = null;
        foreach (var fp in offer.Ice.Fingerprints)
        {
            if (CertificateFingerprint.TryParse(fp.ToString(), out remoteFingerprint))
            {
                break;
            }
        }

        if (remoteFingerprint is null)
        {
            return new(400, "bad offer: no a=fingerprint with a supported hash function (sha-256, sha-384, sha-512)\n", null);
        }

        if (offer.Ice.Setup is null or SdpSetupRole.HoldConn || offer.Ice.Ufrag is null || offer.Ice.Password is null)
        {
            // Let the answer builder give the precise reason.
            return Build(offer, null, null);
        }

        lock (_createGate)
        {
            if (OpenSessions >= _options.MaxSessions)
            {
                ServeMetrics.Refuse("max_sessions");
                return new(503, $"the server serves its maximum of {_options.MaxSessions} sessions; retry later\n", null, RetryAfterSeconds);
            }

            var mine = OpenSessionsOf(client);
            if (mine >= _options.MaxSessionsPerClient)
            {
                ServeMetrics.Refuse("per_client");
                return new(429, $"this client ({client}) already holds {mine} sessions, the most one client may hold (--max-sessions-per-client); DELETE one or retry later\n", null, RetryAfterSeconds);
            }

            var transportOptions = new WebRtcTransportOptions(_dtls, offer.Ice.Setup.Value, remoteFingerprint)
            {
                RemoteUfrag = offer.Ice.Ufrag,
                RemotePassword = offer.Ice.Password,
                ActPassAnswerRole = role, // the transport logs to the host's logger (the same one), see TransportHost.CreateSession
            };
            TransportSession session;
            try
            {
                session = _host.CreateSession(transportOptions);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                return new(503, "cannot create a transport: " + ex.Message + "\n", null);
            }

            var id = EchoAnswer.NewToken();
            EchoCreateResult result;
            try
            {
                result = Build(offer, session, id, client);
            }
            catch (Exception ex)
            {
                // A bug answering one offer must not leave its transport holding a place on the host.
                ServeMetrics.InternalErrors.Add(1);
                _logger?.LogError(ex, "Answering an offer failed");
                result = new(500, "internal error while answering the offer\n", null);
            }

            if (result.Status != 201)
            {
                session.Close();
            }

            return result;
        }
    }

    /// <summary>Seconds a refused client should wait: by then a session that never connects has been closed.</summary>
    private int RetryAfterSeconds => (int)Math.Clamp(Math.Ceiling(_options.ConnectTimeout.TotalSeconds), 1, 3600);

    private EchoCreateResult Build(SdpOffer offer, TransportSession? session, string? id, string client = "unknown")
    {
        var parameters = new EchoAnswerParameters(
            session?.LocalUfrag ?? "unused",
            session?.LocalPassword ?? "unusedunusedunusedunused",
            session?.LocalFingerprint.ToString() ?? "sha-256 00",
            session?.LocalSetup ?? SdpSetupRole.Passive,
            Candidates,
            (ulong)Random.Shared.NextInt64(1, long.MaxValue),
            "airlift-" + EchoAnswer.NewToken(6),
            NewSsrc);
        if (!EchoAnswer.TryBuild(offer, parameters, out var plan, out var error))
        {
            return new(400, "bad offer: " + error + "\n", null);
        }

        if (session is null || id is null)
        {
            ReleaseSsrcs(plan);
            return new(400, "bad offer\n", null);
        }

        var hook = _options.BeforeEvent;
        EchoSession echo;
        try
        {
            echo = new EchoSession(id, client, _host, session, plan, _options.Limits, _logger)
            {
                BeforeEvent = hook is null ? null : e => hook(id, e),
                Finished = () => CountOpen(client, -1),
            };
        }
        catch
        {
            ReleaseSsrcs(plan);
            throw;
        }

        _sessions[id] = echo;
        CountOpen(client, +1);
        _ = Task.Run(async () =>
        {
            try
            {
                await echo.RunAsync(_options.ConnectTimeout, _stop.Token).ConfigureAwait(false);
            }
            finally
            {
                ReleaseSsrcs(plan);
                Forget(id);
            }
        });
        _logger?.LogInformation("Echo {Id}: answered ({Streams} streams, setup {Setup})", id, plan.Streams.Count, session.LocalSetup);
        return new(201, plan.Answer, id);
    }

    public EchoSession? Get(string id) => _sessions.GetValueOrDefault(id);

    /// <summary>Closes a session; false when unknown. Waits (bounded) for its loop to finish.</summary>
    public async Task<bool> DeleteAsync(string id)
    {
        if (!_sessions.TryGetValue(id, out var session))
        {
            return false;
        }

        session.Close("closed by DELETE");
        await WaitBounded(session.Closed).ConfigureAwait(false);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Broadcast.CloseAll("server stopping");
        foreach (var s in _sessions.Values)
        {
            s.Close("server stopping");
        }

        await WaitBounded(Task.WhenAll(_sessions.Values.Select(s => s.Closed))).ConfigureAwait(false);
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync().ConfigureAwait(false);
        }

        await _host.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Waits at most 5 s: a session loop ends as soon as its transport is closed, so this only bounds a bug.</summary>
    private static async Task WaitBounded(Task task)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private int OpenSessionsOf(string client)
    {
        lock (_clientGate)
        {
            return _openByClient.GetValueOrDefault(client);
        }
    }

    private void CountOpen(string client, int delta)
    {
        Interlocked.Add(ref _open, delta);
        lock (_clientGate)
        {
            var n = _openByClient.GetValueOrDefault(client) + delta;
            if (n > 0)
            {
                _openByClient[client] = n;
            }
            else
            {
                _openByClient.Remove(client);
            }
        }
    }

    private uint NewSsrc()
    {
        lock (_ssrcGate)
        {
            return EchoAnswer.NewSsrc(_ssrcs);
        }
    }

    private void ReleaseSsrcs(EchoPlan plan)
    {
        lock (_ssrcGate)
        {
            foreach (var s in plan.Streams)
            {
                _ssrcs.Remove(s.LocalSsrc);
            }
        }
    }

    /// <summary>Keeps a closed session's stats readable until <see cref="EchoServerOptions.ClosedSessionsKept"/> newer ones closed.</summary>
    private void Forget(string id)
    {
        _closedOrder.Enqueue(id);
        while (_closedOrder.Count > _options.ClosedSessionsKept && _closedOrder.TryDequeue(out var old))
        {
            _sessions.TryRemove(old, out _);
        }
    }
}
