using Microsoft.Extensions.Logging;

namespace Airlift.Fuzz;

/// <summary>
/// The engines catch unexpected exceptions at their boundary (a datagram fails one connection with internal_error and
/// is logged at Error with the exception). Caught or not, such an exception is a bug, so the targets give every engine
/// this logger and rethrow what it captured: afl++ sees a crash with the original stack trace.
/// </summary>
internal sealed class FuzzLogger : ILogger
{
    [ThreadStatic]
    private static Exception? s_captured;

    [ThreadStatic]
    private static string? s_message;

    public static FuzzLogger Instance { get; } = new();

    /// <summary>A factory that hands out <see cref="Instance"/> for every category (what DtlsOptions.LoggerFactory takes).</summary>
    public static ILoggerFactory Factory { get; } = new OneLoggerFactory();

    /// <summary>Forgets anything captured (start of an input).</summary>
    public static void Reset()
    {
        s_captured = null;
        s_message = null;
    }

    /// <summary>Throws a finding when an engine logged an unexpected exception since the last reset.</summary>
    public static void ThrowIfCaptured()
    {
        if (s_captured is { } e)
        {
            var message = s_message;
            Reset();
            throw new FuzzFindingException($"an engine caught an unexpected exception at its boundary: {message}", e);
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Error && exception is not null && s_captured is null)
        {
            s_captured = exception;
            s_message = formatter(state, exception);
        }
    }

    private sealed class OneLoggerFactory : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => Instance;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }
}
