using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Airlift.Diagnostics;

/// <summary>
/// Names of the meters Airlift records on (System.Diagnostics.Metrics). Each library object takes an optional
/// <see cref="IMeterFactory"/> in its options; without one, it records on a process-wide meter of the same name.
/// docs/observability.md lists every instrument.
/// </summary>
public static class AirliftMeterNames
{
    /// <summary>DTLS handshakes, datagrams, drops, retransmissions (DtlsEndpoint, DtlsServerListener).</summary>
    public const string Dtls = "Airlift.Dtls";

    /// <summary>SRTP/SRTCP packets protected, unprotected and dropped.</summary>
    public const string Srtp = "Airlift.Srtp";

    /// <summary>WebRTC transports and transport hosts: drops, tuple changes, failures, ICE-TCP connections.</summary>
    public const string Transport = "Airlift.Transport";

    /// <summary>The UDP drivers (DtlsUdpServer, DtlsUdpClient, TransportHost): drops, faults, sessions removed.</summary>
    public const string Net = "Airlift.Net";

    /// <summary>Every meter above, for <c>MeterListener</c> or an OpenTelemetry <c>AddMeter</c> call.</summary>
    public static IReadOnlyList<string> All { get; } = [Dtls, Srtp, Transport, Net];
}

/// <summary>
/// Logger categories, one per layer: an <c>ILoggerFactory</c> given to Airlift's options creates its loggers with these
/// names, so a logging configuration can set a level per layer. docs/observability.md lists every log event.
/// </summary>
public static class AirliftLogCategories
{
    /// <summary>DTLS endpoints and listeners: the handshake timeline (Debug), drops (Trace), internal errors.</summary>
    public const string Dtls = "Airlift.Dtls";

    /// <summary>The ICE-lite agent.</summary>
    public const string Ice = "Airlift.Ice";

    /// <summary>WebRTC transports: ICE and DTLS state, the selected tuple, failures.</summary>
    public const string Transport = "Airlift.Transport";

    /// <summary>The socket drivers: handshakes started and connected, sessions removed, socket errors.</summary>
    public const string Net = "Airlift.Net";

    /// <summary>SRTP (no log events today: SRTP drops are counted on the <c>Airlift.Srtp</c> meter, per packet).</summary>
    public const string Srtp = "Airlift.Srtp";
}

/// <summary>One instrument set per meter name and <see cref="IMeterFactory"/>: the shared default when there is no factory.</summary>
/// <typeparam name="T">The instrument set.</typeparam>
internal static class MeterSet<T>
    where T : class
{
    private static readonly ConditionalWeakTable<IMeterFactory, T> ByFactory = new();

    public static T For(IMeterFactory? factory, T defaultSet, string meterName, Func<Meter, T> create) =>
        factory is null ? defaultSet : ByFactory.GetValue(factory, f => create(f.Create(new MeterOptions(meterName) { Version = "1.0" })));
}
