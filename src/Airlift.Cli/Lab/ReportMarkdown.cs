using System.Globalization;
using System.Text;

namespace Airlift.Cli.Lab;

/// <summary>
/// Writes a <see cref="LabReport"/> as Markdown (<c>lab.md</c>): the written summary, settings, and the sections that apply
/// to the run (scenario table with verdicts, loss-sweep charts and table, failed runs).
/// </summary>
internal static class ReportMarkdown
{
    /// <summary>Most failed runs listed.</summary>
    public const int MaxFailuresListed = 40;

    /// <summary>Section headings, in order (tests look for them); a section without content is left out.</summary>
    public static readonly string[] Sections = ["# Airlift lab report", "## Scenarios", "## Loss sweep", "## Runs that did not connect"];

    /// <summary>Renders the report.</summary>
    public static string Render(LabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder();
        var s = report.Settings;
        sb.AppendLine(Sections[0]).AppendLine();
        if (report.Verdicts.Count > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"**{(report.AllPassed ? "PASS" : "FAIL")}**: {report.Verdicts.Count(v => v.Passed)}/{report.Verdicts.Count} scenarios passed, {report.Trials.Count} runs.").AppendLine();
        }

        foreach (var sentence in ReportSummary.Sentences(report))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"> - {sentence}");
        }

        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- command: `{report.Command}`");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- started: {report.Started.ToString("u", CultureInfo.InvariantCulture)}{(report.Elapsed is { } e ? $", took {ReportFormat.Ms(e.TotalMilliseconds)}" : string.Empty)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- settings: {s.Trials} trials per sweep point, loss {string.Join('/', s.LossPercents.Select(ReportFormat.Loss))}, RTT {s.RttMs} ms, max datagram {s.MaxDatagram} B, certificate {s.Certificate}, deadline {s.DeadlineSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s, seed {s.Seed}");
        sb.AppendLine();

        var rows = ScenarioRow.Build(report);
        if (rows.Count > 0)
        {
            sb.AppendLine(Sections[1]).AppendLine();
            sb.AppendLine("| Verdict | Scenario | DTLS | What the path does | Result | Time to connect | Datagrams sent | Largest datagram | Retransmissions | Effective max datagram | Why |");
            sb.AppendLine("|---|---|---|---|---|---:|---:|---:|---:|---:|---|");
            foreach (var r in rows)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Mark} | {Cell(r.Verdict.Scenario)}: {Cell(r.Verdict.Title)} | {r.Dtls} | {Cell(r.Verdict.Path)} | {r.Result} | {r.Time} | {ReportFormat.Mean(r.MeanDatagrams)} | {ReportFormat.Bytes(r.Largest)} | {ReportFormat.Mean(r.MeanRetransmissions)} | {r.Effective} | {Cell(r.Verdict.Reason)} |");
            }

            sb.AppendLine();
        }

        var curves = ReportCharts.Curves(report);
        if (curves.Count > 0)
        {
            sb.AppendLine(Sections[2]).AppendLine();
            foreach (var (path, title, _) in ReportCharts.Files(report))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"![{title}]({path})");
            }

            sb.AppendLine();
            sb.AppendLine("| Pairing | Loss | Connected | Success | p50 | p90 | p99 | Mean datagrams | Mean retransmissions | Largest datagram |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var c in curves)
            {
                foreach (var p in c.Points)
                {
                    sb.AppendLine(CultureInfo.InvariantCulture, $"| {Cell(c.Label)} | {ReportFormat.Loss(p.LossPercent)} | {p.Successes}/{p.Trials} | {ReportFormat.Percent(p.SuccessRate)} | {ReportFormat.Ms(p.P50Ms)} | {ReportFormat.Ms(p.P90Ms)} | {ReportFormat.Ms(p.P99Ms)} | {ReportFormat.Mean(p.MeanDatagrams)} | {ReportFormat.Mean(p.MeanRetransmissions)} | {ReportFormat.Bytes(p.LargestDatagram)} |");
                }
            }

            sb.AppendLine();
            sb.AppendLine(ReportFormat.PercentileNote);
            sb.AppendLine();
        }

        var failed = report.Trials.Where(t => !t.Connected).ToList();
        if (failed.Count > 0)
        {
            sb.AppendLine(Sections[3]).AppendLine();
            sb.AppendLine("Reproductions of the field stack are expected here.").AppendLine();
            sb.AppendLine("| Scenario | DTLS | Pairing | Loss | Seed | Error |");
            sb.AppendLine("|---|---|---|---:|---:|---|");
            foreach (var t in failed.Take(MaxFailuresListed))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {Cell(t.Scenario)} | {t.Dtls ?? "-"} | {Cell(t.Pairing)} | {ReportFormat.Loss(t.LossPercent)} | {t.Seed} | {Cell(t.Error ?? string.Empty)} |");
            }

            if (failed.Count > MaxFailuresListed)
            {
                sb.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"... and {failed.Count - MaxFailuresListed} more (see lab.json).");
            }
        }

        return sb.ToString();
    }

    // A table cell: no pipes or line breaks.
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace('\n', ' ').Replace('\r', ' ');
}
