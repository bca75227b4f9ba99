namespace Airlift.NetEm.Simulation;

/// <summary>Summary of many seeded runs at one impairment point.</summary>
/// <param name="Label">What the point is (e.g. "20% loss both ways").</param>
/// <param name="Trials">Runs.</param>
/// <param name="Successes">Runs where both sides connected within the deadline.</param>
/// <param name="P50">
/// Median time to connect over all runs, a run that did not connect counting as never (nearest rank): the time by which
/// half of the runs had connected; null when fewer did.
/// </param>
/// <param name="P90">90th percentile, likewise.</param>
/// <param name="P99">99th percentile, likewise.</param>
/// <param name="MeanDatagrams">Mean datagrams sent (both sides).</param>
/// <param name="MeanRetransmissions">Mean flight retransmissions (both sides).</param>
/// <param name="LargestDatagram">Largest datagram seen in any run.</param>
public sealed record SweepPoint(string Label, int Trials, int Successes, TimeSpan? P50, TimeSpan? P90, TimeSpan? P99, double MeanDatagrams, double MeanRetransmissions, int LargestDatagram)
{
    /// <summary>Successes / trials.</summary>
    public double SuccessRate => Trials == 0 ? 0 : (double)Successes / Trials;
}

/// <summary>Runs a simulation many times with consecutive seeds and summarises it.</summary>
public static class ReliabilitySweep
{
    /// <summary>
    /// Runs <paramref name="trials"/> simulations built by <paramref name="build"/> (given the seed) and summarises them.
    /// Runs are independent and deterministic per seed, so they may run in parallel.
    /// </summary>
    public static SweepPoint Run(string label, int trials, Func<ulong, SimulationOptions> build, ulong firstSeed = 1, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(build);
        var results = new SimulationResult[trials];
        var done = 0;
        Parallel.For(0, trials, i =>
        {
            results[i] = HandshakeSimulation.Run(build(firstSeed + (ulong)i));
            progress?.Invoke(Interlocked.Increment(ref done));
        });
        return Summarise(label, results);
    }

    /// <summary>Summarises finished runs.</summary>
    public static SweepPoint Summarise(string label, IReadOnlyList<SimulationResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var times = results.Select(r => r.Connected && r.TimeToConnect is { } t ? t : TimeSpan.MaxValue).Order().ToArray();
        return new SweepPoint(
            label,
            results.Count,
            results.Count(r => r.Connected),
            Percentile(times, 0.50),
            Percentile(times, 0.90),
            Percentile(times, 0.99),
            results.Count == 0 ? 0 : results.Average(r => (double)r.DatagramsSent),
            results.Count == 0 ? 0 : results.Average(r => (double)r.Retransmissions),
            results.Count == 0 ? 0 : results.Max(r => r.LargestDatagram));
    }

    /// <summary>Nearest-rank percentile of sorted values, or null for none or when the rank falls on a run that did not connect (<see cref="TimeSpan.MaxValue"/>).</summary>
    public static TimeSpan? Percentile(IReadOnlyList<TimeSpan> sorted, double p) => NearestRank(sorted, p, TimeSpan.MaxValue);

    /// <summary>
    /// Nearest-rank percentile <paramref name="p"/> (0..1] of ascending <paramref name="sorted"/> values in which
    /// <paramref name="never"/> (sorted last) stands for a run that did not finish: null for no values or when the rank falls on one.
    /// </summary>
    public static T? NearestRank<T>(IReadOnlyList<T> sorted, double p, T never)
        where T : struct, IEquatable<T>
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0)
        {
            return null;
        }

        var rank = (int)Math.Ceiling(p * sorted.Count) - 1;
        var value = sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
        return value.Equals(never) ? null : value;
    }
}
