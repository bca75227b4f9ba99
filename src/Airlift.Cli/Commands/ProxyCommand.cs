using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.NetEm.Proxy;

namespace Airlift.Cli.Commands;

/// <summary>
/// <c>airlift proxy</c>: a UDP proxy (<see cref="UdpImpairmentProxy"/>) that puts seeded impairments between a DTLS client
/// and server. Every probability is in percent (<c>--loss 10</c> and <c>--loss 10%</c> both mean 10%; <c>0.1</c> means 0.1%).
/// Prints a summary on exit (Ctrl+C or <c>--duration</c>); exit 0, or 2 for a bad argument.
/// </summary>
internal static class ProxyCommand
{
    private static readonly Dictionary<string, HandshakeType> HandshakeNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["helloverifyrequest"] = HandshakeType.HelloVerifyRequest,
        ["hvr"] = HandshakeType.HelloVerifyRequest,
        ["clienthello"] = HandshakeType.ClientHello,
        ["serverhello"] = HandshakeType.ServerHello,
        ["certificate"] = HandshakeType.Certificate,
        ["serverkeyexchange"] = HandshakeType.ServerKeyExchange,
        ["certificaterequest"] = HandshakeType.CertificateRequest,
        ["serverhellodone"] = HandshakeType.ServerHelloDone,
        ["certificateverify"] = HandshakeType.CertificateVerify,
        ["clientkeyexchange"] = HandshakeType.ClientKeyExchange,
        ["finished"] = HandshakeType.Finished,
    };

    public static Command Create()
    {
        var listen = new Option<string>("--listen") { Description = "ADDRESS:PORT clients send to (port 0 picks a free port; the bound address is printed).", Required = true };
        var upstream = new Option<string>("--upstream") { Description = "ADDRESS:PORT of the server every client's datagrams go to.", Required = true };
        var loss = new Option<string?>("--loss") { Description = "Random loss in percent, both directions (10 = 10%; a trailing % is allowed; 0.1 means 0.1%)." };
        var lossUp = new Option<string?>("--loss-up") { Description = "Random loss in percent, client to server only." };
        var lossDown = new Option<string?>("--loss-down") { Description = "Random loss in percent, server to client only (field failure F2)." };
        var burst = new Option<string?>("--burst") { Description = "Gilbert-Elliott burst loss, both directions, in percent like netem's gemodel: p,r[,lossBad[,lossGood]] (p good->bad, r bad->good; lossBad default 100, lossGood default 0)." };
        var maxDatagram = new Option<int?>("--max-datagram") { Description = "Drop datagrams larger than BYTES, both directions (an MTU black hole, F1; a relay buffer, F4)." };
        var delay = new Option<double?>("--delay-ms") { Description = "One-way delay in ms, each direction (RTT = twice this)." };
        var jitter = new Option<double?>("--jitter-ms") { Description = "Uniform jitter +- ms on the delay." };
        var reorder = new Option<string?>("--reorder") { Description = "Percent of datagrams held back by --reorder-delay-ms so later ones overtake them." };
        var reorderDelay = new Option<double?>("--reorder-delay-ms") { Description = "Extra delay of a reordered datagram (default 20 ms)." };
        var duplicate = new Option<string?>("--duplicate") { Description = "Percent of datagrams delivered twice." };
        var dropServer = new Option<string[]>("--drop-server-flight") { Description = "Drop the first K server-to-client datagrams carrying handshake TYPE: TYPE:K, TYPE by name (ServerHello, Certificate, Finished, ...) or number; repeatable. Finished means the encrypted final flight (CCS, Finished).", AllowMultipleArgumentsPerToken = false };
        var dropClient = new Option<string[]>("--drop-client-flight") { Description = "As --drop-server-flight, client to server (ClientHello, ClientKeyExchange, Finished, ...).", AllowMultipleArgumentsPerToken = false };
        var preset = new Option<string?>("--preset") { Description = $"Start from a named profile, then apply the other options on top: {string.Join(", ", NetEmPresets.Names)} (f2-downlink-loss-N, f4-turn-relay-N take a number)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the impairment streams: the same seed and the same datagrams give the same fates.", DefaultValueFactory = _ => 1 };
        var duration = new Option<double?>("--duration") { Description = "Stop after S seconds and print the summary (default: run until Ctrl+C)." };
        var maxClients = new Option<int>("--max-clients") { Description = "Most client addresses served at once.", DefaultValueFactory = _ => UdpImpairmentProxyOptions.DefaultMaxClients };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object on stdout (the listening line goes to stderr)." };
        var allowNonLoopback = new Option<bool>("--allow-non-loopback")
        {
            Description = "DANGEROUS: allow listen/upstream addresses outside loopback. On a reachable interface the proxy is an open relay: anyone who can reach it can bounce traffic (duplicated, if asked) to the upstream, and a remote upstream sends test traffic off this machine.",
        };
        var command = new Command("proxy", "A UDP proxy that puts seeded network impairments between a DTLS client and server on loopback; prints what it saw and dropped on exit.")
        {
            listen, upstream, loss, lossUp, lossDown, burst, maxDatagram, delay, jitter, reorder, reorderDelay, duplicate, dropServer, dropClient, preset, seed, duration, maxClients, json, allowNonLoopback,
        };
        command.SetAction(async (parse, ct) =>
        {
            UdpImpairmentProxyOptions options;
            TimeSpan? runFor;
            try
            {
                var listenEp = ParseEndpoint(parse.GetValue(listen)!, "--listen", allowZeroPort: true);
                var upstreamEp = ParseEndpoint(parse.GetValue(upstream)!, "--upstream", allowZeroPort: false);
                var netem = BuildNetEm(
                    parse.GetValue(preset),
                    parse.GetValue(loss),
                    parse.GetValue(lossUp),
                    parse.GetValue(lossDown),
                    parse.GetValue(burst),
                    parse.GetValue(maxDatagram),
                    parse.GetValue(delay),
                    parse.GetValue(jitter),
                    parse.GetValue(reorder),
                    parse.GetValue(reorderDelay),
                    parse.GetValue(duplicate),
                    parse.GetValue(dropServer) ?? [],
                    parse.GetValue(dropClient) ?? [],
                    parse.GetValue(seed));
                runFor = parse.GetValue(duration) is { } d
                    ? d > 0 && d <= 86_400 ? TimeSpan.FromSeconds(d) : throw new CliException($"--duration {Num(d)} is outside (0, 86400] seconds")
                    : null;
                options = new UdpImpairmentProxyOptions(listenEp, upstreamEp, netem)
                {
                    AllowNonLoopback = parse.GetValue(allowNonLoopback),
                    MaxClients = parse.GetValue(maxClients) is var m && m >= 1 && m <= 65_536 ? m : throw new CliException($"--max-clients {m} is outside 1..65536"),
                };
                try
                {
                    options.Validate();
                }
                catch (ArgumentException ex)
                {
                    throw new CliException(FirstSentence(ex.Message) + (ex.Message.Contains("loopback", StringComparison.Ordinal) ? " (see --allow-non-loopback)" : string.Empty));
                }

                return await RunAsync(options, runFor, parse.GetValue(json), ct).ConfigureAwait(false);
            }
            catch (CliException ex)
            {
                // Same contract as Program: one line, status 2.
                Console.Error.WriteLine($"airlift: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>Builds the impairments from a preset (or none) with the explicit options applied on top.</summary>
    internal static NetEmOptions BuildNetEm(
        string? presetName,
        string? loss,
        string? lossUp,
        string? lossDown,
        string? burst,
        int? maxDatagram,
        double? delayMs,
        double? jitterMs,
        string? reorder,
        double? reorderDelayMs,
        string? duplicate,
        IReadOnlyList<string> dropServer,
        IReadOnlyList<string> dropClient,
        ulong seed)
    {
        var netem = NetEmOptions.None;
        if (presetName is not null)
        {
            netem = NetEmPresets.TryGet(presetName, out var named)
                ? named
                : throw new CliException($"--preset '{presetName}' is unknown; one of {string.Join(", ", NetEmPresets.Names)}");
        }

        if (loss is not null && (lossUp is not null || lossDown is not null))
        {
            throw new CliException("use --loss (both directions) or --loss-up/--loss-down, not both");
        }

        var up = netem.ClientToServer;
        var down = netem.ServerToClient;
        if (loss is not null)
        {
            var p = Percent(loss, "--loss");
            up = up with { LossRate = p };
            down = down with { LossRate = p };
        }

        if (lossUp is not null)
        {
            up = up with { LossRate = Percent(lossUp, "--loss-up") };
        }

        if (lossDown is not null)
        {
            down = down with { LossRate = Percent(lossDown, "--loss-down") };
        }

        if (burst is not null)
        {
            var b = ParseBurst(burst);
            up = up with { Burst = b };
            down = down with { Burst = b };
        }

        if (maxDatagram is { } max)
        {
            if (max is < 1 or > 65507)
            {
                throw new CliException($"--max-datagram {max} is outside 1..65507");
            }

            up = up with { MaxDatagramSize = max };
            down = down with { MaxDatagramSize = max };
        }

        if (delayMs is { } dl)
        {
            up = up with { Delay = Millis(dl, "--delay-ms") };
            down = down with { Delay = Millis(dl, "--delay-ms") };
        }

        if (jitterMs is { } j)
        {
            up = up with { Jitter = Millis(j, "--jitter-ms") };
            down = down with { Jitter = Millis(j, "--jitter-ms") };
        }

        if (reorder is not null)
        {
            var p = Percent(reorder, "--reorder");
            var extra = Millis(reorderDelayMs ?? 20, "--reorder-delay-ms");
            if (p > 0 && extra <= TimeSpan.Zero)
            {
                throw new CliException("--reorder needs a positive --reorder-delay-ms");
            }

            up = up with { ReorderRate = p, ReorderDelay = extra };
            down = down with { ReorderRate = p, ReorderDelay = extra };
        }
        else if (reorderDelayMs is not null)
        {
            throw new CliException("--reorder-delay-ms needs --reorder");
        }

        if (duplicate is not null)
        {
            var p = Percent(duplicate, "--duplicate");
            up = up with { DuplicateRate = p };
            down = down with { DuplicateRate = p };
        }

        var drops = new List<ScriptedDrop>(netem.ScriptedDrops);
        drops.AddRange(dropServer.Select(s => ParseDrop(s, LinkDirection.ServerToClient, "--drop-server-flight")));
        drops.AddRange(dropClient.Select(s => ParseDrop(s, LinkDirection.ClientToServer, "--drop-client-flight")));
        var result = netem with { ClientToServer = up, ServerToClient = down, ScriptedDrops = drops, Seed = seed };
        try
        {
            result.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new CliException(FirstSentence(ex.Message));
        }

        return result;
    }

    /// <summary>A probability from a percentage: "10", "10%", "0.5" (= 0.5%); 0..100.</summary>
    internal static double Percent(string text, string name)
    {
        var t = text.Trim();
        if (t.EndsWith('%'))
        {
            t = t[..^1];
        }

        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v >= 0 && v <= 100))
        {
            throw new CliException($"{name} '{text}' is not a percentage in 0..100 (e.g. {name} 10 for 10%)");
        }

        return v / 100;
    }

    /// <summary>"p,r[,lossBad[,lossGood]]" in percent.</summary>
    internal static BurstLoss ParseBurst(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is < 2 or > 4)
        {
            throw new CliException($"--burst '{text}' is not p,r[,lossBad[,lossGood]] in percent (e.g. --burst 1,25 or --burst 1,25,50,0)");
        }

        return new BurstLoss(
            Percent(parts[0], "--burst p"),
            Percent(parts[1], "--burst r"),
            parts.Length > 2 ? Percent(parts[2], "--burst lossBad") : 1.0,
            parts.Length > 3 ? Percent(parts[3], "--burst lossGood") : 0.0);
    }

    /// <summary>"TYPE:K": TYPE a handshake type name (case-insensitive, '_' and '-' ignored) or number 0..255, K >= 1.</summary>
    internal static ScriptedDrop ParseDrop(string text, LinkDirection direction, string name)
    {
        var colon = text.LastIndexOf(':');
        var typeText = (colon < 0 ? text : text[..colon]).Trim();
        var countText = colon < 0 ? "1" : text[(colon + 1)..].Trim();
        HandshakeType type;
        if (byte.TryParse(typeText, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            type = new HandshakeType(number);
        }
        else if (!HandshakeNames.TryGetValue(typeText.Replace("_", string.Empty, StringComparison.Ordinal).Replace("-", string.Empty, StringComparison.Ordinal), out type))
        {
            throw new CliException($"{name} '{text}': unknown handshake type '{typeText}'; use a number or one of ClientHello, HelloVerifyRequest, ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone, CertificateVerify, ClientKeyExchange, Finished");
        }

        if (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > 1_000_000)
        {
            throw new CliException($"{name} '{text}': K must be a count in 1..1000000 (TYPE:K, e.g. Finished:2)");
        }

        return ScriptedDrop.FirstWithHandshake(direction, type, count);
    }

    private static IPEndPoint ParseEndpoint(string text, string what, bool allowZeroPort)
    {
        if (allowZeroPort && IPEndPoint.TryParse(text, out var ep) && text.Contains(':', StringComparison.Ordinal))
        {
            return ep;
        }

        return CliCommon.ParseEndpoint(text, what);
    }

    private static async Task<int> RunAsync(UdpImpairmentProxyOptions options, TimeSpan? runFor, bool json, CancellationToken ct)
    {
        var proxy = new UdpImpairmentProxy(options);
        await using (proxy.ConfigureAwait(false))
        {
            try
            {
                await proxy.StartAsync(ct).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new CliException($"cannot listen on {options.Listen}: {ex.Message}");
            }

            var started = DateTimeOffset.UtcNow;
            var ready = $"listening on {proxy.ListenEndpoint}, forwarding to {options.Upstream} (seed {options.NetEm.Seed}{(runFor is { } r ? $", for {Num(r.TotalSeconds)} s" : ", until Ctrl+C")})";
            if (json)
            {
                Console.Error.WriteLine("airlift proxy: " + ready);
            }
            else
            {
                Console.WriteLine(ready);
                Console.WriteLine("  client->server: " + Describe(options.NetEm.ClientToServer, options.NetEm.ScriptedDrops, LinkDirection.ClientToServer));
                Console.WriteLine("  server->client: " + Describe(options.NetEm.ServerToClient, options.NetEm.ScriptedDrops, LinkDirection.ServerToClient));
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (runFor is { } limit)
            {
                stop.CancelAfter(limit);
            }

            // Ctrl+C / SIGTERM (CliInterrupt cancels ct) end the run with a summary instead of killing the process.
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            var elapsed = DateTimeOffset.UtcNow - started;
            // Stop first, so the counts are final.
            var bound = proxy.ListenEndpoint;
            await proxy.DisposeAsync().ConfigureAwait(false);
            var stats = proxy.Stats;
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(Summary(options with { Listen = bound }, stats, elapsed), CliCommon.Json));
            }
            else
            {
                PrintSummary(stats, elapsed);
            }

            return 0;
        }
    }

    /// <summary>The exit summary as a JSON-ready object.</summary>
    internal static Dictionary<string, object?> Summary(UdpImpairmentProxyOptions options, UdpProxyStats s, TimeSpan elapsed) => new()
    {
        ["event"] = "summary",
        ["listen"] = options.Listen.ToString(),
        ["upstream"] = options.Upstream.ToString(),
        ["seed"] = options.NetEm.Seed,
        ["durationS"] = Math.Round(elapsed.TotalSeconds, 3),
        ["clientToServer"] = Direction(s.Emulator.ClientToServer),
        ["serverToClient"] = Direction(s.Emulator.ServerToClient),
        ["clientsAccepted"] = s.ClientsAccepted,
        ["clientsRejected"] = s.ClientsRejected,
        ["clientsExpired"] = s.ClientsExpired,
        ["receivedFromClients"] = s.ReceivedFromClients,
        ["receivedFromUpstream"] = s.ReceivedFromUpstream,
        ["sentToUpstream"] = s.SentToUpstream,
        ["sentToClients"] = s.SentToClients,
        ["droppedClientGone"] = s.DroppedClientGone,
        ["socketErrors"] = s.SocketErrors,
    };

    private static Dictionary<string, object?> Direction(NetEmDirectionStats d) => new()
    {
        ["seen"] = d.Seen,
        ["delivered"] = d.Delivered,
        ["dropped"] = d.Dropped,
        ["droppedLoss"] = d.DroppedLoss,
        ["droppedBurst"] = d.DroppedBurst,
        ["droppedOversize"] = d.DroppedOversize,
        ["droppedBlackhole"] = d.DroppedBlackhole,
        ["droppedScripted"] = d.DroppedScripted,
        ["droppedQueueFull"] = d.DroppedQueueFull,
        ["duplicated"] = d.Duplicated,
        ["reordered"] = d.Reordered,
        ["largestSeen"] = d.LargestSeen,
        ["largestDelivered"] = d.LargestDelivered,
    };

    private static void PrintSummary(UdpProxyStats s, TimeSpan elapsed)
    {
        Console.WriteLine($"proxy stopped after {Num(Math.Round(elapsed.TotalSeconds, 1))} s; {s.ClientsAccepted} client(s) served, {s.ClientsRejected} datagram(s) from clients over the limit, {s.ClientsExpired} expired, {s.SocketErrors} socket error(s)");
        foreach (var (name, d) in new[] { ("client->server", s.Emulator.ClientToServer), ("server->client", s.Emulator.ServerToClient) })
        {
            Console.WriteLine($"  {name}: {d.Seen} seen, {d.Delivered} delivered, {d.Dropped} dropped (loss {d.DroppedLoss}, burst {d.DroppedBurst}, oversize {d.DroppedOversize}, black hole {d.DroppedBlackhole}, scripted {d.DroppedScripted}, queue full {d.DroppedQueueFull}), {d.Duplicated} duplicated, {d.Reordered} reordered, largest {d.LargestSeen} B seen / {d.LargestDelivered} B delivered");
        }
    }

    private static string Describe(LinkImpairment l, IReadOnlyList<ScriptedDrop> drops, LinkDirection direction)
    {
        var parts = new List<string>();
        if (l.Blackhole)
        {
            parts.Add("black hole");
        }

        if (l.LossRate > 0)
        {
            parts.Add($"loss {Num(l.LossRate * 100)}%");
        }

        if (l.Burst is { } b)
        {
            parts.Add($"burst p={Num(b.PGoodToBad * 100)}% r={Num(b.PBadToGood * 100)}% (~{Num(Math.Round(b.AverageLossRate * 100, 2))}% loss)");
        }

        if (l.MaxDatagramSize is { } m)
        {
            parts.Add($"drops > {m} B");
        }

        if (l.Delay > TimeSpan.Zero || l.Jitter > TimeSpan.Zero)
        {
            parts.Add($"delay {Num(l.Delay.TotalMilliseconds)} +- {Num(l.Jitter.TotalMilliseconds)} ms");
        }

        if (l.ReorderRate > 0)
        {
            parts.Add($"reorder {Num(l.ReorderRate * 100)}% by {Num(l.ReorderDelay.TotalMilliseconds)} ms");
        }

        if (l.DuplicateRate > 0)
        {
            parts.Add($"duplicate {Num(l.DuplicateRate * 100)}%");
        }

        parts.AddRange(drops.Where(d => d.Direction == direction).Select(d => d.ToString()));
        return parts.Count == 0 ? "clean" : string.Join(", ", parts);
    }

    private static TimeSpan Millis(double ms, string name) =>
        ms >= 0 && ms <= 3_600_000 ? TimeSpan.FromMilliseconds(ms) : throw new CliException($"{name} {Num(ms)} is outside 0..3600000");

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" (Parameter", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    private static string Num(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
