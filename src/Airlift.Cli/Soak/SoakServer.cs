using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Airlift.Cli.Lab;
using Airlift.Dtls;
using Airlift.Net;

namespace Airlift.Cli.Soak;

/// <summary>What the hidden server role of <c>airlift soak</c> runs with.</summary>
/// <param name="ClientFingerprint">The one client certificate every soak client presents (required and checked).</param>
/// <param name="Certificate">"ecdsa" or "rsa-chain".</param>
/// <param name="Mtu">Maximum datagram size.</param>
/// <param name="Deadline">Handshake timeout.</param>
/// <param name="MaxSessions">Session limit of the server, also per address.</param>
/// <param name="IdleTimeout">The server's idle timeout of connected sessions; null for the library's default.</param>
internal sealed record SoakServerSettings(CertificateFingerprint ClientFingerprint, string Certificate, int Mtu, TimeSpan Deadline, int MaxSessions, TimeSpan? IdleTimeout);

/// <summary>
/// The server process of a soak: one <see cref="DtlsUdpServer"/> on 127.0.0.1 that echoes application data, and reports
/// itself as JSON lines on stdout: "ready" once bound, a "sample" every second, a sample after a forced full collection
/// whenever stdin says "sample TAG", and "exit" when stdin says "exit" or closes (so it never outlives the soak).
/// </summary>
internal sealed class SoakServer
{
    private static readonly JsonSerializerOptions Json = SoakJson.Options;

    private readonly SoakServerSettings _settings;
    private readonly ExceptionMonitor _exceptions;
    private readonly Lock _stdout = new();
    private readonly Lock _counters = new();
    private readonly Dictionary<string, long> _failedByReason = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _removedByReason = new(StringComparer.Ordinal);
    private readonly long _start = Stopwatch.GetTimestamp();
    private DtlsUdpServer? _server;
    private long _connected;
    private long _failed;
    private long _closed;
    private long _echoed;
    private long _internalErrors;
    private long _sendRaces;
    private volatile bool _eventLoopEnded;

    private SoakServer(SoakServerSettings settings)
    {
        _settings = settings;
        _exceptions = new ExceptionMonitor(text => Write(new SoakServerLine("unhandled", Elapsed, Tag: text)));
    }

    private double Elapsed => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    /// <summary>Runs the role until stdin says "exit" or closes; returns the exit status (0 unless the event loop died).</summary>
    public static async Task<int> RunAsync(SoakServerSettings settings, CancellationToken ct)
    {
        var self = new SoakServer(settings);
        try
        {
            return await self.RunCoreAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            self._exceptions.Dispose();
        }
    }

    private async Task<int> RunCoreAsync(CancellationToken ct)
    {
        using var lab = _settings.Certificate == "rsa-chain" ? LabCertificates.Create() : null;
        using var ecdsa = lab is null ? DtlsCertificate.GenerateEcdsa("airlift-soak-server") : null;
        var certificate = lab?.RsaChain ?? ecdsa!;
        var options = new DtlsOptions(certificate)
        {
            MaxDatagramSize = _settings.Mtu,
            HandshakeTimeout = _settings.Deadline,
            ClientCertificate = ClientCertificateMode.Require,
            ExpectedPeerFingerprint = _settings.ClientFingerprint,
        };

        // Every soak client comes from 127.0.0.1 (through the proxy), so the per-address cap is the session cap.
        var serverOptions = new DtlsUdpServerOptions(options)
        {
            MaxSessions = _settings.MaxSessions,
            MaxSessionsPerAddress = _settings.MaxSessions,
            IdleTimeout = _settings.IdleTimeout ?? new DtlsUdpServerOptions(options).IdleTimeout,
        };
        _server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), serverOptions, TimeProvider.System, logger: null);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Write(new SoakServerLine("ready", Elapsed, Port: _server.LocalEndpoint.Port, Fingerprint: certificate.GetFingerprint().ToString()));

        var events = Task.Run(() => EventsAsync(_server, stop.Token), CancellationToken.None);
        var sampler = Task.Run(() => SampleAsync(stop.Token), CancellationToken.None);
        await CommandsAsync(stop.Token).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(events, sampler).ConfigureAwait(false);

        var code = 0;
        try
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The socket loop faulted earlier (its exception surfaces here): report it, do not crash.
            Write(new SoakServerLine("unhandled", Elapsed, Tag: $"socket loop: {e.GetType().FullName}: {e.Message}"));
            code = 1;
        }

        Write(Sample("exit", tag: null, forceGc: false));
        return _eventLoopEnded || code != 0 ? 1 : 0;
    }

    private async Task CommandsAsync(CancellationToken ct)
    {
        using var stdin = new StreamReader(Console.OpenStandardInput());
        while (!ct.IsCancellationRequested)
        {
            var line = await stdin.ReadLineAsync(ct).ConfigureAwait(false);
            if (line is null || line.Trim() == "exit")
            {
                return;
            }

            if (line.StartsWith("sample ", StringComparison.Ordinal))
            {
                Write(Sample("sample", line["sample ".Length..].Trim(), forceGc: true));
            }
        }
    }

    private async Task SampleAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                Write(Sample("sample", tag: null, forceGc: false));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task EventsAsync(DtlsUdpServer server, CancellationToken ct)
    {
        try
        {
            await foreach (var e in server.Events.ReadAllAsync(ct).ConfigureAwait(false))
            {
                switch (e.Event)
                {
                    case DtlsConnected:
                        Interlocked.Increment(ref _connected);
                        break;
                    case DtlsApplicationData d:
                        Echo(e.Session, d.Data);
                        break;
                    case DtlsClosed:
                        Interlocked.Increment(ref _closed);
                        break;
                    case DtlsSessionRemoved r:
                        lock (_counters)
                        {
                            _removedByReason[r.Reason.ToString()] = _removedByReason.GetValueOrDefault(r.Reason.ToString()) + 1;
                        }

                        break;
                    case DtlsFailed f:
                        Interlocked.Increment(ref _failed);
                        if (f.Reason == DtlsFailureReason.InternalError)
                        {
                            Interlocked.Increment(ref _internalErrors);
                        }

                        lock (_counters)
                        {
                            _failedByReason[f.Reason.ToString()] = _failedByReason.GetValueOrDefault(f.Reason.ToString()) + 1;
                        }

                        break;
                }
            }

            // The stream ended while nobody asked the server to stop: its socket loop is gone.
            _eventLoopEnded = !ct.IsCancellationRequested;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private void Echo(DtlsUdpSession session, byte[] data)
    {
        if (session.State != DtlsState.Connected)
        {
            // The client closed (or vanished and timed out) after sending: nothing to echo to.
            Interlocked.Increment(ref _sendRaces);
            return;
        }

        try
        {
            session.Send(data);
            Interlocked.Increment(ref _echoed);
        }
        catch (InvalidOperationException)
        {
            // The session closed or failed after the record arrived and before this echo: a race the event API allows.
            Interlocked.Increment(ref _sendRaces);
        }
    }

    private SoakServerLine Sample(string type, string? tag, bool forceGc)
    {
        var process = ProcessProbe.Take(forceGc, trimNative: tag == SoakRunner.AfterIdle);
        var listener = _server!.Listener.Stats;
        var failed = Interlocked.Read(ref _failed);
        var closed = Interlocked.Read(ref _closed);
        Dictionary<string, long> byReason;
        Dictionary<string, long> removed;
        lock (_counters)
        {
            byReason = new Dictionary<string, long>(_failedByReason, StringComparer.Ordinal);
            removed = new Dictionary<string, long>(_removedByReason, StringComparer.Ordinal);
        }

        var counters = new SoakServerCounters(
            _server.SessionCount,
            listener.Accepted,
            Interlocked.Read(ref _connected),
            failed,
            closed,
            Interlocked.Read(ref _echoed),
            listener.HelloVerifyRequestsSent,
            listener.Dropped,
            _server.DroppedSessionLimit,
            Interlocked.Read(ref _internalErrors) + listener.InternalErrors + _server.SessionFaults,
            Interlocked.Read(ref _sendRaces),
            _eventLoopEnded,
            byReason)
        {
            RemovedByReason = removed,
            DroppedAddressLimit = _server.DroppedAddressLimit,
            DroppedEventBacklog = _server.DroppedEventBacklog,
            EventsDropped = _server.EventsDropped,
            IdleTimeoutSeconds = _server.Options.IdleTimeout == Timeout.InfiniteTimeSpan ? null : _server.Options.IdleTimeout.TotalSeconds,
        };
        return new SoakServerLine(type, Elapsed, tag, Process: process, Server: counters, Exceptions: _exceptions.Snapshot());
    }

    private void Write(SoakServerLine line)
    {
        var text = JsonSerializer.Serialize(line, Json);
        lock (_stdout)
        {
            Console.Out.WriteLine(text);
            Console.Out.Flush();
        }
    }
}
