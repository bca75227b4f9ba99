using Microsoft.Extensions.Logging;

namespace Airlift;

/// <summary>Logging from an exception boundary, where the logger (a user's) may itself be what fails.</summary>
internal static class SafeLogger
{
    /// <summary>Runs <paramref name="log"/> against <paramref name="logger"/>; a throwing logger loses this line, nothing else.</summary>
    public static void Log(ILogger? logger, Action<ILogger> log)
    {
        if (logger is null)
        {
            return;
        }

        try
        {
            log(logger);
        }
        catch (Exception)
        {
            // The logger is the faulty part; there is nowhere left to report it.
        }
    }
}
