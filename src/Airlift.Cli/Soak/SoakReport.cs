using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Airlift.Cli.Soak;

/// <summary>Writes a judged soak as soak.json, soak.md, soak.svg and handshakes.csv, and its verdict as console lines.</summary>
internal static class SoakReport
{
    /// <summary>Failed or stuck handshakes listed one by one in soak.json (the rest are counted).</summary>
    public const int MaxListedFailures = 1000;

    /// <summary>Writes the four files into the settings' output directory; returns their paths.</summary>
    public static IReadOnlyList<string> Write(SoakRun run, IReadOnlyList<SoakCriterion> criteria)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(criteria);
        var dir = run.Settings.OutDirectory;
        Directory.CreateDirectory(dir);
        var json = Path.Combine(dir, "soak.json");
        var md = Path.Combine(dir, "soak.md");
        var svg = Path.Combine(dir, "soak.svg");
        var csv = Path.Combine(dir, "handshakes.csv");
        File.WriteAllText(json, Json(run, criteria));
        File.WriteAllText(md, Markdown(run, criteria, "soak.svg"));
        File.WriteAllText(svg, SoakChart.Timeline(run));
        File.WriteAllText(csv, Csv(run.Handshakes));
        return [json, md, svg, csv];
    }

    /// <summary>Every handshake, one line each (times in ms; start and end in seconds since the soak started).</summary>
    public static string Csv(IEnumerable<SoakHandshake> handshakes)
    {
        ArgumentNullException.ThrowIfNull(handshakes);
        var sb = new StringBuilder("index,mode,outcome,reason,ms,echoMs,datagramsSent,datagramsReceived,retransmissions,localPort,startS,endS\n");
        foreach (var h in handshakes)
        {
            var reason = h.Reason is null ? string.Empty : "\"" + h.Reason.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
            sb.Append(CultureInfo.InvariantCulture, $"{h.Index},{h.Mode},{h.Outcome},{reason},{h.Ms},{h.EchoMs},{h.DatagramsSent},{h.DatagramsReceived},{h.Retransmissions},{h.LocalPort},{h.StartS},{h.EndS}\n");
        }

        return sb.ToString();
    }

    /// <summary>The JSON document: settings, summary, criteria, counters, the timeline and the failed handshakes.</summary>
    public static string Json(SoakRun run, IReadOnlyList<SoakCriterion> criteria)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(criteria);
        var failures = run.Handshakes.Where(h => h.Outcome is SoakOutcome.Failed or SoakOutcome.Stuck).ToList();
        var document = new
        {
            SchemaVersion = 1,
            Passed = criteria.All(c => c.Passed),
            Command = run.Settings.CommandLine,
            run.Machine,
            run.StartedUtc,
            run.HandshakeSeconds,
            run.TotalSeconds,
            run.WarmupConnected,
            Settings = run.Settings,
            Summary = SoakSummary.Of(run.Handshakes, run.Settings.ProxyClientIdleTimeout),
            Criteria = criteria,
            run.ServerExitCode,
            run.ServerFatal,
            run.ServerExceptions,
            run.ClientExceptions,
            run.Proxy,
            Failures = failures.Take(MaxListedFailures),
            FailuresNotListed = Math.Max(0, failures.Count - MaxListedFailures),
            run.Timeline,
        };
        return JsonSerializer.Serialize(document, SoakJson.Indented);
    }

    /// <summary>The Markdown report; <paramref name="chart"/> is the chart's path relative to the report.</summary>
    public static string Markdown(SoakRun run, IReadOnlyList<SoakCriterion> criteria, string chart)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(criteria);
        var s = run.Settings;
        var sum = SoakSummary.Of(run.Handshakes, s.ProxyClientIdleTimeout);
        var sb = new StringBuilder();
        void Line(string text) => sb.Append(text).Append('\n');
        string F(double v, string format = "0.#") => v.ToString(format, CultureInfo.InvariantCulture);
        string Ms(double? v) => v is { } x ? F(x, "0") + " ms" : "-";

        Line($"# Soak: {s.Handshakes} handshakes through {F(s.LossPercent)} % loss each way");
        Line(string.Empty);
        Line("```");
        Line(s.CommandLine);
        Line("```");
        Line(string.Empty);
        Line($"Machine: {run.Machine}. Started {run.StartedUtc:yyyy-MM-dd HH:mm} UTC; handshakes took {F(run.HandshakeSeconds, "0")} s, the whole run {F(run.TotalSeconds, "0")} s.");
        Line(string.Empty);
        Line($"One server process (`airlift soak --server-role`: a `DtlsUdpServer` on 127.0.0.1, {(s.Certificate == "ecdsa" ? "ECDSA P-256 certificate" : "the 2.7 KB RSA chain")}, " +
             $"client certificate required and checked by fingerprint, handshake timeout {F(s.DeadlineSeconds)} s, at most {s.ServerMaxSessions} sessions in all and per address, " +
             $"{(run.Timeline.Count > 0 && run.Timeline[^1].Counters.IdleTimeoutSeconds is { } idleS ? $"idle timeout of connected sessions {F(idleS)} s" : "no idle timeout of connected sessions")}). " +
             $"{s.Concurrency} clients at a time, each a sans-IO `DtlsEndpoint` on its own UDP socket checking the server's fingerprint, " +
             $"through `UdpImpairmentProxy` ({F(s.LossPercent)} % random loss each way, {F(s.DelayMs)} ms delay each way, datagrams up to {s.Mtu} bytes, seed {s.Seed}). " +
             $"Clients echo a small record and close with close_notify ({100 - s.VanishPercent - s.AbandonPercent} %), echo and vanish without a word ({s.VanishPercent} %), " +
             $"or vanish in the middle of the handshake once the server's first flight arrived ({s.AbandonPercent} %). " +
             (s.ReusePorts ? $"Each of the {s.Concurrency} client slots keeps one local port, so every handshake restarts on the address of the slot's previous client (RFC 6347 4.2.8). " : string.Empty) +
             $"Then {F(s.IdleSeconds, "0")} s idle. " +
             $"The server reports itself once a second; the tagged samples follow a forced full collection. The baseline is taken after a warm-up of {s.Warmup} " +
             $"loss-free handshakes straight to the server, all closed with close_notify ({run.WarmupConnected} connected), so that what any server needs once " +
             "(JIT-compiled code, crypto providers, pools) is not mistaken for a leak; the cold column is the server before its first handshake.");
        Line(string.Empty);
        var passed = criteria.All(c => c.Passed);
        Line($"## Verdict: {(passed ? "passed" : "FAILED")}");
        Line(string.Empty);
        Line("| criterion | measured | limit | result |");
        Line("|---|---|---|---|");
        foreach (var c in criteria)
        {
            Line($"| {Cell(c.Name)} | {Cell(c.Measured)} | {Cell(c.Limit)} | {(c.Passed ? "pass" : "**FAIL**")} |");
        }

        Line(string.Empty);
        Line("## Handshakes");
        Line(string.Empty);
        Line("| outcome | count |");
        Line("|---|---:|");
        Line($"| connected | {sum.Connected} |");
        foreach (var (reason, count) in sum.FailedByReason)
        {
            Line($"| {(reason == "stuck" ? "**stuck**" : "failed: " + Cell(reason))} | {count} |");
        }

        Line($"| abandoned mid-handshake (on purpose) | {sum.Abandoned} |");
        Line($"| total | {sum.Total} |");
        Line(string.Empty);
        if (sum.FailedOnReusedPort > 0)
        {
            Line($"\"client port reused\": {sum.FailedOnReusedPort} of the failures came from a client whose local port an earlier client had used less than " +
                 $"{F(s.ProxyClientIdleTimeout.TotalSeconds, "0")} s before, while the proxy still kept that client's path, so the server saw the earlier client's " +
                 "address again (a peer restarting on the same address and port, RFC 6347 4.2.8).");
            Line(string.Empty);
        }

        var judged = sum.Total - sum.Abandoned;
        Line($"Time to connect over the {judged} handshakes not abandoned (from the first ClientHello; one that did not connect counts as never): " +
             $"p50 {Ms(sum.P50Ms)}, p90 {Ms(sum.P90Ms)}, p99 {Ms(sum.P99Ms)}; slowest outcome {Ms(sum.MaxOutcomeMs)}. " +
             $"Echo: {sum.Echoed} of {sum.Connected} connected clients got theirs back (p50 {Ms(sum.EchoP50Ms)} after Connected, resent every 250 ms for up to the deadline).");
        Line(string.Empty);

        Line("## Server process");
        Line(string.Empty);
        var cold = run.Tagged(SoakRunner.Cold);
        var baseline = run.Tagged(SoakRunner.Baseline);
        var after = run.Tagged(SoakRunner.AfterHandshakes);
        var idle = run.Tagged(SoakRunner.AfterIdle);
        if (run.Timeline.Count > 0)
        {
            Line("| | cold | baseline (after warm-up) | peak | after handshakes | after idle |");
            Line("|---|---:|---:|---:|---:|---:|");
            void Row(string name, Func<SoakPoint, long> f, bool mb)
            {
                string V(SoakPoint? p) => p is null ? "-" : mb ? F(f(p) / 1048576.0) + " MB" : f(p).ToString(CultureInfo.InvariantCulture);
                var peak = run.Timeline.MaxBy(f);
                Line($"| {name} | {V(cold)} | {V(baseline)} | {V(peak)} | {V(after)} | {V(idle)} |");
            }

            void TrimRow(string name, Func<SoakPoint, long?> f)
            {
                string V(SoakPoint p) => f(p) is { } v ? F(v / 1048576.0) + " MB" : "-";
                if (idle is not null && f(idle) is not null)
                {
                    Line($"| {name} | - | - | - | - | {V(idle)} |");
                }
            }

            Row("managed heap (live bytes of the forced collection in the tagged columns, GC.GetTotalMemory between)", p => p.Server.ManagedBytes, true);
            Row("GC heap size (last collection)", p => p.Server.GcHeapBytes, true);
            Row("GC committed", p => p.Server.GcCommittedBytes, true);
            Row("RSS (VmRSS)", p => p.Server.RssBytes, true);
            Row("RssAnon", p => p.Server.RssAnonBytes, true);
            TrimRow("RSS after malloc_trim (last sample only)", p => p.Server.RssTrimmedBytes);
            TrimRow("RssAnon after malloc_trim (last sample only)", p => p.Server.RssAnonTrimmedBytes);
            Row("private memory", p => p.Server.PrivateBytes, true);
            Row("file descriptors", p => p.Server.Fds, false);
            Row("threads", p => p.Server.Threads, false);
            Row("sessions live", p => p.Counters.Live, false);
            Line(string.Empty);
            var c = run.Timeline[^1].Counters;
            Line($"Server counters at the end: {c.Accepted} sessions accepted after a cookie exchange ({c.HelloVerifyRequests} HelloVerifyRequests), " +
                 $"{c.Connected} connected, {c.Closed} closed, {c.Failed} failed ({(c.FailedByReason.Count == 0 ? "none" : string.Join(", ", c.FailedByReason.Select(kv => $"{kv.Key} {kv.Value}")))}), " +
                 $"sessions removed: {(c.RemovedByReason.Count == 0 ? "none reported" : string.Join(", ", c.RemovedByReason.Select(kv => $"{kv.Key} {kv.Value}")))}; " +
                 $"{c.Echoed} records echoed, {c.SendRaces} echoes refused because the session had moved on; datagrams of new peers dropped: {c.DroppedSessionLimit} at the session limit, " +
                 $"{c.DroppedAddressLimit} at the per-address limit, {c.DroppedEventBacklog} for a full event queue; {c.EventsDropped} application-data events dropped; " +
                 $"{c.ListenerDropped} datagrams dropped by the cookie front. Exceptions thrown and caught in the server (not judged; unhandled ones are): " +
                 (run.ServerExceptions is { FirstChanceByType.Count: > 0 } se ? string.Join(", ", se.FirstChanceByType.Select(kv => $"{kv.Key} {kv.Value}")) : "none") + ".");
            Line(string.Empty);
        }

        if (baseline?.Client is { } cb && idle?.Client is { } ci)
        {
            var peakFds = run.Timeline.Max(p => p.Client?.Fds ?? 0);
            Line($"The soak's own process (clients and proxy; not judged): file descriptors {cb.Fds} at the baseline, {peakFds} at the peak, {ci.Fds} after idle; " +
                 $"managed heap {F(cb.ManagedBytes / 1048576.0)} -> {F(ci.ManagedBytes / 1048576.0)} MB, RSS {F(cb.RssBytes / 1048576.0)} -> {F(ci.RssBytes / 1048576.0)} MB " +
                 $"(forced collection); {run.ClientExceptions.FirstChanceByType.Sum(kv => kv.Value)} exceptions thrown and caught " +
                 $"({(run.ClientExceptions.FirstChanceByType.Count == 0 ? "none" : string.Join(", ", run.ClientExceptions.FirstChanceByType.Select(kv => $"{kv.Key} {kv.Value}")))}).");
            Line(string.Empty);
        }

        if (run.Proxy is { } proxy)
        {
            var up = proxy.Emulator.ClientToServer;
            var down = proxy.Emulator.ServerToClient;
            Line($"Proxy: {proxy.ClientsAccepted} client addresses; client to server {up.Seen} datagrams, {up.Dropped} dropped ({F(100.0 * up.Dropped / Math.Max(1, up.Seen))} %); " +
                 $"server to client {down.Seen}, {down.Dropped} dropped ({F(100.0 * down.Dropped / Math.Max(1, down.Seen))} %); {proxy.DroppedClientGone} deliveries after the client's flow expired.");
            Line(string.Empty);
        }

        Line($"![server memory, file descriptors, threads and sessions over time]({chart})");
        return sb.ToString();
    }

    /// <summary>The verdict as console lines: one per criterion, then the overall result.</summary>
    public static IEnumerable<string> ConsoleLines(IReadOnlyList<SoakCriterion> criteria)
    {
        ArgumentNullException.ThrowIfNull(criteria);
        foreach (var c in criteria)
        {
            yield return $"  {(c.Passed ? "pass" : "FAIL")}  {c.Name}: {c.Measured} (limit: {c.Limit})";
        }

        yield return criteria.All(c => c.Passed) ? "soak: passed" : $"soak: FAILED ({criteria.Count(c => !c.Passed)} of {criteria.Count} criteria)";
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
