using System.CommandLine;
using Airlift.Cli.Soak;
using Airlift.Dtls;

namespace Airlift.Cli.Commands;

/// <summary>
/// <c>airlift soak</c>: many concurrent handshakes against one server process through the impairment proxy, then idle;
/// judges stuck handshakes, exceptions, memory, file descriptors and sessions, and writes soak.json, soak.md, soak.svg and handshakes.csv.
/// Exit 0 when every criterion holds, 1 when one fails, 2 for a bad argument. The hidden <c>--server-role</c> is the
/// server process the soak starts (this same executable).
/// </summary>
internal static class SoakCommand
{
    public static Command Create()
    {
        var defaults = new SoakSettings();
        var handshakes = new Option<int>("--handshakes") { Description = "Handshakes to run.", DefaultValueFactory = _ => defaults.Handshakes };
        var concurrency = new Option<int>("--concurrency") { Description = "Clients in flight at once.", DefaultValueFactory = _ => defaults.Concurrency };
        var loss = new Option<double>("--loss") { Description = "Random loss in percent, each direction (through the impairment proxy).", DefaultValueFactory = _ => defaults.LossPercent };
        var delay = new Option<double>("--delay-ms") { Description = "One-way delay in ms, each direction.", DefaultValueFactory = _ => defaults.DelayMs };
        var mtu = new Option<int>("--mtu") { Description = "Maximum datagram size of server and clients.", DefaultValueFactory = _ => defaults.Mtu };
        var deadline = new Option<double>("--deadline-s") { Description = "Handshake deadline in seconds (both sides' handshake timeout); no outcome by then plus a grace is a stuck handshake.", DefaultValueFactory = _ => defaults.DeadlineSeconds };
        var idle = new Option<double>("--idle-s") { Description = "Seconds to idle after the last handshake before the final memory, descriptor and session check.", DefaultValueFactory = _ => defaults.IdleSeconds };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the proxy's impairments and of which clients close, vanish or abandon.", DefaultValueFactory = _ => defaults.Seed };
        var output = new Option<string>("--out") { Description = "Directory for soak.json, soak.md, soak.svg and handshakes.csv.", DefaultValueFactory = _ => defaults.OutDirectory };
        var cert = new Option<string>("--cert") { Description = "Server certificate: ecdsa (P-256) or rsa-chain (the 2.7 KB RSA chain of F1/F4).", DefaultValueFactory = _ => defaults.Certificate };
        var warmup = new Option<int>("--warmup") { Description = "Loss-free handshakes straight to the server, closed cleanly, before the baseline memory sample.", DefaultValueFactory = _ => defaults.Warmup };
        var vanish = new Option<int>("--vanish") { Description = "Percent of clients that vanish after their echo instead of sending close_notify.", DefaultValueFactory = _ => defaults.VanishPercent };
        var abandon = new Option<int>("--abandon") { Description = "Percent of clients that vanish in the middle of their handshake.", DefaultValueFactory = _ => defaults.AbandonPercent };
        var maxSessions = new Option<int>("--server-max-sessions") { Description = "The server's session limit, also per address (every client comes from 127.0.0.1).", DefaultValueFactory = _ => defaults.ServerMaxSessions };
        var reusePorts = new Option<bool>("--reuse-ports") { Description = "Every client slot keeps one local port: each handshake restarts on the address of the slot's previous client (RFC 6347 4.2.8)." };
        var serverIdle = new Option<double?>("--server-idle-s") { Description = "The server's idle timeout of connected sessions in seconds (default: the library's); keep it below --idle-s so vanished clients' sessions end before the final check." };
        var heapTolerance = new Option<double>("--heap-tolerance-mb") { Description = "How far above its baseline the server's managed heap may end after idle.", DefaultValueFactory = _ => defaults.HeapToleranceMb };
        var rssTolerance = new Option<double>("--rss-tolerance-mb") { Description = "How far above its baseline the server's RSS may end after idle.", DefaultValueFactory = _ => defaults.RssToleranceMb };
        var fdSlack = new Option<int>("--fd-slack") { Description = "How many file descriptors above its baseline the server may hold after idle.", DefaultValueFactory = _ => defaults.FdSlack };
        var serverRole = new Option<bool>("--server-role") { Description = "Internal: run as the soak's server process.", Hidden = true };
        var clientFingerprint = new Option<string?>("--client-fingerprint") { Description = "Internal: the soak clients' certificate fingerprint.", Hidden = true };
        var command = new Command("soak", "Run many concurrent DTLS handshakes against one server process through the impairment proxy, idle, and judge stuck handshakes, exceptions, memory, file descriptors and sessions.")
        {
            handshakes, concurrency, loss, delay, mtu, deadline, idle, seed, output, cert, warmup, vanish, abandon, reusePorts, maxSessions, serverIdle, heapTolerance, rssTolerance, fdSlack, serverRole, clientFingerprint,
        };
        command.SetAction(async (parse, ct) =>
        {
            var settings = new SoakSettings
            {
                Handshakes = parse.GetValue(handshakes),
                Concurrency = parse.GetValue(concurrency),
                LossPercent = parse.GetValue(loss),
                DelayMs = parse.GetValue(delay),
                Mtu = parse.GetValue(mtu),
                DeadlineSeconds = parse.GetValue(deadline),
                IdleSeconds = parse.GetValue(idle),
                Seed = parse.GetValue(seed),
                OutDirectory = parse.GetValue(output)!,
                Certificate = parse.GetValue(cert)!,
                Warmup = parse.GetValue(warmup),
                VanishPercent = parse.GetValue(vanish),
                AbandonPercent = parse.GetValue(abandon),
                ReusePorts = parse.GetValue(reusePorts),
                ServerMaxSessions = parse.GetValue(maxSessions),
                ServerIdleSeconds = parse.GetValue(serverIdle),
                HeapToleranceMb = parse.GetValue(heapTolerance),
                RssToleranceMb = parse.GetValue(rssTolerance),
                FdSlack = parse.GetValue(fdSlack),
                CommandLine = "airlift " + string.Join(' ', parse.Tokens.Select(t => Quote(t.Value))),
            };
            settings.Validate();

            if (parse.GetValue(serverRole))
            {
                var fingerprint = parse.GetValue(clientFingerprint) is { } text && CertificateFingerprint.TryParse(text, out var fp)
                    ? fp
                    : throw new CliException("--server-role needs --client-fingerprint \"sha-256 AB:CD:...\"");
                return await SoakServer.RunAsync(new SoakServerSettings(fingerprint, settings.Certificate, settings.Mtu, settings.Deadline, settings.ServerMaxSessions, settings.ServerIdleSeconds is { } idleS ? TimeSpan.FromSeconds(idleS) : null), ct).ConfigureAwait(false);
            }

            return await RunAsync(settings, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(SoakSettings settings, CancellationToken ct)
    {
        SoakRun run;
        try
        {
            run = await new SoakRunner(settings, Print).RunAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Console.Error.WriteLine("airlift: soak interrupted; no report written");
            return 130;
        }

        var criteria = SoakJudge.Judge(run);
        var files = SoakReport.Write(run, criteria);
        foreach (var line in SoakReport.ConsoleLines(criteria))
        {
            Print(line);
        }

        Print($"soak: wrote {string.Join(", ", files)}");
        return criteria.All(c => c.Passed) ? 0 : 1;
    }

    private static void Print(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    private static string Quote(string token) => token.Length > 0 && !token.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'') ? token : $"\"{token}\"";
}
