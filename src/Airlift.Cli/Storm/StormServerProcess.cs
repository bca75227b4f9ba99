using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Airlift.Dtls;

namespace Airlift.Cli.Storm;

/// <summary>
/// The storm's server as a child process (this executable, <c>storm --server-role</c>), so that its CPU time and memory
/// are its own: read from /proc/PID by <see cref="ProcStat"/>, with its session counters and managed heap on request.
/// </summary>
internal sealed class StormServerProcess : IAsyncDisposable
{
    private const int StderrLinesKept = 20;

    private readonly Process _process;
    private readonly Channel<StormServerLine> _lines = Channel.CreateUnbounded<StormServerLine>();
    private readonly Queue<string> _stderr = new();
    private readonly Lock _gate = new();
    private readonly Task _readOut;
    private readonly Task _readErr;

    private StormServerProcess(Process process)
    {
        _process = process;
        _readOut = Task.Run(ReadStdoutAsync);
        _readErr = Task.Run(ReadStderrAsync);
    }

    /// <summary>The child's process id.</summary>
    public int Pid => _process.Id;

    /// <summary>Starts the child; <see cref="WaitReadyAsync"/> waits for its port.</summary>
    public static StormServerProcess Start(CertificateFingerprint clientFingerprint, int connections, int mtu)
    {
        string[] role = ["--client-fingerprint", clientFingerprint.ToString(), "--connections", connections.ToString(CultureInfo.InvariantCulture), "--mtu", mtu.ToString(CultureInfo.InvariantCulture)];
        return new StormServerProcess(ChildRole.Start("storm", role, "storm server"));
    }

    /// <summary>Waits for the "ready" line; throws <see cref="CliException"/> with the child's stderr if it dies or stays silent.</summary>
    public async Task<StormServerLine> WaitReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        var line = await NextAsync("ready", timeout, ct).ConfigureAwait(false);
        return line ?? throw new CliException($"the storm server did not start: {StderrTail()}");
    }

    /// <summary>Asks for counters and the managed heap after a full collection; null if it does not answer in time.</summary>
    public async Task<StormServerLine?> StatsAsync(TimeSpan timeout, CancellationToken ct)
    {
        if (!await TrySendAsync("stats").ConfigureAwait(false))
        {
            return null;
        }

        return await NextAsync("stats", timeout, ct).ConfigureAwait(false);
    }

    /// <summary>CPU and memory now (null once it is gone).</summary>
    public ProcSample? Sample() => _process.HasExited ? null : ProcStat.Read(_process.Id);

    /// <summary>The last lines the child wrote to stderr.</summary>
    public string StderrTail()
    {
        lock (_gate)
        {
            return _stderr.Count == 0 ? "(no output)" : string.Join(" | ", _stderr);
        }
    }

    /// <summary>Asks the child to exit; kills it if it has not after a few seconds.</summary>
    public async ValueTask DisposeAsync()
    {
        await TrySendAsync("exit").ConfigureAwait(false);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited in the meantime.
            }

            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        await Task.WhenAll(_readOut, _readErr).ConfigureAwait(false);
        _process.Dispose();
    }

    private async Task<StormServerLine?> NextAsync(string type, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            while (await _lines.Reader.WaitToReadAsync(cts.Token).ConfigureAwait(false))
            {
                while (_lines.Reader.TryRead(out var line))
                {
                    if (line.Type == type)
                    {
                        return line;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }

        return null;
    }

    private Task<bool> TrySendAsync(string command) => ChildRole.TrySendAsync(_process, command);

    private async Task ReadStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } text)
        {
            try
            {
                if (JsonSerializer.Deserialize<StormServerLine>(text, StormJson.Line) is { } line)
                {
                    _lines.Writer.TryWrite(line);
                }
            }
            catch (JsonException)
            {
                // Not one of ours (a runtime message): ignore.
            }
        }

        _lines.Writer.TryComplete();
    }

    private async Task ReadStderrAsync()
    {
        while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } text)
        {
            lock (_gate)
            {
                _stderr.Enqueue(text);
                if (_stderr.Count > StderrLinesKept)
                {
                    _stderr.Dequeue();
                }
            }
        }
    }
}
