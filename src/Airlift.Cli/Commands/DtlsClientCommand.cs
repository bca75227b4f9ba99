using System.CommandLine;
using System.Text;
using System.Text.Json;
using Airlift.Dtls;
using Airlift.Net;
using Microsoft.Extensions.Logging;

namespace Airlift.Cli.Commands;

internal static class DtlsClientCommand
{
    public static Command Create()
    {
        var connect = new Option<string>("--connect") { Description = "Server ADDRESS:PORT.", Required = true };
        var timeout = new Option<double>("--timeout") { Description = "Handshake deadline in seconds.", DefaultValueFactory = _ => 30 };
        var send = new Option<string?>("--send") { Description = "After connecting, send this text and wait for the echo." };
        var cert = CliCommon.CertOption();
        var key = CliCommon.KeyOption();
        var json = CliCommon.JsonOption();
        var verbose = CliCommon.VerboseOption();
        var command = new Command("dtls-client", "Connect to a DTLS 1.2 server, report the handshake, optionally exchange one message.")
        {
            connect, cert, key, CliCommon.MtuOption(), CliCommon.SrtpOption(), CliCommon.FingerprintOption(), CliCommon.CipherOption(), timeout, send, json, verbose,
        };
        command.SetAction(async (parse, ct) =>
        {
            var server = CliCommon.ParseEndpoint(parse.GetValue(connect)!, "--connect");
            var seconds = parse.GetValue(timeout);
            if (seconds is <= 0 or > 3600)
            {
                throw new CliException("--timeout must be within 0..3600 seconds");
            }

            using var certificate = CliCommon.LoadCertificate(parse.GetValue(cert), parse.GetValue(key), null);
            using var logging = CliCommon.CreateLogging(parse.GetValue(verbose));
            var logger = logging.CreateLogger("airlift.dtls-client");
            var options = CliCommon.BuildOptions(parse, certificate, logger) with { HandshakeTimeout = TimeSpan.FromSeconds(seconds) };
            Dictionary<string, object?> report;
            var status = 0;
            try
            {
                await using var client = await DtlsUdpClient.ConnectAsync(server, options, TimeProvider.System, logger, ct).ConfigureAwait(false);
                report = CliCommon.Report("client", server, certificate, client.Connection, client.PeerCertificate, client.KeyingMaterial?.Material, client.Session.Stats, null);
                Print(report, parse.GetValue(json));
                if (parse.GetValue(send) is { } text)
                {
                    client.Send(Encoding.UTF8.GetBytes(text));
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    wait.CancelAfter(TimeSpan.FromSeconds(seconds));
                    var echo = await client.ReceiveAsync(wait.Token).ConfigureAwait(false);
                    if (echo is null)
                    {
                        Console.Error.WriteLine("airlift: connection closed before the echo arrived");
                        status = 1;
                    }
                    else if (!parse.GetValue(json))
                    {
                        Console.WriteLine($"echo: {Encoding.UTF8.GetString(echo)}");
                    }
                    else
                    {
                        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?> { ["event"] = "echo", ["data"] = Encoding.UTF8.GetString(echo) }, CliCommon.Json));
                    }
                }
            }
            catch (DtlsHandshakeException ex)
            {
                report = CliCommon.Report("client", server, certificate, null, null, null, new DtlsStats(), $"{ex.Failure.Reason}: {ex.Failure.Message}");
                Print(report, parse.GetValue(json));
                if (ex.Failure.Report is { } trace && parse.GetValue(verbose))
                {
                    Console.Error.WriteLine(trace);
                }

                status = 1;
            }

            return status;
        });
        return command;
    }

    private static void Print(Dictionary<string, object?> report, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(report, CliCommon.Json));
        }
        else
        {
            CliCommon.PrintHuman(report);
        }
    }
}
