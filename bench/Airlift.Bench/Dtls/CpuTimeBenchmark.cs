using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Airlift.Dtls;

namespace Airlift.Bench.Dtls;

/// <summary>
/// The same operations as <see cref="HandshakeBenchmarks"/> and <see cref="CryptoFloorBenchmarks"/> (it drives those
/// classes, setups included), measured in thread CPU time (<c>CLOCK_THREAD_CPUTIME_ID</c>) instead of elapsed time, so a
/// shared machine's preemption does not inflate them: on 2 cores with a load average of 15-25, BenchmarkDotNet's
/// elapsed-time medians follow the machine's load, the thread's own CPU time much less. Linux only. Not a
/// BenchmarkDotNet benchmark: `dotnet run -c Release --project bench/Airlift.Bench -- cpu [--iterations 300] [--filter TEXT]`
/// (rows whose operation or case contains TEXT).
/// Prints a Markdown table: median and mean CPU per operation, median elapsed time, bytes allocated per operation
/// (by this thread).
/// </summary>
internal static class CpuTimeBenchmark
{
    private const int ClockThreadCpuTime = 3;

    public static int Run(string[] args)
    {
        var iterations = 300;
        string? filter = null;
        var allocProfile = false;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--iterations" && i + 1 < args.Length)
            {
                iterations = int.Parse(args[++i], CultureInfo.InvariantCulture);
            }
            else if (args[i] == "--filter" && i + 1 < args.Length)
            {
                filter = args[++i];
            }
            else if (args[i] == "--alloc-profile")
            {
                allocProfile = true;
            }
            else
            {
                Console.Error.WriteLine($"unknown argument {args[i]}; use --iterations N --filter TEXT [--alloc-profile]");
                return 2;
            }
        }

        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("cpu mode reads CLOCK_THREAD_CPUTIME_ID and runs on Linux only");
            return 2;
        }

        if (allocProfile)
        {
            return AllocationProfile.Run(iterations, filter);
        }

        _filter = filter;
        Console.WriteLine($"Iterations per row: {iterations} (after a warm-up of {iterations / 5} iterations and at least 1 s); thread CPU time.");
        Console.WriteLine();
        Console.WriteLine("| operation | case / group | CPU median | CPU mean | elapsed median | allocated |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        var openSsl = OpenSslAnchor.Available();
        Console.WriteLine(openSsl ? $"Anchor: {OpenSslAnchor.Version} (libssl.so.3), in memory, same process." : "Anchor: libssl.so.3 not found; OpenSSL rows skipped.");
        Console.WriteLine();
        foreach (var handshake in Enum.GetValues<HandshakeCase>())
        {
            var bench = new HandshakeBenchmarks { Case = handshake };
            bench.Setup();
            SplitRow("ServerHandshake", handshake.ToString(), iterations, new AirliftServerSplit(bench));
            if (openSsl && !handshake.IsDtls13())
            {
                using var anchor = new OpenSslAnchor(handshake.Group() == NamedGroup.X25519 ? "X25519" : "P-256");
                SplitRow("OpenSslServerHandshake", handshake.ToString(), iterations, new OpenSslServerSplit(anchor));
                Row("OpenSslFullHandshake", handshake.ToString(), iterations, null, anchor.FullHandshake);
            }

            Row("FullHandshake", handshake.ToString(), iterations, null, () => bench.FullHandshake());
            Row("ServerFirstFlight", handshake.ToString(), iterations, bench.FreshClientHello, () => bench.ServerFirstFlight());
            Row("ServerSecondFlight", handshake.ToString(), iterations, bench.FreshClientSecondFlight, () => bench.ServerSecondFlight());
            Row("ClientFirstFlight", handshake.ToString(), iterations, null, () => bench.ClientFirstFlight());
            Row("ClientSecondFlight", handshake.ToString(), iterations, bench.FreshServerFirstFlight, () => bench.ClientSecondFlight());
        }

        var floor = new CryptoFloorBenchmarks();
        floor.Setup();
        foreach (var group in CryptoFloorBenchmarks.Groups)
        {
            Row("KeyGenerate", group.ToString(), iterations, null, () => floor.KeyGenerate(group));
            Row("Respond", group.ToString(), iterations, null, () => floor.Respond(group));
            Row("Complete", group.ToString(), iterations, null, () => floor.Complete(group));
        }

        Row("EcdhP256PlatformFloor", "", iterations, null, () => floor.EcdhP256PlatformFloor());
        Row("EcdsaP256Sign", "", iterations, null, () => floor.EcdsaP256Sign());
        Row("EcdsaP256Verify", "", iterations, null, () => floor.EcdsaP256Verify());
        Row("CertificateParse", "", iterations, null, () => floor.CertificateParse());
        Row("PeerKeyFromDer", "", iterations, null, () => floor.PeerKeyFromDer());
        Row("PeerKeyD2iOnly", "", iterations, null, () => floor.PeerKeyD2iOnly());
        floor.Cleanup();
        return 0;
    }

    private static string? _filter;

    /// <summary>A handshake whose server calls are timed apart from the client's: setup, then the run with a wrapper
    /// around each server step.</summary>
    private interface ISplit
    {
        void Setup();

        void Run(Action<Action> server);
    }

    /// <summary>Airlift's server, created, fed the ClientHello and drained, then fed the client's flight and drained until
    /// connected: the sum of <see cref="HandshakeBenchmarks.ServerFirstFlight"/> and <c>ServerSecondFlight</c> in one
    /// handshake, the client's work in between untimed.</summary>
    private sealed class AirliftServerSplit(HandshakeBenchmarks bench) : ISplit
    {
        private readonly byte[] _buffer = new byte[65535];
        private DtlsEndpoint _client = null!;
        private List<byte[]> _hello = null!;

        public void Setup()
        {
            var (client, _) = bench.OptionsPair;
            _client = DtlsEndpoint.CreateClient(client, BenchPair.T0);
            _hello = BenchPair.Drain(_client, _buffer);
        }

        public void Run(Action<Action> server)
        {
            DtlsEndpoint endpoint = null!;
            List<byte[]> toClient = null!;
            server(() =>
            {
                endpoint = DtlsEndpoint.CreateServer(bench.OptionsPair.Server, BenchPair.T0);
                toClient = BenchPair.Feed(endpoint, _hello, BenchPair.T0, _buffer);
            });
            var toServer = BenchPair.Feed(_client, toClient, BenchPair.T0, _buffer);
            server(() => BenchPair.Feed(endpoint, toServer, BenchPair.T0, _buffer));
            if (endpoint.State != DtlsState.Connected)
            {
                throw new InvalidOperationException($"server is {endpoint.State}");
            }
        }
    }

    private sealed class OpenSslServerSplit(OpenSslAnchor anchor) : ISplit
    {
        public void Setup() => anchor.FreshClientHello();

        public void Run(Action<Action> server) => anchor.Handshake(server);
    }

    private static void SplitRow(string operation, string variant, int iterations, ISplit split)
    {
        if (_filter is not null && !$"{operation} {variant}".Contains(_filter, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        double cpuSum = 0;
        double wallSum = 0;
        long bytesSum = 0;
        void Timed(Action step)
        {
            var bytes = GC.GetAllocatedBytesForCurrentThread();
            var cpu0 = ThreadCpuMicroseconds();
            var wall0 = Stopwatch.GetTimestamp();
            step();
            var wall1 = Stopwatch.GetTimestamp();
            cpuSum += ThreadCpuMicroseconds() - cpu0;
            wallSum += Stopwatch.GetElapsedTime(wall0, wall1).TotalMicroseconds;
            bytesSum += GC.GetAllocatedBytesForCurrentThread() - bytes;
        }

        var warmup = Stopwatch.StartNew();
        for (var i = 0; i < iterations / 5 || warmup.Elapsed < TimeSpan.FromSeconds(1); i++)
        {
            split.Setup();
            split.Run(Timed);
        }

        var cpu = new double[iterations];
        var elapsed = new double[iterations];
        long allocated = 0;
        for (var i = 0; i < iterations; i++)
        {
            split.Setup();
            cpuSum = 0;
            wallSum = 0;
            bytesSum = 0;
            split.Run(Timed);
            cpu[i] = cpuSum;
            elapsed[i] = wallSum;
            allocated += bytesSum;
        }

        Print(operation, variant, iterations, cpu, elapsed, allocated);
    }

    private static void Print(string operation, string variant, int iterations, double[] cpu, double[] elapsed, long allocated)
    {
        Array.Sort(cpu);
        Array.Sort(elapsed);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {operation} | {variant} | {cpu[iterations / 2]:F1} us | {cpu.Average():F1} us | {elapsed[iterations / 2]:F1} us | {allocated / iterations} B |"));
    }

    private static void Row(string operation, string variant, int iterations, Action? setup, Action measured)
    {
        if (_filter is not null && !$"{operation} {variant}".Contains(_filter, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var warmup = Stopwatch.StartNew();
        for (var i = 0; i < iterations / 5 || warmup.Elapsed < TimeSpan.FromSeconds(1); i++)
        {
            setup?.Invoke();
            measured();
        }

        var cpu = new double[iterations];
        var elapsed = new double[iterations];
        long allocated = 0;
        for (var i = 0; i < iterations; i++)
        {
            setup?.Invoke();
            var bytes = GC.GetAllocatedBytesForCurrentThread();
            var cpu0 = ThreadCpuMicroseconds();
            var wall0 = Stopwatch.GetTimestamp();
            measured();
            var wall1 = Stopwatch.GetTimestamp();
            var cpu1 = ThreadCpuMicroseconds();
            allocated += GC.GetAllocatedBytesForCurrentThread() - bytes;
            cpu[i] = cpu1 - cpu0;
            elapsed[i] = Stopwatch.GetElapsedTime(wall0, wall1).TotalMicroseconds;
        }

        Print(operation, variant, iterations, cpu, elapsed, allocated);
    }

    internal static double ThreadCpuMicroseconds()
    {
        if (ClockGetTime(ClockThreadCpuTime, out var time) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        }

        return time.Seconds * 1e6 + time.Nanoseconds / 1e3;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);
#pragma warning restore SYSLIB1054
}
