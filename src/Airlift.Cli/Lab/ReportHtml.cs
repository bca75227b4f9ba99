using System.Globalization;

namespace Airlift.Cli.Lab;

/// <summary>
/// Writes a <see cref="LabReport"/> as one self-contained HTML page (<c>lab.html</c>) on the shared
/// <see cref="ReportPage"/> shell: a written summary at the top, then only the sections that apply to the run (the
/// scenario table with verdicts when there are scenarios, the sweep charts and table when there is a sweep, the runs that
/// did not connect when there are any). No scripts, no external resources.
/// </summary>
internal static class ReportHtml
{
    /// <summary>Renders the page.</summary>
    public static string Render(LabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var s = report.Settings;
        var page = new ReportPage("Airlift lab report");
        if (report.Verdicts.Count > 0)
        {
            page.Banner(report.AllPassed, $"{report.Verdicts.Count(v => v.Passed)}/{report.Verdicts.Count} scenarios passed, {report.Trials.Count} runs.");
        }

        page.Summary(ReportSummary.Sentences(report));
        page.Details(
        [
            report.Command,
            $"started {report.Started.ToString("u", CultureInfo.InvariantCulture)}{(report.Elapsed is { } e ? ", took " + ReportFormat.Ms(e.TotalMilliseconds) : string.Empty)}",
            $"{s.Trials} trials per sweep point, loss {string.Join('/', s.LossPercents.Select(ReportFormat.Loss))}, RTT {s.RttMs} ms, max datagram {s.MaxDatagram} B, certificate {s.Certificate}, deadline {s.DeadlineSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s, seed {s.Seed}",
        ]);

        page.Section("scenarios", "Scenarios", ReportPage.Table(
            [new("Verdict"), new("Scenario"), new("DTLS"), new("What the path does"), new("Result"), new("Time to connect", true), new("Datagrams sent", true), new("Largest datagram", true), new("Retransmissions", true), new("Effective max datagram", true), new("Why")],
            ScenarioRow.Build(report).Select(r => (IReadOnlyList<string>)
            [
                $"<span class=\"{(r.Verdict.Passed ? "pass" : "fail")}\">{r.Mark}</span>",
                $"<b>{E(r.Verdict.Scenario)}</b><br>{E(r.Verdict.Title)}",
                E(r.Dtls),
                E(r.Verdict.Path),
                E(r.Result) + (r.Verdict.Expectation == "connects" ? string.Empty : $"<br><span class=\"muted\">(expected: {E(r.Verdict.Expectation)})</span>"),
                E(r.Time),
                E(ReportFormat.Mean(r.MeanDatagrams)),
                E(ReportFormat.Bytes(r.Largest)),
                E(ReportFormat.Mean(r.MeanRetransmissions)),
                E(r.Effective),
                E(r.Verdict.Reason),
            ])));

        page.Section("sweep", "Loss sweep", Sweep(report));

        var failed = report.Trials.Where(t => !t.Connected).ToList();
        var failures = ReportPage.Table(
            [new("Scenario"), new("DTLS"), new("Pairing"), new("Loss", true), new("Seed", true), new("Error")],
            failed.Take(ReportMarkdown.MaxFailuresListed).Select(t => (IReadOnlyList<string>)
            [
                E(t.Scenario), E(t.Dtls ?? "-"), E(t.Pairing), E(ReportFormat.Loss(t.LossPercent)), t.Seed.ToString(CultureInfo.InvariantCulture), E(t.Error ?? string.Empty),
            ]));
        if (failures is not null)
        {
            var note = report.Verdicts.Any(v => v.Expectation != "connects") ? "<p class=\"muted\">Reproductions of the field stack are expected here.</p>\n" : string.Empty;
            var more = failed.Count > ReportMarkdown.MaxFailuresListed ? $"\n<p class=\"muted\">... and {failed.Count - ReportMarkdown.MaxFailuresListed} more (see lab.json).</p>" : string.Empty;
            page.Section("failures", "Runs that did not connect", note + failures + more);
        }

        return page.Render();
    }

    private static string? Sweep(LabReport report)
    {
        var curves = ReportCharts.Curves(report);
        if (curves.Count == 0)
        {
            return null;
        }

        var deadline = report.Settings.DeadlineSeconds;
        var order = curves.Select(c => c.Label).ToList();
        var html = new List<string>
        {
            ReportPage.Charts([ReportCharts.SuccessChart(curves, deadline, order), ReportCharts.TimeChart(curves, order), ReportCharts.DatagramChart(curves, order)])!,
        };
        foreach (var (peer, group) in ReportCharts.PeerGroups(curves))
        {
            html.Add($"<h3>{E(peer)}</h3>");
            html.Add(ReportPage.Charts([ReportCharts.SuccessChart(group, deadline, order, peer), ReportCharts.TimeChart(group, order, peer)])!);
        }

        html.Add(ReportPage.Table(
            [new("Pairing"), new("Loss", true), new("Connected", true), new("Success", true), new("p50", true), new("p90", true), new("p99", true), new("Mean datagrams", true), new("Mean retransmissions", true), new("Largest datagram", true)],
            curves.SelectMany(c => c.Points.Select(p => (IReadOnlyList<string>)
            [
                E(c.Label), E(ReportFormat.Loss(p.LossPercent)), $"{p.Successes}/{p.Trials}", E(ReportFormat.Percent(p.SuccessRate)), E(ReportFormat.Ms(p.P50Ms)), E(ReportFormat.Ms(p.P90Ms)), E(ReportFormat.Ms(p.P99Ms)),
                E(ReportFormat.Mean(p.MeanDatagrams)), E(ReportFormat.Mean(p.MeanRetransmissions)), E(ReportFormat.Bytes(p.LargestDatagram)),
            ])))!);
        html.Add($"<p class=\"muted\">{E(ReportFormat.PercentileNote)}</p>");
        return string.Join('\n', html);
    }

    private static string E(string text) => ReportPage.Encode(text);
}
