namespace Airlift.Cli.Lab;

/// <summary>
/// One handshake attempt, in the lab (virtual time) or against a real peer. The unit every report is built from:
/// the JSON, Markdown and HTML writers take nothing else per run.
/// </summary>
/// <param name="Scenario">Scenario id, e.g. "F1-server-1200", "F2-downlink-10", "sweep".</param>
/// <param name="Pairing">Who talked to whom, e.g. "airlift->airlift", "airlift-client->openssl-server".</param>
/// <param name="LossPercent">Random loss applied (percent, 0..100; both directions unless the scenario says otherwise).</param>
/// <param name="Seed">Seed of the run (network and endpoint randomness).</param>
/// <param name="Connected">Both sides connected within the deadline.</param>
/// <param name="TimeToConnectMs">Time until both sides were connected, in milliseconds; null when they were not.</param>
/// <param name="DatagramsSent">Datagrams both sides sent (for a real peer: what Airlift's side and the proxy saw).</param>
/// <param name="LargestDatagram">Largest datagram either side sent, bytes.</param>
/// <param name="Retransmissions">Flight retransmissions (Airlift's count; both sides in the lab).</param>
/// <param name="EffectiveMaxDatagram">Datagram size limit in force at the end on Airlift's side, when known; in the lab, where both sides are Airlift, the larger of the two (the biggest datagram either side may still send).</param>
/// <param name="Error">Why it failed, or null.</param>
public sealed record LabTrial(
    string Scenario,
    string Pairing,
    double LossPercent,
    ulong Seed,
    bool Connected,
    double? TimeToConnectMs,
    long DatagramsSent,
    int LargestDatagram,
    int Retransmissions,
    int? EffectiveMaxDatagram,
    string? Error)
{
    /// <summary>DTLS version of the run: "1.2" or "1.3" in the lab (the version both sides were configured for and had to negotiate); null when not recorded (real-peer runs, older reports).</summary>
    public string? Dtls { get; init; }
}

/// <summary>A scenario's verdict: what the path did, and whether the expectation held.</summary>
/// <param name="Scenario">Scenario id (matches <see cref="LabTrial.Scenario"/>).</param>
/// <param name="Title">Human title, e.g. "F1 server at 9000 on a 1492 MTU path (fallback ladder)".</param>
/// <param name="Path">What the path does, e.g. "drops UDP > 1464 both ways, RTT 100 ms".</param>
/// <param name="Expectation">"connects" for Airlift runs, "fails" (or "slow") for a reproduction of the field stack.</param>
/// <param name="Passed">The expectation held.</param>
/// <param name="Reason">One line: why it passed or failed.</param>
public sealed record LabVerdict(string Scenario, string Title, string Path, string Expectation, bool Passed, string Reason)
{
    /// <summary>DTLS version of the scenario's runs ("1.2", "1.3"); null when not recorded. A scenario id is unique per version.</summary>
    public string? Dtls { get; init; }

    /// <summary>The id with its version, for one-line mentions: "F2-drop-1 (DTLS 1.3)".</summary>
    public string Label => Dtls is null ? Scenario : $"{Scenario} (DTLS {Dtls})";
}

/// <summary>The settings a lab run used (echoed into every report).</summary>
/// <param name="Trials">Trials per sweep point.</param>
/// <param name="LossPercents">Sweep loss levels in percent.</param>
/// <param name="RttMs">Round-trip time in milliseconds.</param>
/// <param name="MaxDatagram">Configured maximum datagram size (bytes).</param>
/// <param name="Certificate">"ecdsa" or "rsa-chain".</param>
/// <param name="DeadlineSeconds">Success means connected within this time.</param>
/// <param name="Seed">First seed.</param>
public sealed record LabSettings(int Trials, IReadOnlyList<double> LossPercents, int RttMs, int MaxDatagram, string Certificate, double DeadlineSeconds, ulong Seed)
{
    /// <summary>DTLS versions run ("1.2", "1.3"); empty when not recorded (real-peer runs, older reports).</summary>
    public IReadOnlyList<string> Dtls { get; init; } = [];
}

/// <summary>
/// Everything a report writer needs. Filled by the in-process lab and by the real-peer runner; summaries are computed
/// from <see cref="Trials"/> by <see cref="LabSummary.Compute"/>, so a runner only has to supply trials.
/// </summary>
/// <param name="Command">The command line that produced it, e.g. "airlift lab --trials 50".</param>
/// <param name="Started">When the run started (wall clock; the only non-deterministic field).</param>
/// <param name="Trials">Every run.</param>
/// <param name="Verdicts">One per scenario (may be empty, e.g. for a pure sweep).</param>
/// <param name="Settings">The settings used.</param>
public sealed record LabReport(string Command, DateTimeOffset Started, IReadOnlyList<LabTrial> Trials, IReadOnlyList<LabVerdict> Verdicts, LabSettings Settings)
{
    /// <summary>Version of the JSON document layout written by ReportJson; bump on any incompatible change.</summary>
    public const int SchemaVersion = 1;

    /// <summary>Wall time the run took, when measured.</summary>
    public TimeSpan? Elapsed { get; init; }

    /// <summary>True when every verdict passed (and there was at least one verdict or trial).</summary>
    public bool AllPassed => Verdicts.All(v => v.Passed) && (Verdicts.Count > 0 || Trials.Count > 0);
}

/// <summary>Summary of the trials sharing one (scenario, pairing, loss) key.</summary>
/// <param name="Scenario">Scenario id.</param>
/// <param name="Pairing">Pairing.</param>
/// <param name="LossPercent">Loss level.</param>
/// <param name="Trials">Runs.</param>
/// <param name="Successes">Runs that connected.</param>
/// <param name="P50Ms">
/// Median time to connect over all trials, a failed trial counting as never (nearest rank): the time by which half of the
/// trials had connected; null when fewer than half connected.
/// </param>
/// <param name="P90Ms">90th percentile, likewise (null when fewer than 90 % connected).</param>
/// <param name="P99Ms">99th percentile, likewise.</param>
/// <param name="MeanDatagrams">Mean datagrams sent.</param>
/// <param name="MeanRetransmissions">Mean retransmissions.</param>
/// <param name="LargestDatagram">Largest datagram over all runs.</param>
public sealed record LabSummary(string Scenario, string Pairing, double LossPercent, int Trials, int Successes, double? P50Ms, double? P90Ms, double? P99Ms, double MeanDatagrams, double MeanRetransmissions, int LargestDatagram)
{
    /// <summary>DTLS version of the trials ("1.2", "1.3"), or null when not recorded.</summary>
    public string? Dtls { get; init; }

    /// <summary>Successes / trials (0 when there were none).</summary>
    public double SuccessRate => Trials == 0 ? 0 : (double)Successes / Trials;

    /// <summary>Groups trials by (scenario, DTLS version, pairing, loss) in first-seen order and summarises each group.</summary>
    public static IReadOnlyList<LabSummary> Compute(IEnumerable<LabTrial> trials)
    {
        ArgumentNullException.ThrowIfNull(trials);
        return trials
            .GroupBy(t => (t.Scenario, t.Dtls, t.Pairing, t.LossPercent))
            .Select(g =>
            {
                var list = g.ToList();
                var times = TimesWithFailuresLast(list);
                return new LabSummary(
                    g.Key.Scenario,
                    g.Key.Pairing,
                    g.Key.LossPercent,
                    list.Count,
                    list.Count(t => t.Connected),
                    Percentile(times, 0.50),
                    Percentile(times, 0.90),
                    Percentile(times, 0.99),
                    list.Average(t => (double)t.DatagramsSent),
                    list.Average(t => (double)t.Retransmissions),
                    list.Max(t => t.LargestDatagram))
                {
                    Dtls = g.Key.Dtls,
                };
            })
            .ToList();
    }

    /// <summary>
    /// Times to connect of all <paramref name="trials"/>, sorted, with every trial that did not connect as
    /// <see cref="double.PositiveInfinity"/>: percentiles over them say by when that share of all trials had connected, so a
    /// pairing that fails often cannot look fast by timing only its lucky runs.
    /// </summary>
    public static double[] TimesWithFailuresLast(IEnumerable<LabTrial> trials)
    {
        ArgumentNullException.ThrowIfNull(trials);
        return trials.Select(t => t.Connected && t.TimeToConnectMs is { } ms ? ms : double.PositiveInfinity).Order().ToArray();
    }

    /// <summary>Nearest-rank percentile of sorted values, or null for none or when the rank falls on a failure (infinity).</summary>
    public static double? Percentile(IReadOnlyList<double> sorted, double p) => Airlift.NetEm.Simulation.ReliabilitySweep.NearestRank(sorted, p, double.PositiveInfinity);
}

/// <summary>What <c>airlift lab --peers LIST</c> asks the real-peer runner to do.</summary>
/// <param name="Peers">Peer names as given on the command line (e.g. "openssl", "gnutls").</param>
/// <param name="Trials">Trials per (peer, role, loss) point.</param>
/// <param name="LossPercents">Loss levels in percent.</param>
/// <param name="RttMs">Round-trip time to emulate in the proxy.</param>
/// <param name="MaxDatagram">Airlift's maximum datagram size.</param>
/// <param name="Certificate">"ecdsa" or "rsa-chain".</param>
/// <param name="DeadlineSeconds">Success means connected within this time.</param>
/// <param name="Seed">First seed.</param>
/// <param name="OutputDirectory">Where the lab writes its reports (the runner may put logs there).</param>
public sealed record PeerLabRequest(IReadOnlyList<string> Peers, int Trials, IReadOnlyList<double> LossPercents, int RttMs, int MaxDatagram, string Certificate, double DeadlineSeconds, ulong Seed, string OutputDirectory)
{
    /// <summary>Trials run at once; 0 (the default) leaves it to the runner.</summary>
    public int Parallelism { get; init; }
}

/// <summary>Runs the lab against real peer processes (implemented in Airlift.Cli.Lab.Peers, registered in <see cref="PeerLabRegistry"/>).</summary>
public interface IPeerLabRunner
{
    /// <summary>Runs every requested trial and returns them; progress reports (done, total).</summary>
    Task<IReadOnlyList<LabTrial>> RunAsync(PeerLabRequest request, IProgress<(int Done, int Total)>? progress, CancellationToken ct);
}

/// <summary>Where <c>airlift lab --peers</c> finds the real-peer runner. Null (the default) means "not built in".</summary>
public static class PeerLabRegistry
{
    /// <summary>The runner, set once at start-up by the peers module; null when there is none.</summary>
    public static IPeerLabRunner? Runner { get; set; }
}
