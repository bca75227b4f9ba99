using System.Globalization;

namespace Airlift.Cli.Lab;

/// <summary>One line of a chart: a pairing's summaries ordered by loss.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Points">Summaries, ascending loss.</param>
internal sealed record LabCurve(string Label, IReadOnlyList<LabSummary> Points);

/// <summary>The sweep charts of the HTML report, as inline SVG: success within the deadline, time to connect p50/p90, and datagrams per handshake, each vs loss.</summary>
internal static class ReportCharts
{
    private const int Width = 680;
    private const int Height = 360;
    private const double Left = 64;
    private const double Right = 200;
    private const double Top = 40;
    private const double Bottom = 56;

    private static readonly string[] Palette = ["#1f6fb4", "#c8372d", "#2a9d4b", "#e07b10", "#7b4fb8", "#8c564b"];

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
        var files = new List<(string, string, Func<string>)>
        {
            ("charts/success.svg", "connected within the deadline vs loss, every pairing", () => SuccessChart(curves, deadline)),
            ("charts/time.svg", "time to connect vs loss, every pairing", () => TimeChart(curves)),
            ("charts/datagrams.svg", "datagrams per handshake vs loss, every pairing", () => DatagramChart(curves)),
        };
        foreach (var (peer, group) in PeerGroups(curves))
        {
            files.Add(($"charts/success-{peer}.svg", $"{peer}: connected within the deadline vs loss", () => SuccessChart(group, deadline)));
            files.Add(($"charts/time-{peer}.svg", $"{peer}: time to connect vs loss", () => TimeChart(group)));
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
    public static string SuccessChart(IReadOnlyList<LabCurve> curves, double deadlineSeconds)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var series = curves.Select((c, i) => new Series(c.Label, Palette[i % Palette.Length], null, c.Points.Select(p => (p.LossPercent, (double?)(p.SuccessRate * 100))).ToList())).ToList();
        return Draw(
            $"Connected within {deadlineSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s vs loss",
            "random loss, both directions (%)",
            "runs connected (%)",
            series,
            100,
            v => v.ToString("0", CultureInfo.InvariantCulture) + "%");
    }

    /// <summary>Time to connect, p50 (solid) and p90 (dashed), against loss, one colour per curve.</summary>
    public static string TimeChart(IReadOnlyList<LabCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var series = new List<Series>();
        for (var i = 0; i < curves.Count; i++)
        {
            var color = Palette[i % Palette.Length];
            series.Add(new Series(curves[i].Label + " p50", color, null, curves[i].Points.Select(p => (p.LossPercent, p.P50Ms)).ToList()));
            series.Add(new Series(curves[i].Label + " p90", color, "6 4", curves[i].Points.Select(p => (p.LossPercent, p.P90Ms)).ToList()));
        }

        var max = series.SelectMany(s => s.Points).Select(p => p.Y ?? 0).DefaultIfEmpty(0).Max();
        return Draw("Time to connect vs loss", "random loss, both directions (%)", "time to connect (ms)", series, NiceCeiling(max), v => v.ToString("0", CultureInfo.InvariantCulture));
    }

    /// <summary>Mean datagrams both sides sent per handshake (every run, connected or not) against loss, one line per curve.</summary>
    public static string DatagramChart(IReadOnlyList<LabCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var series = curves.Select((c, i) => new Series(c.Label, Palette[i % Palette.Length], null, c.Points.Select(p => (p.LossPercent, (double?)p.MeanDatagrams)).ToList())).ToList();
        var max = series.SelectMany(s => s.Points).Select(p => p.Y ?? 0).DefaultIfEmpty(0).Max();
        return Draw("Datagrams per handshake vs loss", "random loss, both directions (%)", "datagrams sent, both sides (mean)", series, NiceCeiling(max), v => v.ToString("0", CultureInfo.InvariantCulture));
    }

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

    private static string Draw(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, double yMax, Func<double, string> yFormat)
    {
        var svg = new SvgWriter(Width, Height, title);
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        var xs = series.SelectMany(s => s.Points).Select(p => p.X).Distinct().Order().ToList();
        var xMin = xs.Count == 0 ? 0 : xs[0];
        var xMax = xs.Count == 0 ? 1 : xs[^1];
        if (xMax <= xMin)
        {
            xMin -= 1;
            xMax += 1;
        }

        double X(double v) => Left + ((v - xMin) / (xMax - xMin) * plotW);
        double Y(double v) => Top + plotH - (Math.Clamp(v, 0, yMax) / yMax * plotH);

        svg.Rect(0, 0, Width, Height, "#ffffff");
        svg.Text(Width / 2.0, 22, title, "middle", 15, weight: "bold");

        // Grid and y ticks: five steps.
        for (var i = 0; i <= 5; i++)
        {
            var v = yMax * i / 5;
            svg.Line(Left, Y(v), Left + plotW, Y(v), "#e3e3e3");
            svg.Text(Left - 6, Y(v) + 4, yFormat(v), "end", 11);
        }

        foreach (var x in xs)
        {
            svg.Line(X(x), Top + plotH, X(x), Top + plotH + 5, "#333333");
            svg.Text(X(x), Top + plotH + 18, x.ToString("0.##", CultureInfo.InvariantCulture), "middle", 11);
        }

        // Axes and their labels.
        svg.Line(Left, Top, Left, Top + plotH, "#333333", 1.5);
        svg.Line(Left, Top + plotH, Left + plotW, Top + plotH, "#333333", 1.5);
        svg.Text(Left + (plotW / 2), Height - 14, xLabel, "middle", 12);
        svg.Text(16, Top + (plotH / 2), yLabel, "middle", 12, rotate: -90);

        // Series; points without a value (no successful run) are skipped.
        foreach (var s in series)
        {
            var pts = s.Points.Where(p => p.Y is not null).Select(p => (X(p.X), Y(p.Y!.Value))).ToList();
            if (pts.Count > 1)
            {
                svg.Polyline(pts, s.Color, 2, s.Dash);
            }

            foreach (var p in s.Points.Where(p => p.Y is not null))
            {
                svg.Circle(X(p.X), Y(p.Y!.Value), 3.5, s.Color, $"{s.Label}: {p.X.ToString("0.##", CultureInfo.InvariantCulture)}% loss -> {yFormat(p.Y!.Value)}");
            }
        }

        // Legend, right of the plot.
        var ly = Top + 6;
        foreach (var s in series)
        {
            svg.Line(Left + plotW + 16, ly, Left + plotW + 40, ly, s.Color, 2.5, s.Dash);
            svg.Text(Left + plotW + 46, ly + 4, s.Label, "start", 11);
            ly += 18;
        }

        return svg.ToString();
    }

    private sealed record Series(string Label, string Color, string? Dash, IReadOnlyList<(double X, double? Y)> Points);
}
