using System.Diagnostics.Metrics;
using Airlift.Diagnostics;

namespace Airlift.Net;

/// <summary>
/// Socket-driver counters on the <c>Airlift.Net</c> meter: <see cref="Default"/> (process-wide) or the set of an
/// <see cref="IMeterFactory"/> given to a driver's options.
/// </summary>
internal sealed class NetMetrics
{
    public const string MeterName = AirliftMeterNames.Net;

    /// <summary>Tag keys each instrument is recorded with (for docs/observability.md).</summary>
    public static readonly IReadOnlyDictionary<string, string> Tags = new Dictionary<string, string>
    {
        ["airlift.net.session_faults"] = "driver",
        ["airlift.net.drops"] = "cause",
        ["airlift.net.sessions_removed"] = "reason",
    };

    private NetMetrics(Meter meter)
    {
        SessionFaults = meter.CreateCounter<long>("airlift.net.session_faults", unit: "{session}", description: "Sessions failed and removed because handling them threw (a bug or a throwing callback), tagged by driver");
        Drops = meter.CreateCounter<long>("airlift.net.drops", unit: "{datagram}", description: "Datagrams or events dropped by a socket driver, tagged by cause");
        SessionsRemoved = meter.CreateCounter<long>("airlift.net.sessions_removed", unit: "{session}", description: "Sessions a DTLS UDP driver stopped serving, tagged by reason");
    }

    /// <summary>The process-wide set, on a meter created without a factory.</summary>
    public static NetMetrics Default { get; } = new(new Meter(MeterName, "1.0"));

    public Counter<long> SessionFaults { get; }

    public Counter<long> Drops { get; }

    public Counter<long> SessionsRemoved { get; }

    /// <summary>The set recording on <paramref name="factory"/>'s <c>Airlift.Net</c> meter, or <see cref="Default"/>.</summary>
    public static NetMetrics For(IMeterFactory? factory) => MeterSet<NetMetrics>.For(factory, Default, MeterName, static m => new NetMetrics(m));

    public void Drop(string cause) => Drops.Add(1, new KeyValuePair<string, object?>("cause", cause));

    public void Fault(string driver) => SessionFaults.Add(1, new KeyValuePair<string, object?>("driver", driver));
}
