using System.Globalization;
using System.Net;
using System.Text;
using Airlift.Cli.Lab;

namespace Airlift.Cli.Storm;

/// <summary>Time to connect, in ms, over the handshakes that connected (nearest-rank percentiles).</summary>
internal sealed record StormPercentiles(double P50, double P90, double P99, double Max, double Mean)
{
    /// <summary>The percentiles of <paramref name="values"/>; null when there are none.</summary>
    public static StormPercentiles? Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return null;
        }

        var sorted = values.ToArray();
        Array.Sort(sorted);
        return new StormPercentiles(Rank(sorted, 50), Rank(sorted, 90), Rank(sorted, 99), sorted[^1], Math.Round(sorted.Average(), 2));
    }

    /// <summary>Nearest-rank percentile of an ascending array: the smallest value with at least p % of the values at or below it.</summary>
    public static double Rank(double[] sorted, double p)
    {
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>One second of the storm.</summary>
/// <param name="Second">Seconds since the storm started.</param>
/// <param name="Started">Handshakes started so far.</param>
/// <param name="Connected">Handshakes connected so far.</param>
/// <param name="Failed">Handshakes failed so far.</param>
/// <param name="InFlight">Handshakes in progress.</param>
/// <param name="Held">Connected clients holding their connection.</param>
/// <param name="HandshakesPerSecond">Connected in this second.</param>
/// <param name="ServerCpuPercent">The server process's CPU in this second (100 = one core), when it is a child process.</param>
/// <param name="ServerRssBytes">The server process's resident memory, when it is a child process.</param>
internal sealed record StormTick(int Second, int Started, int Connected, int Failed, int InFlight, int Held, int HandshakesPerSecond, double? ServerCpuPercent, long? ServerRssBytes);

/// <summary>The server's side of a storm, when the storm ran the server in its own process.</summary>
/// <param name="Pid">Its process id.</param>
/// <param name="CpuSeconds">CPU time it spent from the baseline to the end of the storm (before the held connections closed).</param>
/// <param name="CpuMsPerHandshake">That CPU time per connected handshake.</param>
/// <param name="BaselineRssBytes">Resident memory before the first handshake (after a full collection).</param>
/// <param name="HeldRssBytes">Resident memory with every held connection open (after a full collection).</param>
/// <param name="PeakRssBytes">VmHWM: its highest resident memory during the storm.</param>
/// <param name="RssPerConnectionBytes">(held - baseline) / sessions held; null without held sessions.</param>
/// <param name="BaselineManagedBytes">Live managed heap before the first handshake.</param>
/// <param name="HeldManagedBytes">Live managed heap with every held connection open.</param>
/// <param name="ManagedPerConnectionBytes">(held - baseline) managed heap / sessions held.</param>
/// <param name="SessionsHeld">Sessions the server held at that moment.</param>
/// <param name="Connected">Handshakes the server completed.</param>
/// <param name="Failed">Handshakes or connections the server saw fail.</param>
/// <param name="Dropped">Datagrams or sessions its listener and limits dropped.</param>
internal sealed record StormServerFigures(
    int Pid,
    double CpuSeconds,
    double? CpuMsPerHandshake,
    long BaselineRssBytes,
    long HeldRssBytes,
    long PeakRssBytes,
    long? RssPerConnectionBytes,
    long BaselineManagedBytes,
    long HeldManagedBytes,
    long? ManagedPerConnectionBytes,
    int SessionsHeld,
    long Connected,
    long Failed,
    long Dropped);

/// <summary>What a <c>--serve</c> storm measured beyond the DTLS handshake.</summary>
/// <param name="SignallingMs">POST of the offer to the 201 answer, ms.</param>
/// <param name="IceMs">First Binding request to the authenticated success response, ms.</param>
/// <param name="DtlsMs">First DTLS flight to Connected, ms.</param>
/// <param name="StunRequests">Binding requests sent (checks, their retransmissions, consent refreshes).</param>
/// <param name="MediaPerSession">SRTP packets each connected session was to send (--media).</param>
/// <param name="MediaSent">SRTP packets sent in all.</param>
/// <param name="MediaAccepted">Packets the server counted (its stats), over <paramref name="MediaStatsRead"/> sessions.</param>
/// <param name="MediaStatsRead">Sessions whose stats the server gave.</param>
/// <param name="MediaStatsMissing">Sessions whose stats could not be read.</param>
/// <param name="MediaReceived">SRTP packets that came back and unprotected (an echo endpoint; WHIP returns none).</param>
/// <param name="Deleted">Sessions ended by DELETE of their Location with a 2xx.</param>
/// <param name="DeleteFailures">Other DELETE outcomes, by reason.</param>
internal sealed record StormServeFigures(
    StormPercentiles? SignallingMs,
    StormPercentiles? IceMs,
    StormPercentiles? DtlsMs,
    long StunRequests,
    int MediaPerSession,
    long MediaSent,
    long MediaAccepted,
    int MediaStatsRead,
    int MediaStatsMissing,
    long MediaReceived,
    int Deleted,
    IReadOnlyDictionary<string, int> DeleteFailures)
{
    /// <summary>The figures of a finished <see cref="ServeTally"/>.</summary>
    public static StormServeFigures Of(ServeTally t, int mediaPerSession) => new(
        StormPercentiles.Of(t.SignallingMs),
        StormPercentiles.Of(t.IceMs),
        StormPercentiles.Of(t.DtlsMs),
        t.StunRequests,
        mediaPerSession,
        t.MediaSent,
        t.MediaAccepted,
        t.MediaStatsRead,
        t.MediaStatsMissing,
        t.MediaReceived,
        t.Deleted,
        new SortedDictionary<string, int>(t.DeleteFailures, StringComparer.Ordinal));
}

/// <summary>Everything one storm measured (the JSON report is this record).</summary>
internal sealed record StormReport
{
    /// <summary>The command line.</summary>
    public required string Command { get; init; }

    /// <summary>When it started (UTC).</summary>
    public required DateTimeOffset Started { get; init; }

    /// <summary>Cores, OS and runtime.</summary>
    public required string Machine { get; init; }

    /// <summary>What served: "self (process PID)", "self (in-process)" or "target ADDRESS:PORT".</summary>
    public required string Server { get; init; }

    /// <summary>Versions the clients offered (--dtls).</summary>
    public required string Dtls { get; init; }

    /// <summary>Groups the clients offered (null: the library's defaults).</summary>
    public IReadOnlyList<string>? Groups { get; init; }

    /// <summary>Loss in percent each way through the impairment proxy (null: direct).</summary>
    public double? ProxyLossPercent { get; init; }

    /// <summary>The proxy's seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Clients open at once.</summary>
    public required int Connections { get; init; }

    /// <summary>Handshakes asked for.</summary>
    public required int Total { get; init; }

    /// <summary>Ramp in handshakes per second (0: none).</summary>
    public required double Rate { get; init; }

    /// <summary>Per-handshake timeout in seconds.</summary>
    public required double TimeoutSeconds { get; init; }

    /// <summary>Handshakes started.</summary>
    public required int StartedHandshakes { get; init; }

    /// <summary>Handshakes that connected.</summary>
    public required int Connected { get; init; }

    /// <summary>Handshakes that failed.</summary>
    public required int Failed { get; init; }

    /// <summary>Handshakes started without an outcome when the storm stopped early.</summary>
    public required int Unfinished { get; init; }

    /// <summary>Handshakes never started (the storm stopped early).</summary>
    public required int NotStarted { get; init; }

    /// <summary>Ctrl-C ended the storm: this report is partial.</summary>
    public bool Interrupted { get; init; }

    /// <summary>Why the storm stopped early, if it did.</summary>
    public string? Aborted { get; init; }

    /// <summary>Failures by reason.</summary>
    public required IReadOnlyDictionary<string, int> FailuresByReason { get; init; }

    /// <summary>Connected handshakes by version.</summary>
    public required IReadOnlyDictionary<string, int> Versions { get; init; }

    /// <summary>Seconds from the first ClientHello to the last outcome: the time to drain the storm.</summary>
    public required double DrainSeconds { get; init; }

    /// <summary>Connected handshakes per second of drain time.</summary>
    public required double HandshakesPerSecond { get; init; }

    /// <summary>The most handshakes that connected in one second.</summary>
    public required int PeakHandshakesPerSecond { get; init; }

    /// <summary>Time to connect (first ClientHello to Connected), ms.</summary>
    public StormPercentiles? ConnectMs { get; init; }

    /// <summary>Datagrams the clients sent.</summary>
    public required long DatagramsSent { get; init; }

    /// <summary>Datagrams the clients received.</summary>
    public required long DatagramsReceived { get; init; }

    /// <summary>Flight retransmissions of the clients.</summary>
    public required long Retransmissions { get; init; }

    /// <summary>ICMP port unreachable seen by the clients.</summary>
    public required long PortUnreachable { get; init; }

    /// <summary>Client sends that failed (lost datagrams).</summary>
    public required long SendErrors { get; init; }

    /// <summary>Server datagrams larger than a client's receive buffer.</summary>
    public required long Truncated { get; init; }

    /// <summary>Connections held open when the storm ended.</summary>
    public required int HeldAtEnd { get; init; }

    /// <summary>Sessions an own server held while the clients held <see cref="HeldAtEnd"/> connections (null: foreign server, or not measured).</summary>
    public int? ServerSessions { get; init; }

    /// <summary>Held connections the server closed or failed during the storm.</summary>
    public required int ClosedByServerWhileHeld { get; init; }

    /// <summary>CPU seconds of this (client) process during the storm; includes the server when it runs in-process and the proxy.</summary>
    public required double ClientCpuSeconds { get; init; }

    /// <summary>This process's resident memory with every connection held (null where /proc cannot be read).</summary>
    public long? ClientRssBytes { get; init; }

    /// <summary>This process's peak resident memory (VmHWM) up to that moment.</summary>
    public long? ClientPeakRssBytes { get; init; }

    /// <summary>The server's CPU and memory, when it ran as a child process.</summary>
    public StormServerFigures? ServerProcess { get; init; }

    /// <summary>Signalling, ICE, DTLS, media and DELETE figures of a <c>--serve</c> storm.</summary>
    public StormServeFigures? Serve { get; init; }

    /// <summary>The proxy's drops and deliveries, when there was one.</summary>
    public IReadOnlyDictionary<string, long>? Proxy { get; init; }

    /// <summary>One entry per second.</summary>
    public required IReadOnlyList<StormTick> Timeline { get; init; }

    /// <summary>Every handshake asked for has exactly one of these outcomes.</summary>
    public bool CountsAddUp => Connected + Failed + Unfinished + NotStarted == Total && StartedHandshakes == Connected + Failed + Unfinished;

    /// <summary>All asked-for handshakes connected.</summary>
    public bool AllConnected => Connected == Total && Aborted is null && !Interrupted;
}

/// <summary>Renders a <see cref="StormReport"/> as console lines and as a self-contained HTML page.</summary>
internal static class StormReportText
{
    /// <summary>The report as console lines.</summary>
    public static IReadOnlyList<string> Lines(StormReport r)
    {
        var lines = new List<string>
        {
            $"storm: {(r.Interrupted ? "INTERRUPTED (partial) " : string.Empty)}{r.Connected}/{r.Total} connected, {r.Failed} failed{(r.Unfinished > 0 ? $", {r.Unfinished} unfinished" : string.Empty)}{(r.NotStarted > 0 ? $", {r.NotStarted} not started" : string.Empty)} against {r.Server}",
            F($"  drain {r.DrainSeconds:0.00} s, {r.HandshakesPerSecond:0.0} handshakes/s (peak {r.PeakHandshakesPerSecond}/s), {r.Connections} at once, DTLS {r.Dtls}{(r.Groups is null ? string.Empty : ", groups " + string.Join(',', r.Groups))}{(r.ProxyLossPercent is { } l ? $", through the proxy at {l:0.##} % loss (seed {r.Seed})" : string.Empty)}"),
        };
        if (r.ConnectMs is { } c)
        {
            lines.Add(F($"  time to connect: p50 {c.P50:0.0} ms, p90 {c.P90:0.0} ms, p99 {c.P99:0.0} ms, max {c.Max:0.0} ms"));
        }

        if (r.Versions.Count > 0)
        {
            lines.Add("  versions: " + string.Join(", ", r.Versions.Select(v => $"{v.Key} {v.Value}")));
        }

        if (r.Serve is { } sv)
        {
            static string P(string name, StormPercentiles? p) => p is null ? $"{name} -" : F($"{name} p50 {p.P50:0.0} / p90 {p.P90:0.0} / p99 {p.P99:0.0} / max {p.Max:0.0} ms");
            lines.Add($"  sessions: {P("signalling", sv.SignallingMs)}; {P("ICE", sv.IceMs)}; {P("DTLS", sv.DtlsMs)}");
            if (sv.MediaPerSession > 0)
            {
                lines.Add(F($"  media: {sv.MediaPerSession} SRTP packets per session, {sv.MediaSent} sent, {sv.MediaAccepted} counted by the server (stats of {sv.MediaStatsRead} sessions{(sv.MediaStatsMissing > 0 ? $", {sv.MediaStatsMissing} without" : string.Empty)}), {sv.MediaReceived} came back"));
            }

            lines.Add(F($"  DELETE: {sv.Deleted} ended{string.Concat(sv.DeleteFailures.Select(kv => $", {kv.Value} x {kv.Key}"))}; {sv.StunRequests} STUN Binding requests sent"));
        }

        foreach (var (reason, count) in r.FailuresByReason.OrderByDescending(kv => kv.Value))
        {
            lines.Add($"  failed: {count} x {reason}");
        }

        lines.Add(F($"  clients: {r.DatagramsSent} datagrams sent, {r.DatagramsReceived} received, {r.Retransmissions} retransmissions, {r.ClientCpuSeconds:0.00} s CPU{(r.ServerProcess is null && r.Server.StartsWith("self", StringComparison.Ordinal) ? " (server included)" : string.Empty)}{(r.ClientPeakRssBytes is { } cp ? $", RSS peak {Mb(cp)}" : string.Empty)}"));
        if (r.ServerProcess is { } s)
        {
            lines.Add(F($"  server (pid {s.Pid}): {s.CpuSeconds:0.00} s CPU{(s.CpuMsPerHandshake is { } ms ? $" ({ms:0.000} ms per handshake)" : string.Empty)}, RSS {Mb(s.BaselineRssBytes)} before, {Mb(s.HeldRssBytes)} with {s.SessionsHeld} sessions, peak {Mb(s.PeakRssBytes)}"));
            if (s.RssPerConnectionBytes is { } per)
            {
                lines.Add(F($"  server memory per connection: {Kb(per)} RSS{(s.ManagedPerConnectionBytes is { } m ? $", {Kb(m)} managed heap" : string.Empty)}"));
            }
        }

        if (r.Aborted is { } why)
        {
            lines.Add("  stopped early: " + why);
        }

        return lines;
    }

    /// <summary>The report as one HTML page (inline CSS and SVG, no scripts).</summary>
    public static string Html(StormReport r)
    {
        var sb = new StringBuilder();
        sb.AppendLine("<!DOCTYPE html>");
        sb.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Airlift storm report</title>");
        sb.AppendLine("<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f;max-width:1100px}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d0d0d0;padding:.3rem .6rem;text-align:left}td.num{text-align:right}th{background:#f2f4f7}.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts svg{border:1px solid #e0e0e0}.muted{color:#666}</style>");
        sb.AppendLine("</head><body><h1>Airlift storm report</h1>");
        sb.AppendLine(F($"<p class=\"muted\"><code>{E(r.Command)}</code><br>started {E(r.Started.ToString("u", CultureInfo.InvariantCulture))} on {E(r.Machine)}</p>"));
        sb.AppendLine("<table><tbody>");
        foreach (var line in Lines(r))
        {
            sb.AppendLine(F($"<tr><td>{E(line.Trim())}</td></tr>"));
        }

        sb.AppendLine("</tbody></table>");
        sb.AppendLine("<h2>Over time</h2><div class=\"charts\">");
        sb.AppendLine(Chart("Handshakes connected per second", r.Timeline.Select(t => ((double)t.Second, (double)t.HandshakesPerSecond)).ToList(), "#1f77b4"));
        sb.AppendLine(Chart("Handshakes in flight", r.Timeline.Select(t => ((double)t.Second, (double)t.InFlight)).ToList(), "#d62728"));
        if (r.Timeline.Any(t => t.ServerRssBytes is not null))
        {
            sb.AppendLine(Chart("Server RSS (MB)", r.Timeline.Where(t => t.ServerRssBytes is not null).Select(t => ((double)t.Second, t.ServerRssBytes!.Value / 1048576.0)).ToList(), "#2ca02c"));
            sb.AppendLine(Chart("Server CPU (%, 100 = one core)", r.Timeline.Where(t => t.ServerCpuPercent is not null).Select(t => ((double)t.Second, t.ServerCpuPercent!.Value)).ToList(), "#9467bd"));
        }

        sb.AppendLine("</div>");
        sb.AppendLine("<h2>Failures by reason</h2>");
        if (r.FailuresByReason.Count == 0)
        {
            sb.AppendLine("<p>None.</p>");
        }
        else
        {
            sb.AppendLine("<table><thead><tr><th>Reason</th><th>Count</th></tr></thead><tbody>");
            foreach (var (reason, count) in r.FailuresByReason.OrderByDescending(kv => kv.Value))
            {
                sb.AppendLine(F($"<tr><td>{E(reason)}</td><td class=\"num\">{count}</td></tr>"));
            }

            sb.AppendLine("</tbody></table>");
        }

        sb.AppendLine("</body></html>");
        return sb.ToString();
    }

    private static string Chart(string title, IReadOnlyList<(double X, double Y)> points, string color)
    {
        const int W = 520, H = 240, L = 50, R = 10, T = 28, B = 30;
        var svg = new SvgWriter(W, H, title);
        svg.Text(W / 2.0, 18, title, "middle", 13, weight: "bold");
        var maxX = Math.Max(1, points.Count == 0 ? 1 : points.Max(p => p.X));
        var maxY = Math.Max(1, points.Count == 0 ? 1 : points.Max(p => p.Y));
        svg.Line(L, H - B, W - R, H - B, "#888").Line(L, T, L, H - B, "#888");
        svg.Text(L - 4, T + 4, Compact(maxY), "end", 10).Text(L - 4, H - B, "0", "end", 10);
        svg.Text(W - R, H - 8, F($"{maxX:0} s"), "end", 10).Text(L, H - 8, "0 s", "start", 10);
        if (points.Count > 0)
        {
            svg.Polyline(points.Select(p => (L + (p.X / maxX * (W - L - R)), H - B - (p.Y / maxY * (H - T - B)))), color);
        }

        return svg.ToString();
    }

    private static string Compact(double v) => v >= 10_000 ? F($"{v / 1000:0}k") : F($"{v:0.#}");

    private static string Mb(long bytes) => F($"{bytes / 1048576.0:0.0} MB");

    private static string Kb(long bytes) => F($"{bytes / 1024.0:0.0} KB");

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
