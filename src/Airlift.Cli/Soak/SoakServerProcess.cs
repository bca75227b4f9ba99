using System.Diagnostics;
using System.Text.Json;

namespace Airlift.Cli.Soak;

/// <summary>
/// The soak's handle on its server process: this same executable started in the hidden server role. Reads the server's
/// JSON lines, asks for forced-collection samples and for the exit, and kills the process if it does not go.
/// </summary>
internal sealed class SoakServerProcess : IAsyncDisposable
{
    private const int StderrLinesKept = 40;

    private readonly Process _process;
    private readonly TaskCompletionSource<SoakServerLine> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<SoakServerLine> _exitLine = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, TaskCompletionSource<SoakServerLine>> _tagged = new(StringComparer.Ordinal);
    private readonly Queue<string> _stderr = new();
    private readonly List<string> _fatal = [];
    private readonly Lock _gate = new();
    private readonly Task _readOut;
    private readonly Task _readErr;

    private SoakServerProcess(Process process)
    {
        _process = process;
        _readOut = Task.Run(ReadStdoutAsync);
        _readErr = Task.Run(ReadStderrAsync);
    }

    /// <summary>Raised for every periodic or tagged sample, on the reader's thread.</summary>
    public event Action<SoakServerLine>? Sample;

    /// <summary>Unhandled-exception lines the server printed before dying.</summary>
    public IReadOnlyList<string> FatalLines
    {
        get
        {
            lock (_gate)
            {
                return [.. _fatal];
            }
        }
    }

    /// <summary>The last lines of the server's stderr.</summary>
    public string StderrTail
    {
        get
        {
            lock (_gate)
            {
                return string.Join('\n', _stderr);
            }
        }
    }

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts "airlift soak --server-role ARGS" with this process's own executable.</summary>
    public static SoakServerProcess Start(IEnumerable<string> roleArguments) =>
        new(ChildRole.Start("soak", roleArguments, "soak server"));

    /// <summary>Waits for the "ready" line (port and fingerprint).</summary>
    public async Task<SoakServerLine> WaitReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        var exited = _process.WaitForExitAsync(ct);
        var done = await Task.WhenAny(_ready.Task, exited, Task.Delay(timeout, ct)).ConfigureAwait(false);
        if (done == _ready.Task)
        {
            return await _ready.Task.ConfigureAwait(false);
        }

        ct.ThrowIfCancellationRequested();
        throw new CliException(done == exited
            ? $"the soak server exited with status {_process.ExitCode} before it was ready: {Last(StderrTail)}"
            : $"the soak server was not ready within {timeout.TotalSeconds:0} s");
    }

    /// <summary>Asks for a sample after a forced full collection and waits for it (null when the server is gone or silent).</summary>
    public async Task<SoakServerLine?> ForcedSampleAsync(string tag, TimeSpan timeout, CancellationToken ct)
    {
        var tcs = new TaskCompletionSource<SoakServerLine>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _tagged[tag] = tcs;
        }

        if (!await TrySendAsync($"sample {tag}").ConfigureAwait(false))
        {
            return null;
        }

        var done = await Task.WhenAny(tcs.Task, Task.Delay(timeout, ct)).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return done == tcs.Task ? await tcs.Task.ConfigureAwait(false) : null;
    }

    /// <summary>Asks the server to stop; returns its exit status and its last line (killed after <paramref name="timeout"/>: status -1).</summary>
    public async Task<(int ExitCode, SoakServerLine? Last)> StopAsync(TimeSpan timeout)
    {
        await TrySendAsync("exit").ConfigureAwait(false);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            return (-1, null);
        }

        await Task.WhenAll(_readOut, _readErr).ConfigureAwait(false);
        return (_process.ExitCode, _exitLine.Task.IsCompleted ? await _exitLine.Task.ConfigureAwait(false) : null);
    }

    /// <summary>Kills the process if it still runs.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        await Task.WhenAll(_readOut, _readErr).ConfigureAwait(false);
        _process.Dispose();
    }

    private static string Last(string text) => text.Split('\n').LastOrDefault(l => l.Length > 0) ?? "(no output)";

    private Task<bool> TrySendAsync(string command) => ChildRole.TrySendAsync(_process, command);

    private async Task ReadStdoutAsync()
    {
        var reader = _process.StandardOutput;
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } text)
        {
            SoakServerLine? line;
            try
            {
                line = JsonSerializer.Deserialize<SoakServerLine>(text, SoakJson.Options);
            }
            catch (JsonException)
            {
                continue;
            }

            switch (line?.Type)
            {
                case "ready":
                    _ready.TrySetResult(line);
                    break;
                case "unhandled":
                    lock (_gate)
                    {
                        _fatal.Add(line.Tag ?? "(unknown)");
                    }

                    break;
                case "exit":
                    _exitLine.TrySetResult(line);
                    break;
                case "sample":
                    TaskCompletionSource<SoakServerLine>? waiter = null;
                    if (line.Tag is { } tag)
                    {
                        lock (_gate)
                        {
                            _tagged.Remove(tag, out waiter);
                        }
                    }

                    Sample?.Invoke(line);
                    waiter?.TrySetResult(line);
                    break;
            }
        }
    }

    private async Task ReadStderrAsync()
    {
        var reader = _process.StandardError;
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } text)
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
