using System.Diagnostics;
using Airlift.Dtls;
using Airlift.Net;

namespace Airlift.Cli.Storm;

/// <summary>
/// The comparison driver (hidden <c>--client-driver udpclient</c>): every client is a library <see cref="DtlsUdpClient"/>
/// (its own socket loop task and timers), connected with <see cref="DtlsUdpClient.ConnectAsync"/> and held until the end.
/// It exists to measure what the one-thread <see cref="StormDriver"/> saves; it supports neither --total above
/// --connections nor the 127.x.y.z spread (every client binds 127.0.0.1).
/// </summary>
internal sealed class UdpClientStorm(StormDriverSettings settings) : IStormDriver
{
    private readonly Lock _gate = new();
    private readonly StormTally _tally = new();
    private int _started;
    private int _connected;
    private int _failed;

    /// <inheritdoc/>
    public StormProgress Progress
    {
        get
        {
            var started = Volatile.Read(ref _started);
            var connected = Volatile.Read(ref _connected);
            var failed = Volatile.Read(ref _failed);
            return new StormProgress(started, connected, failed, started - connected - failed, connected);
        }
    }

    /// <inheritdoc/>
    public StormTally Run(CancellationToken ct, Action? beforeClose = null) => RunAsync(ct, beforeClose).GetAwaiter().GetResult();

    private async Task<StormTally> RunAsync(CancellationToken ct, Action? beforeClose)
    {
        var clock = Stopwatch.StartNew();
        var total = Math.Min(settings.Total, settings.Connections);
        var tasks = new List<Task<DtlsUdpClient?>>(total);
        for (var i = 0; i < total && !ct.IsCancellationRequested; i++)
        {
            if (settings.Rate > 0)
            {
                var due = TimeSpan.FromSeconds(i / settings.Rate) - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(due, ct).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }

            Interlocked.Increment(ref _started);
            tasks.Add(ConnectOneAsync(clock, ct));
        }

        var clients = await Task.WhenAll(tasks).ConfigureAwait(false);
        _tally.Started = tasks.Count;
        _tally.Interrupted = ct.IsCancellationRequested;
        _tally.HeldAtEnd = clients.Count(c => c is not null);
        _tally.NotStarted = settings.Total - tasks.Count;
        _tally.DrainSeconds = clock.Elapsed.TotalSeconds;
        beforeClose?.Invoke();
        foreach (var c in clients)
        {
            if (c is not null)
            {
                _tally.DatagramsSent += c.Session.Stats.DatagramsSent;
                _tally.DatagramsReceived += c.Session.Stats.DatagramsReceived;
                _tally.Retransmissions += c.Session.Stats.Retransmissions;
                await c.DisposeAsync().ConfigureAwait(false);
            }
        }

        return _tally;
    }

    private async Task<DtlsUdpClient?> ConnectOneAsync(Stopwatch clock, CancellationToken ct)
    {
        var started = clock.Elapsed;
        try
        {
            var client = await DtlsUdpClient.ConnectAsync(settings.Server, settings.Client, TimeProvider.System, logger: null, ct).ConfigureAwait(false);
            lock (_gate)
            {
                _tally.Connected++;
                _tally.ConnectMs.Add(Math.Round((clock.Elapsed - started).TotalMilliseconds, 2));
                var version = client.Connection.Version.ToString();
                _tally.Versions[version] = _tally.Versions.GetValueOrDefault(version) + 1;
            }

            Interlocked.Increment(ref _connected);
            return client;
        }
        catch (DtlsHandshakeException e)
        {
            Count(e.Failure.Reason == DtlsFailureReason.Timeout ? "timeout" : e.Failure.Reason.ToString());
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                _tally.Unfinished++;
            }
        }
        catch (System.Net.Sockets.SocketException e)
        {
            Count($"socket: {e.SocketErrorCode}");
        }

        return null;
    }

    private void Count(string reason)
    {
        lock (_gate)
        {
            _tally.Failed++;
            _tally.FailuresByReason[reason] = _tally.FailuresByReason.GetValueOrDefault(reason) + 1;
        }

        Interlocked.Increment(ref _failed);
    }
}
