using Microsoft.Extensions.Logging;

namespace Airlift.Tests.Net;

/// <summary>A logger that keeps every line (thread-safe), and throws on any line <see cref="ThrowWhen"/> picks (a faulty user logger).</summary>
internal sealed class ListLogger : ILogger
{
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];

    /// <summary>When set, logging a line for which this returns true throws <see cref="InvalidOperationException"/>.</summary>
    public Func<string, bool>? ThrowWhen { get; init; }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception)}";
        lock (_gate)
        {
            _lines.Add(line);
        }

        if (ThrowWhen?.Invoke(line) == true)
        {
            throw new InvalidOperationException("logger sink failed");
        }
    }
}
