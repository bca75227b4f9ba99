using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Airlift.Cli.Soak;

/// <summary>
/// Counts the exceptions of this process: unhandled (the process dies right after), unobserved task exceptions (a faulted
/// task nobody awaited), and every first-chance exception by type (informative: caught ones included).
/// </summary>
internal sealed class ExceptionMonitor : IDisposable
{
    private const int MaxDetails = 10;

    private readonly ConcurrentDictionary<string, long> _firstChance = new(StringComparer.Ordinal);
    private readonly List<string> _details = [];
    private readonly Action<string>? _onFatal;
    private long _unhandled;
    private long _unobserved;

    /// <summary>Installs the handlers; <paramref name="onFatal"/> hears an unhandled exception before the process dies.</summary>
    public ExceptionMonitor(Action<string>? onFatal = null)
    {
        _onFatal = onFatal;
        AppDomain.CurrentDomain.UnhandledException += OnUnhandled;
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        AppDomain.CurrentDomain.FirstChanceException += OnFirstChance;
    }

    /// <summary>A snapshot of the counts.</summary>
    public SoakExceptionCounts Snapshot()
    {
        lock (_details)
        {
            return new SoakExceptionCounts(
                Interlocked.Read(ref _unhandled),
                Interlocked.Read(ref _unobserved),
                [.. _details],
                new SortedDictionary<string, long>(_firstChance, StringComparer.Ordinal));
        }
    }

    /// <summary>Removes the handlers.</summary>
    public void Dispose()
    {
        AppDomain.CurrentDomain.UnhandledException -= OnUnhandled;
        TaskScheduler.UnobservedTaskException -= OnUnobserved;
        AppDomain.CurrentDomain.FirstChanceException -= OnFirstChance;
    }

    private void OnUnhandled(object? sender, UnhandledExceptionEventArgs e)
    {
        Interlocked.Increment(ref _unhandled);
        var text = Describe("unhandled", e.ExceptionObject as Exception);
        Remember(text);
        _onFatal?.Invoke(text);
    }

    private void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        Interlocked.Increment(ref _unobserved);
        Remember(Describe("unobserved", e.Exception.InnerExceptions.Count == 1 ? e.Exception.InnerException : e.Exception));
        e.SetObserved();
    }

    private void OnFirstChance(object? sender, FirstChanceExceptionEventArgs e) =>
        _firstChance.AddOrUpdate(e.Exception.GetType().Name, 1, (_, n) => n + 1);

    private void Remember(string text)
    {
        lock (_details)
        {
            if (_details.Count < MaxDetails)
            {
                _details.Add(text);
            }
        }
    }

    private static string Describe(string kind, Exception? e) =>
        e is null ? $"{kind}: (not an exception)" : $"{kind}: {e.GetType().FullName}: {e.Message} at {FirstFrame(e)}";

    private static string FirstFrame(Exception e)
    {
        var trace = e.StackTrace;
        if (trace is null)
        {
            return "(no stack)";
        }

        var line = trace.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "(no stack)";
        var inAt = line.IndexOf(" in ", StringComparison.Ordinal);
        return inAt > 0 ? line[..inAt] : line; // no build paths in reports
    }
}
