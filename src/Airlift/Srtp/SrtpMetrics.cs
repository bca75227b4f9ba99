using System.Diagnostics.Metrics;
using Airlift.Diagnostics;

namespace Airlift.Srtp;

/// <summary>
/// SRTP counters on the <c>Airlift.Srtp</c> meter: <see cref="Default"/> (process-wide) or the set of an
/// <see cref="IMeterFactory"/> (<see cref="SrtpOptions.MeterFactory"/>). Tags are static strings so that recording never allocates.
/// </summary>
internal sealed class SrtpMetrics
{
    public const string MeterName = AirliftMeterNames.Srtp;

    public const string ProtectRtp = "protect_rtp";
    public const string UnprotectRtp = "unprotect_rtp";
    public const string ProtectRtcp = "protect_rtcp";
    public const string UnprotectRtcp = "unprotect_rtcp";

    /// <summary>Tag keys each instrument is recorded with (for docs/observability.md).</summary>
    public static readonly IReadOnlyDictionary<string, string> Tags = new Dictionary<string, string>
    {
        ["airlift.srtp.packets"] = "operation",
        ["airlift.srtp.drops"] = "operation, cause",
    };

    private static readonly string[] Causes =
    [
        "ok", "truncated", "malformed", "buffer_too_small", "authentication_failed", "replayed", "too_old", "ssrc_limit", "key_exhausted",
    ];

    private readonly Counter<long> _packets;
    private readonly Counter<long> _drops;

    private SrtpMetrics(Meter meter)
    {
        _packets = meter.CreateCounter<long>("airlift.srtp.packets", unit: "{packet}", description: "Packets protected or unprotected, tagged by operation");
        _drops = meter.CreateCounter<long>("airlift.srtp.drops", unit: "{packet}", description: "Packets dropped, tagged by operation and cause");
    }

    /// <summary>The process-wide set, on a meter created without a factory.</summary>
    public static SrtpMetrics Default { get; } = new(new Meter(MeterName, "1.0"));

    /// <summary>The set recording on <paramref name="factory"/>'s <c>Airlift.Srtp</c> meter, or <see cref="Default"/>.</summary>
    public static SrtpMetrics For(IMeterFactory? factory) => MeterSet<SrtpMetrics>.For(factory, Default, MeterName, static m => new SrtpMetrics(m));

    public void Packet(string operation) => _packets.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public void Drop(string operation, SrtpStatus status) =>
        _drops.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("cause", Causes[(int)status]));
}
