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
        var connect = new Option<string>("--connect") { HelpName = "ADDRESS:PORT", Description = "Server ADDRESS:PORT.", Required = true };
        var timeout = new Option<double>("--timeout") { HelpName = "SECONDS", Description = "Handshake deadline in seconds, and with --send how long to wait for the echo.", DefaultValueFactory = _ => 30 };
        var send = new Option<string?>("--send") { HelpName = "TEXT", Description = "After connecting, send this text and wait for the echo." };
        var cert = CliCommon.CertOption();
        var key = CliCommon.KeyOption();
        var json = CliCommon.JsonOption();
        var verbose = CliCommon.VerboseOption();
        var command = new Command("dtls-client", "Connect to a DTLS server (1.3 or 1.2), report the handshake, optionally exchange one message.")
        {
            connect, cert, key, CliCommon.MtuOption(), CliCommon.SrtpOption(), CliCommon.FingerprintOption(), CliCommon.InsecureOption(), CliCommon.CipherOption(), CliCommon.DtlsVersionOption(), timeout, send, json, verbose,
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
            var options = CliCommon.BuildOptions(parse, certificate, logger, "server") with { HandshakeTimeout = TimeSpan.FromSeconds(seconds) };
            var asJson = parse.GetValue(json);
            DtlsUdpClient client;
            try
            {
                client = await DtlsUdpClient.ConnectAsync(server, options, TimeProvider.System, logger, ct).ConfigureAwait(false);
            }
            catch (DtlsHandshakeException ex)
            {
                Print(CliCommon.Report("client", server, certificate, null, null, null, ex.Stats ?? new DtlsStats(), $"{ex.Failure.Reason}: {ex.Failure.Message}"), asJson);
                if (ex.Failure.Report is { } trace && parse.GetValue(verbose))
                {
                    Console.Error.WriteLine(trace);
                }

                return 1;
            }

            await using (client.ConfigureAwait(false))
            {
                Print(CliCommon.Report("client", server, certificate, client.Connection, client.PeerCertificate, client.KeyingMaterial?.Material, client.Session.Stats, null), asJson);
                return parse.GetValue(send) is { } text ? await ExchangeAsync(client, server, text, seconds, asJson, ct).ConfigureAwait(false) : 0;
            }
        });
        return command;
    }

    /// <summary>Sends one message and waits for its echo; every peer behaviour (echo, close, failure, silence) ends in one line and a status.</summary>
    private static async Task<int> ExchangeAsync(DtlsUdpClient client, System.Net.IPEndPoint server, string text, double seconds, bool asJson, CancellationToken ct)
    {
        var data = Encoding.UTF8.GetBytes(text);
        if (data.Length > client.Session.MaxApplicationDataSize)
        {
            throw new CliException($"--send is {data.Length} bytes; at most {client.Session.MaxApplicationDataSize} fit in one record at this --mtu");
        }

        try
        {
            client.Send(data);
        }
        catch (InvalidOperationException)
        {
            Console.Error.WriteLine($"airlift: the connection to {server} ended before the message could be sent");
            return 1;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(TimeSpan.FromSeconds(seconds));
        byte[]? echo;
        try
        {
            echo = await client.ReceiveAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Console.Error.WriteLine($"airlift: no echo from {server} within {seconds:0.###} s");
            return 1;
        }

        if (echo is null)
        {
            Console.Error.WriteLine($"airlift: {server} closed the connection before the echo arrived");
            return 1;
        }

        Console.WriteLine(asJson
            ? JsonSerializer.Serialize(new Dictionary<string, object?> { ["event"] = "echo", ["data"] = Encoding.UTF8.GetString(echo) }, CliCommon.Json)
            : $"echo: {Encoding.UTF8.GetString(echo)}");
        return 0;
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
