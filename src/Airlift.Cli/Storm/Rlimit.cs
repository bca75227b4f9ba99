using System.Runtime.InteropServices;

namespace Airlift.Cli.Storm;

/// <summary>The process's open-file limit (RLIMIT_NOFILE): every storm client holds one socket.</summary>
internal static class Rlimit
{
    private const int RlimitNofile = 7; // Linux

    /// <summary>The soft limit now (-1 where it cannot be read).</summary>
    public static long OpenFiles() => TryGet(out var soft, out _) ? soft : -1;

    /// <summary>
    /// Raises the soft open-file limit towards <paramref name="wanted"/> (never above the hard limit); returns the soft
    /// limit afterwards (-1 where there is no getrlimit, e.g. not Linux).
    /// </summary>
    public static long EnsureOpenFiles(long wanted)
    {
        if (!TryGet(out var soft, out var hard))
        {
            return -1;
        }

        if (soft >= wanted)
        {
            return soft;
        }

        var target = new Limit { Current = (ulong)Math.Min(wanted, hard), Maximum = (ulong)hard };
        return SetRlimit(RlimitNofile, ref target) == 0 ? (long)target.Current : soft;
    }

    private static bool TryGet(out long soft, out long hard)
    {
        soft = hard = -1;
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8)
        {
            return false;
        }

        try
        {
            if (GetRlimit(RlimitNofile, out var limit) != 0)
            {
                return false;
            }

            soft = (long)Math.Min(limit.Current, long.MaxValue);
            hard = (long)Math.Min(limit.Maximum, long.MaxValue);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Limit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", EntryPoint = "getrlimit")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetRlimit(int resource, out Limit limit);

    [DllImport("libc", EntryPoint = "setrlimit")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetRlimit(int resource, ref Limit limit);
}
