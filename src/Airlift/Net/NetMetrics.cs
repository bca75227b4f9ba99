using System.Diagnostics.Metrics;

namespace Airlift.Net;

/// <summary>Process-wide socket-driver counters on the <c>Airlift.Net</c> meter (System.Diagnostics.Metrics).</summary>
internal static class NetMetrics
{
    public const string MeterName = "Airlift.Net";

    private static readonly Meter Meter = new(MeterName, "1.0");

    public static readonly Counter<long> SessionFaults = Meter.CreateCounter<long>("airlift.net.session_faults", description: "Sessions failed and removed because handling them threw (a bug or a throwing callback), tagged by driver");
    public static readonly Counter<long> Drops = Meter.CreateCounter<long>("airlift.net.drops", unit: "{datagram}", description: "Datagrams or events dropped by a socket driver, tagged by cause");
    public static readonly Counter<long> SessionsRemoved = Meter.CreateCounter<long>("airlift.net.sessions_removed", description: "Sessions a DTLS UDP driver stopped serving, tagged by reason");

    public static void Drop(string cause) => Drops.Add(1, new KeyValuePair<string, object?>("cause", cause));

    public static void Fault(string driver) => SessionFaults.Add(1, new KeyValuePair<string, object?>("driver", driver));
}
