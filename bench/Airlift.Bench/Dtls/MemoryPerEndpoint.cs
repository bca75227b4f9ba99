using System.Globalization;
using System.Runtime.InteropServices;
using Airlift.Dtls;

namespace Airlift.Bench.Dtls;

/// <summary>
/// Memory held per connected, idle DTLS endpoint, managed and native, per object: N pairs are connected in this process
/// (one options object per side, as a server shares its certificate), and three deltas divided by 2N:
/// <list type="bullet">
/// <item>managed: <c>GC.GetTotalMemory(true)</c> (live objects after full compacting collections);</item>
/// <item>native heap: glibc <c>mallinfo2().uordblks</c>, the bytes malloc has handed out and not had back: OpenSSL's
/// AES-GCM contexts and keys behind the platform crypto, libsodium, the runtime's own native allocations;</item>
/// <item>RssAnon from <c>/proc/self/status</c>: the process's anonymous resident memory (GC heap segments included,
/// so an upper bound that moves with GC segment reservation).</item>
/// </list>
/// Measured right after connecting and again after the retention timers ran (idle steady state, 2 minutes of virtual time). Linux only.
/// `dotnet run -c Release --project bench/Airlift.Bench -- memory [--pairs 2000]`.
/// </summary>
internal static class MemoryPerEndpoint
{
    public static int Run(string[] args)
    {
        var pairs = 2000;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--pairs" && i + 1 < args.Length)
            {
                pairs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            }
            else
            {
                Console.Error.WriteLine($"unknown argument {args[i]}; use --pairs N");
                return 2;
            }
        }

        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("memory mode reads mallinfo2 and /proc/self/status and runs on Linux only");
            return 2;
        }

        Console.WriteLine($"{pairs} connected pairs per case; bytes per endpoint (delta / {2 * pairs}).");
        Console.WriteLine();
        Console.WriteLine("| case | state | managed | native heap (malloc) | managed + native | RssAnon |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        foreach (var handshake in new[] { HandshakeCase.V12_X25519, HandshakeCase.V12_P256, HandshakeCase.V13_X25519 })
        {
            Measure(handshake, pairs);
        }

        return 0;
    }

    private static void Measure(HandshakeCase handshake, int pairs)
    {
        var buffer = new byte[65535];
        var (client, server) = BenchPair.Options(handshake);
        BenchPair.Connect(client, server, buffer); // warm: JIT, static tables, libraries loaded
        var endpoints = new List<DtlsEndpoint>(2 * pairs);
        var before = Snapshot();
        for (var i = 0; i < pairs; i++)
        {
            var (c, s) = BenchPair.Connect(client, server, buffer);
            endpoints.Add(c);
            endpoints.Add(s);
        }

        Print(handshake, "connected", before, Snapshot(), 2 * pairs);
        // Past every retention timer (the final flight's and, DTLS 1.3 server, the epoch-2 keys': 60 s after Connected by default).
        var later = BenchPair.T0 + TimeSpan.FromMinutes(2);
        foreach (var endpoint in endpoints)
        {
            endpoint.HandleTimeout(later);
            while (endpoint.PollOutput(buffer).Kind != DtlsOutputKind.Timeout)
            {
            }
        }

        Print(handshake, "idle", before, Snapshot(), 2 * pairs);
        foreach (var endpoint in endpoints)
        {
            endpoint.Dispose();
        }

        GC.KeepAlive(endpoints);
    }

    private static void Print(HandshakeCase handshake, string state, (long Managed, long Native, long Rss) a, (long Managed, long Native, long Rss) b, int n)
    {
        var managed = (b.Managed - a.Managed) / (double)n;
        var native = (b.Native - a.Native) / (double)n;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {handshake} | {state} | {managed:0} B | {native:0} B | {managed + native:0} B | {(b.Rss - a.Rss) / (double)n:0} B |"));
    }

    private static (long Managed, long Native, long Rss) Snapshot()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        var managed = GC.GetTotalMemory(forceFullCollection: true);
        var native = (long)mallinfo2().Uordblks;
        long rss = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
            {
                rss = 1024 * long.Parse(line["RssAnon:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return (managed, native, rss);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena;
        public nuint Ordblks;
        public nuint Smblks;
        public nuint Hblks;
        public nuint Hblkhd;
        public nuint Usmblks;
        public nuint Fsmblks;
        public nuint Uordblks;
        public nuint Fordblks;
        public nuint Keepcost;
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
    [DllImport("libc")]
    private static extern MallInfo2 mallinfo2();
#pragma warning restore SYSLIB1054
}
