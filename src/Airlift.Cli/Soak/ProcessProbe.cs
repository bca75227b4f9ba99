using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Airlift.Cli.Soak;

/// <summary>What one process holds at one moment: managed heap, native memory, file descriptors, threads.</summary>
/// <param name="ManagedBytes">Live managed bytes: after a forced full collection (<paramref name="ForcedGc"/>) that
/// collection's heap size less its fragmentation; otherwise GC.GetTotalMemory, never below 0.</param>
/// <param name="GcHeapBytes">GCMemoryInfo.HeapSizeBytes of the last collection (fragmentation included).</param>
/// <param name="GcCommittedBytes">GCMemoryInfo.TotalCommittedBytes: memory the GC holds from the OS.</param>
/// <param name="RssBytes">VmRSS from /proc/self/status (0 where there is no /proc).</param>
/// <param name="RssAnonBytes">RssAnon from /proc/self/status: resident private memory, without mapped files.</param>
/// <param name="PrivateBytes">Process.PrivateMemorySize64.</param>
/// <param name="Fds">Open file descriptors (entries of /proc/self/fd, the one used to list them included); -1 where there is no /proc.</param>
/// <param name="Threads">Threads of the process.</param>
/// <param name="Gen0">Gen 0 collections so far.</param>
/// <param name="Gen1">Gen 1 collections so far.</param>
/// <param name="Gen2">Gen 2 collections so far.</param>
/// <param name="ForcedGc">Whether a full blocking compacting collection ran just before the heap was read.</param>
internal sealed record ProcessSnapshot(
    long ManagedBytes,
    long GcHeapBytes,
    long GcCommittedBytes,
    long RssBytes,
    long RssAnonBytes,
    long PrivateBytes,
    int Fds,
    int Threads,
    int Gen0,
    int Gen1,
    int Gen2,
    bool ForcedGc)
{
    /// <summary>
    /// When asked for (glibc only): VmRSS after <c>malloc_trim(0)</c> handed the allocator's free pages back to the
    /// OS, so that memory the process still uses can be told from memory the C allocator merely keeps for later.
    /// </summary>
    public long? RssTrimmedBytes { get; init; }

    /// <summary>RssAnon after <c>malloc_trim(0)</c> (see <see cref="RssTrimmedBytes"/>).</summary>
    public long? RssAnonTrimmedBytes { get; init; }
}

/// <summary>Reads <see cref="ProcessSnapshot"/>s of the current process (Linux /proc, with portable fallbacks).</summary>
internal static class ProcessProbe
{
    /// <summary>
    /// Takes a snapshot; with <paramref name="forceGc"/> first runs full blocking compacting collections (finalizers
    /// included); with <paramref name="trimNative"/> also reads the RSS again after <c>malloc_trim(0)</c> (which changes
    /// what later snapshots see, so the soak does it only in its last one).
    /// </summary>
    public static ProcessSnapshot Take(bool forceGc, bool trimNative = false)
    {
        if (forceGc)
        {
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        }

        var info = GC.GetGCMemoryInfo(GCKind.Any);

        // GC.GetTotalMemory can be negative under the regions GC (dotnet/runtime#106712: gen 0's fragmentation counted over
        // every region, its size over some); right after our own compacting collection, that collection's numbers are exact.
        var managed = forceGc ? info.HeapSizeBytes - info.FragmentedBytes : Math.Max(0, GC.GetTotalMemory(forceFullCollection: false));
        var status = ReadStatus();
        long privateBytes;
        int threads;
        using (var self = Process.GetCurrentProcess())
        {
            privateBytes = self.PrivateMemorySize64;
            threads = status.Threads > 0 ? status.Threads : self.Threads.Count;
        }

        (long RssBytes, long RssAnonBytes, int Threads)? trimmed = trimNative && TrimNativeHeap() ? ReadStatus() : null;
        return new ProcessSnapshot(
            managed,
            info.HeapSizeBytes,
            info.TotalCommittedBytes,
            status.RssBytes,
            status.RssAnonBytes,
            privateBytes,
            CountFds(),
            threads,
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2),
            forceGc)
        {
            RssTrimmedBytes = trimmed?.RssBytes,
            RssAnonTrimmedBytes = trimmed?.RssAnonBytes,
        };
    }

    /// <summary>Asks glibc to return free heap pages to the OS; false where there is no glibc (or no Linux).</summary>
    private static bool TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            _ = MallocTrim(0);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl and others
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallocTrim(nuint pad);

    /// <summary>Parses the fields of /proc/self/status this probe uses ("VmRSS:   1234 kB").</summary>
    internal static (long RssBytes, long RssAnonBytes, int Threads) ParseStatus(string text)
    {
        long rss = 0, anon = 0;
        var threads = 0;
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var key = line[..colon];
            var value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "VmRSS":
                    rss = Kilobytes(value);
                    break;
                case "RssAnon":
                    anon = Kilobytes(value);
                    break;
                case "Threads":
                    _ = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out threads);
                    break;
            }
        }

        return (rss, anon, threads);
    }

    private static long Kilobytes(string value)
    {
        var number = value.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb * 1024 : 0;
    }

    private static (long RssBytes, long RssAnonBytes, int Threads) ReadStatus()
    {
        try
        {
            return ParseStatus(File.ReadAllText("/proc/self/status"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (Environment.WorkingSet, 0, 0);
        }
    }

    private static int CountFds()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }
}
