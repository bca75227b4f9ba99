using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Airlift.Tests.Interop;

/// <summary>One line a peer printed, tagged with the stream it came from.</summary>
internal readonly record struct PeerLine(bool IsStdErr, string Text)
{
    public override string ToString() => IsStdErr ? "[err] " + Text : Text;
}

/// <summary>
/// A real peer program (openssl, gnutls-serv, ...) run for one test. Starts it without a shell,
/// keeps its stdin open (openssl s_server quits on stdin EOF) until <see cref="CloseStdin"/>,
/// collects stdout and stderr lines into a thread-safe log, and kills the whole process tree on
/// dispose. A process-exit hook kills whatever a crashed test failed to dispose.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    private const int TailLines = 40;
    private static readonly ConcurrentDictionary<PeerProcess, byte> Live = new();
    private static int s_hookInstalled;

    private readonly Process _process;
    private readonly Action<string>? _echo;
    private readonly object _gate = new();
    private readonly List<PeerLine> _lines = [];
    private readonly List<Waiter> _waiters = [];
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    private PeerProcess(string name, Process process, Action<string>? echo)
    {
        Name = name;
        _process = process;
        _echo = echo;
    }

    /// <summary>Short name used in messages, e.g. "openssl s_server".</summary>
    public string Name { get; }

    /// <summary>The command line, for logs (arguments quoted when they contain spaces).</summary>
    public string CommandLine { get; private init; } = "";

    /// <summary>OS process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has exited and its output has been drained.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Snapshot of every line seen so far (stdout and stderr interleaved in arrival order).</summary>
    public IReadOnlyList<PeerLine> Lines
    {
        get
        {
            lock (_gate)
            {
                return _lines.ToArray();
            }
        }
    }

    /// <summary>All output so far as one string, one line per line (stderr not tagged): what the parsers read.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                var sb = new StringBuilder();
                foreach (var line in _lines)
                {
                    sb.Append(line.Text).Append('\n');
                }

                return sb.ToString();
            }
        }
    }

    /// <summary>Starts <paramref name="command"/>.</summary>
    public static PeerProcess Start(PeerCommand command, Action<string>? echo = null) =>
        Start(command.Name, command.Program, command.Arguments, command.Environment, echo);

    /// <summary>
    /// Starts <paramref name="program"/> with <paramref name="arguments"/> (no shell). Every output line is
    /// logged and, when <paramref name="echo"/> is given (e.g. ITestOutputHelper.WriteLine), echoed with the name.
    /// </summary>
    public static PeerProcess Start(
        string name,
        string program,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null,
        Action<string>? echo = null)
    {
        InstallExitHook();
        var psi = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var peer = new PeerProcess(name, process, echo)
        {
            CommandLine = string.Join(' ', new[] { program }.Concat(psi.ArgumentList).Select(Quote)),
        };
        process.OutputDataReceived += (_, e) => peer.OnLine(e.Data, isStdErr: false);
        process.ErrorDataReceived += (_, e) => peer.OnLine(e.Data, isStdErr: true);
        process.Exited += (_, _) => peer.OnExited();
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {peer.CommandLine}");
        }

        Live[peer] = 0;
        peer.Echo($"$ {peer.CommandLine} (pid {process.Id})");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>
    /// Waits until a line (already printed or printed later) matches <paramref name="pattern"/> and returns the match.
    /// Throws <see cref="TimeoutException"/> (with the log tail) on timeout, or if the process exits first.
    /// </summary>
    public async Task<Match> WaitForAsync(Regex pattern, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        Waiter waiter;
        lock (_gate)
        {
            foreach (var line in _lines)
            {
                var m = pattern.Match(line.Text);
                if (m.Success)
                {
                    return m;
                }
            }

            if (_exited.Task.IsCompleted)
            {
                throw new TimeoutException(Describe($"exited (code {_exited.Task.Result}) without printing a line matching /{pattern}/"));
            }

            waiter = new Waiter(pattern);
            _waiters.Add(waiter);
        }

        using var cts = new CancellationTokenSource(timeout);
        var done = await Task.WhenAny(waiter.Completion.Task, Task.Delay(Timeout.Infinite, cts.Token)).ConfigureAwait(false);
        if (done == waiter.Completion.Task)
        {
            var match = await waiter.Completion.Task.ConfigureAwait(false);
            if (match is not null)
            {
                return match;
            }

            throw new TimeoutException(Describe($"exited (code {_exited.Task.Result}) without printing a line matching /{pattern}/"));
        }

        lock (_gate)
        {
            _waiters.Remove(waiter);
        }

        throw new TimeoutException(Describe($"printed no line matching /{pattern}/ within {timeout.TotalSeconds:0.###} s"));
    }

    /// <summary>Waits for a line matching <paramref name="pattern"/> (compiled with default options).</summary>
    public Task<Match> WaitForAsync(string pattern, TimeSpan timeout) =>
        WaitForAsync(new Regex(pattern, RegexOptions.CultureInvariant), timeout);

    /// <summary>Writes a line to the process's stdin and flushes.</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Closes stdin (EOF): makes openssl s_client / gnutls-cli finish and exit.</summary>
    public void CloseStdin()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The process already exited and the pipe is broken: nothing to close.
        }
    }

    /// <summary>Waits for the process to exit and returns its exit code; throws <see cref="TimeoutException"/> with the log tail.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var done = await Task.WhenAny(_exited.Task, Task.Delay(Timeout.Infinite, cts.Token)).ConfigureAwait(false);
        if (done != _exited.Task)
        {
            throw new TimeoutException(Describe($"did not exit within {timeout.TotalSeconds:0.###} s"));
        }

        return await _exited.Task.ConfigureAwait(false);
    }

    /// <summary>The last <paramref name="count"/> log lines, one per line (stderr tagged).</summary>
    public string Tail(int count = TailLines)
    {
        lock (_gate)
        {
            return string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - count)));
        }
    }

    /// <summary>Kills the whole process tree if still running and waits (bounded) for it to go.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        KillTree();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Leave it to the exit hook; the kill signal has been sent.
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        Live.TryRemove(this, out _);
        _process.Dispose();
    }

    private void KillTree()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exited between the check and the kill.
        }
    }

    private string Describe(string what) =>
        $"{Name} (pid {_process.Id}) {what}.\n$ {CommandLine}\n--- last {TailLines} lines ---\n{Tail()}";

    private void OnLine(string? data, bool isStdErr)
    {
        if (data is null)
        {
            return;
        }

        var line = new PeerLine(isStdErr, data);
        lock (_gate)
        {
            _lines.Add(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var m = _waiters[i].Pattern.Match(data);
                if (m.Success)
                {
                    _waiters[i].Completion.TrySetResult(m);
                    _waiters.RemoveAt(i);
                }
            }
        }

        Echo($"{Name}: {line}");
    }

    private void OnExited()
    {
        int code;
        try
        {
            // The no-argument overload also waits for the redirected streams to reach EOF.
            _process.WaitForExit();
            code = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            code = -1;
        }

        lock (_gate)
        {
            _exited.TrySetResult(code);
            foreach (var w in _waiters)
            {
                w.Completion.TrySetResult(null);
            }

            _waiters.Clear();
        }

        Echo($"{Name}: exited with code {code}");
    }

    private void Echo(string text)
    {
        if (_echo is null)
        {
            return;
        }

        try
        {
            _echo(text);
        }
        catch (InvalidOperationException)
        {
            // xunit's ITestOutputHelper throws once the test has finished; late lines are still in the log.
        }
    }

    private static string Quote(string a) =>
        a.Length > 0 && !a.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '|' or '&' or ';' or '$')
            ? a
            : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static void InstallExitHook()
    {
        if (Interlocked.Exchange(ref s_hookInstalled, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                foreach (var peer in Live.Keys)
                {
                    peer.KillTree();
                }
            };
        }
    }

    private sealed class Waiter(Regex pattern)
    {
        public Regex Pattern { get; } = pattern;

        public TaskCompletionSource<Match?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
