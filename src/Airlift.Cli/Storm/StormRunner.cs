using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Airlift.Cli.Commands;
using Airlift.Dtls;
using Airlift.NetEm.Proxy;

namespace Airlift.Cli.Storm;

/// <summary>
/// Runs one storm: the server (a child process, in-process, or the user's target), the impairment proxy if asked, the
/// clients on their own thread (<see cref="StormDriver"/>), a progress line a second, and the server measurement while
/// every connected client still holds its connection. Returns the <see cref="StormReport"/>, partial after Ctrl-C.
/// </summary>
internal sealed class StormRunner(StormSettings settings, Action<string> print)
{
    private static readonly TimeSpan ServerTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(30);

    private readonly List<StormTick> _timeline = [];

    /// <summary>
    /// Runs the storm to its end (or to Ctrl-C via <paramref name="ct"/>: then the partial report). <paramref name="publish"/>
    /// gets the report before the server and the proxy stop: after Ctrl-C the shell gives the process only a moment.
    /// </summary>
    public async Task<StormReport> RunAsync(CancellationToken ct, Action<StormReport>? publish = null)
    {
        var s = settings;
        var started = DateTimeOffset.UtcNow;
        using var clientCertificate = DtlsCertificate.GenerateEcdsa("airlift-storm-client");
        var clientFingerprint = clientCertificate.GetFingerprint();

        // File descriptors: one socket per open client, one more in the proxy for each.
        var wanted = (s.Connections * (s.ProxyLossPercent is null ? 1L : 2L)) + 256;
        var limit = Rlimit.EnsureOpenFiles(wanted);
        if (limit >= 0 && limit < wanted)
        {
            throw new CliException($"--connections {s.Connections} needs about {wanted} open files{(s.ProxyLossPercent is null ? string.Empty : " (two sockets per client through the proxy)")}, and the limit is {limit} (hard limit reached): lower --connections or raise 'ulimit -Hn'");
        }

        StormServerProcess? child = null;
        StormServer? inProcess = null;
        UdpImpairmentProxy? proxy = null;
        try
        {
            IPEndPoint server;
            CertificateFingerprint? serverFingerprint = s.ExpectFingerprint;
            string serverText;
            switch (s.Mode)
            {
                case StormServerMode.SelfProcess:
                    child = StormServerProcess.Start(clientFingerprint, s.Connections, s.Mtu);
                    var ready = await child.WaitReadyAsync(ServerTimeout, ct).ConfigureAwait(false);
                    if (ready.Port is not { } port || !CertificateFingerprint.TryParse(ready.Fingerprint ?? string.Empty, out var fp))
                    {
                        throw new CliException("the storm server's ready line has no port or fingerprint");
                    }

                    server = new IPEndPoint(IPAddress.Loopback, port);
                    serverFingerprint = fp;
                    serverText = $"self (process {child.Pid}, 127.0.0.1:{port})";
                    break;
                case StormServerMode.SelfInProcess:
                    inProcess = StormServer.Start(clientFingerprint, s.Connections, s.Mtu);
                    server = new IPEndPoint(IPAddress.Loopback, inProcess.Port);
                    serverFingerprint = inProcess.Fingerprint;
                    serverText = $"self (in-process, 127.0.0.1:{inProcess.Port})";
                    break;
                case StormServerMode.Serve:
                    server = new IPEndPoint(IPAddress.Loopback, 0); // each answer names the media address
                    serverText = $"serve {s.ServeUrl}";
                    break;
                default:
                    server = s.Target!;
                    serverText = $"target {server}";
                    break;
            }

            var sendTo = server;
            using var proxyGate = new SemaphoreSlim(1, 1);
            IPEndPoint? proxied = null;

            // --serve: the media address is known from the first answer, so the proxy starts then (serve answers with one address).
            async Task<IPEndPoint> RouteAsync(IPEndPoint upstream, CancellationToken token)
            {
                await proxyGate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    if (proxy is null)
                    {
                        proxy = await StartProxyAsync(upstream, token).ConfigureAwait(false);
                        proxied = upstream;
                        print($"storm: media through the proxy {proxy.ListenEndpoint} -> {upstream} ({F($"{s.ProxyLossPercent:0.##}")} % loss each way, seed {s.Seed})");
                    }

                    return upstream.Equals(proxied) ? proxy.ListenEndpoint : upstream;
                }
                finally
                {
                    proxyGate.Release();
                }
            }

            if (s.ProxyLossPercent is not null && s.Mode != StormServerMode.Serve)
            {
                proxy = await StartProxyAsync(server, ct).ConfigureAwait(false);
                sendTo = proxy.ListenEndpoint;
            }

            var clientOptions = ClientOptions(clientCertificate, serverFingerprint);
            if (s.Warmup > 0)
            {
                // Before the baseline: the server's (and the clients') handshake code gets compiled and tiered up, so that
                // the measured CPU per handshake is the steady state's, not the JIT's.
                var warm = new StormDriver(new StormDriverSettings(sendTo, clientOptions, Math.Min(s.Warmup, 64), s.Warmup, 0, s.PerAddress)).Run(ct);
                print($"storm: warm-up {warm.Connected}/{s.Warmup} connected");
            }

            var baseline = child is null ? null : await child.StatsAsync(StatsTimeout, ct).ConfigureAwait(false);
            var serverPid = child?.Pid ?? s.ServerPid;
            ProcSample? SampleServer() => child is not null ? child.Sample() : serverPid is { } pid ? ProcStat.Read(pid) : null;
            var baselineProc = SampleServer();
            if (s.ServerPid is { } watched && baselineProc is null)
            {
                throw new CliException($"--server-pid {watched}: cannot read /proc/{watched}/stat (no such process, or not Linux)");
            }

            var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
            print($"storm: {s.EffectiveTotal} {(s.Mode == StormServerMode.Serve ? "sessions (signalling, ICE, DTLS" + (s.MediaPackets > 0 ? F($", {s.MediaPackets} SRTP packets") : string.Empty) + ")" : "handshakes")}, {s.Connections} at once{(s.Rate > 0 ? F($", ramp {s.Rate:0.#}/s") : string.Empty)}, DTLS {s.DtlsText} against {serverText}{(proxy is null ? string.Empty : F($" through the proxy {proxy.ListenEndpoint} ({s.ProxyLossPercent:0.##} % loss each way, seed {s.Seed})"))}");

            var driverSettings = new StormDriverSettings(sendTo, clientOptions, s.Connections, s.EffectiveTotal, s.Rate, s.PerAddress);
            using var serveStorm = s.Mode == StormServerMode.Serve
                ? new ServeStorm(new ServeStormSettings(s.ServeUrl!, clientOptions, clientFingerprint, s.Connections, s.EffectiveTotal, s.Rate, s.PerAddress, s.MediaPackets, s.Timeout, s.ProxyLossPercent is null ? null : RouteAsync))
                : null;
            IStormDriver driver = serveStorm is not null ? serveStorm
                : s.UdpClientDriver ? new UdpClientStorm(driverSettings)
                : new StormDriver(driverSettings) { Notice = line => print("storm: " + line) };

            // Measured on the driver thread while every connected client still holds its connection.
            StormServerLine? held = null;
            int? serverSessions = null;
            ProcSample? clientProc = null;
            ProcSample? heldProc = null;
            var cpuEnd = TimeSpan.Zero;
            void MeasureHeld()
            {
                cpuEnd = Process.GetCurrentProcess().TotalProcessorTime;
                clientProc = ProcStat.Read(Environment.ProcessId);
                // CPU before the forced collection the stats request makes (that collection is the measurement's, not the
                // storm's); memory after it.
                var cpuNow = SampleServer();
                if (child is not null)
                {
                    // After Ctrl-C there is little time (the shell waits): no forced collection in the server then.
                    held = ct.IsCancellationRequested ? null : child.StatsAsync(StatsTimeout, CancellationToken.None).GetAwaiter().GetResult();
                }

                heldProc = SampleServer() is { } after && cpuNow is { } before ? after with { CpuSeconds = before.CpuSeconds } : cpuNow;

                serverSessions = held?.Sessions ?? inProcess?.Stats(forceGc: false).Sessions;
            }

            var done = new TaskCompletionSource<StormTally>(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                try
                {
                    done.SetResult(driver.Run(ct, MeasureHeld));
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            })
            {
                IsBackground = true,
                Name = "storm clients",
            };
            thread.Start();
            await ProgressAsync(driver, done.Task, SampleServer, baselineProc).ConfigureAwait(false);
            var tally = await done.Task.ConfigureAwait(false);

            Dictionary<string, long>? proxyFigures = null;
            if (proxy is not null)
            {
                var p = proxy.Stats;
                proxyFigures = new Dictionary<string, long>(StringComparer.Ordinal)
                {
                    ["receivedFromClients"] = p.ReceivedFromClients,
                    ["sentToUpstream"] = p.SentToUpstream,
                    ["receivedFromUpstream"] = p.ReceivedFromUpstream,
                    ["sentToClients"] = p.SentToClients,
                    ["clientsAccepted"] = p.ClientsAccepted,
                    ["clientsRejected"] = p.ClientsRejected,
                    ["socketErrors"] = p.SocketErrors,
                };
            }

            var report = Build(tally, started, serverText, cpuEnd - cpuStart, Figures(serverPid, baseline, baselineProc, held, heldProc, tally), proxyFigures) with
            {
                Serve = tally.Serve is { } st ? StormServeFigures.Of(st, s.MediaPackets) : null,
                ServerSessions = serverSessions,
                ClientRssBytes = clientProc?.RssBytes,
                ClientPeakRssBytes = clientProc?.PeakRssBytes,
            };
            publish?.Invoke(report);
            return report;
        }
        finally
        {
            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }

            if (child is not null)
            {
                await child.DisposeAsync().ConfigureAwait(false);
            }

            if (inProcess is not null)
            {
                await inProcess.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<UdpImpairmentProxy> StartProxyAsync(IPEndPoint server, CancellationToken ct)
    {
        var s = settings;
        var netem = ProxyCommand.BuildNetEm(null, (s.ProxyLossPercent ?? 0).ToString(CultureInfo.InvariantCulture), null, null, null, null, null, null, null, null, null, [], [], s.Seed);
        var listen = new IPEndPoint(server.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0);
        var proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(listen, server, netem)
        {
            AllowNonLoopback = !IPAddress.IsLoopback(server.Address),
            MaxClients = 65_536,

            // Held connections are quiet until the storm ends: keep their flows.
            ClientIdleTimeout = TimeSpan.FromHours(1),
        });
        await proxy.StartAsync(ct).ConfigureAwait(false);
        return proxy;
    }

    /// <summary>The clients' options: one certificate, the server's fingerprint checked (or --insecure), --dtls and --group.</summary>
    internal DtlsOptions ClientOptions(DtlsCertificate certificate, CertificateFingerprint? serverFingerprint)
    {
        var s = settings;
        var options = new DtlsOptions(certificate)
        {
            MaxDatagramSize = s.Mtu,
            HandshakeTimeout = s.Timeout,
            ExpectedPeerFingerprint = serverFingerprint,
            // --serve: a placeholder; every session checks the fingerprint of its own answer.
            AllowAnyPeerCertificate = serverFingerprint is null && (s.Insecure || s.Mode == StormServerMode.Serve),
            ProtocolVersions = s.Versions,
        };
        if (s.Groups is { Count: > 0 } groups)
        {
            var ecdhe = groups.Where(g => g != NamedGroup.X25519MlKem768).ToList();
            options = options with
            {
                Groups = ecdhe.Count > 0 ? ecdhe : options.Groups,
                Dtls13Groups = groups,
                Dtls13KeyShares = [groups[0]],
            };
        }

        options.Validate(DtlsRole.Client);
        return options;
    }

    private static StormServerFigures? Figures(int? pid, StormServerLine? baseline, ProcSample? baselineProc, StormServerLine? held, ProcSample? heldProc, StormTally tally)
    {
        if (pid is null || baselineProc is not { } b || heldProc is not { } h)
        {
            return null;
        }

        var sessions = held?.Sessions ?? tally.HeldAtEnd; // a foreign server: the connections the clients held
        var cpu = Math.Round(h.CpuSeconds - b.CpuSeconds, 2);
        return new StormServerFigures(
            pid.Value,
            cpu,
            tally.Connected > 0 ? Math.Round(cpu * 1000 / tally.Connected, 3) : null,
            b.RssBytes,
            h.RssBytes,
            h.PeakRssBytes,
            sessions > 0 ? (h.RssBytes - b.RssBytes) / sessions : null,
            baseline?.ManagedBytes ?? 0,
            held?.ManagedBytes ?? 0,
            sessions > 0 && baseline is not null && held is not null ? (held.ManagedBytes - baseline.ManagedBytes) / sessions : null,
            sessions,
            held?.Connected ?? 0,
            held?.Failed ?? 0,
            held?.Dropped ?? 0);
    }

    private async Task ProgressAsync(IStormDriver driver, Task done, Func<ProcSample?> sampleServer, ProcSample? baseline)
    {
        var clock = Stopwatch.StartNew();
        var second = 0;
        var lastConnected = 0;
        var lastCpu = baseline?.CpuSeconds;
        while (true)
        {
            var next = TimeSpan.FromSeconds(second + 1) - clock.Elapsed;
            if (next > TimeSpan.Zero && await Task.WhenAny(done, Task.Delay(next)).ConfigureAwait(false) == done)
            {
                return;
            }

            second++;
            var p = driver.Progress;
            var sample = sampleServer();
            double? cpuPercent = sample is { } now && lastCpu is { } before ? Math.Round((now.CpuSeconds - before) * 100, 0) : null;
            lastCpu = sample?.CpuSeconds ?? lastCpu;
            var tick = new StormTick(second, p.Started, p.Connected, p.Failed, p.InFlight, p.Held, p.Connected - lastConnected, cpuPercent, sample?.RssBytes);
            lastConnected = p.Connected;
            lock (_timeline)
            {
                _timeline.Add(tick);
            }

            print(F($"storm {second,4}s: started {p.Started}, connected {p.Connected}, failed {p.Failed}, in flight {p.InFlight}, {tick.HandshakesPerSecond} hs/s") +
                (sample is { } x ? F($", server {cpuPercent ?? 0:0}% CPU {x.RssBytes / 1048576.0:0} MB") : string.Empty));
        }
    }

    private StormReport Build(StormTally t, DateTimeOffset started, string serverText, TimeSpan clientCpu, StormServerFigures? serverFigures, IReadOnlyDictionary<string, long>? proxy)
    {
        var s = settings;
        List<StormTick> timeline;
        lock (_timeline)
        {
            timeline = [.. _timeline];
        }

        return new StormReport
        {
            Command = s.CommandLine,
            Started = started,
            Machine = $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}",
            Server = serverText,
            Dtls = s.DtlsText,
            Groups = s.Groups?.Select(g => g.ToString()).ToList(),
            ProxyLossPercent = s.ProxyLossPercent,
            Seed = s.ProxyLossPercent is null ? null : s.Seed,
            Connections = s.Connections,
            Total = s.EffectiveTotal,
            Rate = s.Rate,
            TimeoutSeconds = s.Timeout.TotalSeconds,
            StartedHandshakes = t.Started,
            Connected = t.Connected,
            Failed = t.Failed,
            Unfinished = t.Unfinished,
            NotStarted = t.NotStarted,
            Interrupted = t.Interrupted,
            Aborted = t.Aborted,
            FailuresByReason = new SortedDictionary<string, int>(t.FailuresByReason, StringComparer.Ordinal),
            Versions = new SortedDictionary<string, int>(t.Versions, StringComparer.Ordinal),
            DrainSeconds = Math.Round(t.DrainSeconds, 3),
            HandshakesPerSecond = t.DrainSeconds > 0 ? Math.Round(t.Connected / t.DrainSeconds, 1) : 0,
            PeakHandshakesPerSecond = timeline.Count == 0 ? t.Connected : Math.Max(timeline.Max(x => x.HandshakesPerSecond), 0),
            ConnectMs = StormPercentiles.Of(t.ConnectMs),
            DatagramsSent = t.DatagramsSent,
            DatagramsReceived = t.DatagramsReceived,
            Retransmissions = t.Retransmissions,
            PortUnreachable = t.PortUnreachable,
            SendErrors = t.SendErrors,
            Truncated = t.Truncated,
            HeldAtEnd = t.HeldAtEnd,
            ClosedByServerWhileHeld = t.ClosedByServerWhileHeld,
            ClientCpuSeconds = Math.Round(clientCpu.TotalSeconds, 2),
            ServerProcess = serverFigures,
            Proxy = proxy,
            Timeline = timeline,
        };
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
