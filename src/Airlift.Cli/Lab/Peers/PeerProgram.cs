using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Airlift.Cli.Lab.Peers;

/// <summary>How to run one side of a trial as an external program, and how to read its output.</summary>
/// <param name="Name">Short name for messages, e.g. "openssl s_server".</param>
/// <param name="Program">Executable (no shell).</param>
/// <param name="Arguments">Arguments.</param>
/// <param name="Connected">A line matching this means the handshake completed on this side.</param>
/// <param name="Exporter">A line matching this carries the 60-byte DTLS-SRTP exporter in group "hex", or null when the program never prints it.</param>
/// <param name="Failed">A line matching this means the handshake failed, or null.</param>
/// <param name="Ready">Servers: a line matching this means the socket is bound; null for clients.</param>
/// <param name="Environment">Extra environment variables.</param>
public sealed record PeerCommandSpec(
    string Name,
    string Program,
    IReadOnlyList<string> Arguments,
    Regex Connected,
    Regex? Exporter,
    Regex? Failed,
    Regex? Ready,
    IReadOnlyDictionary<string, string>? Environment = null);

/// <summary>
/// A peer program run for one trial: no shell, stdin kept open (openssl s_server quits on EOF), every output
/// line time-stamped on arrival (<see cref="Stopwatch.GetTimestamp"/>), the whole tree killed on dispose, and
/// a process-exit hook that kills anything a crashed run left behind. Output is bounded.
/// </summary>
public sealed class PeerProgram : IAsyncDisposable
{
    private const int MaxLines = 2000;
    private static readonly ConcurrentDictionary<PeerProgram, byte> Live = new();
    private static int s_hook;

    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource<long> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<long> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    private PeerProgram(PeerCommandSpec spec, Process process)
    {
        Spec = spec;
        _process = process;
    }

    /// <summary>What was started.</summary>
    public PeerCommandSpec Spec { get; }

    /// <summary>Timestamp of the ready line (servers); faults when the program exits first.</summary>
    public Task<long> Ready => _ready.Task;

    /// <summary>Timestamp of the connected line; faults with the reason when it fails or exits first.</summary>
    public Task<long> Connected => _connected.Task;

    /// <summary>The exporter (upper-case hex) once printed, else null.</summary>
    public string? Exporter { get; private set; }

    /// <summary>The command line, for logs.</summary>
    public string CommandLine => string.Join(' ', new[] { Spec.Program }.Concat(Spec.Arguments));

    /// <summary>The last <paramref name="count"/> output lines.</summary>
    public string Tail(int count = 15)
    {
        lock (_gate)
        {
            return string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - count)));
        }
    }

    /// <summary>Starts the program.</summary>
    /// <exception cref="InvalidOperationException">It could not be started (message names the program).</exception>
    public static PeerProgram Start(PeerCommandSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (Interlocked.Exchange(ref s_hook, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                foreach (var p in Live.Keys)
                {
                    p.Kill();
                }
            };
        }

        var psi = new ProcessStartInfo(spec.Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        foreach (var a in spec.Arguments)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in spec.Environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var program = new PeerProgram(spec, process);
        process.OutputDataReceived += (_, e) => program.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => program.OnLine(e.Data);
        process.Exited += (_, _) => program.OnExited();
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"cannot start {spec.Program}: {ex.Message}", ex);
        }

        Live[program] = 0;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return program;
    }

    /// <summary>Kills the process tree and waits (bounded) for it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Kill();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            // The kill signal went out; the exit hook covers the rest.
        }

        Live.TryRemove(this, out _);
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            if (_lines.Count >= MaxLines)
            {
                _lines.RemoveAt(0);
            }

            _lines.Add(line);
        }

        if (Spec.Exporter?.Match(line) is { Success: true } m)
        {
            Exporter = m.Groups["hex"].Value.ToUpperInvariant();
        }

        if (Spec.Ready?.IsMatch(line) == true)
        {
            _ready.TrySetResult(now);
        }

        if (Spec.Connected.IsMatch(line))
        {
            _connected.TrySetResult(now);
        }
        else if (Spec.Failed?.IsMatch(line) == true)
        {
            _connected.TrySetException(new PeerFailedException($"{Spec.Name}: {line.Trim()}"));
        }
    }

    private void OnExited()
    {
        int code;
        try
        {
            _process.WaitForExit();
            code = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            code = -1;
        }

        var tail = Tail(6).Replace('\n', ' ');
        var ex = new PeerFailedException($"{Spec.Name} exited ({code}): {tail}");
        _ready.TrySetException(ex);
        _connected.TrySetException(ex);
    }
}

/// <summary>A peer program reported a failure or exited before connecting.</summary>
public sealed class PeerFailedException(string message) : Exception(message);

/// <summary>Small text helpers.</summary>
internal static class PeerText
{
    public static string Shorten(string text, int max = 300)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            sb.Append(char.IsControl(c) ? ' ' : c);
        }

        return sb.Length <= max ? sb.ToString() : sb.ToString(0, max) + "...";
    }
}
