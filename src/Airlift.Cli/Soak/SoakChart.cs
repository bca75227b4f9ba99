using System.Globalization;
using Airlift.Cli.Lab;

namespace Airlift.Cli.Soak;

/// <summary>The soak's timeline as one SVG: server memory, file descriptors and threads, sessions, against time.</summary>
internal static class SoakChart
{
    private const int Width = 760;
    private const double Left = 64;
    private const double Right = 190;
    private const double Top = 66;
    private const double PanelHeight = 150;
    private const double PanelGap = 56;
    private const double Bottom = 48;

    private static readonly string[] Palette = ["#1f6fb4", "#c8372d", "#2a9d4b", "#e07b10", "#7b4fb8"];

    private sealed record Series(string Label, string Color, IReadOnlyList<(double X, double Y)> Points, bool Dots = false);

    /// <summary>Draws the timeline of <paramref name="run"/>.</summary>
    public static string Timeline(SoakRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var points = run.Timeline;
        static double Mb(long bytes) => bytes / 1048576.0;
        var panels = new (string Title, string YLabel, IReadOnlyList<Series> Series)[]
        {
            ("Server memory", "MB", [
                new("RSS", Palette[0], points.Select(p => (p.T, Mb(p.Server.RssBytes))).ToList()),
                new("RssAnon (private)", Palette[4], points.Select(p => (p.T, Mb(p.Server.RssAnonBytes))).ToList()),
                new("GC committed", Palette[3], points.Select(p => (p.T, Mb(p.Server.GcCommittedBytes))).ToList()),
                new("managed heap", Palette[1], points.Where(p => p.Tag is null).Select(p => (p.T, Mb(p.Server.ManagedBytes))).ToList()),
                new("heap after forced GC", Palette[2], points.Where(p => p.Tag is not null).Select(p => (p.T, Mb(p.Server.ManagedBytes))).ToList(), Dots: true),
            ]),
            ("Server file descriptors and threads", "count", [
                new("file descriptors", Palette[0], points.Select(p => (p.T, (double)p.Server.Fds)).ToList()),
                new("threads", Palette[3], points.Select(p => (p.T, (double)p.Server.Threads)).ToList()),
            ]),
            ("Sessions", "count", [
                new("server sessions live", Palette[1], points.Select(p => (p.T, (double)p.Counters.Live)).ToList()),
                new("clients in flight", Palette[0], points.Select(p => (p.T, (double)p.InFlight)).ToList()),
            ]),
        };

        var height = (int)(Top + (panels.Length * PanelHeight) + ((panels.Length - 1) * PanelGap) + Bottom);
        var title = $"Soak: {run.Settings.Handshakes} handshakes, {run.Settings.LossPercent.ToString("0.##", CultureInfo.InvariantCulture)} % loss each way, {run.Settings.Concurrency} at a time, then {run.Settings.IdleSeconds.ToString("0", CultureInfo.InvariantCulture)} s idle";
        var svg = new SvgWriter(Width, height, title);
        svg.Rect(0, 0, Width, height, "#ffffff");
        svg.Text(Width / 2.0, 22, title, "middle", 14, weight: "bold");
        var xMax = Math.Max(1, points.Count == 0 ? 1 : points.Max(p => p.T));
        var boundaries = Boundaries(points);
        for (var i = 0; i < panels.Length; i++)
        {
            var top = Top + (i * (PanelHeight + PanelGap));
            Panel(svg, top, panels[i].Title, panels[i].YLabel, panels[i].Series, xMax, boundaries, last: i == panels.Length - 1);
        }

        return svg.ToString();
    }

    /// <summary>Where a phase starts: (time, name) of the first point of each phase after the first.</summary>
    private static List<(double T, string Phase)> Boundaries(IReadOnlyList<SoakPoint> points)
    {
        var list = new List<(double, string)>();
        for (var i = 1; i < points.Count; i++)
        {
            if (points[i].Phase != points[i - 1].Phase && points[i].Phase is "warmup" or "handshakes" or "idle")
            {
                list.Add((points[i].T, points[i].Phase));
            }
        }

        return list;
    }

    /// <summary>Rounds up to 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten (at least 1): axes end close above the data.</summary>
    internal static double Nice(double value)
    {
        if (!(value > 1))
        {
            return 1;
        }

        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0 })
        {
            if (step * magnitude >= value)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }

    private static void Panel(SvgWriter svg, double top, string title, string yLabel, IReadOnlyList<Series> series, double xMax, List<(double T, string Phase)> boundaries, bool last)
    {
        var plotW = Width - Left - Right;
        var yMax = Nice(series.SelectMany(s => s.Points).Select(p => p.Y).DefaultIfEmpty(1).Max() * 1.05);
        double X(double v) => Left + (v / xMax * plotW);
        double Y(double v) => top + PanelHeight - (Math.Clamp(v, 0, yMax) / yMax * PanelHeight);

        svg.Text(Left, top - 10, title, "start", 13, weight: "bold");
        for (var i = 0; i <= 4; i++)
        {
            var v = yMax * i / 4;
            svg.Line(Left, Y(v), Left + plotW, Y(v), "#e3e3e3");
            svg.Text(Left - 6, Y(v) + 4, v.ToString("0.#", CultureInfo.InvariantCulture), "end", 11);
        }

        var step = Nice(xMax / 8);
        for (var x = 0.0; x <= xMax + 1e-9; x += step)
        {
            svg.Line(X(x), top + PanelHeight, X(x), top + PanelHeight + 4, "#333333");
            svg.Text(X(x), top + PanelHeight + 16, x.ToString("0", CultureInfo.InvariantCulture), "middle", 10);
        }

        for (var i = 0; i < boundaries.Count; i++)
        {
            // Alternate the label height: the warm-up is short, so its mark and the next one stand close together.
            var (t, phase) = boundaries[i];
            svg.Line(X(t), top, X(t), top + PanelHeight, "#888888", 1, "4 3");
            svg.Text(X(t) + 3, top + 11 + (i % 2 * 12), phase, "start", 10);
        }

        svg.Line(Left, top, Left, top + PanelHeight, "#333333", 1.5);
        svg.Line(Left, top + PanelHeight, Left + plotW, top + PanelHeight, "#333333", 1.5);
        svg.Text(16, top + (PanelHeight / 2), yLabel, "middle", 11, rotate: -90);
        if (last)
        {
            svg.Text(Left + (plotW / 2), top + PanelHeight + 36, "time since the soak started (s)", "middle", 12);
        }

        var legendY = top + 8;
        foreach (var s in series)
        {
            var pts = s.Points.Select(p => (X(p.X), Y(p.Y))).ToList();
            if (s.Dots)
            {
                foreach (var (x, y) in pts)
                {
                    svg.Circle(x, y, 3.5, s.Color);
                }

                svg.Circle(Left + plotW + 20, legendY - 4, 3.5, s.Color);
            }
            else
            {
                if (pts.Count > 1)
                {
                    svg.Polyline(pts, s.Color, 1.6);
                }
                else if (pts.Count == 1)
                {
                    svg.Circle(pts[0].Item1, pts[0].Item2, 2, s.Color);
                }

                svg.Line(Left + plotW + 12, legendY - 4, Left + plotW + 28, legendY - 4, s.Color, 2);
            }

            svg.Text(Left + plotW + 34, legendY, s.Label, "start", 11);
            legendY += 18;
        }
    }
}
