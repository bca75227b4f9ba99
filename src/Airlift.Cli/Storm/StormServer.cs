using System.Net;
using System.Text.Json;
using Airlift.Dtls;
using Airlift.Net;

namespace Airlift.Cli.Storm;

/// <summary>A self server's counters and managed heap, as its role reports them.</summary>
/// <param name="Type">"ready", "stats" or "exit".</param>
/// <param name="Port">The UDP port it listens on (ready).</param>
/// <param name="Fingerprint">Its certificate's fingerprint (ready).</param>
/// <param name="Sessions">Sessions it holds now.</param>
/// <param name="Connected">Handshakes it completed.</param>
/// <param name="Failed">Handshakes or connections that failed.</param>
/// <param name="Dropped">Datagrams its listener dropped plus sessions its limits refused.</param>
/// <param name="ManagedBytes">Live managed heap after a full collection.</param>
internal sealed record StormServerLine(string Type, int? Port = null, string? Fingerprint = null, int Sessions = 0, long Connected = 0, long Failed = 0, long Dropped = 0, long ManagedBytes = 0);

/// <summary>
/// The storm's own Airlift server: one <see cref="DtlsUdpServer"/> on 127.0.0.1 with the default DTLS options (both
/// versions, every group), mutual authentication against the clients' one certificate (as WebRTC does with the SDP
/// fingerprint), session limits raised to fit the storm, and an event reader that only counts.
/// </summary>
internal sealed class StormServer : IAsyncDisposable
{
    private readonly DtlsCertificate _certificate;
    private readonly DtlsUdpServer _server;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _events;
    private long _connected;
    private long _failed;

    private StormServer(DtlsCertificate certificate, DtlsUdpServer server)
    {
        _certificate = certificate;
        _server = server;
        _events = Task.Run(() => CountAsync(_stop.Token));
    }

    /// <summary>The port it listens on.</summary>
    public int Port => _server.LocalEndpoint.Port;

    /// <summary>Its certificate's fingerprint.</summary>
    public CertificateFingerprint Fingerprint => _certificate.GetFingerprint();

    /// <summary>Starts a server on 127.0.0.1 (any port) for a storm of <paramref name="connections"/> clients.</summary>
    public static StormServer Start(CertificateFingerprint clientFingerprint, int connections, int mtu)
    {
        var certificate = DtlsCertificate.GenerateEcdsa("airlift-storm-server");
        try
        {
            var options = new DtlsOptions(certificate)
            {
                MaxDatagramSize = mtu,
                ClientCertificate = ClientCertificateMode.Require,
                ExpectedPeerFingerprint = clientFingerprint,
            };

            // Every held connection is a session; the clients come from a few hundred 127.x.y.z addresses (or, through
            // the proxy, all from 127.0.0.1); held connections are idle until the storm ends.
            var limit = Math.Max(1024, connections + 1024);
            var serverOptions = new DtlsUdpServerOptions(options)
            {
                MaxSessions = limit,
                MaxSessionsPerAddress = limit,
                IdleTimeout = TimeSpan.FromMinutes(30),
            };
            var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), serverOptions, TimeProvider.System, logger: null);
            return new StormServer(certificate, server);
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    /// <summary>Its counters now; with <paramref name="forceGc"/> the managed heap after a full blocking collection.</summary>
    public StormServerLine Stats(bool forceGc)
    {
        // Let the event counter catch up with what the loops published (bounded: a stuck reader only makes the line stale).
        for (var waited = 0; _server.Events.Count > 0 && waited < 2000; waited++)
        {
            Thread.Sleep(1);
        }

        var listener = _server.Listener.Stats;
        return new StormServerLine(
            "stats",
            Sessions: _server.SessionCount,
            Connected: Interlocked.Read(ref _connected),
            Failed: Interlocked.Read(ref _failed),
            Dropped: listener.Dropped + _server.DroppedSessionLimit + _server.DroppedAddressLimit + _server.DroppedEventBacklog,
            ManagedBytes: GC.GetTotalMemory(forceFullCollection: forceGc));
    }

    /// <summary>Stops the server (close_notify to every session) and releases its certificate.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _events.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _server.DisposeAsync().ConfigureAwait(false);
        _certificate.Dispose();
        _stop.Dispose();
    }

    /// <summary>
    /// The hidden server role: starts the server, prints a "ready" JSON line, answers every "stats" line on stdin with a
    /// "stats" line (after a full collection), and exits when stdin says "exit" or closes, so it never outlives the storm.
    /// </summary>
    public static async Task<int> RunRoleAsync(CertificateFingerprint clientFingerprint, int connections, int mtu, CancellationToken ct)
    {
        var server = Start(clientFingerprint, connections, mtu);
        await using (server.ConfigureAwait(false))
        {
            Write(new StormServerLine("ready", server.Port, server.Fingerprint.ToString()));
            using var stdin = new StreamReader(Console.OpenStandardInput());
            while (!ct.IsCancellationRequested)
            {
                string? line;
                try
                {
                    line = await stdin.ReadLineAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                if (line is null || line.Trim() == "exit")
                {
                    break;
                }

                if (line.Trim() == "stats")
                {
                    Write(server.Stats(forceGc: true));
                }
            }

            Write(server.Stats(forceGc: false) with { Type = "exit" });
        }

        return 0;
    }

    private static void Write(StormServerLine line)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(line, StormJson.Line));
        Console.Out.Flush();
    }

    private async Task CountAsync(CancellationToken ct)
    {
        try
        {
            var events = _server.Events;
            while (await events.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                // Counted before it leaves the queue, so an empty queue means every event published so far is counted
                // (Stats waits for that: the server's receive loops publish on their own threads).
                while (events.TryPeek(out var e))
                {
                    switch (e.Event)
                    {
                        case DtlsConnected:
                            Interlocked.Increment(ref _connected);
                            break;
                        case DtlsFailed:
                            Interlocked.Increment(ref _failed);
                            break;
                    }

                    events.TryRead(out _);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }
}
