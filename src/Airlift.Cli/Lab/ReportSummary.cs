using System.Globalization;

namespace Airlift.Cli.Lab;

/// <summary>
/// The short written summary at the top of the lab's reports: how the scenarios went, who connected how often at which
/// loss, the most and least reliable pairing at the highest loss, the fastest and slowest pairing, and how many runs did
/// not connect. Plain sentences, shared by lab.html and lab.md.
/// </summary>
internal static class ReportSummary
{
    /// <summary>The sentences for <paramref name="report"/>, in reading order (empty for an empty report).</summary>
    public static IReadOnlyList<string> Sentences(LabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var list = new List<string>();
        if (report.Verdicts.Count > 0)
        {
            var passed = report.Verdicts.Count(v => v.Passed);
            var failed = report.Verdicts.Where(v => !v.Passed).Select(v => v.Label).ToList();
            var reproductions = report.Verdicts.Count(v => v.Expectation != "connects");
            list.Add($"{passed} of {report.Verdicts.Count} scenarios passed{(failed.Count > 0 ? "; failed: " + string.Join(", ", failed) : string.Empty)}."
                + (reproductions > 0 ? $" {reproductions} of them reproduce the field stack, which is expected not to connect." : string.Empty));
        }

        var curves = ReportCharts.Curves(report);
        if (curves.Count > 0)
        {
            var points = curves.SelectMany(c => c.Points).ToList();
            var runs = points.Sum(p => p.Trials);
            var connected = points.Sum(p => p.Successes);
            var deadline = report.Settings.DeadlineSeconds.ToString("0.#", CultureInfo.InvariantCulture);
            list.Add($"{Count(curves.Count, "pairing")}, {Count(runs, "run")}: {connected} connected within {deadline} s.");
            var byLoss = points.GroupBy(p => p.LossPercent).OrderBy(g => g.Key)
                .Select(g => $"{ReportFormat.Percent(Rate(g.Sum(p => p.Successes), g.Sum(p => p.Trials)))} at {ReportFormat.Loss(g.Key)}")
                .ToList();
            list.Add($"Runs connected by loss: {string.Join(", ", byLoss)}.");

            var highest = points.Max(p => p.LossPercent);
            var atHighest = curves.Select(c => (c.Label, Point: c.Points.LastOrDefault(p => p.LossPercent == highest))).Where(x => x.Point is not null).ToList();
            if (atHighest.Count >= 2 && highest > 0)
            {
                var best = atHighest.OrderByDescending(x => x.Point!.SuccessRate).ThenBy(x => x.Point!.P50Ms ?? double.MaxValue).First();
                var worst = atHighest.OrderBy(x => x.Point!.SuccessRate).ThenByDescending(x => x.Point!.P50Ms ?? double.MaxValue).First();
                list.Add(best.Point!.SuccessRate > worst.Point!.SuccessRate
                    ? $"At {ReportFormat.Loss(highest)} loss the most reliable pairing is {best.Label} ({best.Point.Successes}/{best.Point.Trials}), the least reliable {worst.Label} ({worst.Point.Successes}/{worst.Point.Trials})."
                    : $"At {ReportFormat.Loss(highest)} loss every pairing connected in {ReportFormat.Percent(best.Point.SuccessRate)} of its runs.");
            }

            var lowest = points.Min(p => p.LossPercent);
            var timed = curves.Select(c => (c.Label, Ms: c.Points.FirstOrDefault(p => p.LossPercent == lowest)?.P50Ms)).Where(x => x.Ms is not null).ToList();
            var fastest = timed.Count > 0 ? timed.MinBy(x => x.Ms) : default;
            var slowest = timed.Count > 0 ? timed.MaxBy(x => x.Ms) : default;
            if (timed.Count >= 2 && fastest.Ms < slowest.Ms)
            {
                list.Add($"Fastest at {ReportFormat.Loss(lowest)} loss: {fastest.Label} (median {ReportFormat.Ms(fastest.Ms)}); slowest: {slowest.Label} (median {ReportFormat.Ms(slowest.Ms)}).");
            }
            else if (timed.Count >= 1)
            {
                list.Add($"Median time to connect at {ReportFormat.Loss(lowest)} loss: {ReportFormat.Ms(timed[0].Ms)}{(timed.Count == 1 ? $" ({timed[0].Label})" : " for every pairing")}.");
            }

            var never = curves.Where(c => c.Points.All(p => p.Successes == 0)).Select(c => c.Label).ToList();
            if (never.Count > 0)
            {
                list.Add($"Never connected: {string.Join(", ", never)}.");
            }
        }

        var notConnected = report.Trials.Count(t => !t.Connected);
        list.Add(notConnected == 0
            ? $"Every one of the {Count(report.Trials.Count, "run")} connected."
            : $"{notConnected} of {Count(report.Trials.Count, "run")} did not connect.");
        return report.Trials.Count == 0 && report.Verdicts.Count == 0 ? [] : list;
    }

    private static double Rate(int successes, int trials) => trials == 0 ? 0 : (double)successes / trials;

    private static string Count(int n, string noun) => string.Create(CultureInfo.InvariantCulture, $"{n} {noun}{(n == 1 ? string.Empty : "s")}");
}
