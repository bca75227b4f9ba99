using Airlift.Cli.Soak;

namespace Airlift.Tests.Soak;

/// <summary>Synthetic soak runs for the judge and report tests: no processes, no sockets, no clock.</summary>
internal static class SoakFixtures
{
    public static readonly SoakSettings Settings = new()
    {
        Handshakes = 20,
        Concurrency = 4,
        LossPercent = 20,
        DeadlineSeconds = 10,
        IdleSeconds = 30,
        Seed = 7,
        OutDirectory = "unused",
        CommandLine = "airlift soak --handshakes 20 --concurrency 4",
    };

    public static ProcessSnapshot Process(double managedMb = 1, double rssMb = 60, int fds = 97, int threads = 14, bool forced = false) =>
        new((long)(managedMb * 1048576), (long)(managedMb * 1048576), (long)(4 * 1048576), (long)(rssMb * 1048576), (long)(rssMb * 0.2 * 1048576), (long)(rssMb * 2 * 1048576), fds, threads, 1, 1, 1, forced);

    public static SoakServerCounters Counters(long live = 0, long internalErrors = 0, bool loopEnded = false) =>
        new(live, 25, 24, 1, 23, 30, 40, 0, 0, internalErrors, 0, loopEnded, new Dictionary<string, long> { ["Timeout"] = 1 });

    public static SoakPoint Point(double t, string phase, string? tag, ProcessSnapshot server, SoakServerCounters? counters = null, int done = 0) =>
        new(t, phase, tag, server, counters ?? Counters(), done, 0, 0, Process());

    /// <summary>20 handshakes: 18 connected (10 ms apart from 100 ms), one failed with Timeout, one abandoned.</summary>
    public static List<SoakHandshake> Handshakes()
    {
        var list = new List<SoakHandshake>();
        for (var i = 0; i < 18; i++)
        {
            list.Add(new SoakHandshake(i, SoakClientMode.Close, SoakOutcome.Connected, null, 100 + (10 * i), true, 5, 4, 4, 0) { LocalPort = 40000 + i, StartS = i, EndS = i + 0.5 });
        }

        list.Add(new SoakHandshake(18, SoakClientMode.Vanish, SoakOutcome.Failed, "Timeout", 10_001, false, null, 9, 0, 4) { LocalPort = 41018, StartS = 18, EndS = 28 });
        list.Add(new SoakHandshake(19, SoakClientMode.Abandon, SoakOutcome.Abandoned, null, 300, false, null, 2, 2, 0) { LocalPort = 41019, StartS = 19, EndS = 19.3 });
        return list;
    }

    /// <summary>A run that passes every criterion; change one part with <c>with</c> to make a criterion fail.</summary>
    public static SoakRun CleanRun(IReadOnlyList<SoakHandshake>? handshakes = null, IReadOnlyList<SoakPoint>? timeline = null) => new(
        Settings,
        "2 cores, test",
        new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
        30,
        62,
        100,
        handshakes ?? Handshakes(),
        timeline ?? Timeline(),
        0,
        [],
        string.Empty,
        new SoakExceptionCounts(0, 0, [], new Dictionary<string, long>()),
        new SoakExceptionCounts(0, 0, [], new Dictionary<string, long> { ["OperationCanceledException"] = 20 }),
        null);

    /// <summary>
    /// Cold, baseline, a busy peak in the first half of the handshakes, the second half, after handshakes, after idle (heap,
    /// RSS and descriptors back, no session left).
    /// </summary>
    public static List<SoakPoint> Timeline(double idleManagedMb = 1.5, double idleRssMb = 70, int idleFds = 97, long idleLive = 0, double secondHalfRssMb = 105) =>
    [
        Point(0.5, "start", SoakRunner.Cold, Process(0.6, 55, 97, 13, forced: true)),
        Point(1.5, "warmup", null, Process(5, 60, 98, 14)),
        Point(2.0, "warmup", SoakRunner.Baseline, Process(1, 62, 97, 14, forced: true)),
        Point(10, "handshakes", null, Process(40, 110, 101, 18), Counters(live: 300), done: 5),
        Point(20, "handshakes", null, Process(30, secondHalfRssMb, 99, 18), Counters(live: 200), done: 15),
        Point(30, "handshakes", SoakRunner.AfterHandshakes, Process(1.4, 100, 97, 18, forced: true), Counters(live: 120), done: 20),
        Point(45, "idle", null, Process(2, 95, 97, 18), Counters(live: 40)),
        Point(61, "idle", SoakRunner.AfterIdle, Process(idleManagedMb, idleRssMb, idleFds, 18, forced: true), Counters(live: idleLive)),
    ];
}
