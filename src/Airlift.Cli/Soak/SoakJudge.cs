using System.Globalization;
using Airlift.Cli.Lab;

namespace Airlift.Cli.Soak;

/// <summary>The numbers a soak report states: outcomes, reasons, time to connect, echo.</summary>
/// <param name="Total">Handshakes run.</param>
/// <param name="Connected">Reached Connected.</param>
/// <param name="Failed">Failed with a reason.</param>
/// <param name="Abandoned">Left mid-handshake on purpose.</param>
/// <param name="Stuck">Neither connected nor failed by the deadline plus the grace.</param>
/// <param name="FailedByReason">Failures (and stuck ones) by reason.</param>
/// <param name="P50Ms">Time to connect, p50 over every handshake not abandoned (one that did not connect counts as never; null: fewer connected).</param>
/// <param name="P90Ms">Likewise, p90.</param>
/// <param name="P99Ms">Likewise, p99.</param>
/// <param name="MaxOutcomeMs">The slowest outcome (connected, failed or stuck).</param>
/// <param name="Echoed">Connected clients whose echo came back.</param>
/// <param name="EchoP50Ms">Echo time after Connected, p50 of those that came back.</param>
/// <param name="ClientExceptions">Handshakes whose client saw an exception from the library: one thrown at the driver, or one the
/// endpoint's boundary caught (a failure or echo failure with reason InternalError).</param>
/// <param name="FailedOnReusedPort">Failed or stuck handshakes whose client got a local port that an earlier client had used
/// within the proxy's idle window, so the server saw the earlier client's address again (RFC 6347 4.2.8).</param>
internal sealed record SoakSummary(
    int Total,
    int Connected,
    int Failed,
    int Abandoned,
    int Stuck,
    IReadOnlyDictionary<string, int> FailedByReason,
    double? P50Ms,
    double? P90Ms,
    double? P99Ms,
    double MaxOutcomeMs,
    int Echoed,
    double? EchoP50Ms,
    int ClientExceptions,
    int FailedOnReusedPort)
{
    /// <summary>
    /// Counts and percentiles of <paramref name="handshakes"/>; a failure on a reused address (see <see cref="ReusedPorts"/>
    /// with <paramref name="reuseWindow"/>) is grouped under its reason with " (client port reused)".
    /// </summary>
    public static SoakSummary Of(IReadOnlyList<SoakHandshake> handshakes, TimeSpan reuseWindow)
    {
        ArgumentNullException.ThrowIfNull(handshakes);
        var reused = ReusedPorts(handshakes, reuseWindow);
        string Reason(SoakHandshake h) =>
            (h.Outcome == SoakOutcome.Stuck ? "stuck" : h.Reason ?? "(no reason)") + (reused.Contains(h.Index) ? " (client port reused)" : string.Empty);
        var judged = handshakes.Where(h => h.Outcome != SoakOutcome.Abandoned).ToList();
        var times = judged.Select(h => h.Outcome == SoakOutcome.Connected ? h.Ms : double.PositiveInfinity).Order().ToArray();
        var echoes = handshakes.Where(h => h.EchoMs is not null).Select(h => h.EchoMs!.Value).Order().ToArray();
        return new SoakSummary(
            handshakes.Count,
            handshakes.Count(h => h.Outcome == SoakOutcome.Connected),
            handshakes.Count(h => h.Outcome == SoakOutcome.Failed),
            handshakes.Count(h => h.Outcome == SoakOutcome.Abandoned),
            handshakes.Count(h => h.Outcome == SoakOutcome.Stuck),
            handshakes
                .Where(h => h.Outcome is SoakOutcome.Failed or SoakOutcome.Stuck)
                .GroupBy(Reason)
                .OrderByDescending(g => g.Count())
                .ThenBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            LabSummary.Percentile(times, 0.50),
            LabSummary.Percentile(times, 0.90),
            LabSummary.Percentile(times, 0.99),
            judged.Count == 0 ? 0 : judged.Max(h => h.Ms),
            echoes.Length,
            LabSummary.Percentile(echoes, 0.50),
            handshakes.Count(h => h.Reason is { } r && (r.StartsWith("exception:", StringComparison.Ordinal) || r.Contains(nameof(Dtls.DtlsFailureReason.InternalError), StringComparison.Ordinal))),
            handshakes.Count(h => h.Outcome is SoakOutcome.Failed or SoakOutcome.Stuck && reused.Contains(h.Index)));
    }

    /// <summary>
    /// Indexes of clients whose local port an earlier client had used and left less than <paramref name="window"/> before:
    /// the proxy still had that earlier client's path, so the server saw the same address as before.
    /// </summary>
    public static HashSet<int> ReusedPorts(IEnumerable<SoakHandshake> handshakes, TimeSpan window)
    {
        ArgumentNullException.ThrowIfNull(handshakes);
        var reused = new HashSet<int>();
        foreach (var group in handshakes.Where(h => h.LocalPort != 0).GroupBy(h => h.LocalPort))
        {
            var byStart = group.OrderBy(h => h.StartS).ToList();
            for (var i = 1; i < byStart.Count; i++)
            {
                if (byStart[i].StartS - byStart[i - 1].EndS < window.TotalSeconds)
                {
                    reused.Add(byStart[i].Index);
                }
            }
        }

        return reused;
    }
}

/// <summary>
/// Judges a soak: every handshake ended within its deadline, no unhandled exception in either process, the server's
/// managed heap and RSS back near their baseline after the idle time, its file descriptors back to the baseline, and its
/// sessions drained. Each criterion states what it measured.
/// </summary>
internal static class SoakJudge
{
    /// <summary>The criteria, in report order.</summary>
    public static IReadOnlyList<SoakCriterion> Judge(SoakRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var s = run.Settings;
        var summary = SoakSummary.Of(run.Handshakes, s.ProxyClientIdleTimeout);
        var baseline = run.Tagged(SoakRunner.Baseline);
        var afterIdle = run.Tagged(SoakRunner.AfterIdle);
        var list = new List<SoakCriterion>
        {
            Stuck(run, summary),
            Exceptions(run, summary),
        };

        if (baseline is null || afterIdle is null)
        {
            var missing = baseline is null ? SoakRunner.Baseline : SoakRunner.AfterIdle;
            foreach (var name in new[] { HeapName, RssName, FdName, SessionsName })
            {
                list.Add(new SoakCriterion(name, false, $"no {missing} sample from the server (it died or stopped answering)", "a sample"));
            }

            return list;
        }

        // The after-idle sample is in the timeline, so it is never empty here.
        long Peak(Func<SoakPoint, long> f) => run.Timeline.Max(f);

        var heapGrowth = afterIdle.Server.ManagedBytes - baseline.Server.ManagedBytes;
        var heapLimit = (long)(s.HeapToleranceMb * 1048576);
        list.Add(new SoakCriterion(
            HeapName,
            heapGrowth <= heapLimit,
            $"baseline {Mb(baseline.Server.ManagedBytes)}, peak {Mb(Peak(p => p.Server.ManagedBytes))}, after idle {Mb(afterIdle.Server.ManagedBytes)} ({SignedMb(heapGrowth)}; {PerHandshake(heapGrowth, s.Handshakes)})",
            $"after idle <= baseline + {s.HeapToleranceMb.ToString("0.##", CultureInfo.InvariantCulture)} MB (forced full collection both times)"));

        // Two bounds: back near the baseline after idle, and no growth from the first half of the handshakes to the second
        // (the working set of live sessions levels off once the idle timeout removes as many as arrive; a leak per
        // handshake keeps climbing).
        var rssGrowth = afterIdle.Server.RssBytes - baseline.Server.RssBytes;
        var rssLimit = (long)(s.RssToleranceMb * 1048576);
        var secondHalfLimit = rssLimit / 3;
        var busy = run.Timeline.Where(p => p.Phase == "handshakes").ToList();
        var firstHalf = busy.Where(p => p.Done < s.Handshakes / 2).Select(p => p.Server.RssBytes).DefaultIfEmpty(-1).Max();
        var secondHalf = busy.Where(p => p.Done >= s.Handshakes / 2).Select(p => p.Server.RssBytes).DefaultIfEmpty(-1).Max();
        var halves = firstHalf >= 0 && secondHalf >= 0;
        var secondHalfGrowth = halves ? secondHalf - firstHalf : 0;
        list.Add(new SoakCriterion(
            RssName,
            rssGrowth <= rssLimit && secondHalfGrowth <= secondHalfLimit,
            $"RSS baseline {Mb(baseline.Server.RssBytes)}, peak {Mb(Peak(p => p.Server.RssBytes))}, after idle {Mb(afterIdle.Server.RssBytes)} ({SignedMb(rssGrowth)}); " +
            (halves ? $"highest in the first half of the handshakes {Mb(firstHalf)}, in the second half {Mb(secondHalf)} ({SignedMb(secondHalfGrowth)}); " : "too few samples to compare the halves; ") +
            $"RssAnon {Mb(baseline.Server.RssAnonBytes)} -> peak {Mb(Peak(p => p.Server.RssAnonBytes))} -> {Mb(afterIdle.Server.RssAnonBytes)}" +
            (afterIdle.Server.RssAnonTrimmedBytes is { } trimmed
                ? $"; native memory outside the GC (RssAnon - GC committed) {Mb(baseline.Server.RssAnonBytes - baseline.Server.GcCommittedBytes)} at the baseline, " +
                  $"{Mb(trimmed - afterIdle.Server.GcCommittedBytes)} after idle and malloc_trim"
                : string.Empty),
            $"after idle <= baseline + {s.RssToleranceMb.ToString("0.##", CultureInfo.InvariantCulture)} MB; second half <= first half + {(s.RssToleranceMb / 3).ToString("0.##", CultureInfo.InvariantCulture)} MB"));

        list.Add(new SoakCriterion(
            FdName,
            afterIdle.Server.Fds >= 0 && afterIdle.Server.Fds <= baseline.Server.Fds + s.FdSlack,
            $"baseline {baseline.Server.Fds}, peak {Peak(p => p.Server.Fds)}, after idle {afterIdle.Server.Fds}",
            $"after idle <= baseline + {s.FdSlack}"));

        list.Add(new SoakCriterion(
            SessionsName,
            afterIdle.Counters.Live == 0,
            $"{afterIdle.Counters.Live} live after idle (peak {Peak(p => p.Counters.Live)}; accepted {afterIdle.Counters.Accepted}, connected {afterIdle.Counters.Connected}, closed {afterIdle.Counters.Closed}, failed {afterIdle.Counters.Failed})",
            "0 live after idle"));
        return list;
    }

    /// <summary>Name of the handshake criterion.</summary>
    public const string StuckName = "every handshake connected or failed with a reason within its deadline";

    /// <summary>Name of the exception criterion.</summary>
    public const string ExceptionsName = "no unhandled exception in either process";

    /// <summary>Name of the managed-heap criterion.</summary>
    public const string HeapName = "server managed heap back to its baseline after idle";

    /// <summary>Name of the native-memory criterion.</summary>
    public const string RssName = "server native memory (RSS) bounded: levels off under load, back near its baseline after idle";

    /// <summary>Name of the file-descriptor criterion.</summary>
    public const string FdName = "server file descriptors back to their baseline";

    /// <summary>Name of the session criterion.</summary>
    public const string SessionsName = "server sessions drained after idle";

    private static SoakCriterion Stuck(SoakRun run, SoakSummary summary)
    {
        var s = run.Settings;
        var limitMs = (s.Deadline + s.Grace).TotalMilliseconds;
        var late = run.Handshakes.Count(h => h.Outcome is SoakOutcome.Connected or SoakOutcome.Failed && h.Ms > limitMs);
        var missing = s.Handshakes - run.Handshakes.Count;
        var reasons = summary.FailedByReason.Count == 0 ? "none" : string.Join(", ", summary.FailedByReason.Select(kv => $"{kv.Key} {kv.Value}"));
        return new SoakCriterion(
            StuckName,
            summary.Stuck == 0 && late == 0 && missing == 0,
            $"{summary.Stuck} stuck, {late} late, {missing} missing of {s.Handshakes}: connected {summary.Connected}, failed {summary.Failed} ({reasons}), abandoned on purpose {summary.Abandoned}; slowest outcome {summary.MaxOutcomeMs.ToString("0", CultureInfo.InvariantCulture)} ms",
            $"0 stuck; every outcome within the {s.DeadlineSeconds.ToString("0.##", CultureInfo.InvariantCulture)} s deadline + {s.Grace.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture)} s grace");
    }

    private static SoakCriterion Exceptions(SoakRun run, SoakSummary summary)
    {
        var last = run.Timeline.Count > 0 ? run.Timeline[^1].Counters : null;
        var server = run.ServerExceptions;
        var serverUnhandled = Math.Max(server?.Unhandled ?? 0, run.ServerFatal.Count);
        var serverUnobserved = server?.Unobserved ?? 0;
        var internalErrors = last?.InternalErrors ?? 0;
        var loopEnded = run.Timeline.Any(p => p.Counters.EventLoopEnded);
        var client = run.ClientExceptions;
        var passed = serverUnhandled == 0 && serverUnobserved == 0 && internalErrors == 0 && !loopEnded && run.ServerExitCode == 0
            && client.Unhandled == 0 && client.Unobserved == 0 && summary.ClientExceptions == 0;
        var serverLast = run.ServerExitCode != 0 ? run.ServerStderrTail.Split('\n').LastOrDefault(l => l.Length > 0) : null;
        var details = run.ServerFatal.Concat(server?.Details ?? []).Concat(client.Details).Concat(serverLast is null ? [] : [$"server stderr: {serverLast}"]).Take(3).ToList();
        return new SoakCriterion(
            ExceptionsName,
            passed,
            $"server: {serverUnhandled} unhandled, {serverUnobserved} unobserved task, {internalErrors} internal_error failures, socket loop {(loopEnded ? "ENDED" : "alive")}, exit status {run.ServerExitCode}; " +
            $"clients: {client.Unhandled} unhandled, {client.Unobserved} unobserved task, {summary.ClientExceptions} exceptions out of the client endpoint" +
            (details.Count > 0 ? $"; first: {string.Join(" | ", details)}" : string.Empty),
            "0 everywhere, server exit status 0");
    }

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MB";

    private static string SignedMb(long bytes) => (bytes >= 0 ? "+" : "-") + Mb(Math.Abs(bytes));

    private static string PerHandshake(long bytes, int handshakes) =>
        (bytes / (double)Math.Max(1, handshakes)).ToString("0", CultureInfo.InvariantCulture) + " bytes per handshake";
}
