using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Airlift.Cli.Storm;
using Airlift.Dtls;

namespace Airlift.Cli.Commands;

/// <summary>
/// <c>airlift storm</c>: a handshake storm against a DTLS server (the user's, or one it starts itself): N concurrent
/// clients, M handshakes, an optional ramp and impairment proxy; progress every second, then handshakes per second,
/// time-to-connect percentiles, failures by reason, and (own server) server CPU and memory per connection. Exit 0 when
/// every handshake connected, 1 when one did not, 2 for a bad argument, 130 after Ctrl-C (with the partial report).
/// The hidden <c>--server-role</c> is the server process <c>--self</c> starts (this same executable).
/// </summary>
internal static class StormCommand
{
    public static Command Create()
    {
        var defaults = new StormSettings();
        var target = new Option<string?>("--target") { Description = "The server to storm, ADDRESS:PORT." };
        var serve = new Option<string?>("--serve") { Description = "Full WebRTC sessions through a WHIP endpoint (airlift serve's POST /whip): each session posts an offer, runs ICE (controlling) and DTLS against the answer, optionally sends --media packets, and DELETEs its resource at the end. The URL, e.g. http://127.0.0.1:8080/whip." };
        var media = new Option<int>("--media") { Description = "--serve: SRTP packets each connected session sends (20 ms apart); the server's count is read from LOCATION/stats.", DefaultValueFactory = _ => 0 };
        var self = new Option<bool>("--self") { Description = "Start an Airlift DTLS server in a child process on 127.0.0.1 and storm it (its CPU and memory are measured)." };
        var inProcess = new Option<bool>("--self-in-process") { Description = "Like --self, with the server in this process (no separate server CPU or memory figures)." };
        var connections = new Option<int>("--connections", "-c") { Description = "Clients open at once: handshaking, or holding their connection until the storm ends.", DefaultValueFactory = _ => defaults.Connections };
        var total = new Option<int?>("--total", "-n") { Description = "Handshakes in all (default: --connections). Above it, a slot whose client connected closes it and starts the next." };
        var rate = new Option<double>("--rate") { Description = "Ramp: new handshakes per second at most (0: every slot starts at once).", DefaultValueFactory = _ => 0 };
        var dtls = CliCommon.DtlsVersionOption();
        var group = new Option<string?>("--group") { Description = "Key exchange groups the clients offer, comma-separated, first preferred: x25519, p256, p384, x25519mlkem768 (DTLS 1.3 only). Default: the library's." };
        var proxyLoss = new Option<double?>("--through-proxy") { Description = "Run the clients through the impairment proxy with this loss in percent each way (0 for a loss-free proxy)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the proxy's loss.", DefaultValueFactory = _ => defaults.Seed };
        var fingerprint = CliCommon.FingerprintOption();
        var insecure = new Option<bool>("--insecure", CliCommon.InsecureFlag) { Description = "Accept any server certificate (--target only): for load tests of servers whose fingerprint you do not have." };
        var timeout = new Option<double>("--timeout") { Description = "Seconds a handshake may take before it counts as a timeout.", DefaultValueFactory = _ => defaults.Timeout.TotalSeconds };
        var perAddress = new Option<int>("--per-address") { Description = "Clients per local 127.x.y.z address (loopback targets): keep it at or below the server's per-address session limit (Airlift's default is 32).", DefaultValueFactory = _ => defaults.PerAddress };
        var mtu = CliCommon.MtuOption();
        var serverPid = new Option<int?>("--server-pid") { Description = "Process id of the --target server when it runs on this machine: its CPU time and memory are then read from /proc and reported." };
        var warmup = new Option<int>("--warmup") { Description = "Handshakes run and closed before the measurement starts (JIT warm-up of client and server; not in the report).", DefaultValueFactory = _ => 0 };
        var json = new Option<string?>("--json") { Description = "Write the report as JSON to this file." };
        var html = new Option<string?>("--html") { Description = "Write the report as a self-contained HTML page to this file." };
        var clientDriver = new Option<string>("--client-driver") { Description = "Internal: storm (one thread, sans-IO endpoints) or udpclient (a DtlsUdpClient per client), to compare them.", Hidden = true, DefaultValueFactory = _ => "storm" };
        var serverRole = new Option<bool>("--server-role") { Description = "Internal: run as the storm's server process.", Hidden = true };
        var clientFingerprint = new Option<string?>("--client-fingerprint") { Description = "Internal: the storm clients' certificate fingerprint.", Hidden = true };
        var command = new Command("storm", "Handshake storm: many concurrent DTLS clients against one server; reports handshakes/s, time-to-connect percentiles, failures by reason, and server CPU and memory when it runs the server.")
        {
            target, serve, media, self, inProcess, connections, total, rate, dtls, group, proxyLoss, seed, fingerprint, insecure, timeout, perAddress, mtu, serverPid, warmup, json, html, clientDriver, serverRole, clientFingerprint,
        };
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(serverRole))
            {
                var fp = parse.GetValue(clientFingerprint) is { } text && CertificateFingerprint.TryParse(text, out var f)
                    ? f
                    : throw new CliException("--server-role needs --client-fingerprint \"sha-256 AB:CD:...\"");
                return await StormServer.RunRoleAsync(fp, parse.GetValue(connections), parse.GetValue(mtu), ct).ConfigureAwait(false);
            }

            var targetText = parse.GetValue(target);
            var serveText = parse.GetValue(serve);
            var modes = (targetText is null ? 0 : 1) + (serveText is null ? 0 : 1) + (parse.GetValue(self) ? 1 : 0) + (parse.GetValue(inProcess) ? 1 : 0);
            if (modes != 1)
            {
                throw new CliException("give exactly one of --target ADDRESS:PORT, --serve URL, --self or --self-in-process");
            }

            Uri? serveUrl = null;
            if (serveText is not null && !Uri.TryCreate(serveText, UriKind.Absolute, out serveUrl))
            {
                throw new CliException($"--serve '{serveText}' is not a URL (e.g. http://127.0.0.1:8080/whip)");
            }

            var dtlsText = parse.GetValue(dtls) ?? "both";
            var seconds = parse.GetValue(timeout);
            if (double.IsNaN(seconds) || seconds <= 0 || seconds > 3600)
            {
                throw new CliException($"--timeout {seconds} is outside (0, 3600] seconds");
            }

            var settings = new StormSettings
            {
                Mode = targetText is not null ? StormServerMode.Target : serveUrl is not null ? StormServerMode.Serve : parse.GetValue(self) ? StormServerMode.SelfProcess : StormServerMode.SelfInProcess,
                ServeUrl = serveUrl,
                MediaPackets = parse.GetValue(media),
                Target = targetText is null ? null : CliCommon.ParseEndpoint(targetText, "--target"),
                Connections = parse.GetValue(connections),
                Total = parse.GetValue(total),
                Rate = parse.GetValue(rate),
                Versions = CliCommon.ParseDtlsVersions(dtlsText),
                DtlsText = dtlsText,
                Groups = StormSettings.ParseGroups(parse.GetValue(group)),
                ProxyLossPercent = parse.GetValue(proxyLoss),
                Seed = parse.GetValue(seed),
                ExpectFingerprint = CliCommon.ParseFingerprint(parse.GetValue(fingerprint)),
                Insecure = parse.GetValue(insecure),
                Timeout = TimeSpan.FromSeconds(seconds),
                PerAddress = parse.GetValue(perAddress),
                Mtu = parse.GetValue(mtu),
                ServerPid = parse.GetValue(serverPid),
                Warmup = parse.GetValue(warmup),
                JsonPath = parse.GetValue(json),
                HtmlPath = parse.GetValue(html),
                UdpClientDriver = parse.GetValue(clientDriver) switch
                {
                    "storm" => false,
                    "udpclient" => true,
                    var other => throw new CliException($"--client-driver '{other}' is not storm or udpclient"),
                },
                CommandLine = "airlift " + string.Join(' ', parse.Tokens.Select(t => t.Value)),
            };
            settings.Validate();
            return await RunAsync(settings, ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>Runs the storm, prints and writes the report; the exit status.</summary>
    internal static async Task<int> RunAsync(StormSettings settings, CancellationToken ct)
    {
        // The first Ctrl-C or SIGTERM (CliInterrupt cancels ct) ends the storm with its partial report; a second one ends the process at once.
        var report = await new StormRunner(settings, Print).RunAsync(ct, r => Publish(settings, r)).ConfigureAwait(false);
        return report.Interrupted ? Program.InterruptedStatus : report.AllConnected ? 0 : 1;
    }

    private static void Publish(StormSettings settings, StormReport report)
    {
        foreach (var line in StormReportText.Lines(report))
        {
            Print(line);
        }

        Write(settings.JsonPath, () => JsonSerializer.Serialize(report, StormJson.Report));
        Write(settings.HtmlPath, () => StormReportText.Html(report));
    }

    private static void Write(string? path, Func<string> content)
    {
        if (path is null)
        {
            return;
        }

        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null)
            {
                Directory.CreateDirectory(dir);
            }

            File.WriteAllText(path, content());
            Print($"storm: wrote {path}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write {path}: {e.Message}");
        }
    }

    private static void Print(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
