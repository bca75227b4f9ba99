using System.Diagnostics.Metrics;

namespace Airlift.Dtls;

/// <summary>Process-wide DTLS counters on the <c>Airlift.Dtls</c> meter (System.Diagnostics.Metrics).</summary>
internal static class DtlsMetrics
{
    public const string MeterName = "Airlift.Dtls";

    private static readonly Meter Meter = new(MeterName, "1.0");

    public static readonly Counter<long> HandshakesStarted = Meter.CreateCounter<long>("airlift.dtls.handshakes.started", description: "Handshakes started");
    public static readonly Counter<long> HandshakesCompleted = Meter.CreateCounter<long>("airlift.dtls.handshakes.completed", description: "Handshakes completed");
    public static readonly Counter<long> HandshakesFailed = Meter.CreateCounter<long>("airlift.dtls.handshakes.failed", description: "Handshakes or connections failed, tagged by reason");
    public static readonly Counter<long> DatagramsSent = Meter.CreateCounter<long>("airlift.dtls.datagrams.sent", unit: "{datagram}");
    public static readonly Counter<long> DatagramsReceived = Meter.CreateCounter<long>("airlift.dtls.datagrams.received", unit: "{datagram}");
    public static readonly Counter<long> Drops = Meter.CreateCounter<long>("airlift.dtls.drops", description: "Records, fragments or datagrams dropped, tagged by cause");
    public static readonly Counter<long> Retransmissions = Meter.CreateCounter<long>("airlift.dtls.retransmissions", description: "Flight retransmissions, tagged by trigger");
    public static readonly Counter<long> InternalErrors = Meter.CreateCounter<long>("airlift.dtls.internal_errors", description: "Unexpected exceptions caught at an endpoint or listener boundary (each failed one connection or dropped one datagram)");
    public static readonly Counter<long> CookiesSent = Meter.CreateCounter<long>("airlift.dtls.cookies.sent", description: "HelloVerifyRequests sent by listeners");

    public static void Drop(string cause) => Drops.Add(1, new KeyValuePair<string, object?>("cause", cause));
}
