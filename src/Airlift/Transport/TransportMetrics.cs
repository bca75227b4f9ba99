using System.Diagnostics.Metrics;

namespace Airlift.Transport;

/// <summary>Process-wide transport counters on the <c>Airlift.Transport</c> meter (System.Diagnostics.Metrics).</summary>
internal static class TransportMetrics
{
    public const string MeterName = "Airlift.Transport";

    private static readonly Meter Meter = new(MeterName, "1.0");

    public static readonly Counter<long> Drops = Meter.CreateCounter<long>("airlift.transport.drops", unit: "{datagram}", description: "Datagrams dropped by the transport or its drivers, tagged by cause");
    public static readonly Counter<long> TupleChanges = Meter.CreateCounter<long>("airlift.transport.tuple_changes", description: "Selected ICE tuple changes");
    public static readonly Counter<long> FlightResends = Meter.CreateCounter<long>("airlift.transport.flight_resends", description: "DTLS flights resent at once on a tuple change (F3)");
    public static readonly Counter<long> Failures = Meter.CreateCounter<long>("airlift.transport.failures", description: "Transports failed, tagged by reason");
    public static readonly Counter<long> TcpConnections = Meter.CreateCounter<long>("airlift.transport.tcp.connections", description: "ICE-TCP connections accepted");
    public static readonly Counter<long> TcpClosed = Meter.CreateCounter<long>("airlift.transport.tcp.closed", description: "ICE-TCP connections closed, tagged by cause");

    public static void Drop(string cause) => Drops.Add(1, new KeyValuePair<string, object?>("cause", cause));
}
