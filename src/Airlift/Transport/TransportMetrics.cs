using System.Diagnostics.Metrics;
using Airlift.Diagnostics;

namespace Airlift.Transport;

/// <summary>
/// Transport counters on the <c>Airlift.Transport</c> meter: <see cref="Default"/> (process-wide) or the set of an
/// <see cref="IMeterFactory"/> (<see cref="WebRtcTransportOptions.MeterFactory"/>, <c>TransportHostOptions.MeterFactory</c>).
/// </summary>
internal sealed class TransportMetrics
{
    public const string MeterName = AirliftMeterNames.Transport;

    /// <summary>Tag keys each instrument is recorded with (for docs/observability.md).</summary>
    public static readonly IReadOnlyDictionary<string, string> Tags = new Dictionary<string, string>
    {
        ["airlift.transport.drops"] = "cause",
        ["airlift.transport.failures"] = "reason",
        ["airlift.transport.tcp.closed"] = "cause",
    };

    private TransportMetrics(Meter meter)
    {
        Drops = meter.CreateCounter<long>("airlift.transport.drops", unit: "{datagram}", description: "Datagrams dropped by the transport or its drivers, tagged by cause");
        TupleChanges = meter.CreateCounter<long>("airlift.transport.tuple_changes", unit: "{change}", description: "Selected ICE tuple changes");
        FlightResends = meter.CreateCounter<long>("airlift.transport.flight_resends", unit: "{flight}", description: "DTLS flights resent at once on a tuple change (F3)");
        Failures = meter.CreateCounter<long>("airlift.transport.failures", unit: "{transport}", description: "Transports failed, tagged by reason");
        TcpConnections = meter.CreateCounter<long>("airlift.transport.tcp.connections", unit: "{connection}", description: "ICE-TCP connections accepted");
        TcpClosed = meter.CreateCounter<long>("airlift.transport.tcp.closed", unit: "{connection}", description: "ICE-TCP connections closed, tagged by cause");
    }

    /// <summary>The process-wide set, on a meter created without a factory.</summary>
    public static TransportMetrics Default { get; } = new(new Meter(MeterName, "1.0"));

    public Counter<long> Drops { get; }

    public Counter<long> TupleChanges { get; }

    public Counter<long> FlightResends { get; }

    public Counter<long> Failures { get; }

    public Counter<long> TcpConnections { get; }

    public Counter<long> TcpClosed { get; }

    /// <summary>The set recording on <paramref name="factory"/>'s <c>Airlift.Transport</c> meter, or <see cref="Default"/>.</summary>
    public static TransportMetrics For(IMeterFactory? factory) => MeterSet<TransportMetrics>.For(factory, Default, MeterName, static m => new TransportMetrics(m));

    public void Drop(string cause) => Drops.Add(1, new KeyValuePair<string, object?>("cause", cause));
}
