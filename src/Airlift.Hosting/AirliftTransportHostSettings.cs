using System.Globalization;
using System.Net;
using Airlift.Net;

namespace Airlift.Hosting;

/// <summary>
/// The settings of a hosted <see cref="TransportHost"/>, in a shape configuration binding fills (for example the section
/// <c>Airlift:TransportHost</c> of appsettings.json). Each limit defaults to <see cref="TransportHostOptions"/>'s default.
/// Validated when the host starts; see <see cref="ToOptions"/>.
/// </summary>
public sealed class AirliftTransportHostSettings
{
    private static readonly TransportHostOptions Defaults = new();

    /// <summary>UDP addresses to bind, as <c>ADDRESS:PORT</c> (<c>0.0.0.0:3478</c>, <c>[::]:3478</c>; port 0 for any free port).</summary>
    public IList<string> UdpListen { get; init; } = [];

    /// <summary>ICE-TCP (RFC 6544 passive) addresses to listen on, as <c>ADDRESS:PORT</c>.</summary>
    public IList<string> TcpListen { get; init; } = [];

    /// <summary>See <see cref="TransportHostOptions.MaxSessions"/>.</summary>
    public int MaxSessions { get; set; } = Defaults.MaxSessions;

    /// <summary>See <see cref="TransportHostOptions.MaxTuplesPerSession"/>.</summary>
    public int MaxTuplesPerSession { get; set; } = Defaults.MaxTuplesPerSession;

    /// <summary>See <see cref="TransportHostOptions.EventQueueCapacity"/>.</summary>
    public int EventQueueCapacity { get; set; } = Defaults.EventQueueCapacity;

    /// <summary>See <see cref="TransportHostOptions.MaxTcpConnections"/>.</summary>
    public int MaxTcpConnections { get; set; } = Defaults.MaxTcpConnections;

    /// <summary>See <see cref="TransportHostOptions.MaxTcpFrameSize"/>.</summary>
    public int MaxTcpFrameSize { get; set; } = Defaults.MaxTcpFrameSize;

    /// <summary>See <see cref="TransportHostOptions.TcpSendQueueCapacity"/>.</summary>
    public int TcpSendQueueCapacity { get; set; } = Defaults.TcpSendQueueCapacity;

    /// <summary>See <see cref="TransportHostOptions.TcpUnboundTimeout"/>.</summary>
    public TimeSpan TcpUnboundTimeout { get; set; } = Defaults.TcpUnboundTimeout;

    /// <summary>See <see cref="TransportHostOptions.TcpIdleTimeout"/>.</summary>
    public TimeSpan TcpIdleTimeout { get; set; } = Defaults.TcpIdleTimeout;

    /// <summary>See <see cref="TransportHostOptions.ReceiveLoops"/> (default: one per core).</summary>
    public int ReceiveLoops { get; set; } = Defaults.ReceiveLoops;

    /// <summary>The <see cref="TransportHostOptions"/> these settings describe, validated.</summary>
    /// <param name="loggerFactory">The logger factory the host and its sessions log to.</param>
    /// <param name="meterFactory">The meter factory the host and its sessions record on.</param>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public TransportHostOptions ToOptions(Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null, System.Diagnostics.Metrics.IMeterFactory? meterFactory = null)
    {
        var options = new TransportHostOptions
        {
            UdpListen = Parse(UdpListen, nameof(UdpListen)),
            TcpListen = Parse(TcpListen, nameof(TcpListen)),
            MaxSessions = MaxSessions,
            MaxTuplesPerSession = MaxTuplesPerSession,
            EventQueueCapacity = EventQueueCapacity,
            MaxTcpConnections = MaxTcpConnections,
            MaxTcpFrameSize = MaxTcpFrameSize,
            TcpSendQueueCapacity = TcpSendQueueCapacity,
            TcpUnboundTimeout = TcpUnboundTimeout,
            TcpIdleTimeout = TcpIdleTimeout,
            ReceiveLoops = ReceiveLoops,
            LoggerFactory = loggerFactory,
            MeterFactory = meterFactory,
        };
        options.Validate();
        return options;
    }

    private static IPEndPoint[] Parse(IList<string> values, string name)
    {
        var endpoints = new IPEndPoint[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            if (!IPEndPoint.TryParse(values[i] ?? string.Empty, out var endpoint) || values[i].IndexOf(':', StringComparison.Ordinal) < 0)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{name}[{i}] '{values[i]}' is not an ADDRESS:PORT (for example 0.0.0.0:3478 or [::]:3478)."), name);
            }

            endpoints[i] = endpoint;
        }

        return endpoints;
    }
}
