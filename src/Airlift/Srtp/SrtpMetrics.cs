using System.Diagnostics.Metrics;

namespace Airlift.Srtp;

/// <summary>Process-wide SRTP counters on the <c>Airlift.Srtp</c> meter. Tags are static strings so that recording never allocates.</summary>
internal static class SrtpMetrics
{
    public const string MeterName = "Airlift.Srtp";

    private static readonly Meter Meter = new(MeterName, "1.0");

    private static readonly Counter<long> Packets = Meter.CreateCounter<long>("airlift.srtp.packets", unit: "{packet}", description: "Packets protected or unprotected, tagged by operation");
    private static readonly Counter<long> Drops = Meter.CreateCounter<long>("airlift.srtp.drops", unit: "{packet}", description: "Packets dropped, tagged by operation and cause");

    private static readonly string[] Causes =
    [
        "ok", "truncated", "malformed", "buffer_too_small", "authentication_failed", "replayed", "too_old", "ssrc_limit", "key_exhausted",
    ];

    public const string ProtectRtp = "protect_rtp";
    public const string UnprotectRtp = "unprotect_rtp";
    public const string ProtectRtcp = "protect_rtcp";
    public const string UnprotectRtcp = "unprotect_rtcp";

    public static void Packet(string operation) => Packets.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public static void Drop(string operation, SrtpStatus status) =>
        Drops.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("cause", Causes[(int)status]));
}
