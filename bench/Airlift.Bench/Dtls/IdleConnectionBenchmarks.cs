using System.Diagnostics;
using Airlift.Dtls;
using BenchmarkDotNet.Attributes;

namespace Airlift.Bench.Dtls;

/// <summary>
/// Memory held per established, idle connection (target: at most 16 KB per endpoint), and the cost of a timer sweep
/// over idle connections. The memory figure is measured once, in <see cref="Setup"/>, and printed to the log as
/// <c>// idle-memory:</c> lines: GC.GetTotalMemory(true) before and after creating <see cref="Pairs"/> connected pairs
/// (sharing one options object each side, as a server does), divided by the pairs and by 2 (per endpoint). It is
/// measured twice: right after connecting (the final flight is still retained for retransmission) and after the
/// retention period has passed and HandleTimeout has released it (the idle steady state). Native memory held by
/// OpenSSL objects (AES-GCM contexts, parsed peer certificates) is not on the managed heap; the process private-bytes
/// delta is printed beside it as a rough upper bound.
/// </summary>
[MemoryDiagnoser]
public class IdleConnectionBenchmarks
{
    private readonly byte[] _buffer = new byte[65535];
    private readonly List<DtlsEndpoint> _endpoints = [];
    private TimeSpan _now;

    [Params(1000)]
    public int Pairs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (client, server) = BenchPair.Options();
        BenchPair.Connect(client, server, _buffer);
        _endpoints.Clear();

        var (managedBefore, privateBefore) = Measure();
        for (var i = 0; i < Pairs; i++)
        {
            var (c, s) = BenchPair.Connect(client, server, _buffer);
            _endpoints.Add(c);
            _endpoints.Add(s);
        }

        var (managedConnected, privateConnected) = Measure();
        Report("just connected (final flight retained)", managedConnected - managedBefore, privateConnected - privateBefore);

        _now = BenchPair.T0 + TimeSpan.FromMinutes(1);
        Sweep();
        var (managedIdle, privateIdle) = Measure();
        Report("idle (retention expired, timers handled)", managedIdle - managedBefore, privateIdle - privateBefore);
    }

    /// <summary>HandleTimeout + drain on every idle endpoint (2 x <see cref="Pairs"/>).</summary>
    [Benchmark]
    public int Sweep()
    {
        var datagrams = 0;
        foreach (var endpoint in _endpoints)
        {
            endpoint.HandleTimeout(_now);
            while (endpoint.PollOutput(_buffer) is { Kind: not DtlsOutputKind.Timeout } output)
            {
                datagrams += output.Kind == DtlsOutputKind.Datagram ? 1 : 0;
            }
        }

        return datagrams;
    }

    private void Report(string what, long managed, long privateBytes)
    {
        var endpoints = 2.0 * Pairs;
        Console.WriteLine($"// idle-memory: {what}: {Pairs} pairs, managed {managed / endpoints:0} B per endpoint, process private bytes {privateBytes / endpoints:0} B per endpoint");
    }

    private static (long Managed, long Private) Measure()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        var managed = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        return (managed, process.PrivateMemorySize64);
    }
}
