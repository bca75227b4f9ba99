using System.Diagnostics;
using System.Globalization;
using Airlift.NetEm.Simulation;

namespace Airlift.Cli.Lab;

/// <summary>Progress of a lab run: runs finished, runs in all.</summary>
/// <param name="Done">Finished runs.</param>
/// <param name="Total">All runs.</param>
internal readonly record struct LabProgress(int Done, int Total);

/// <summary>
/// Runs the lab in process and in virtual time: every scenario of <see cref="LabScenarios"/> and the loss sweep, each run
/// deterministic for its seed, runs spread over the cores. Only <see cref="LabReport.Started"/> and
/// <see cref="LabReport.Elapsed"/> depend on the wall clock.
/// </summary>
internal static class LabRunner
{
    /// <summary>Scenario id of the sweep's trials.</summary>
    public const string SweepScenario = "sweep";

    /// <summary>Scenario id of the sweep's comparison trials (the field stack's behaviour, DTLS 1.3 with X25519 alone; reported, not judged).</summary>
    public const string SweepComparisonScenario = "sweep-comparison";

    /// <summary>Runs what <paramref name="options"/> selects and returns the report (trials in a fixed order, verdicts per scenario).</summary>
    public static LabReport Run(LabOptions options, LabCertificates certs, string command, IProgress<LabProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(certs);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var jobs = new List<Job>();
        var scenarios = options.RunScenarios ? LabScenarios.All(options, certs) : [];
        foreach (var s in scenarios)
        {
            for (var i = 0; i < s.Seeds; i++)
            {
                var seed = options.Seed + (ulong)i;
                jobs.Add(new Job(s.Id, s.Dtls, s.Pairing, s.LossPercent, seed, () => s.Build(seed)));
            }
        }

        if (options.RunSweep)
        {
            foreach (var (pairing, dtls, build) in LabScenarios.SweepPairings(options, certs))
            {
                var id = pairing == LabScenarios.Airlift ? SweepScenario : SweepComparisonScenario;
                foreach (var loss in options.LossPercents)
                {
                    for (var i = 0; i < options.Trials; i++)
                    {
                        // The same seeds at every point and for every pairing: the curves differ by the stack, not by luck.
                        var seed = options.Seed + (ulong)i;
                        jobs.Add(new Job(id, dtls, pairing, loss, seed, () => build(seed, loss)));
                    }
                }
            }
        }

        var results = new SimulationResult[jobs.Count];
        var done = 0;
        progress?.Report(new LabProgress(0, jobs.Count));
        Parallel.For(0, jobs.Count, new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            results[i] = HandshakeSimulation.Run(jobs[i].Build());
            progress?.Report(new LabProgress(Interlocked.Increment(ref done), jobs.Count));
        });

        var trials = jobs.Select((j, i) => ToTrial(j.Scenario, j.Pairing, j.LossPercent, j.Seed, results[i]) with { Dtls = j.Dtls }).ToList();
        var verdicts = new List<LabVerdict>();
        foreach (var s in scenarios)
        {
            var mine = jobs.Select((j, i) => (j, i)).Where(x => x.j.Scenario == s.Id && x.j.Dtls == s.Dtls).Select(x => results[x.i]).ToList();
            var (passed, reason) = s.Judge(mine);
            verdicts.Add(new LabVerdict(s.Id, s.Title, s.Path, Expectation(s.Expectation), passed, reason) { Dtls = s.Dtls });
        }

        if (options.RunSweep)
        {
            foreach (var version in options.Versions)
            {
                verdicts.Add(SweepVerdict(options, trials, LabVersions.Label(version)));
            }
        }

        return new LabReport(command, started, trials, verdicts, options.ToSettings()) { Elapsed = clock.Elapsed };
    }

    /// <summary>
    /// Runs one seed of one scenario (for <c>--ladder</c>) in every version of <paramref name="options"/> that has a scenario of
    /// that id (case-insensitive); empty when none has.
    /// </summary>
    public static IReadOnlyList<(LabScenario Scenario, SimulationResult Result)> RunOne(LabOptions options, LabCertificates certs, string scenarioId) =>
        LabScenarios.All(options, certs)
            .Where(x => string.Equals(x.Id, scenarioId, StringComparison.OrdinalIgnoreCase))
            .Select(s => (s, HandshakeSimulation.Run(s.Build(options.Seed) with { CaptureWire = false })))
            .ToList();

    /// <summary>One simulation as a report trial. The effective maximum datagram is the larger of the two sides' (the biggest datagram either may still send).</summary>
    public static LabTrial ToTrial(string scenario, string pairing, double lossPercent, ulong seed, SimulationResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new LabTrial(
            scenario,
            pairing,
            lossPercent,
            seed,
            r.Connected,
            r.TimeToConnect is { } t ? Math.Round(t.TotalMilliseconds, 3) : null,
            r.DatagramsSent,
            r.LargestDatagram,
            r.Retransmissions,
            Math.Max(r.ClientEffectiveMaxDatagram, r.ServerEffectiveMaxDatagram),
            r.Connected ? null : Error(r));
    }

    /// <summary>Why a run did not connect, in one line.</summary>
    public static string Error(SimulationResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.ServerFailure is { } sf)
        {
            return $"server failed: {sf.Reason}: {sf.Message}";
        }

        if (r.ClientFailure is { } cf)
        {
            return $"client failed: {cf.Reason}: {cf.Message}";
        }

        return $"not connected by the deadline (client {r.ClientState}, server {r.ServerState})";
    }

    /// <summary>Sweep rule (F2's "must hold"): Airlift connects in every run up to 20% loss both ways; above that the curve is reported.</summary>
    private static LabVerdict SweepVerdict(LabOptions options, IReadOnlyList<LabTrial> trials, string dtls)
    {
        var points = LabSummary.Compute(trials.Where(t => t.Scenario == SweepScenario && t.Dtls == dtls && t.Pairing == LabScenarios.Airlift));
        var levels = string.Join('/', options.LossPercents.Select(l => l.ToString("0.#", CultureInfo.InvariantCulture)));
        var path = $"{levels}% random loss both ways, RTT {options.RttMs} ms, {options.MaxDatagram} B, deadline {options.DeadlineSeconds:0.#} s";
        var title = $"Loss sweep, {options.Trials} trials per point";
        var bad = points.Where(p => p.LossPercent <= 20 && p.Successes < p.Trials).ToList();
        var curve = string.Join(", ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.LossPercent:0.#}%: {p.Successes}/{p.Trials}")));
        return bad.Count == 0
            ? new LabVerdict(SweepScenario, title, path, "connects", true, $"every run up to 20% loss connected ({curve})") { Dtls = dtls }
            : new LabVerdict(SweepScenario, title, path, "connects", false, $"runs failed at <= 20% loss ({curve})") { Dtls = dtls };
    }

    private static string Expectation(LabExpectation e) => e switch
    {
        LabExpectation.Connects => "connects",
        LabExpectation.Fails => "fails",
        _ => "slow",
    };

    private sealed record Job(string Scenario, string Dtls, string Pairing, double LossPercent, ulong Seed, Func<SimulationOptions> Build);
}
