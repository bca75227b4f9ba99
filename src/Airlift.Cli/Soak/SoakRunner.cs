using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Airlift.Cli.Commands;
using Airlift.Dtls;
using Airlift.NetEm.Proxy;

namespace Airlift.Cli.Soak;

/// <summary>Everything one soak run measured, before judgement.</summary>
/// <param name="Settings">What was asked.</param>
/// <param name="Machine">Cores, OS and runtime.</param>
/// <param name="StartedUtc">When the run started.</param>
/// <param name="HandshakeSeconds">Wall time of the handshake phase.</param>
/// <param name="TotalSeconds">Wall time of the whole run.</param>
/// <param name="WarmupConnected">Warm-up handshakes that connected (of <see cref="SoakSettings.Warmup"/>).</param>
/// <param name="Handshakes">Every client's outcome, by index.</param>
/// <param name="Timeline">The server's samples (one a second, plus the forced ones) with the client side beside them.</param>
/// <param name="ServerExitCode">The server's exit status after the soak asked it to stop (-1: it had to be killed).</param>
/// <param name="ServerFatal">Unhandled exceptions the server printed before dying.</param>
/// <param name="ServerStderrTail">The last lines of the server's stderr.</param>
/// <param name="ServerExceptions">The server's exception counts at its last sample.</param>
/// <param name="ClientExceptions">The soak process's own exception counts (clients and proxy).</param>
/// <param name="Proxy">The proxy's counters at the end.</param>
internal sealed record SoakRun(
    SoakSettings Settings,
    string Machine,
    DateTimeOffset StartedUtc,
    double HandshakeSeconds,
    double TotalSeconds,
    int WarmupConnected,
    IReadOnlyList<SoakHandshake> Handshakes,
    IReadOnlyList<SoakPoint> Timeline,
    int ServerExitCode,
    IReadOnlyList<string> ServerFatal,
    string ServerStderrTail,
    SoakExceptionCounts? ServerExceptions,
    SoakExceptionCounts ClientExceptions,
    UdpProxyStats? Proxy)
{
    /// <summary>The forced-collection sample with this tag, if the server answered it.</summary>
    public SoakPoint? Tagged(string tag) => Timeline.LastOrDefault(p => p.Tag == tag);
}

/// <summary>
/// Runs a soak: starts the server process, the impairment proxy and the clients, samples both processes every second,
/// idles, stops the server, and returns what it measured (<see cref="SoakJudge"/> judges, <see cref="SoakReport"/> writes).
/// </summary>
internal sealed class SoakRunner
{
    /// <summary>Tag of the forced sample right after the server started.</summary>
    public const string Cold = "cold";

    /// <summary>Tag of the forced sample after the warm-up, before the first soak handshake.</summary>
    public const string Baseline = "baseline";

    /// <summary>Tag of the forced sample right after the last handshake.</summary>
    public const string AfterHandshakes = "after-handshakes";

    /// <summary>Tag of the forced sample at the end of the idle time.</summary>
    public const string AfterIdle = "after-idle";

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ServerTimeout = TimeSpan.FromSeconds(60);

    private readonly SoakSettings _settings;
    private readonly Action<string> _print;
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly Lock _gate = new();
    private readonly List<SoakPoint> _timeline = [];
    private readonly int[] _outcomes = new int[Enum.GetValues<SoakOutcome>().Length];
    private string _phase = "start";
    private int _done;
    private int _inFlight;
    private UdpImpairmentProxy? _proxy;

    /// <summary>Creates a runner; <paramref name="print"/> receives the progress lines.</summary>
    public SoakRunner(SoakSettings settings, Action<string> print)
    {
        _settings = settings;
        _print = print;
    }

    private double Elapsed => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    /// <summary>Runs the soak.</summary>
    /// <exception cref="CliException">The server could not start or did not become ready.</exception>
    public async Task<SoakRun> RunAsync(CancellationToken ct)
    {
        var startedUtc = DateTimeOffset.UtcNow;
        using var exceptions = new ExceptionMonitor();
        using var clientCertificate = DtlsCertificate.GenerateEcdsa("airlift-soak-client");
        var s = _settings;
        await using var server = SoakServerProcess.Start(
        [
            "--client-fingerprint", clientCertificate.GetFingerprint().ToString(),
            "--cert", s.Certificate,
            "--mtu", s.Mtu.ToString(CultureInfo.InvariantCulture),
            "--deadline-s", s.DeadlineSeconds.ToString(CultureInfo.InvariantCulture),
            "--server-max-sessions", s.ServerMaxSessions.ToString(CultureInfo.InvariantCulture),
            .. s.ServerIdleSeconds is { } idle ? new[] { "--server-idle-s", idle.ToString(CultureInfo.InvariantCulture) } : [],
        ]);
        server.Sample += OnSample;
        var ready = await server.WaitReadyAsync(ServerTimeout, ct).ConfigureAwait(false);
        if (!CertificateFingerprint.TryParse(ready.Fingerprint, out var serverFingerprint) || ready.Port is not { } port)
        {
            throw new CliException("the soak server's ready line has no port or fingerprint");
        }

        var netem = ProxyCommand.BuildNetEm(
            null, s.LossPercent.ToString(CultureInfo.InvariantCulture), null, null, null, null, s.DelayMs > 0 ? s.DelayMs : null, null, null, null, null, [], [], s.Seed);
        _proxy = new UdpImpairmentProxy(new UdpImpairmentProxyOptions(new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.Loopback, port), netem)
        {
            // Every client is its own address; the ones that finished linger until this idle timeout.
            MaxClients = 65_536,
            ClientIdleTimeout = s.ProxyClientIdleTimeout,
        });
        UdpProxyStats? proxyStats = null;
        SoakHandshake[] results;
        double handshakeSeconds;
        var warmupConnected = 0;
        try
        {
            await _proxy.StartAsync(ct).ConfigureAwait(false);
            var clientOptions = new DtlsOptions(clientCertificate)
            {
                MaxDatagramSize = s.Mtu,
                HandshakeTimeout = s.Deadline,
                ExpectedPeerFingerprint = serverFingerprint,
            };

            _print($"soak: server ready on 127.0.0.1:{port} ({ready.Fingerprint}); proxy {_proxy.ListenEndpoint}, {s.LossPercent:0.##} % loss each way; {s.Handshakes} handshakes, {s.Concurrency} at a time");
            await server.ForcedSampleAsync(Cold, ServerTimeout, ct).ConfigureAwait(false);
            if (s.Warmup > 0)
            {
                SetPhase("warmup");
                var warm = await RunClientsAsync(s.Warmup, _ => SoakClientMode.Close, clientOptions, new IPEndPoint(IPAddress.Loopback, port), count: false, ct).ConfigureAwait(false);
                warmupConnected = warm.Count(h => h.Outcome == SoakOutcome.Connected);
                await WaitForDrainAsync(TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
            }

            await server.ForcedSampleAsync(Baseline, ServerTimeout, ct).ConfigureAwait(false);
            SetPhase("handshakes");
            using var progressStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var progress = ProgressAsync(progressStop.Token);
            var phaseStart = Elapsed;
            results = await RunClientsAsync(s.Handshakes, s.ModeOf, clientOptions, _proxy.ListenEndpoint, count: true, ct).ConfigureAwait(false);
            handshakeSeconds = Elapsed - phaseStart;
            await server.ForcedSampleAsync(AfterHandshakes, ServerTimeout, ct).ConfigureAwait(false);

            SetPhase("idle");
            _print($"soak: {s.Handshakes} handshakes done in {handshakeSeconds:0} s; idling {s.IdleSeconds:0} s");
            await Task.Delay(TimeSpan.FromSeconds(s.IdleSeconds), ct).ConfigureAwait(false);
            await server.ForcedSampleAsync(AfterIdle, ServerTimeout, ct).ConfigureAwait(false);
            SetPhase("end");
            await progressStop.CancelAsync().ConfigureAwait(false);
            await progress.ConfigureAwait(false);
            proxyStats = _proxy.Stats;
        }
        finally
        {
            await _proxy.DisposeAsync().ConfigureAwait(false);
        }

        var (exitCode, last) = await server.StopAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        List<SoakPoint> timeline;
        lock (_gate)
        {
            timeline = [.. _timeline];
        }

        return new SoakRun(
            s,
            $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}",
            startedUtc,
            Math.Round(handshakeSeconds, 1),
            Math.Round(Elapsed, 1),
            warmupConnected,
            results,
            timeline,
            exitCode,
            server.FatalLines,
            server.StderrTail,
            last?.Exceptions,
            exceptions.Snapshot(),
            proxyStats);
    }

    private void SetPhase(string phase)
    {
        lock (_gate)
        {
            _phase = phase;
        }
    }

    private void OnSample(SoakServerLine line)
    {
        if (line.Process is null || line.Server is null)
        {
            return;
        }

        // Forced samples happen while no client runs (baseline, after handshakes, after idle): collect here too.
        var client = ProcessProbe.Take(forceGc: line.Tag is not null);
        lock (_gate)
        {
            _timeline.Add(new SoakPoint(
                Math.Round(Elapsed, 2),
                _phase,
                line.Tag,
                line.Process,
                line.Server,
                Volatile.Read(ref _done),
                Volatile.Read(ref _inFlight),
                _proxy?.Stats.ActiveClients ?? 0,
                client));
        }
    }

    private async Task<SoakHandshake[]> RunClientsAsync(int total, Func<int, SoakClientMode> modeOf, DtlsOptions options, IPEndPoint target, bool count, CancellationToken ct)
    {
        var s = _settings;
        var results = new SoakHandshake[total];
        var next = -1;

        // The watchdog only fires if the client driver itself hangs: a handshake that outlives its deadline plus the grace
        // already returns Stuck by itself, and the echo is bounded by one more deadline.
        var watchdog = (2 * s.Deadline) + (2 * s.Grace) + TimeSpan.FromSeconds(5);

        async Task WorkerAsync()
        {
            // With ReusePorts every client of this worker binds the port its first client got: a client restarting on the
            // same address and port, over and over (RFC 6347 4.2.8).
            var port = 0;
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= total)
                {
                    return;
                }

                Interlocked.Increment(ref _inFlight);
                var mode = modeOf(i);
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var startS = Math.Round(Elapsed, 3);
                var run = SoakClient.RunAsync(i, mode, target, options, s.Deadline, s.Grace, port, cts.Token);
                using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var done = await Task.WhenAny(run, Task.Delay(watchdog, watch.Token)).ConfigureAwait(false);
                await watch.CancelAsync().ConfigureAwait(false); // no timer left behind per client
                SoakHandshake result;
                if (done == run)
                {
                    result = await run.ConfigureAwait(false);
                }
                else
                {
                    ct.ThrowIfCancellationRequested();
                    await cts.CancelAsync().ConfigureAwait(false);
                    try
                    {
                        await run.ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }

                    result = new SoakHandshake(i, mode, SoakOutcome.Stuck, $"the client driver did not return within {watchdog.TotalSeconds:0} s", watchdog.TotalMilliseconds, false, null, 0, 0, 0);
                }

                results[i] = result with { StartS = startS, EndS = Math.Round(Elapsed, 3) };
                if (count && s.ReusePorts && result.LocalPort != 0)
                {
                    port = result.LocalPort;
                }
                Interlocked.Decrement(ref _inFlight);
                if (count)
                {
                    Interlocked.Increment(ref _outcomes[(int)result.Outcome]);
                    Interlocked.Increment(ref _done);
                }
            }
        }

        var workers = Enumerable.Range(0, s.Concurrency).Select(_ => Task.Run(WorkerAsync, ct)).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
        return results;
    }

    /// <summary>Waits until the server's samples say no session is left (the warm-up's all closed cleanly), at most <paramref name="timeout"/>.</summary>
    private async Task WaitForDrainAsync(TimeSpan timeout, CancellationToken ct)
    {
        var until = Elapsed + timeout.TotalSeconds;
        while (Elapsed < until)
        {
            lock (_gate)
            {
                if (_timeline.Count > 0 && _timeline[^1].Counters.Live == 0 && _timeline[^1].InFlight == 0)
                {
                    return;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
        }
    }

    private async Task ProgressAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(ProgressInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                _print(ProgressLine());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private string ProgressLine()
    {
        SoakPoint? last;
        string phase;
        lock (_gate)
        {
            last = _timeline.Count > 0 ? _timeline[^1] : null;
            phase = _phase;
        }

        var c = (int[])_outcomes.Clone();
        var server = last is null
            ? "no server sample yet"
            : $"server heap {Mb(last.Server.ManagedBytes)} MB, RSS {Mb(last.Server.RssBytes)} MB, fds {last.Server.Fds}, threads {last.Server.Threads}, sessions {last.Counters.Live}";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"soak: {Elapsed,6:0} s {phase}: {Volatile.Read(ref _done)}/{_settings.Handshakes} done (connected {c[(int)SoakOutcome.Connected]}, failed {c[(int)SoakOutcome.Failed]}, abandoned {c[(int)SoakOutcome.Abandoned]}, stuck {c[(int)SoakOutcome.Stuck]}), {Volatile.Read(ref _inFlight)} in flight; {server}");
    }

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);
}
