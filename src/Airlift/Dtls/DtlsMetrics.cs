using System.Diagnostics.Metrics;
using Airlift.Diagnostics;

namespace Airlift.Dtls;

/// <summary>
/// DTLS counters on the <c>Airlift.Dtls</c> meter: <see cref="Default"/> (process-wide) or the set of an
/// <see cref="IMeterFactory"/> (<see cref="DtlsOptions.MeterFactory"/>).
/// </summary>
internal sealed class DtlsMetrics
{
    public const string MeterName = AirliftMeterNames.Dtls;

    /// <summary>Tag keys each instrument is recorded with (for docs/observability.md).</summary>
    public static readonly IReadOnlyDictionary<string, string> Tags = new Dictionary<string, string>
    {
        ["airlift.dtls.handshakes.failed"] = "reason",
        ["airlift.dtls.drops"] = "cause",
        ["airlift.dtls.retransmissions"] = "trigger",
    };

    private DtlsMetrics(Meter meter)
    {
        HandshakesStarted = meter.CreateCounter<long>("airlift.dtls.handshakes.started", unit: "{handshake}", description: "Handshakes started");
        HandshakesCompleted = meter.CreateCounter<long>("airlift.dtls.handshakes.completed", unit: "{handshake}", description: "Handshakes completed");
        HandshakesFailed = meter.CreateCounter<long>("airlift.dtls.handshakes.failed", unit: "{handshake}", description: "Handshakes or connections failed, tagged by reason");
        DatagramsSent = meter.CreateCounter<long>("airlift.dtls.datagrams.sent", unit: "{datagram}", description: "Datagrams sent by endpoints");
        DatagramsReceived = meter.CreateCounter<long>("airlift.dtls.datagrams.received", unit: "{datagram}", description: "Datagrams received by endpoints");
        Drops = meter.CreateCounter<long>("airlift.dtls.drops", unit: "{record}", description: "Records, fragments or datagrams dropped, tagged by cause");
        Retransmissions = meter.CreateCounter<long>("airlift.dtls.retransmissions", unit: "{flight}", description: "Flight retransmissions, tagged by trigger");
        InternalErrors = meter.CreateCounter<long>("airlift.dtls.internal_errors", unit: "{error}", description: "Unexpected exceptions caught at an endpoint or listener boundary (each failed one connection or dropped one datagram)");
        CookiesSent = meter.CreateCounter<long>("airlift.dtls.cookies.sent", unit: "{datagram}", description: "HelloVerifyRequests (DTLS 1.2) and HelloRetryRequests with a cookie (DTLS 1.3) sent by listeners");
    }

    /// <summary>The process-wide set, on a meter created without a factory.</summary>
    public static DtlsMetrics Default { get; } = new(new Meter(MeterName, "1.0"));

    public Counter<long> HandshakesStarted { get; }

    public Counter<long> HandshakesCompleted { get; }

    public Counter<long> HandshakesFailed { get; }

    public Counter<long> DatagramsSent { get; }

    public Counter<long> DatagramsReceived { get; }

    public Counter<long> Drops { get; }

    public Counter<long> Retransmissions { get; }

    public Counter<long> InternalErrors { get; }

    public Counter<long> CookiesSent { get; }

    /// <summary>The set recording on <paramref name="factory"/>'s <c>Airlift.Dtls</c> meter, or <see cref="Default"/>.</summary>
    public static DtlsMetrics For(IMeterFactory? factory) => MeterSet<DtlsMetrics>.For(factory, Default, MeterName, static m => new DtlsMetrics(m));

    public void Drop(string cause) => Drops.Add(1, new KeyValuePair<string, object?>("cause", cause));
}
