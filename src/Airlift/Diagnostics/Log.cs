using Microsoft.Extensions.Logging;

namespace Airlift.Diagnostics;

// Every log event Airlift writes, one class per category, each with a stable EventId (ranges: DTLS 1000, ICE 2000,
// transport 3000, drivers 4000). docs/observability.md is generated from these attributes (ObservabilityDocTests).
// Secrets never appear in a message.

/// <summary>Log events of the <c>Airlift.Dtls</c> category.</summary>
internal static partial class DtlsLog
{
    public const string Category = AirliftLogCategories.Dtls;

    [LoggerMessage(EventId = 1001, EventName = "HandshakeTimeline", Level = LogLevel.Debug, Message = "{Line}")]
    public static partial void Timeline(ILogger logger, string line);

    [LoggerMessage(EventId = 1002, EventName = "Dropped", Level = LogLevel.Trace, Message = "dropped: {Cause}")]
    public static partial void Dropped(ILogger logger, string cause);

    [LoggerMessage(EventId = 1003, EventName = "EndpointInternalError", Level = LogLevel.Error, Message = "DTLS {Version} {Role} failed with an unexpected {Exception} while handling {During}")]
    public static partial void EndpointInternalError(ILogger logger, Exception error, string version, object role, string exception, string during);

    [LoggerMessage(EventId = 1004, EventName = "ListenerInternalError", Level = LogLevel.Error, Message = "DTLS listener dropped a datagram from {Remote} after an unexpected {Exception}")]
    public static partial void ListenerInternalError(ILogger logger, Exception error, object remote, string exception);
}

/// <summary>Log events of the <c>Airlift.Ice</c> category.</summary>
internal static partial class IceLog
{
    public const string Category = AirliftLogCategories.Ice;

    [LoggerMessage(EventId = 2001, EventName = "AgentInternalError", Level = LogLevel.Error, Message = "ICE-lite agent dropped a STUN datagram from {Tuple} after an unexpected {Exception}")]
    public static partial void AgentInternalError(ILogger logger, Exception error, object tuple, string exception);

    [LoggerMessage(EventId = 2002, EventName = "AgentTimerInternalError", Level = LogLevel.Error, Message = "ICE-lite agent's timer pass failed with an unexpected {Exception}; the agent goes on")]
    public static partial void AgentTimerInternalError(ILogger logger, Exception error, string exception);
}

/// <summary>Log events of the <c>Airlift.Transport</c> category.</summary>
internal static partial class TransportLog
{
    public const string Category = AirliftLogCategories.Transport;

    [LoggerMessage(EventId = 3001, EventName = "TransportInternalError", Level = LogLevel.Error, Message = "WebRTC transport failed with an unexpected {Exception} while handling {During}")]
    public static partial void InternalError(ILogger logger, Exception error, string exception, string during);

    [LoggerMessage(EventId = 3002, EventName = "DtlsFromUnselectedTuple", Level = LogLevel.Debug, Message = "Dropped a DTLS datagram from {Tuple}: not the selected tuple {Selected}")]
    public static partial void DtlsFromUnselectedTuple(ILogger logger, object tuple, object? selected);

    [LoggerMessage(EventId = 3003, EventName = "IceState", Level = LogLevel.Information, Message = "ICE state {State}")]
    public static partial void IceState(ILogger logger, object state);

    [LoggerMessage(EventId = 3004, EventName = "SelectedTuple", Level = LogLevel.Information, Message = "Selected tuple {Tuple}")]
    public static partial void SelectedTuple(ILogger logger, string tuple);

    [LoggerMessage(EventId = 3005, EventName = "TransportFailed", Level = LogLevel.Warning, Message = "Transport failed: {Reason}: {Message}")]
    public static partial void Failed(ILogger logger, object reason, string message);

    [LoggerMessage(EventId = 3006, EventName = "DtlsState", Level = LogLevel.Information, Message = "DTLS state {State}")]
    public static partial void DtlsState(ILogger logger, object state);
}

/// <summary>Log events of the <c>Airlift.Net</c> category (the socket drivers).</summary>
internal static partial class NetLog
{
    public const string Category = AirliftLogCategories.Net;

    [LoggerMessage(EventId = 4040, EventName = "SocketBuffers", Level = LogLevel.Information, Message = "{Driver} UDP socket buffers: receive {ReceiveGranted} bytes granted for {ReceiveRequested} requested, send {SendGranted} for {SendRequested} (0 requested: kernel default; the kernel caps requests at net.core.rmem_max / wmem_max)")]
    public static partial void SocketBuffers(ILogger logger, string driver, int receiveGranted, int receiveRequested, int sendGranted, int sendRequested);

    [LoggerMessage(EventId = 4001, EventName = "ReceiveFailed", Level = LogLevel.Warning, Message = "UDP receive failed: {Error}")]
    public static partial void ReceiveFailed(ILogger logger, object error);

    [LoggerMessage(EventId = 4002, EventName = "LoopStopped", Level = LogLevel.Error, Message = "{Driver} loop stopped")]
    public static partial void LoopStopped(ILogger logger, Exception error, string driver);

    [LoggerMessage(EventId = 4003, EventName = "UnknownPeer", Level = LogLevel.Debug, Message = "Dropped a datagram from unknown peer {Remote}")]
    public static partial void UnknownPeer(ILogger logger, object remote);

    [LoggerMessage(EventId = 4004, EventName = "SessionLimit", Level = LogLevel.Debug, Message = "Session limit {Max} reached; dropped a datagram from {Remote}")]
    public static partial void SessionLimit(ILogger logger, int max, object remote);

    [LoggerMessage(EventId = 4005, EventName = "AddressLimit", Level = LogLevel.Debug, Message = "Per-address session limit {Max} reached for {Address}; dropped a datagram")]
    public static partial void AddressLimit(ILogger logger, int max, object address);

    [LoggerMessage(EventId = 4006, EventName = "HandshakeStarted", Level = LogLevel.Information, Message = "DTLS handshake started with {Remote}")]
    public static partial void HandshakeStarted(ILogger logger, object remote);

    [LoggerMessage(EventId = 4007, EventName = "HandshakeRestarted", Level = LogLevel.Information, Message = "DTLS handshake restarted by {Remote} (the old session was replaced)")]
    public static partial void HandshakeRestarted(ILogger logger, object remote);

    [LoggerMessage(EventId = 4008, EventName = "SessionIdle", Level = LogLevel.Information, Message = "DTLS session with {Remote} idle for {Idle}; removed")]
    public static partial void SessionIdle(ILogger logger, object remote, TimeSpan idle);

    [LoggerMessage(EventId = 4009, EventName = "DriverFault", Level = LogLevel.Error, Message = "{Message}")]
    public static partial void DriverFault(ILogger logger, Exception error, string message);

    [LoggerMessage(EventId = 4010, EventName = "SessionFault", Level = LogLevel.Error, Message = "DTLS session with {Remote} failed with an internal error; removed")]
    public static partial void SessionFault(ILogger logger, Exception error, object remote);

    [LoggerMessage(EventId = 4011, EventName = "Connected", Level = LogLevel.Information, Message = "DTLS connected with {Remote}: {Suite}, SRTP {Srtp}, {HandshakeMs} ms")]
    public static partial void Connected(ILogger logger, object remote, object suite, string srtp, long handshakeMs);

    [LoggerMessage(EventId = 4012, EventName = "Failed", Level = LogLevel.Warning, Message = "DTLS with {Remote} failed: {Reason}: {Message}")]
    public static partial void Failed(ILogger logger, object remote, object reason, string message);

    [LoggerMessage(EventId = 4013, EventName = "SendFailed", Level = LogLevel.Debug, Message = "Send to {Remote} failed: {Error}")]
    public static partial void SendFailed(ILogger logger, object remote, string error);

    [LoggerMessage(EventId = 4014, EventName = "LoopEnded", Level = LogLevel.Error, Message = "DTLS socket loop ended with an error")]
    public static partial void LoopEnded(ILogger logger, Exception error);

    [LoggerMessage(EventId = 4015, EventName = "SocketStopped", Level = LogLevel.Error, Message = "{Driver} stopped reading a socket")]
    public static partial void SocketStopped(ILogger logger, Exception error, string driver);

    [LoggerMessage(EventId = 4020, EventName = "HostLoopEnded", Level = LogLevel.Error, Message = "A transport host loop ended with an error")]
    public static partial void HostLoopEnded(ILogger logger, Exception error);

    [LoggerMessage(EventId = 4021, EventName = "HostSendFailed", Level = LogLevel.Debug, Message = "UDP send to {Remote} failed: {Error}")]
    public static partial void HostSendFailed(ILogger logger, object remote, string error);

    [LoggerMessage(EventId = 4022, EventName = "TcpClosed", Level = LogLevel.Debug, Message = "ICE-TCP connection {Tuple} closed: {Cause}")]
    public static partial void TcpClosed(ILogger logger, object tuple, string cause);
}

/// <summary>Creates the per-layer loggers from a factory, falling back to a single legacy logger.</summary>
internal static class AirliftLoggers
{
    /// <summary>The logger of <paramref name="category"/> from <paramref name="factory"/>, else <paramref name="fallback"/>.</summary>
    public static ILogger? Create(ILoggerFactory? factory, string category, ILogger? fallback = null) =>
        factory?.CreateLogger(category) ?? fallback;
}
