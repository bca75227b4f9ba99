using System.Globalization;

namespace Airlift.Cli.Storm;

/// <summary>CPU and memory of one process at one moment, read from /proc/PID/stat and /proc/PID/status.</summary>
/// <param name="CpuSeconds">User plus system CPU time so far.</param>
/// <param name="RssBytes">VmRSS: resident memory now.</param>
/// <param name="PeakRssBytes">VmHWM: the highest resident memory so far.</param>
/// <param name="Threads">Threads of the process.</param>
internal readonly record struct ProcSample(double CpuSeconds, long RssBytes, long PeakRssBytes, int Threads);

/// <summary>Reads <see cref="ProcSample"/>s of any process by id (Linux /proc; null elsewhere or once the process is gone).</summary>
internal static class ProcStat
{
    /// <summary>USER_HZ: the unit of utime and stime in /proc/PID/stat, 100 on every Linux architecture .NET runs on.</summary>
    public const double ClockTicksPerSecond = 100;

    /// <summary>Samples process <paramref name="pid"/>; null when /proc cannot be read.</summary>
    public static ProcSample? Read(int pid)
    {
        try
        {
            var cpu = ParseCpuSeconds(File.ReadAllText($"/proc/{pid}/stat"));
            var (rss, peak, threads) = ParseStatus(File.ReadAllText($"/proc/{pid}/status"));
            return cpu is { } seconds ? new ProcSample(seconds, rss, peak, threads) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>utime + stime of a /proc/PID/stat line in seconds (the command name in parentheses may hold spaces).</summary>
    public static double? ParseCpuSeconds(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        // After "pid (comm) ": field 3 (state) is index 0, so utime (field 14) is index 11 and stime (15) index 12.
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var utime)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var stime))
        {
            return null;
        }

        return (utime + stime) / ClockTicksPerSecond;
    }

    /// <summary>VmRSS, VmHWM (bytes) and Threads of a /proc/PID/status text.</summary>
    public static (long Rss, long Peak, int Threads) ParseStatus(string status)
    {
        long rss = 0, peak = 0;
        var threads = 0;
        foreach (var line in status.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var value = line[(colon + 1)..].Trim();
            switch (line[..colon])
            {
                case "VmRSS":
                    rss = Kilobytes(value);
                    break;
                case "VmHWM":
                    peak = Kilobytes(value);
                    break;
                case "Threads":
                    _ = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out threads);
                    break;
            }
        }

        return (rss, peak, threads);
    }

    private static long Kilobytes(string value)
    {
        var number = value.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb * 1024 : 0;
    }
}
