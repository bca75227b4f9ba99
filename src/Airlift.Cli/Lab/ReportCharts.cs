using System.Globalization;

namespace Airlift.Cli.Lab;

/// <summary>One line of a chart: a pairing's summaries ordered by loss.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Points">Summaries, ascending loss.</param>
internal sealed record LabCurve(string Label, IReadOnlyList<LabSummary> Points);

/// <summary>One series of <see cref="ReportCharts.LineChart"/>.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Points">(x, y) in x order; a null y is not drawn.</param>
internal sealed record ChartSeries(string Label, IReadOnlyList<(double X, double? Y)> Points)
{
    /// <summary>Vertical whiskers (x, from, to), drawn in the series' style; null for none.</summary>
    public IReadOnlyList<(double X, double Low, double High)>? Whiskers { get; init; }
}

/// <summary>The sweep charts of the HTML report, as inline SVG: success within the deadline, time to connect p50/p90, and datagrams per handshake, each vs loss.</summary>
internal static class ReportCharts
{
    /// <summary>
    /// Curves to draw: every (scenario, DTLS version, pairing) group whose scenario is a sweep ("sweep..."), has no verdict of
    /// its own (e.g. the real-peer runner's "peers" trials), or has two or more loss levels. Labelled by pairing with
    /// " DTLS 1.x" when the version is recorded, plus " (scenario)" when two curves would share a label.
    /// </summary>
    public static IReadOnlyList<LabCurve> Curves(LabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var judged = report.Verdicts.Select(v => v.Scenario).ToHashSet(StringComparer.Ordinal);
        var groups = LabSummary.Compute(report.Trials)
            .GroupBy(s => (s.Scenario, s.Dtls, s.Pairing))
            .Where(g => g.Key.Scenario.StartsWith("sweep", StringComparison.Ordinal) || !judged.Contains(g.Key.Scenario) || g.Select(s => s.LossPercent).Distinct().Count() >= 2)
            .ToList();
        static string Base((string Scenario, string? Dtls, string Pairing) key) => key.Dtls is null ? key.Pairing : $"{key.Pairing} DTLS {key.Dtls}";
        var ambiguous = groups.GroupBy(g => Base(g.Key)).Any(g => g.Count() > 1);
        return groups
            .Select(g => new LabCurve(ambiguous ? $"{Base(g.Key)} ({g.Key.Scenario})" : Base(g.Key), g.OrderBy(s => s.LossPercent).ToList()))
            .ToList();
    }

    /// <summary>The real-peer lab's reference pairing: Airlift on both sides.</summary>
    public const string ReferenceLabel = "airlift-client->airlift-server";

    /// <summary>
    /// Per-peer views of a real-peer run: for each peer, its pairings ("peer-client->airlift-server", "airlift-client->peer-server",
    /// "peer-client->peer-server") plus the Airlift reference line when the run has one. Empty when the curves are not
    /// pairings of two or more peers (one chart of everything is readable then).
    /// </summary>
    public static IReadOnlyList<(string Peer, IReadOnlyList<LabCurve> Curves)> PeerGroups(IReadOnlyList<LabCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var reference = curves.FirstOrDefault(c => c.Label == ReferenceLabel);
        var groups = curves
            .Where(c => c != reference)
            .GroupBy(c => PeerOf(c.Label))
            .Where(g => g.Key is not null)
            .Select(g => (g.Key!, (IReadOnlyList<LabCurve>)(reference is null ? g.ToList() : [reference, .. g])))
            .ToList();
        return groups.Count >= 2 ? groups : [];
    }

    /// <summary>
    /// Chart files of a report, as (path relative to the report directory, title, renderer): success and time for all
    /// curves, and per peer when <see cref="PeerGroups"/> finds two or more peers. Rendering is left to the caller, so
    /// listing the files (for lab.md's links) draws nothing.
    /// </summary>
    public static IReadOnlyList<(string Path, string Title, Func<string> Render)> Files(LabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var curves = Curves(report);
        if (curves.Count == 0)
        {
            return [];
        }

        var deadline = report.Settings.DeadlineSeconds;
        var order = curves.Select(c => c.Label).ToList();
        var files = new List<(string, string, Func<string>)>
        {
            ("charts/success.svg", "connected within the deadline vs loss, every pairing", () => SuccessChart(curves, deadline, order)),
            ("charts/time.svg", "time to connect vs loss, every pairing", () => TimeChart(curves, order)),
            ("charts/datagrams.svg", "datagrams per handshake vs loss, every pairing", () => DatagramChart(curves, order)),
        };
        foreach (var (peer, group) in PeerGroups(curves))
        {
            files.Add(($"charts/success-{peer}.svg", $"{peer}: connected within the deadline vs loss", () => SuccessChart(group, deadline, order, peer)));
            files.Add(($"charts/time-{peer}.svg", $"{peer}: time to connect vs loss", () => TimeChart(group, order, peer)));
        }

        return files;
    }

    /// <summary>The non-Airlift side of a pairing label "a-client->b-server", or null when the label is not one.</summary>
    private static string? PeerOf(string label)
    {
        var arrow = label.IndexOf("-client->", StringComparison.Ordinal);
        if (arrow <= 0 || !label.EndsWith("-server", StringComparison.Ordinal))
        {
            return null;
        }

        var client = label[..arrow];
        var server = label[(arrow + "-client->".Length)..^"-server".Length];
        return client != "airlift" ? client : server != "airlift" ? server : null;
    }

    /// <summary>Success rate (percent of runs connected within the deadline) against loss, one line per curve.</summary>
    /// <param name="curves">The curves to draw.</param>
    /// <param name="deadlineSeconds">The deadline (in the title).</param>
    /// <param name="styleOrder">Every label of the report in order, so a pairing keeps its colour and dash in every chart; null: <paramref name="curves"/>' order.</param>
    /// <param name="titlePrefix">Prefix of the chart title (e.g. a peer's name), or null.</param>
    public static string SuccessChart(IReadOnlyList<LabCurve> curves, double deadlineSeconds, IReadOnlyList<string>? styleOrder = null, string? titlePrefix = null)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var series = curves.Select(c => new ChartSeries(c.Label, c.Points.Select(p => (p.LossPercent, (double?)(p.SuccessRate * 100))).ToList())).ToList();
        return LineChart(
            Prefixed(titlePrefix, $"Connected within {deadlineSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s vs loss"),
            null,
            LossAxisTitle,
            "runs connected (%)",
            series,
            100,
            v => v.ToString("0", CultureInfo.InvariantCulture) + "%",
            styleOrder);
    }

    /// <summary>Time to connect against loss: the median (p50) as the line, a whisker up to p90 at each point, one style per curve.</summary>
    /// <param name="curves">The curves to draw.</param>
    /// <param name="styleOrder">See <see cref="SuccessChart"/>.</param>
    /// <param name="titlePrefix">See <see cref="SuccessChart"/>.</param>
    public static string TimeChart(IReadOnlyList<LabCurve> curves, IReadOnlyList<string>? styleOrder = null, string? titlePrefix = null)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var series = curves.Select(c => new ChartSeries(c.Label, c.Points.Select(p => (p.LossPercent, p.P50Ms)).ToList())
        {
            Whiskers = c.Points.Where(p => p.P50Ms is not null && p.P90Ms is not null).Select(p => (p.LossPercent, p.P50Ms!.Value, p.P90Ms!.Value)).ToList(),
        }).ToList();
        var max = curves.SelectMany(c => c.Points).SelectMany(p => new[] { p.P50Ms, p.P90Ms }).Select(v => v ?? 0).DefaultIfEmpty(0).Max();
        return LineChart(
            Prefixed(titlePrefix, "Time to connect vs loss"),
            "line: median (p50); whisker: up to p90",
            LossAxisTitle,
            "time to connect (ms)",
            series,
            NiceCeiling(max),
            v => v.ToString("0", CultureInfo.InvariantCulture),
            styleOrder);
    }

    /// <summary>Mean datagrams both sides sent per handshake (every run, connected or not) against loss, one line per curve.</summary>
    /// <param name="curves">The curves to draw.</param>
    /// <param name="styleOrder">See <see cref="SuccessChart"/>.</param>
    public static string DatagramChart(IReadOnlyList<LabCurve> curves, IReadOnlyList<string>? styleOrder = null)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var series = curves.Select(c => new ChartSeries(c.Label, c.Points.Select(p => (p.LossPercent, (double?)p.MeanDatagrams)).ToList())).ToList();
        var max = series.SelectMany(s => s.Points).Select(p => p.Y ?? 0).DefaultIfEmpty(0).Max();
        return LineChart("Datagrams per handshake vs loss", null, LossAxisTitle, "datagrams sent, both sides (mean)", series, NiceCeiling(max), v => v.ToString("0", CultureInfo.InvariantCulture), styleOrder);
    }

    /// <summary>The x axis title of every sweep chart.</summary>
    public const string LossAxisTitle = "random loss, both directions (%)";

    /// <summary>
    /// Colour and dash of series <paramref name="index"/>: ten colours (colour-blind-safe Tableau 10) each with one of
    /// four dash patterns; distinct combinations for the first <see cref="DistinctStyles"/> series, then they repeat.
    /// </summary>
    public static (string Color, string? Dash) Style(int index)
    {
        var i = ((index % DistinctStyles) + DistinctStyles) % DistinctStyles;
        return (Palette[i % Palette.Length], Dashes[i % Dashes.Length]);
    }

    /// <summary>How many series get a colour and dash of their own (10 colours x 4 dashes, cycled together).</summary>
    public const int DistinctStyles = 20;

    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    private static readonly string?[] Dashes = [null, "7 4", "2 3", "9 3 2 3"];

    /// <summary>
    /// A line chart as inline SVG (the building block of every report chart, lab and doctor): a title and optional subtitle,
    /// axes with titles (units in brackets), five y grid lines, a tick per distinct x, one polyline per series with a marker
    /// (tooltip) per point, optional whiskers, and a legend under the plot that wraps into as many rows as it needs, so no
    /// entry is cut off; a label too long for the chart is shortened with an ellipsis (the full text in its tooltip).
    /// </summary>
    /// <param name="title">Chart title.</param>
    /// <param name="subtitle">A line under the title (e.g. what whiskers mean), or null.</param>
    /// <param name="xTitle">X axis title with unit.</param>
    /// <param name="yTitle">Y axis title with unit.</param>
    /// <param name="series">The series; points with a null Y are skipped.</param>
    /// <param name="yMax">Top of the y axis (values above are clamped).</param>
    /// <param name="yFormat">Y tick text.</param>
    /// <param name="styleOrder">Labels in style order: a series takes the style of its label's index here (so it matches across charts); null: the series' own order.</param>
    public static string LineChart(string title, string? subtitle, string xTitle, string yTitle, IReadOnlyList<ChartSeries> series, double yMax, Func<double, string> yFormat, IReadOnlyList<string>? styleOrder = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(yFormat);
        var top = subtitle is null ? 40.0 : 54.0;
        var plotW = Width - Left - Right;
        var legend = LegendLayout(series.Select(s => s.Label).ToList());
        var legendTop = top + PlotHeight + 58;
        var height = (int)Math.Ceiling(legendTop + (legend.Rows * LegendRow) + 6);
        var svg = new SvgWriter(Width, height, title);
        var xs = series.SelectMany(s => s.Points).Select(p => p.X).Distinct().Order().ToList();
        var xMin = xs.Count == 0 ? 0 : xs[0];
        var xMax = xs.Count == 0 ? 1 : xs[^1];
        if (xMax <= xMin)
        {
            xMin -= 1;
            xMax += 1;
        }

        yMax = yMax > 0 ? yMax : 1;
        double X(double v) => Left + ((v - xMin) / (xMax - xMin) * plotW);
        double Y(double v) => top + PlotHeight - (Math.Clamp(v, 0, yMax) / yMax * PlotHeight);

        svg.Rect(0, 0, Width, height, "#ffffff");
        svg.Text(Width / 2.0, 22, Fit(title, Width - 16, 15), "middle", 15, weight: "bold");
        if (subtitle is not null)
        {
            svg.Text(Width / 2.0, 40, Fit(subtitle, Width - 16, 11), "middle", 11);
        }

        for (var i = 0; i <= 5; i++)
        {
            var v = yMax * i / 5;
            svg.Line(Left, Y(v), Left + plotW, Y(v), "#e3e3e3");
            svg.Text(Left - 6, Y(v) + 4, yFormat(v), "end", 11);
        }

        foreach (var x in xs)
        {
            svg.Line(X(x), top + PlotHeight, X(x), top + PlotHeight + 5, "#333333");
            svg.Text(X(x), top + PlotHeight + 18, x.ToString("0.##", CultureInfo.InvariantCulture), "middle", 11);
        }

        svg.Line(Left, top, Left, top + PlotHeight, "#333333", 1.5);
        svg.Line(Left, top + PlotHeight, Left + plotW, top + PlotHeight, "#333333", 1.5);
        svg.Text(Left + (plotW / 2), top + PlotHeight + 38, Fit(xTitle, plotW, 12), "middle", 12);
        svg.Text(16, top + (PlotHeight / 2), Fit(yTitle, PlotHeight, 12), "middle", 12, rotate: -90);

        var styles = series.Select((s, i) => Style(styleOrder is null ? i : IndexOr(styleOrder, s.Label, i))).ToList();
        for (var k = 0; k < series.Count; k++)
        {
            var s = series[k];
            var (color, dash) = styles[k];
            foreach (var (x, low, high) in s.Whiskers ?? [])
            {
                svg.Line(X(x), Y(low), X(x), Y(high), color, 1.2);
                svg.Line(X(x) - 4, Y(high), X(x) + 4, Y(high), color, 1.2);
            }

            var pts = s.Points.Where(p => p.Y is not null).Select(p => (X(p.X), Y(p.Y!.Value))).ToList();
            if (pts.Count > 1)
            {
                svg.Polyline(pts, color, 2, dash, s.Label);
            }

            foreach (var p in s.Points.Where(p => p.Y is not null))
            {
                svg.Circle(X(p.X), Y(p.Y!.Value), 3.5, color, $"{s.Label}: {p.X.ToString("0.##", CultureInfo.InvariantCulture)}% loss -> {yFormat(p.Y!.Value)}");
            }
        }

        for (var k = 0; k < series.Count; k++)
        {
            var (color, dash) = styles[k];
            var x = LegendMargin + (k % legend.Columns * legend.ColumnWidth);
            var y = legendTop + (k / legend.Columns * LegendRow);
            svg.BeginGroup("legend-item", series[k].Label);
            svg.Line(x, y + 9, x + 26, y + 9, color, 2.5, dash);
            svg.Text(x + 32, y + 13, Fit(series[k].Label, legend.ColumnWidth - 40, 11), "start", 11);
            svg.EndGroup();
        }

        return svg.ToString();
    }

    private const int Width = 590;
    private const double PlotHeight = 260;
    private const double Left = 64;
    private const double Right = 24;
    private const double LegendRow = 18;
    private const double LegendMargin = 8;

    /// <summary>
    /// Conservative width of <paramref name="text"/> at <paramref name="size"/> px in a wide sans-serif (DejaVu Sans runs
    /// about 0.6 em per character of these labels): the layout assumes this, the rendered-layout test checks it.
    /// </summary>
    internal static double TextWidth(string text, double size) => text.Length * size * 0.64;

    private static (int Columns, double ColumnWidth, int Rows) LegendLayout(IReadOnlyList<string> labels)
    {
        if (labels.Count == 0)
        {
            return (1, Width - (2 * LegendMargin), 0);
        }

        var available = Width - (2 * LegendMargin);
        var widest = labels.Max(l => TextWidth(l, 11)) + 48;
        var columnWidth = Math.Min(widest, available);
        var columns = Math.Max(1, (int)(available / columnWidth));
        columnWidth = available / columns;
        return (columns, columnWidth, (labels.Count + columns - 1) / columns);
    }

    /// <summary><paramref name="text"/>, shortened with an ellipsis to fit <paramref name="width"/> px at <paramref name="size"/>.</summary>
    private static string Fit(string text, double width, double size)
    {
        if (TextWidth(text, size) <= width)
        {
            return text;
        }

        var chars = Math.Max(1, (int)(width / (size * 0.64)) - 1);
        return text[..Math.Min(chars, text.Length)] + "\u2026";
    }

    private static int IndexOr(IReadOnlyList<string> order, string label, int fallback)
    {
        for (var i = 0; i < order.Count; i++)
        {
            if (order[i] == label)
            {
                return i;
            }
        }

        return fallback;
    }

    private static string Prefixed(string? prefix, string title) => prefix is null ? title : $"{prefix}: {char.ToLowerInvariant(title[0])}{title[1..]}";

    /// <summary>Rounds up to 1, 2 or 5 times a power of ten (at least 1).</summary>
    public static double NiceCeiling(double value)
    {
        if (!(value > 1))
        {
            return 1;
        }

        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 2.0, 5.0, 10.0 })
        {
            if (step * magnitude >= value)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }
}
