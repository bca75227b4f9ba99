using System.CommandLine;
using System.Globalization;
using Airlift.Cli.Doctor;
using Airlift.Cli.Doctor.Capture;

namespace Airlift.Cli.Commands;

/// <summary>
/// <c>airlift doctor CAPTURE</c>: reads a pcap/pcapng capture of a WebRTC/DTLS handshake and says which field failure it
/// shows (docs/doctor.md). Exit 0 when no session failed, 1 when one did, 2 for a bad argument or an unreadable file.
/// </summary>
internal static class DoctorCommand
{
    /// <summary>Files larger than this get progress lines on stderr.</summary>
    private const long ProgressThreshold = 32L * 1024 * 1024;

    public static Command Create()
    {
        var capture = new Argument<string>("CAPTURE") { Description = "A libpcap (.pcap) or pcapng (.pcapng) capture, e.g. from tcpdump -w or Wireshark." };
        var server = new Option<string?>("--server") { Description = "IP:PORT of the server (the ICE-lite / DTLS server side), when the capture cannot tell." };
        var relayLimit = new Option<int>("--relay-limit") { Description = "Relay buffer size in bytes: a datagram gluing several records above it is field failure F4.", DefaultValueFactory = _ => DoctorOptions.DefaultRelayLimit };
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON object on stdout." };
        var outDir = new Option<string?>("--out") { Description = "Also write doctor.html, doctor.json and doctor.txt into DIR." };
        var session = new Option<int?>("--session") { Description = "Report only session N (numbered in the summary): the terminal report, --json and the --out files; the exit status is that session's." };
        var noLadder = new Option<bool>("--no-ladder") { Description = "Leave the ladders out of the terminal report." };
        var command = new Command("doctor", "Read a packet capture of a failing WebRTC/DTLS handshake and name the failure (F1-F4 and others) with evidence, the fix and a ladder.")
        {
            capture, server, relayLimit, json, outDir, session, noLadder,
        };
        command.SetAction(parse =>
        {
            try
            {
                var path = parse.GetValue(capture)!;
                var limit = parse.GetValue(relayLimit);
                if (limit is < 256 or > 65_535)
                {
                    throw new CliException($"--relay-limit {limit} is outside 256..65535");
                }

                var options = new DoctorOptions
                {
                    Server = parse.GetValue(server) is { } sv ? CliCommon.ParseEndpoint(sv, "--server") : null,
                    RelayLimit = limit,
                };
                var only = parse.GetValue(session);
                var result = Run(path, options, parse.GetValue(json));
                if (only is { } n && DoctorReport.CheckSession(result, n) is { } unknown)
                {
                    throw new CliException(unknown);
                }

                var text = DoctorReport.RenderText(result, only, !parse.GetValue(noLadder));
                if (parse.GetValue(json))
                {
                    Console.WriteLine(DoctorReport.RenderJson(result, only));
                }
                else
                {
                    Console.Write(text);
                }

                if (parse.GetValue(outDir) is { } dir)
                {
                    try
                    {
                        Directory.CreateDirectory(dir);
                        File.WriteAllText(Path.Combine(dir, "doctor.html"), DoctorReport.RenderHtml(result, only));
                        File.WriteAllText(Path.Combine(dir, "doctor.json"), DoctorReport.RenderJson(result, only));
                        File.WriteAllText(Path.Combine(dir, "doctor.txt"), DoctorReport.RenderText(result, only));
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        throw new CliException($"--out {dir}: {ex.Message}");
                    }

                    Console.Error.WriteLine($"airlift doctor: wrote {Path.Combine(dir, "doctor.html")}, doctor.json, doctor.txt");
                }

                return DoctorReport.AnyFailure(result, only) ? 1 : 0;
            }
            catch (CliException ex)
            {
                Console.Error.WriteLine($"airlift: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>Opens and analyses the file; errors become <see cref="CliException"/>s naming the file.</summary>
    internal static DoctorResult Run(string path, DoctorOptions options, bool quiet)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"cannot read {path}: {ex.Message}");
        }

        using (stream)
        {
            var size = stream.Length;
            var nextPercent = 10;
            Action<long>? progress = size > ProgressThreshold && !quiet
                ? position =>
                {
                    var percent = (int)(position * 100 / size);
                    if (percent >= nextPercent)
                    {
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"airlift doctor: read {percent}% of {size / (1024 * 1024)} MiB"));
                        nextPercent = (percent / 10 * 10) + 10;
                    }
                }
            : null;
            try
            {
                return DoctorAnalyzer.Analyze(CliInterrupt.Watch(stream), path, options, progress); // Ctrl-C stops at the next read
            }
            catch (CaptureFormatException ex)
            {
                throw new CliException($"{path}: {ex.Message}");
            }
            catch (IOException ex)
            {
                throw new CliException($"cannot read {path}: {ex.Message}");
            }
        }
    }
}
