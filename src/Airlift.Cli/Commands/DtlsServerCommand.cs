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
        var listen = new Option<string>("--listen") { HelpName = "ADDRESS:PORT", Description = "ADDRESS:PORT to listen on.", Required = true };
        var requireClientCert = new Option<bool>("--require-client-cert") { Description = "Fail handshakes whose client sends no certificate (implied by --expect-fingerprint; otherwise requested, not required)." };
        var count = new Option<int?>("--count") { HelpName = "N", Description = "Exit after this many handshakes, once every client has its copy of the final flight and 0.5 s passed without traffic (default: until interrupted)." };
        var cert = CliCommon.CertOption();
        var key = CliCommon.KeyOption();
        var chain = CliCommon.ChainOption();
        var json = CliCommon.JsonOption();
        var verbose = CliCommon.VerboseOption();
        var rcvbuf = RcvbufOption();
        var command = new Command("dtls-server", "Serve DTLS (1.3 and 1.2) on UDP with a stateless cookie exchange; echo application data; report each handshake.")
        {
            listen, cert, key, chain, CliCommon.MtuOption(), CliCommon.SrtpOption(), requireClientCert, CliCommon.FingerprintOption(), CliCommon.InsecureOption(), CliCommon.CipherOption(), CliCommon.DtlsVersionOption(), count, rcvbuf, json, verbose,
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
            var options = CliCommon.BuildOptions(parse, certificate, logging, "client");

            // An expected fingerprint needs a certificate to check: it makes the client certificate mandatory.
            options = options with
            {
                ClientCertificate = parse.GetValue(requireClientCert) || options.ExpectedPeerFingerprint is not null ? ClientCertificateMode.Require : ClientCertificateMode.Request,
            };
            var asJson = parse.GetValue(json);
            DtlsUdpServer server;
            try
            {
                server = new DtlsUdpServer(endpoint, new DtlsUdpServerOptions(options) { ReceiveBufferSize = ParseRcvbuf(parse.GetValue(rcvbuf)) }, TimeProvider.System);
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                throw new CliException($"cannot listen on {endpoint}: {ex.Message}");
            }

            await using (server.ConfigureAwait(false))
            {
                // Readiness goes to stderr so that stdout stays one JSON object per handshake with --json.
                Console.Error.WriteLine($"listening on {server.LocalEndpoint} ({certificate.GetFingerprint()})");
                Console.Error.WriteLine(DescribeBuffers(server.SocketBuffers));
                var dropsBefore = KernelUdpCounters.ReadReceiveBufferErrors();
                var (_, failures) = await ServeAsync(server, certificate, limit, asJson, ct).ConfigureAwait(false);
                if (DescribeKernelDrops(dropsBefore) is { } drops)
                {
                    Console.Error.WriteLine(drops);
                }

                return failures == 0 ? 0 : 1;
            }
        });
        return command;
    }

    /// <summary>
    /// Reports every handshake and echoes application data. With a limit, stops after that many handshakes, but only once
    /// every connected client has proved it finished (data or close_notify from it) or its final-flight retention ran
    /// out: exiting earlier would strand a client whose copy of our last flight was lost (field failure F2).
    /// Everything a report needs is read from the session's kept facts, so a client that closes at once is still reported.
    /// </summary>
    private static readonly TimeSpan ExitQuiet = TimeSpan.FromMilliseconds(500);

    private static async Task<(int Handshakes, int Failures)> ServeAsync(DtlsUdpServer server, DtlsCertificate certificate, int? limit, bool asJson, CancellationToken ct)
    {
        var handshakes = 0;
        var failures = 0;
        var connected = new List<DtlsUdpSession>();
        Task? released = null;
        var quiet = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            while (true)
            {
                if (!server.Events.TryRead(out var e))
                {
                    // Done once every final flight is released and nothing arrived for a moment: a DTLS 1.3 server keeps no
                    // final flight, and its client's first data (an echo request) follows the handshake closely.
                    if (released is { IsCompleted: true } && quiet.Elapsed >= ExitQuiet)
                    {
                        break;
                    }

                    var more = server.Events.WaitToReadAsync(ct).AsTask();
                    if (released is not null)
                    {
                        var wait = released.IsCompleted ? Task.Delay(TimeSpan.FromTicks(Math.Max(0, (ExitQuiet - quiet.Elapsed).Ticks)), ct) : released;
                        await Task.WhenAny(more, wait).ConfigureAwait(false);
                        if (!more.IsCompleted)
                        {
                            continue;
                        }
                    }

                    if (!await more.ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                quiet.Restart();
                var session = e.Session;
                switch (e.Event)
                {
                    case DtlsConnected c:
                        Print(CliCommon.Report("server", session.Remote, certificate, c, session.PeerCertificate, session.KeyingMaterial?.Material, session.Stats, null), asJson);
                        handshakes++;
                        connected.Add(session);
                        released = null;
                        break;
                    case DtlsFailed f:
                        if (session.Connection is null)
                        {
                            // A handshake that failed; a failure after connecting was reported as connected and counts once.
                            Print(CliCommon.Report("server", session.Remote, certificate, null, null, null, session.Stats, $"{f.Reason}: {f.Message}"), asJson);
                            handshakes++;
                            failures++;
                        }

                        break;
                    case DtlsApplicationData d:
                        try
                        {
                            if (session.State == DtlsState.Connected)
                            {
                                session.Send(d.Data);
                            }
                        }
                        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
                        {
                            // The session ended (or the record is larger than we may echo): nothing to answer.
                        }

                        break;
                }

                if (limit is { } n && handshakes >= n && released is null)
                {
                    released = Task.WhenAll(connected.Select(s => s.FinalFlightReleased));
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Interrupted: stop serving (disposing the server says close_notify to the connected clients).
        }

        return (handshakes, failures);
    }

    /// <summary><c>--rcvbuf BYTES</c> of <c>dtls-server</c> and <c>serve</c>: the UDP receive queue each socket asks for.</summary>
    internal static Option<int> RcvbufOption() => new("--rcvbuf")
    {
        HelpName = "BYTES",
        Description = "Kernel receive queue asked for each UDP socket (SO_RCVBUF; capped by net.core.rmem_max, what was granted is printed at start). A handshake storm overflows a small one; 0 keeps the kernel default.",
        DefaultValueFactory = _ => UdpSocketBufferSizes.DefaultReceiveBufferSize,
    };

    internal static int ParseRcvbuf(int value) =>
        value == 0 || value is >= 4096 and <= UdpSocketBufferSizes.MaxBufferSize
            ? value
            : throw new CliException($"--rcvbuf must be 0 (the kernel default) or within 4096..{UdpSocketBufferSizes.MaxBufferSize}");

    internal static string DescribeBuffers(UdpSocketBufferSizes b) =>
        b.ReceiveRequested == 0
            ? $"UDP receive buffer: kernel default ({b.ReceiveGranted} bytes)"
            : $"UDP receive buffer: {b.ReceiveGranted} bytes granted for {b.ReceiveRequested} requested" + (b.ReceiveCapped ? " (capped by net.core.rmem_max; raise it with sysctl for handshake storms)" : "");

    /// <summary>The host-wide kernel count of UDP datagrams dropped on full receive queues since <paramref name="before"/>; null where unreadable.</summary>
    internal static string? DescribeKernelDrops(long? before) =>
        before is { } b && KernelUdpCounters.ReadReceiveBufferErrors() is { } after
            ? $"kernel UDP receive-queue drops during the run: {after - b} (host-wide /proc/net/snmp RcvbufErrors, every UDP socket of the host)"
            : null;

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
