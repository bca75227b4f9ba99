using System.Globalization;
using System.Net;
using System.Text;

namespace Airlift.Cli.Lab;

/// <summary>A column of <see cref="ReportPage.Table"/>.</summary>
/// <param name="Header">Header text (plain).</param>
/// <param name="Numeric">Right-aligned, never wrapped.</param>
internal readonly record struct ReportColumn(string Header, bool Numeric = false);

/// <summary>
/// The page shell every HTML report of the CLI shares (<c>airlift lab</c>, <c>airlift doctor</c>): one self-contained
/// page (inline CSS, inline SVG, no scripts, no external resources) with a title, an optional PASS/FAIL banner, a short
/// written summary, a muted settings block and sections that appear only when they have content. Text wraps inside its
/// box at any width (long tokens break), tables never scroll sideways, charts (<see cref="ReportCharts.LineChart"/>)
/// wrap onto new rows. Build it top to bottom and call <see cref="Render"/>.
/// </summary>
internal sealed class ReportPage
{
    /// <summary>The shared style sheet.</summary>
    public const string Css =
        "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d1d1f;max-width:1400px;line-height:1.4}" +
        "h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}h3{margin:1rem 0 .3rem}" +
        "p,li,code{overflow-wrap:anywhere}td,th{overflow-wrap:break-word}" +
        "table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0;max-width:100%}th,td{border:1px solid #d0d0d0;padding:.3rem .5rem;text-align:left;vertical-align:top}" +
        "th{background:#f2f4f7}td.num{text-align:right;white-space:nowrap;overflow-wrap:normal}tr:nth-child(even) td{background:#fafafa}" +
        ".pass{color:#1a7f37;font-weight:600;white-space:nowrap}.fail{color:#c62828;font-weight:600;white-space:nowrap}.muted{color:#666}" +
        ".banner{display:inline-block;padding:.3rem .8rem;border-radius:4px;color:#fff;font-weight:700;margin-right:.5rem}.banner.pass{background:#1a7f37;color:#fff}.banner.fail{background:#c62828;color:#fff}" +
        ".summary{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:.6rem 1rem .6rem 2rem;margin:1rem 0}.summary li{margin:.15rem 0}" +
        ".charts{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}.charts svg{border:1px solid #e0e0e0;font-family:inherit;max-width:100%;height:auto}";

    private readonly StringBuilder _body = new();
    private readonly string _title;

    /// <summary>Starts a page whose &lt;title&gt; and &lt;h1&gt; are <paramref name="title"/>.</summary>
    public ReportPage(string title)
    {
        _title = title;
        _body.AppendLine(CultureInfo.InvariantCulture, $"<h1>{Encode(title)}</h1>");
    }

    /// <summary>A PASS or FAIL banner followed by one line of text.</summary>
    public ReportPage Banner(bool passed, string text)
    {
        _body.AppendLine(CultureInfo.InvariantCulture, $"<p><span class=\"banner {(passed ? "pass" : "fail")}\">{(passed ? "PASS" : "FAIL")}</span>{Encode(text)}</p>");
        return this;
    }

    /// <summary>The written summary: a short list of sentences (plain text); nothing when empty.</summary>
    public ReportPage Summary(IEnumerable<string> sentences)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        var items = sentences.Where(s => !string.IsNullOrWhiteSpace(s)).ToList();
        if (items.Count > 0)
        {
            _body.Append("<ul class=\"summary\">");
            foreach (var s in items)
            {
                _body.Append("<li>").Append(Encode(s)).Append("</li>");
            }

            _body.AppendLine("</ul>");
        }

        return this;
    }

    /// <summary>A paragraph of plain text, optionally muted (settings, notes).</summary>
    public ReportPage Paragraph(string text, bool muted = false)
    {
        _body.AppendLine(CultureInfo.InvariantCulture, $"<p{(muted ? " class=\"muted\"" : string.Empty)}>{Encode(text)}</p>");
        return this;
    }

    /// <summary>Muted lines (each plain text), e.g. the command and the settings.</summary>
    public ReportPage Details(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        _body.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"muted\">{string.Join("<br>", lines.Select(Encode))}</p>");
        return this;
    }

    /// <summary>A section (&lt;h2&gt; and its HTML); left out entirely when <paramref name="html"/> is null or blank, so no section is ever empty.</summary>
    public ReportPage Section(string id, string heading, string? html)
    {
        if (!string.IsNullOrWhiteSpace(html))
        {
            _body.AppendLine(CultureInfo.InvariantCulture, $"<h2 id=\"{Encode(id)}\">{Encode(heading)}</h2>");
            _body.AppendLine(html);
        }

        return this;
    }

    /// <summary>The finished document.</summary>
    public string Render() =>
        $"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{Encode(_title)}</title>\n<style>{Css}</style></head><body>\n{_body}</body></html>\n";

    /// <summary>HTML-escapes text.</summary>
    public static string Encode(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A table of pre-encoded HTML cells, or null when there are no rows (so the section is left out).</summary>
    public static string? Table(IReadOnlyList<ReportColumn> columns, IEnumerable<IReadOnlyList<string>> rowsHtml)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rowsHtml);
        var rows = new StringBuilder();
        foreach (var row in rowsHtml)
        {
            rows.Append("<tr>");
            for (var i = 0; i < columns.Count; i++)
            {
                rows.Append(columns[i].Numeric ? "<td class=\"num\">" : "<td>").Append(i < row.Count ? row[i] : string.Empty).Append("</td>");
            }

            rows.AppendLine("</tr>");
        }

        if (rows.Length == 0)
        {
            return null;
        }

        return $"<table><thead><tr>{string.Concat(columns.Select(c => $"<th>{Encode(c.Header)}</th>"))}</tr></thead><tbody>\n{rows}</tbody></table>";
    }

    /// <summary>Charts (SVG strings) side by side, wrapping onto new rows; null when there are none.</summary>
    public static string? Charts(IEnumerable<string> svgs)
    {
        ArgumentNullException.ThrowIfNull(svgs);
        var list = svgs.ToList();
        return list.Count == 0 ? null : $"<div class=\"charts\">\n{string.Join('\n', list)}\n</div>";
    }
}
