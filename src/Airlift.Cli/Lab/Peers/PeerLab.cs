using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.NetEm;
using Airlift.NetEm.Proxy;

namespace Airlift.Cli.Lab.Peers;

/// <summary>Which side of a pairing Airlift plays.</summary>
public enum PeerPairing
{
    /// <summary>Airlift server, peer client.</summary>
    AirliftServer,

    /// <summary>Peer server, Airlift client.</summary>
    AirliftClient,

    /// <summary>The peer against itself: the baseline.</summary>
    PeerWithItself,
}

/// <summary>One trial to run.</summary>
/// <param name="Peer">The peer.</param>
/// <param name="Pairing">Who plays which role.</param>
/// <param name="LossPercent">Random loss in each direction, percent.</param>
/// <param name="RttMs">Round-trip time (half of it is added each way).</param>
/// <param name="MaxDatagram">Every side's maximum UDP payload, and the largest datagram the path carries.</param>
/// <param name="DeadlineSeconds">Both sides must be connected this long after the client started.</param>
/// <param name="Seed">Seed of the proxy's impairments.</param>
public sealed record PeerTrialSpec(PeerKind Peer, PeerPairing Pairing, double LossPercent, int RttMs, int MaxDatagram, double DeadlineSeconds, ulong Seed);

/// <summary>What a trial showed, with more detail than <see cref="LabTrial"/> (exporters, per-direction counts).</summary>
/// <param name="Trial">The lab record.</param>
/// <param name="ServerExporter">Server's exporter (hex), when it reports one.</param>
/// <param name="ClientExporter">Client's exporter (hex), when it reports one.</param>
/// <param name="ClientToServerDatagrams">Datagrams the client sent through the proxy.</param>
/// <param name="ServerToClientDatagrams">Datagrams the server sent through the proxy.</param>
/// <param name="Log">Command lines and output tails, for the run log.</param>
public sealed record PeerTrialResult(LabTrial Trial, string? ServerExporter, string? ClientExporter, long ClientToServerDatagrams, long ServerToClientDatagrams, string Log);

/// <summary>
/// The real-peer lab runner behind <c>airlift lab --peers</c>: for each requested peer, three pairings (Airlift server +
/// peer client, peer server + Airlift client, peer + peer), each trial with fresh ports and a fresh
/// <see cref="UdpImpairmentProxy"/> between client and server (seeded loss both ways, RTT/2 delay each way, the path
/// dropping datagrams above the maximum datagram size). Time to connect runs from the first datagram the client
/// sends (so process start-up of node or dotnet does not count) until both sides report connected.
/// </summary>
public sealed class PeerLab : IPeerLabRunner
{
    /// <summary>Concurrent trials by default: two, since the machine has two cores and timing must not be distorted.</summary>
    public const int DefaultParallelism = 2;

    private const int MaxTraceLines = 120;

    /// <summary>How long past the deadline a trial waits for a side's failure report.</summary>
    public static readonly TimeSpan ReportGrace = TimeSpan.FromSeconds(1);

    /// <summary>Scenario id of every trial this runner produces.</summary>
    public const string Scenario = "peers";

    /// <summary>Most concurrent trials a run may ask for.</summary>
    public const int MaxParallelism = 32;

    /// <summary>Concurrent trials unless the request says ($AIRLIFT_PEERLAB_PARALLEL, 1..<see cref="MaxParallelism"/>, else <see cref="DefaultParallelism"/>).</summary>
    public int Parallelism { get; init; } = ParallelismFromEnvironment();

    /// <summary>Sets <see cref="PeerLabRegistry.Runner"/> unless another runner was set first.</summary>
    public static void Register() => PeerLabRegistry.Runner ??= new PeerLab();

#pragma warning disable CA2255 // The CLI is an application: registering its own runner at load is the point.
    [ModuleInitializer]
    internal static void RegisterOnLoad() => Register();
#pragma warning restore CA2255

    /// <summary>Pairing label as used in reports, e.g. "airlift-client->openssl-server".</summary>
    public static string PairingLabel(string peer, PeerPairing pairing) => pairing switch
    {
        PeerPairing.AirliftServer => $"{peer}-client->airlift-server",
        PeerPairing.AirliftClient => $"airlift-client->{peer}-server",
        _ => $"{peer}-client->{peer}-server",
    };

    /// <inheritdoc/>
    public async Task<IReadOnlyList<LabTrial>> RunAsync(PeerLabRequest request, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Trials < 1 || request.LossPercents.Count == 0 || request.DeadlineSeconds <= 0)
        {
            throw new CliException("--peers needs at least one trial, one loss level and a positive deadline");
        }

        IReadOnlyList<PeerKind> peers;
        try
        {
            peers = PeerCatalog.Resolve(request.Peers);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"--peers: {ex.Message}");
        }

        foreach (var peer in peers)
        {
            if (peer.Prepare() is { } problem)
            {
                throw new CliException($"peer {peer.Name}: {problem}");
            }

            if (peer.Quirk is { } quirk)
            {
                Console.Error.WriteLine($"airlift: note: {peer.Name}: {quirk}");
            }
        }

        var specs = new List<PeerTrialSpec>();
        foreach (var peer in peers)
        {
            foreach (var pairing in Enum.GetValues<PeerPairing>())
            {
                if (peer.IsAirlift && pairing != PeerPairing.PeerWithItself)
                {
                    continue;
                }

                if (pairing == PeerPairing.PeerWithItself && peer.SelfPairNote is { } note)
                {
                    Console.Error.WriteLine($"airlift: note: {peer.Name} is not paired with itself: {note}");
                    continue;
                }

                foreach (var loss in request.LossPercents)
                {
                    for (var i = 0; i < request.Trials; i++)
                    {
                        specs.Add(new PeerTrialSpec(peer, pairing, loss, request.RttMs, request.MaxDatagram, request.DeadlineSeconds, request.Seed + (ulong)specs.Count));
                    }
                }
            }
        }

        using var certificate = await Task.Run(() => PeerCertificates.Create(request.Certificate), ct).ConfigureAwait(false);
        var results = new LabTrial[specs.Count];
        var done = 0;
        StreamWriter? log = null;
        if (!string.IsNullOrEmpty(request.OutputDirectory))
        {
            Directory.CreateDirectory(request.OutputDirectory);
            log = new StreamWriter(Path.Combine(request.OutputDirectory, "peers.log"), append: false);
        }

        var logLock = new Lock();
        using var gate = new SemaphoreSlim(Math.Clamp(request.Parallelism > 0 ? request.Parallelism : Parallelism, 1, MaxParallelism));
        progress?.Report((0, specs.Count));
        try
        {
            var tasks = specs.Select(async (spec, index) =>
            {
                await gate.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    string text;
                    try
                    {
                        var r = await RunTrialAsync(spec, certificate, ct).ConfigureAwait(false);
                        results[index] = r.Trial;
                        text = r.Log;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        // One broken trial (a peer that cannot start, a socket error) is a failed trial, not a failed run.
                        var label = PairingLabel(spec.Peer.Name, spec.Pairing);
                        results[index] = new LabTrial(Scenario, label, spec.LossPercent, spec.Seed, false, null, 0, 0, 0, null, PeerText.Shorten($"{ex.GetType().Name}: {ex.Message}"));
                        text = $"== {label} loss {spec.LossPercent.ToString(CultureInfo.InvariantCulture)}% seed {spec.Seed}\nresult: FAILED: {ex}";
                    }

                    lock (logLock)
                    {
                        log?.WriteLine(text);
                        log?.Flush();
                    }
                }
                finally
                {
                    gate.Release();
                }

                progress?.Report((Interlocked.Increment(ref done), specs.Count));
            });
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            if (log is not null)
            {
                await log.DisposeAsync().ConfigureAwait(false);
            }
        }

        return results;
    }

    /// <summary>Runs one trial: server, proxy, client; waits for both to connect or the deadline; kills everything.</summary>
    public static async Task<PeerTrialResult> RunTrialAsync(PeerTrialSpec spec, PeerCertificates certificate, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(certificate);
        var label = PairingLabel(spec.Peer.Name, spec.Pairing);
        var deadline = TimeSpan.FromSeconds(spec.DeadlineSeconds);
        var log = new List<string> { $"== {label} loss {spec.LossPercent.ToString(CultureInfo.InvariantCulture)}% seed {spec.Seed}" };
        await using var server = spec.Pairing == PeerPairing.AirliftServer || spec.Peer.IsAirlift
            ? (TrialSide)new AirliftServerSide(certificate, spec, deadline)
            : ServerProgram(spec, certificate);
        TrialSide? client = null;
        UdpImpairmentProxy? proxy = null;
        string? error = null;
        long? firstClientDatagram = null;
        long clientStart = 0;
        try
        {
            try
            {
                await server.StartAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
            }
            catch (PeerFailedException ex)
            {
                return Finish(spec, label, log, server, null, null, null, 0, $"server did not start: {ex.Message}");
            }
            catch (TimeoutException)
            {
                return Finish(spec, label, log, server, null, null, null, 0, "server did not report ready within 30 s");
            }

            var path = new LinkImpairment
            {
                LossRate = spec.LossPercent / 100.0,
                Delay = TimeSpan.FromMilliseconds(spec.RttMs / 2.0),
                MaxDatagramSize = spec.MaxDatagram,
            };
            proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(
                new IPEndPoint(IPAddress.Loopback, 0),
                new IPEndPoint(IPAddress.Loopback, server.Port),
                new NetEmOptions(path, path, [], spec.Seed)));
            var proxyStart = Stopwatch.GetTimestamp();
            await proxy.StartAsync(ct).ConfigureAwait(false);

            client = spec.Pairing == PeerPairing.AirliftClient || spec.Peer.IsAirlift
                ? new AirliftClientSide(certificate, spec, deadline, proxy.ListenEndpoint)
                : new ProgramSide(spec.Peer.Client(new PeerLaunch(proxy.ListenEndpoint.Port, certificate.Files, spec.MaxDatagram, spec.DeadlineSeconds)));
            clientStart = Stopwatch.GetTimestamp();
            try
            {
                await client.StartAsync(TimeSpan.Zero, ct).ConfigureAwait(false);
            }
            catch (PeerFailedException ex)
            {
                return Finish(spec, label, log, server, client, proxy.Stats, null, clientStart, $"client did not start: {ex.Message}");
            }

            // Wait a little past the deadline so a side that gives up exactly at it (Airlift's HandshakeTimeout) can
            // still report why; success is judged against the deadline itself in Finish.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(deadline + ReportGrace);
            try
            {
                await Task.WhenAll(server.Connected, client.Connected).WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                error = $"not connected within {spec.DeadlineSeconds.ToString(CultureInfo.InvariantCulture)} s (server {Describe(server.Connected)}, client {Describe(client.Connected)})";
            }
            catch (Exception ex) when (ex is PeerFailedException or DtlsHandshakeException)
            {
                error = PeerText.Shorten(ex.Message);
            }

            var trace = proxy.GetTrace();
            var first = trace.FirstOrDefault(t => t.Direction == LinkDirection.ClientToServer);
            if (error is not null || !server.Connected.IsCompletedSuccessfully || !client.Connected.IsCompletedSuccessfully)
            {
                // The path's ladder (what each datagram held and its fate) is what explains a failed trial.
                log.Add("path trace:");
                log.AddRange(trace.Take(MaxTraceLines).Select(t => "  " + t));
            }

            if (first is not null)
            {
                firstClientDatagram = proxyStart + (long)(first.SentAt.TotalSeconds * Stopwatch.Frequency);
            }

            return Finish(spec, label, log, server, client, proxy.Stats, firstClientDatagram, clientStart, error, deadline);
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }

            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static PeerTrialResult Finish(PeerTrialSpec spec, string label, List<string> log, TrialSide server, TrialSide? client, UdpProxyStats? stats, long? firstClientDatagram, long clientStart, string? error, TimeSpan deadline = default)
    {
        var serverAt = server.Connected.IsCompletedSuccessfully ? server.Connected.Result : (long?)null;
        var clientAt = client?.Connected.IsCompletedSuccessfully == true ? client.Connected.Result : (long?)null;
        var connected = error is null && serverAt is not null && clientAt is not null;
        // The deadline and the time to connect both run from the client's first datagram: a program's start-up (node,
        // dotnet) is not the handshake's time.
        var start = firstClientDatagram ?? clientStart;
        if (connected && Stopwatch.GetElapsedTime(start, Math.Max(serverAt!.Value, clientAt!.Value)) > deadline)
        {
            connected = false;
            error = $"connected only after the {spec.DeadlineSeconds.ToString(CultureInfo.InvariantCulture)} s deadline";
        }

        if (connected && server.Exporter is { } se && client!.Exporter is { } ce && !string.Equals(se, ce, StringComparison.OrdinalIgnoreCase))
        {
            connected = false;
            error = "exporter mismatch: the sides derived different keying material";
        }

        double? ms = null;
        if (connected)
        {
            ms = Math.Round(Stopwatch.GetElapsedTime(start, Math.Max(serverAt!.Value, clientAt!.Value)).TotalMilliseconds, 2);
        }

        var c2s = stats?.Emulator.ClientToServer;
        var s2c = stats?.Emulator.ServerToClient;
        var airlift = server.AirliftStats ?? client?.AirliftStats;
        var trial = new LabTrial(
            Scenario,
            label,
            spec.LossPercent,
            spec.Seed,
            connected,
            ms,
            (c2s?.Seen ?? 0) + (s2c?.Seen ?? 0),
            Math.Max(c2s?.LargestSeen ?? 0, s2c?.LargestSeen ?? 0),
            airlift?.Retransmissions ?? 0,
            server.EffectiveMaxDatagram ?? client?.EffectiveMaxDatagram,
            connected ? null : error ?? "not connected");
        log.Add($"result: {(connected ? $"connected in {ms} ms" : "FAILED: " + trial.Error)}; datagrams c->s {c2s?.Seen ?? 0} (dropped {c2s?.Dropped ?? 0}), s->c {s2c?.Seen ?? 0} (dropped {s2c?.Dropped ?? 0}), largest {trial.LargestDatagram}, airlift retransmissions {trial.Retransmissions}");
        log.Add($"server: {server.Describe()}");
        if (client is not null)
        {
            log.Add($"client: {client.Describe()}");
        }

        return new PeerTrialResult(trial, server.Exporter, client?.Exporter, c2s?.Seen ?? 0, s2c?.Seen ?? 0, string.Join('\n', log));
    }

    private static ProgramSide ServerProgram(PeerTrialSpec spec, PeerCertificates certificate)
    {
        var port = FreeUdpPort();
        return new ProgramSide(spec.Peer.Server(new PeerLaunch(port, certificate.Files, spec.MaxDatagram, spec.DeadlineSeconds)), port);
    }

    private static string Describe(Task<long> t) => t.IsCompletedSuccessfully ? "connected" : t.IsFaulted ? "failed" : "waiting";

    /// <summary>A free UDP port on 127.0.0.1 that is also free on the wildcard addresses (gnutls-serv binds those).</summary>
    public static int FreeUdpPort()
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            int port;
            using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
            {
                s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                port = ((IPEndPoint)s.LocalEndPoint!).Port;
            }

            try
            {
                using var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                v4.Bind(new IPEndPoint(IPAddress.Any, port));
                if (Socket.OSSupportsIPv6)
                {
                    using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = false };
                    v6.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
                }

                return port;
            }
            catch (SocketException)
            {
                // Taken on a wildcard address: try another.
            }
        }

        throw new InvalidOperationException("no free UDP port on 127.0.0.1 after 20 attempts");
    }

    private static int ParallelismFromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable("AIRLIFT_PEERLAB_PARALLEL"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxParallelism
            ? n
            : DefaultParallelism;

    internal static DtlsOptions AirliftOptions(PeerCertificates certificate, PeerTrialSpec spec, TimeSpan deadline) => new(certificate.Airlift)
    {
        MaxDatagramSize = spec.MaxDatagram,
        SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
        HandshakeTimeout = deadline,
        ClientCertificate = ClientCertificateMode.Require,
        AllowAnyPeerCertificate = true, // the lab measures the path; each peer program has its own generated certificate
    };
}

/// <summary>One side of a trial: a peer program or Airlift.</summary>
internal abstract class TrialSide : IAsyncDisposable
{
    /// <summary>Completes with the timestamp at which this side reported connected; faults when it failed.</summary>
    public abstract Task<long> Connected { get; }

    /// <summary>Exporter hex, when known.</summary>
    public abstract string? Exporter { get; }

    /// <summary>Server: the bound port.</summary>
    public virtual int Port => 0;

    /// <summary>Airlift's counters, for Airlift sides.</summary>
    public virtual DtlsStats? AirliftStats => null;

    /// <summary>Airlift's datagram limit at the end, for Airlift sides that connected.</summary>
    public virtual int? EffectiveMaxDatagram => null;

    /// <summary>Starts; servers return once bound (within <paramref name="readyTimeout"/>).</summary>
    public abstract Task StartAsync(TimeSpan readyTimeout, CancellationToken ct);

    /// <summary>One line for the log.</summary>
    public abstract string Describe();

    /// <inheritdoc/>
    public abstract ValueTask DisposeAsync();
}

/// <summary>A peer program as one side.</summary>
internal sealed class ProgramSide(PeerCommandSpec spec, int port = 0) : TrialSide
{
    private readonly TaskCompletionSource<long> _notStarted = new();
    private PeerProgram? _program;

    public override Task<long> Connected => _program?.Connected ?? _notStarted.Task;

    public override string? Exporter => _program?.Exporter;

    public override int Port => port;

    public override async Task StartAsync(TimeSpan readyTimeout, CancellationToken ct)
    {
        try
        {
            _program = PeerProgram.Start(spec);
        }
        catch (InvalidOperationException ex)
        {
            throw new PeerFailedException(ex.Message);
        }

        if (spec.Ready is not null)
        {
            await _program.Ready.WaitAsync(readyTimeout, ct).ConfigureAwait(false);
        }
    }

    public override string Describe() => _program is null
        ? $"{spec.Name} not started"
        : $"$ {_program.CommandLine}\n  " + _program.Tail(8).Replace("\n", "\n  ", StringComparison.Ordinal);

    public override async ValueTask DisposeAsync()
    {
        if (_program is not null)
        {
            await _program.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Airlift's <see cref="DtlsUdpServer"/> as the server side.</summary>
internal sealed class AirliftServerSide(PeerCertificates certificate, PeerTrialSpec spec, TimeSpan deadline) : TrialSide
{
    private readonly TaskCompletionSource<long> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private DtlsUdpServer? _server;
    private Task? _pump;
    private DtlsUdpSession? _session;
    private int? _effective;
    private string? _exporter;
    private string? _failureReport;

    public override Task<long> Connected => _connected.Task;

    public override string? Exporter => _exporter;

    public override int Port => _server!.LocalEndpoint.Port;

    public override DtlsStats? AirliftStats => _session?.Stats;

    public override int? EffectiveMaxDatagram => _effective;

    public override Task StartAsync(TimeSpan readyTimeout, CancellationToken ct)
    {
        _server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), PeerLab.AirliftOptions(certificate, spec, deadline), maxSessions: 16);
        _pump = Task.Run(() => PumpAsync(_server, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task PumpAsync(DtlsUdpServer server, CancellationToken ct)
    {
        try
        {
            await foreach (var e in server.Events.ReadAllAsync(ct).ConfigureAwait(false))
            {
                switch (e.Event)
                {
                    case DtlsConnected c:
                        var now = Stopwatch.GetTimestamp();
                        _session = e.Session;
                        _effective = c.EffectiveMaxDatagramSize;
                        _exporter = Convert.ToHexString(e.Session.ExportKeyingMaterial(PeerCatalog.ExporterLabel, null, PeerCatalog.ExporterLength));
                        _connected.TrySetResult(now);
                        break;
                    case DtlsFailed f:
                        _session ??= e.Session;
                        _failureReport = f.Report;
                        _connected.TrySetException(new PeerFailedException($"airlift server: {f.Reason}: {f.Message}"));
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Trial over.
        }
    }

    public override string Describe() =>
        $"airlift server on {_server?.LocalEndpoint}: {(_session is null ? "no session" : $"{_session.State}, {_session.Stats.DatagramsSent} datagrams sent, {_session.Stats.Retransmissions} retransmissions")}"
        + (_failureReport is null ? "" : "\n  " + _failureReport.Replace("\n", "\n  ", StringComparison.Ordinal));

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        if (_pump is not null)
        {
            await _pump.ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}

/// <summary>Airlift's <see cref="DtlsUdpClient"/> as the client side.</summary>
internal sealed class AirliftClientSide(PeerCertificates certificate, PeerTrialSpec spec, TimeSpan deadline, IPEndPoint target) : TrialSide
{
    private readonly TaskCompletionSource<long> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task<DtlsUdpClient>? _connect;
    private DtlsUdpClient? _client;
    private string? _exporter;
    private string? _failureReport;

    public override Task<long> Connected => _connected.Task;

    public override string? Exporter => _exporter;

    public override DtlsStats? AirliftStats => _client?.Session.Stats;

    public override int? EffectiveMaxDatagram => _client?.Connection.EffectiveMaxDatagramSize;

    public override Task StartAsync(TimeSpan readyTimeout, CancellationToken ct)
    {
        _connect = Task.Run(
            async () =>
            {
                try
                {
                    var client = await DtlsUdpClient.ConnectAsync(target, PeerLab.AirliftOptions(certificate, spec, deadline), cancellationToken: _stop.Token).ConfigureAwait(false);
                    var now = Stopwatch.GetTimestamp();
                    _client = client;
                    _exporter = Convert.ToHexString(client.Session.ExportKeyingMaterial(PeerCatalog.ExporterLabel, null, PeerCatalog.ExporterLength));
                    _connected.TrySetResult(now);
                    return client;
                }
                catch (DtlsHandshakeException ex)
                {
                    _failureReport = ex.Failure.Report;
                    _connected.TrySetException(new PeerFailedException($"airlift client: {ex.Failure.Reason}: {ex.Failure.Message}"));
                    throw;
                }
                catch (OperationCanceledException ex)
                {
                    _connected.TrySetException(new PeerFailedException("airlift client: cancelled"));
                    throw new PeerFailedException(ex.Message);
                }
            },
            CancellationToken.None);
        return Task.CompletedTask;
    }

    public override string Describe() =>
        _client is null ? "airlift client: not connected" + (_failureReport is null ? "" : "\n  " + _failureReport.Replace("\n", "\n  ", StringComparison.Ordinal)) : $"airlift client: {_client.Session.State}, {_client.Session.Stats.DatagramsSent} datagrams sent, {_client.Session.Stats.Retransmissions} retransmissions";

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_connect is not null)
        {
            try
            {
                await _connect.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is PeerFailedException or DtlsHandshakeException or OperationCanceledException or InvalidOperationException)
            {
                // Reported through Connected.
            }
        }

        if (_client is not null)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}
