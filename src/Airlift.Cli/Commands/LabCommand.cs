using System.CommandLine;
using System.Globalization;
using Airlift.Cli.Lab;
using Airlift.NetEm.Simulation;
using Spectre.Console;

namespace Airlift.Cli.Commands;

/// <summary>
/// <c>airlift lab</c>: the field failures F1-F4 of docs/scenarios.md and a loss sweep, run in process in virtual time, with a
/// table, one verdict per scenario, and lab.json / lab.md / lab.html. Exit 0 when every scenario passes, 1 otherwise,
/// 2 for a bad argument.
/// </summary>
internal static class LabCommand
{
    public static Command Create()
    {
        var trials = new Option<int>("--trials") { Description = "Sweep trials per loss level (1..10000).", DefaultValueFactory = _ => 50 };
        var loss = new Option<string>("--loss") { Description = "Sweep loss levels in percent, both directions, comma-separated (each 0..100).", DefaultValueFactory = _ => "0,10,20,30" };
        var rtt = new Option<int>("--rtt-ms") { Description = "Round-trip time of the emulated path in ms (0..10000); each direction gets half.", DefaultValueFactory = _ => 100 };
        var mtu = new Option<int>("--mtu") { Description = "Airlift's maximum datagram size in bytes, every header and AEAD tag included (228..65507).", DefaultValueFactory = _ => 1200 };
        var cert = new Option<string>("--cert") { Description = "Server certificate of the sweep, F2 and F3: ecdsa (P-256, small) or rsa-chain (leaf RSA 2048 + intermediate RSA 4096, ~2.7 KB as in the field). F1 and F4 always use the RSA chain.", DefaultValueFactory = _ => LabOptions.CertRsaChain };
        var deadline = new Option<double>("--deadline-s") { Description = "A run succeeds when both sides connect within this many seconds (F2 scenarios use at least 30).", DefaultValueFactory = _ => 10 };
        var seed = new Option<ulong>("--seed") { Description = "First seed; runs use consecutive seeds, so a seed reproduces a run exactly.", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = "Directory for lab.json, lab.md and lab.html.", DefaultValueFactory = _ => Path.Combine("artifacts", "lab") };
        var json = new Option<bool>("--json") { Description = "Print the lab.json document on stdout instead of the table (progress, if any, goes to stderr)." };
        var sweepOnly = new Option<bool>("--sweep-only") { Description = "Run only the loss sweep." };
        var scenariosOnly = new Option<bool>("--scenarios-only") { Description = "Run only the field-failure scenarios." };
        var ladder = new Option<string?>("--ladder") { Description = "Draw one run of SCENARIO (e.g. F1-server-9000, F2-drop-1, F3-repro; in each --dtls version) as a text flight ladder and exit; 'sweep' draws the sweep run of --seed at the first --loss level." };
        var fromReport = new Option<string?>("--report") { Description = "Re-render lab.md, lab.html and charts/ in --out from an earlier lab.json (runs nothing)." };
        var parallel = new Option<int?>("--parallel") { Description = "With --peers: trials run at once (1..32; default $AIRLIFT_PEERLAB_PARALLEL, else 2). Each trial times itself from its first datagram; keep the machine's CPU unsaturated." };
        var dtls = new Option<string>("--dtls") { Description = "DTLS version of the in-process runs: 1.2, 1.3 or both (every scenario and the sweep in each; default both).", DefaultValueFactory = _ => "both" };
        var peers = new Option<string?>("--peers") { Description = "Run the lab against real peers instead (comma-separated, e.g. openssl,gnutls), if this build has the real-peer runner." };
        var command = new Command("lab", "Reproduce the field failures of docs/scenarios.md in virtual time and show Airlift passing them, plus a loss sweep.")
        {
            trials, loss, rtt, mtu, cert, deadline, seed, dtls, output, json, sweepOnly, scenariosOnly, ladder, peers, parallel, fromReport,
        };

        command.SetAction(async (parse, ct) =>
        {
            try
            {
                var options = new LabOptions
                {
                    Trials = Range(parse.GetValue(trials), 1, 10_000, "--trials"),
                    LossPercents = ParseLoss(parse.GetValue(loss)!),
                    RttMs = Range(parse.GetValue(rtt), 0, 10_000, "--rtt-ms"),
                    MaxDatagram = Range(parse.GetValue(mtu), Airlift.Dtls.DtlsOptions.MinimumDatagramSize, 65507, "--mtu"),
                    Certificate = parse.GetValue(cert) is LabOptions.CertEcdsa or LabOptions.CertRsaChain ? parse.GetValue(cert)! : throw new CliException($"--cert '{parse.GetValue(cert)}' is not {LabOptions.CertEcdsa} or {LabOptions.CertRsaChain}"),
                    DeadlineSeconds = parse.GetValue(deadline) is var d && d > 0 && d <= 3600 ? d : throw new CliException($"--deadline-s {d.ToString(CultureInfo.InvariantCulture)} is outside (0, 3600]"),
                    Seed = parse.GetValue(seed),
                    RunScenarios = !parse.GetValue(sweepOnly),
                    RunSweep = !parse.GetValue(scenariosOnly),
                    Versions = LabVersions.Parse(parse.GetValue(dtls)!) ?? throw new CliException($"--dtls '{parse.GetValue(dtls)}' is not 1.2, 1.3 or both"),
                };
                if (parse.GetValue(sweepOnly) && parse.GetValue(scenariosOnly))
                {
                    throw new CliException("--sweep-only and --scenarios-only exclude each other");
                }

                var commandLine = "airlift " + string.Join(' ', parse.Tokens.Select(t => t.Value));
                var asJson = parse.GetValue(json);
                var outDir = parse.GetValue(output)!;
                if (parse.GetValue(fromReport) is { } earlier)
                {
                    return Rerender(earlier, outDir, asJson);
                }

                if (parse.GetValue(parallel) is not null && parse.GetValue(peers) is null)
                {
                    throw new CliException("--parallel only applies to --peers runs (the virtual-time lab runs in one thread)");
                }

                if (parse.GetValue(peers) is { } peerList)
                {
                    var parallelism = parse.GetValue(parallel) is { } n ? Range(n, 1, 32, "--parallel") : 0;
                    return await RunPeersAsync(options, peerList, parallelism, outDir, commandLine, asJson, ct).ConfigureAwait(false);
                }

                using var certs = LabCertificates.Create();
                if (parse.GetValue(ladder) is { } scenario)
                {
                    if (string.Equals(scenario, LabRunner.SweepScenario, StringComparison.OrdinalIgnoreCase))
                    {
                        // One sweep run: the first --loss level, --seed, every pairing of the selected versions.
                        var level = options.LossPercents[0];
                        foreach (var (pairing, version, build) in LabScenarios.SweepPairings(options, certs))
                        {
                            var result = HandshakeSimulation.Run(build(options.Seed, level));
                            Console.Out.Write(LabLadder.Render(result, string.Create(CultureInfo.InvariantCulture, $"sweep {pairing} (DTLS {version}, seed {options.Seed}): {level:0.##}% random loss both ways")));
                        }

                        return 0;
                    }

                    var runs = LabRunner.RunOne(options, certs, scenario);
                    if (runs.Count == 0)
                    {
                        throw new CliException($"--ladder: no scenario '{scenario}'; one of {string.Join(", ", LabScenarios.All(options, certs).Select(s => s.Id).Distinct())}");
                    }

                    foreach (var (s, run) in runs)
                    {
                        Console.Out.Write(LabLadder.Render(run, $"{s.Id} (DTLS {s.Dtls}, seed {options.Seed}): {s.Title}"));
                    }

                    return 0;
                }

                var redirected = Console.IsOutputRedirected;
                var console = LabConsole.Create(Console.Out, redirected);
                var report = LabConsole.WithProgress(console, live: !redirected && !asJson, Console.Error, "airlift lab", p => LabRunner.Run(options, certs, commandLine, p, ct));
                Emit(report, outDir, asJson, console);
                return report.AllPassed ? 0 : 1;
            }
            catch (CliException ex)
            {
                // Same contract as Program: one line, status 2.
                Console.Error.WriteLine($"airlift: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>Parses "0,10,20,30" (percent, each 0..100, at least one, no duplicates).</summary>
    public static IReadOnlyList<double> ParseLoss(string text)
    {
        var list = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!double.TryParse(part.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v >= 0 && v <= 100))
            {
                throw new CliException($"--loss '{part}' is not a percentage in 0..100 (e.g. --loss 0,10,20,30)");
            }

            if (!list.Contains(v))
            {
                list.Add(v);
            }
        }

        return list.Count > 0 ? list : throw new CliException("--loss needs at least one level (e.g. --loss 0,10,20,30)");
    }

    private static int Rerender(string path, string outDir, bool asJson)
    {
        LabReport report;
        try
        {
            using var stream = File.OpenRead(path);
            report = ReportJson.Read(stream);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new CliException($"--report {path}: {ex.Message}");
        }

        var console = LabConsole.Create(Console.Out, Console.IsOutputRedirected);
        Emit(report, outDir, asJson, console);
        return report.AllPassed ? 0 : 1;
    }

    private static int Range(int value, int min, int max, string name) =>
        value >= min && value <= max ? value : throw new CliException($"{name} {value} is outside {min}..{max}");

    private static IReadOnlyList<string> WriteFiles(LabReport report, string dir)
    {
        try
        {
            return ReportFiles.Write(report, dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"cannot write reports to '{dir}': {ex.Message}");
        }
    }

    private static async Task<int> RunPeersAsync(LabOptions options, string peerList, int parallelism, string outDir, string commandLine, bool asJson, CancellationToken ct)
    {
        var peers = peerList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (peers.Length == 0)
        {
            throw new CliException("--peers needs at least one peer name (e.g. --peers openssl,gnutls)");
        }

        var runner = PeerLabRegistry.Runner
            ?? throw new CliException("--peers: this build of airlift has no real-peer runner (Airlift.Cli.Lab.Peers); run the lab without --peers");
        var request = new PeerLabRequest(peers, options.Trials, options.LossPercents, options.RttMs, options.MaxDatagram, options.Certificate, options.DeadlineSeconds, options.Seed, outDir) { Parallelism = parallelism };
        var started = DateTimeOffset.UtcNow;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var redirected = Console.IsOutputRedirected;
        var console = LabConsole.Create(Console.Out, redirected);
        IReadOnlyList<LabTrial> trials;
        try
        {
            trials = await LabConsole.WithProgressAsync(console, live: !redirected && !asJson, Console.Error, "airlift lab --peers", p =>
                runner.RunAsync(request, new ProgressAdapter(p), ct)).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            // An unknown peer name or an unusable setting: a user error, one line, status 2.
            throw new CliException($"--peers: {ex.Message}");
        }
        var report = new LabReport(commandLine, started, trials, [], options.ToSettings()) { Elapsed = clock.Elapsed };
        Emit(report, outDir, asJson, console);
        return 0;
    }

    /// <summary>Writes the report files, then prints either the JSON document or the tables.</summary>
    private static void Emit(LabReport report, string outDir, bool asJson, IAnsiConsole console)
    {
        var files = WriteFiles(report, outDir);
        if (asJson)
        {
            using var stdout = Console.OpenStandardOutput();
            ReportJson.Write(report, stdout);
            stdout.WriteByte((byte)'\n');
        }
        else
        {
            LabConsole.Print(console, report);
            console.WriteLine($"reports: {string.Join(", ", files)}", Style.Plain);
        }
    }

    private sealed class ProgressAdapter(IProgress<LabProgress> inner) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => inner.Report(new LabProgress(value.Done, value.Total));
    }
}
