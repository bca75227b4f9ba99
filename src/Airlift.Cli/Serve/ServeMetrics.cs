using System.Diagnostics.Metrics;

namespace Airlift.Cli.Serve;

/// <summary>Process-wide counters of <c>airlift serve</c> on the <c>Airlift.Serve</c> meter (System.Diagnostics.Metrics).</summary>
internal static class ServeMetrics
{
    public const string MeterName = "Airlift.Serve";

    private static readonly Meter Meter = new(MeterName, "1.0");

    public static readonly Counter<long> Drops = Meter.CreateCounter<long>("airlift.serve.drops", unit: "{packet}", description: "Media packets or NACK requests not answered, tagged by cause");
    public static readonly Counter<long> Resends = Meter.CreateCounter<long>("airlift.serve.nack.resends", unit: "{packet}", description: "Packets resent from history for NACKs");
    public static readonly Counter<long> ResendBytes = Meter.CreateCounter<long>("airlift.serve.nack.resend_bytes", unit: "By", description: "Bytes of NACK answers, 28 bytes of IPv4 + UDP header counted per datagram");
    public static readonly Counter<long> Refused = Meter.CreateCounter<long>("airlift.serve.requests.refused", description: "HTTP requests refused, tagged by reason");
    public static readonly Counter<long> InternalErrors = Meter.CreateCounter<long>("airlift.serve.sessions.internal_errors", description: "Sessions closed by an unexpected exception in their processing");

    public static void Drop(string cause, long count = 1)
    {
        if (count > 0)
        {
            Drops.Add(count, new KeyValuePair<string, object?>("cause", cause));
        }
    }

    public static void Refuse(string reason) => Refused.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
