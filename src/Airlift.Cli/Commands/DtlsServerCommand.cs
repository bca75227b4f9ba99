using System.CommandLine;
using System.Text.Json;
using Airlift.Dtls;
using Airlift.Net;
using Microsoft.Extensions.Logging;

namespace Airlift.Cli.Commands;

internal static class DtlsServerCommand
{
    public static Command Create()
    {
        var listen = new Option<string>("--listen") { Description = "ADDRESS:PORT to listen on.", Required = true };
        var requireClientCert = new Option<bool>("--require-client-cert") { Description = "Fail handshakes whose client sends no certificate (default: requested, not required)." };
        var count = new Option<int?>("--count") { Description = "Exit after this many handshakes (default: until interrupted)." };
        var cert = CliCommon.CertOption();
        var key = CliCommon.KeyOption();
        var chain = CliCommon.ChainOption();
        var json = CliCommon.JsonOption();
        var verbose = CliCommon.VerboseOption();
        var command = new Command("dtls-server", "Serve DTLS 1.2 on UDP with a stateless cookie exchange; echo application data; report each handshake.")
        {
            listen, cert, key, chain, CliCommon.MtuOption(), CliCommon.SrtpOption(), requireClientCert, CliCommon.FingerprintOption(), CliCommon.CipherOption(), count, json, verbose,
        };
        command.SetAction(async (parse, ct) =>
        {
            var endpoint = CliCommon.ParseEndpoint(parse.GetValue(listen)!, "--listen");
            var limit = parse.GetValue(count);
            if (limit is < 1)
            {
                throw new CliException("--count must be at least 1");
            }

            using var certificate = CliCommon.LoadCertificate(parse.GetValue(cert), parse.GetValue(key), parse.GetValue(chain));
            using var logging = CliCommon.CreateLogging(parse.GetValue(verbose));
            var logger = logging.CreateLogger("airlift.dtls-server");
            var options = CliCommon.BuildOptions(parse, certificate, logger) with
            {
                ClientCertificate = parse.GetValue(requireClientCert) ? ClientCertificateMode.Require : ClientCertificateMode.Request,
            };
            var asJson = parse.GetValue(json);
            DtlsUdpServer server;
            try
            {
                server = new DtlsUdpServer(endpoint, options, TimeProvider.System, logger);
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                throw new CliException($"cannot listen on {endpoint}: {ex.Message}");
            }

            await using (server.ConfigureAwait(false))
            {
                // Readiness goes to stderr so that stdout stays one JSON object per handshake with --json.
                Console.Error.WriteLine($"listening on {server.LocalEndpoint} ({certificate.GetFingerprint()})");

                var handshakes = 0;
                var failures = 0;
                var peers = new Dictionary<DtlsUdpSession, DtlsPeerCertificate>();
                using var linger = CancellationTokenSource.CreateLinkedTokenSource(ct);
                try
                {
                    await foreach (var e in server.Events.ReadAllAsync(linger.Token).ConfigureAwait(false))
                    {
                        switch (e.Event)
                        {
                            case DtlsPeerCertificate p:
                                peers[e.Session] = p;
                                break;
                            case DtlsConnected c:
                                var exporter = c.SrtpProfile is { } profile ? e.Session.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, profile.KeyingMaterialLength) : null;
                                peers.Remove(e.Session, out var peerCert);
                                Print(CliCommon.Report("server", e.Session.Remote, certificate, c, peerCert, exporter, e.Session.Stats, null), asJson);
                                handshakes++;
                                break;
                            case DtlsFailed f:
                                peers.Remove(e.Session);
                                Print(CliCommon.Report("server", e.Session.Remote, certificate, null, null, null, e.Session.Stats, $"{f.Reason}: {f.Message}"), asJson);
                                handshakes++;
                                failures++;
                                break;
                            case DtlsApplicationData d:
                                if (e.Session.State == DtlsState.Connected)
                                {
                                    e.Session.Send(d.Data);
                                }

                                break;
                        }

                        if (limit is { } n && handshakes >= n && !linger.IsCancellationRequested)
                        {
                            // Keep echoing briefly so the last client's first message is answered, then stop.
                            linger.CancelAfter(TimeSpan.FromSeconds(1));
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }

                return failures == 0 ? 0 : 1;
            }
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

        Console.Out.Flush();
    }
}
