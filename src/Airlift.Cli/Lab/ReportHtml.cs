using System.Globalization;
using System.Net;
using System.Text;

namespace Airlift.Cli.Lab;

/// <summary>
/// Writes a <see cref="LabReport"/> as one self-contained HTML page (<c>lab.html</c>): inline CSS, the scenario table with
/// verdicts, the two sweep charts as inline SVG, the sweep table and the runs that did not connect. No scripts, no external
/// resources.
/// </summary>
internal static class ReportHtml
{
    /// <summary>Renders the page.</summary>
    public static string Render(LabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sb = new StringBuilder();
        var s = report.Settings;
        sb.AppendLine("<!DOCTYPE html>");
        sb.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Airlift lab report</title>");
        sb.AppendLine("<style>");
        sb.AppendLine("body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d1d1f;max-width:1400px}");
        sb.AppendLine("h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}");
        sb.AppendLine("table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}th,td{border:1px solid #d0d0d0;padding:.3rem .5rem;text-align:left;vertical-align:top}");
        sb.AppendLine("th{background:#f2f4f7}td.num{text-align:right;white-space:nowrap}tr:nth-child(even) td{background:#fafafa}");
        sb.AppendLine(".pass{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}.muted{color:#666}");
        sb.AppendLine(".banner{display:inline-block;padding:.3rem .8rem;border-radius:4px;color:#fff;font-weight:700}.banner.pass{background:#1a7f37;color:#fff}.banner.fail{background:#c62828;color:#fff}");
        sb.AppendLine(".charts{display:flex;flex-wrap:wrap;gap:1.5rem}.charts svg{border:1px solid #e0e0e0;font-family:inherit}");
        sb.AppendLine("</style></head><body>");
        sb.AppendLine("<h1>Airlift lab report</h1>");
        sb.AppendLine(CultureInfo.InvariantCulture, $"<p><span class=\"banner {(report.AllPassed ? "pass" : "fail")}\">{(report.AllPassed ? "PASS" : "FAIL")}</span> {report.Verdicts.Count(v => v.Passed)}/{report.Verdicts.Count} scenarios passed, {report.Trials.Count} runs.</p>");
        sb.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"muted\"><code>{E(report.Command)}</code><br>started {E(report.Started.ToString("u", CultureInfo.InvariantCulture))}{(report.Elapsed is { } e ? ", took " + E(ReportFormat.Ms(e.TotalMilliseconds)) : string.Empty)}<br>");
        sb.AppendLine(CultureInfo.InvariantCulture, $"{s.Trials} trials per sweep point, loss {E(string.Join('/', s.LossPercents.Select(ReportFormat.Loss)))}, RTT {s.RttMs} ms, max datagram {s.MaxDatagram} B, certificate {E(s.Certificate)}, deadline {E(s.DeadlineSeconds.ToString("0.#", CultureInfo.InvariantCulture))} s, seed {s.Seed}</p>");

        sb.AppendLine("<h2 id=\"scenarios\">Scenarios</h2>");
        sb.AppendLine("<table><thead><tr><th>Verdict</th><th>Scenario</th><th>DTLS</th><th>What the path does</th><th>Result</th><th>Time to connect</th><th>Datagrams sent</th><th>Largest datagram</th><th>Retransmissions</th><th>Effective max datagram</th><th>Why</th></tr></thead><tbody>");
        foreach (var r in ScenarioRow.Build(report))
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"{(r.Verdict.Passed ? "pass" : "fail")}\">{r.Mark}</td><td><b>{E(r.Verdict.Scenario)}</b><br>{E(r.Verdict.Title)}</td><td>{E(r.Dtls)}</td><td>{E(r.Verdict.Path)}</td><td>{E(r.Result)}</td>");
            sb.AppendLine(CultureInfo.InvariantCulture, $"<td class=\"num\">{E(r.Time)}</td><td class=\"num\">{E(ReportFormat.Mean(r.MeanDatagrams))}</td><td class=\"num\">{E(ReportFormat.Bytes(r.Largest))}</td><td class=\"num\">{E(ReportFormat.Mean(r.MeanRetransmissions))}</td><td class=\"num\">{E(r.Effective)}</td><td>{E(r.Verdict.Reason)}</td></tr>");
        }

        sb.AppendLine("</tbody></table>");

        sb.AppendLine("<h2 id=\"sweep\">Loss sweep</h2>");
        var curves = ReportCharts.Curves(report);
        if (curves.Count == 0)
        {
            sb.AppendLine("<p>No sweep in this run.</p>");
        }
        else
        {
            sb.AppendLine("<div class=\"charts\">");
            sb.AppendLine(ReportCharts.SuccessChart(curves, s.DeadlineSeconds));
            sb.AppendLine(ReportCharts.TimeChart(curves));
            sb.AppendLine(ReportCharts.DatagramChart(curves));
            foreach (var (peer, group) in ReportCharts.PeerGroups(curves))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"<h3 style=\"flex-basis:100%;margin:0\">{E(peer)}</h3>");
                sb.AppendLine(ReportCharts.SuccessChart(group, s.DeadlineSeconds));
                sb.AppendLine(ReportCharts.TimeChart(group));
            }

            sb.AppendLine("</div>");
            sb.AppendLine("<table><thead><tr><th>Pairing</th><th>Loss</th><th>Connected</th><th>Success</th><th>p50</th><th>p90</th><th>p99</th><th>Mean datagrams</th><th>Mean retransmissions</th><th>Largest datagram</th></tr></thead><tbody>");
            foreach (var c in curves)
            {
                foreach (var p in c.Points)
                {
                    sb.AppendLine(CultureInfo.InvariantCulture, $"<tr><td>{E(c.Label)}</td><td class=\"num\">{E(ReportFormat.Loss(p.LossPercent))}</td><td class=\"num\">{p.Successes}/{p.Trials}</td><td class=\"num\">{E(ReportFormat.Percent(p.SuccessRate))}</td><td class=\"num\">{E(ReportFormat.Ms(p.P50Ms))}</td><td class=\"num\">{E(ReportFormat.Ms(p.P90Ms))}</td><td class=\"num\">{E(ReportFormat.Ms(p.P99Ms))}</td><td class=\"num\">{E(ReportFormat.Mean(p.MeanDatagrams))}</td><td class=\"num\">{E(ReportFormat.Mean(p.MeanRetransmissions))}</td><td class=\"num\">{E(ReportFormat.Bytes(p.LargestDatagram))}</td></tr>");
                }
            }

            sb.AppendLine("</tbody></table>");
            sb.AppendLine(CultureInfo.InvariantCulture, $"<p>{E(ReportFormat.PercentileNote)}</p>");
        }

        sb.AppendLine("<h2 id=\"failures\">Runs that did not connect</h2>");
        var failed = report.Trials.Where(t => !t.Connected).ToList();
        if (failed.Count == 0)
        {
            sb.AppendLine("<p>None.</p>");
        }
        else
        {
            sb.AppendLine("<p class=\"muted\">Reproductions of the field stack are expected here.</p>");
            sb.AppendLine("<table><thead><tr><th>Scenario</th><th>DTLS</th><th>Pairing</th><th>Loss</th><th>Seed</th><th>Error</th></tr></thead><tbody>");
            foreach (var t in failed.Take(ReportMarkdown.MaxFailuresListed))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"<tr><td>{E(t.Scenario)}</td><td>{E(t.Dtls ?? "-")}</td><td>{E(t.Pairing)}</td><td class=\"num\">{E(ReportFormat.Loss(t.LossPercent))}</td><td class=\"num\">{t.Seed}</td><td>{E(t.Error ?? string.Empty)}</td></tr>");
            }

            sb.AppendLine("</tbody></table>");
            if (failed.Count > ReportMarkdown.MaxFailuresListed)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"muted\">... and {failed.Count - ReportMarkdown.MaxFailuresListed} more (see lab.json).</p>");
            }
        }

        sb.AppendLine("</body></html>");
        return sb.ToString();
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
