using System.Globalization;
using System.Text;
using Airlift.Diagnostics;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.Records;
using Airlift.Dtls.Reliability;
using Microsoft.Extensions.Logging;

namespace Airlift.Dtls.V13;

/// <summary>The handshake state machine of one role, driven by <see cref="Dtls13Engine"/>.</summary>
internal interface IHandshake13
{
    /// <summary>Named for what it awaits.</summary>
    string StateName { get; }

    /// <summary>A complete handshake message in message_seq order, with the epoch its records came in.</summary>
    void OnMessage(TimeSpan now, HandshakeMessage message, ulong epoch);

    /// <summary>Zeroes what the handshake still holds.</summary>
    void Release();
}

/// <summary>
/// The DTLS 1.3 engine (RFC 9147): record layer (DTLSPlaintext in epoch 0, the unified header with record number
/// encryption from epoch 2, per-epoch replay windows and sequence number reconstruction), reassembly, flights with
/// selective retransmission driven by ACKs (RFC 9147 7), the ACK timer, RTT-derived timers with the same budgets and
/// path-MTU fallback as the DTLS 1.2 engine, KeyUpdate, and the output queue. Sans-IO: <c>now</c> is always an argument.
/// </summary>
internal sealed partial class Dtls13Engine : IDtlsEngineCore, IDtlsEngine
{
    private const int MaxRecordPlaintext = 16384;

    private readonly ILogger? _logger;
    private readonly DtlsMetrics _metrics;
    private readonly RetransmitTimer _timer;
    private readonly TimerTable _timers = new();
    private readonly TimeSpan _startedAt;
    private readonly EngineOutput _output;
    private readonly EngineTrace _trace;
    private readonly FlightPacing _pacing;

    private IHandshake13 _handshake = null!;
    private byte[]? _exporterSecret;
    private System.Security.Cryptography.HashAlgorithmName _exporterHash;

    public Dtls13Engine(DtlsOptions options, DtlsRole role, TimeSpan startedAt, DtlsStats stats, DtlsEndpoint? endpoint, EngineTrace? trace = null)
    {
        Options = options;
        Role = role;
        Stats = stats;
        Endpoint = endpoint;
        _logger = options.DtlsLogger;
        _metrics = options.Metrics;
        Reassembler = new HandshakeReassembler(options.MaxHandshakeMessageSize, options.MaxBufferedHandshakeBytes, options.MaxFutureMessages);
        _timer = new RetransmitTimer(options.MaxRetransmitTimeout, options.RetransmitJitter, options.Random);
        _pacing = new FlightPacing(options, stats);
        _output = new EngineOutput(stats, _metrics);
        _startedAt = startedAt;
        // At the version switch the DTLS 1.2 engine's timeline (same role, start and logger, sized for DTLS 1.3) continues here.
        _trace = trace ?? new EngineTrace(role, startedAt, _logger, _metrics, EngineTrace.Dtls13Capacity);
        if (Stats.EffectiveMaxDatagramSize == 0)
        {
            Stats.EffectiveMaxDatagramSize = options.MaxDatagramSize;
        }

        _timers.Set(EngineTimer.HandshakeDeadline, startedAt + options.HandshakeTimeout);
    }

    public DtlsOptions Options { get; }

    public DtlsRole Role { get; }

    public DtlsEndpoint? Endpoint { get; }

    public DtlsState State { get; private set; } = DtlsState.Connecting;

    public DtlsStats Stats { get; }

    public HandshakeReassembler Reassembler { get; }

    public TimeSpan StartedAt => _startedAt;

    public int EffectiveMaxDatagramSize
    {
        get => Stats.EffectiveMaxDatagramSize;
        private set => Stats.EffectiveMaxDatagramSize = value;
    }

    /// <summary>The next message_seq this side sends.</summary>
    public ushort NextSendSeq { get; set; }

    public void Attach(IHandshake13 handshake) => _handshake = handshake;

    /// <summary>The attached handshake (tests wrap it to alter decrypted messages).</summary>
    public IHandshake13 Handshake => _handshake;

    public HandshakeMessage CreateMessage(HandshakeType type, byte[] body) => new(type, NextSendSeq++, body);

    // ---------------------------------------------------------------- outcome

    public void Emit(DtlsEvent e) => _output.Events.Enqueue(e);

    /// <summary>The handshake completed: keys for the exporter, the event, and the SRTP keying material.</summary>
    public void Complete(TimeSpan now, CipherSuite suite, SrtpProtectionProfile? srtp, System.Security.Cryptography.HashAlgorithmName hash, byte[] exporterSecret)
    {
        State = DtlsState.Connected;
        _exporterSecret = exporterSecret;
        _exporterHash = hash;
        _timers.Clear(EngineTimer.HandshakeDeadline);
        if (Role == DtlsRole.Server)
        {
            // The client's final flight may still come again (our ACK lost): keep the epoch-2 keys to acknowledge it for the
            // retention time, then release them (ReleaseHandshakeState).
            _timers.Set(EngineTimer.FinalFlightRetention, now + Options.EffectiveFinalFlightRetention);
        }

        _metrics.HandshakesCompleted.Add(1);
        _trace.Connected13(now, suite, srtp?.Name ?? "none", EffectiveMaxDatagramSize);
        _output.Events.Enqueue(new DtlsConnected(Role, ProtocolVersion.Dtls13, suite, srtp, true, EffectiveMaxDatagramSize, now - _startedAt));
        if (srtp is { } profile)
        {
            var material = new byte[profile.KeyingMaterialLength];
            Tls13KeySchedule.Export(hash, exporterSecret, HandshakeCommon.SrtpExporterLabel, [], material, Tls13KeySchedule.DtlsLabelPrefix);
            _output.Events.Enqueue(new DtlsKeyingMaterial(profile, material));
        }
    }

    /// <summary>The RFC 8446 7.5 exporter; false before the handshake completed or after the keys were released.</summary>
    public bool TryExport(string label, byte[]? context, Span<byte> output)
    {
        if (_exporterSecret is null)
        {
            return false;
        }

        Tls13KeySchedule.Export(_exporterHash, _exporterSecret, label, context ?? [], output, Tls13KeySchedule.DtlsLabelPrefix);
        return true;
    }

    public void Fail(TimeSpan now, DtlsFailureReason reason, AlertDescription alert, string message) =>
        FailInternal(now, reason, message, alert, sendAlert: true);

    public void FailUnexpected(TimeSpan now, Exception exception, string during)
    {
        Stats.InternalErrors++;
        _metrics.InternalErrors.Add(1);
        var message = $"internal error while handling {during}: {exception.GetType().Name}: {exception.Message}";
        SafeLogger.Log(_logger, l => DtlsLog.EndpointInternalError(l, exception, "1.3", Role, exception.GetType().Name, during));
        try
        {
            FailInternal(now, DtlsFailureReason.InternalError, message, AlertDescription.InternalError, sendAlert: true);
        }
        catch (Exception)
        {
            if (State is not (DtlsState.Failed or DtlsState.Closed))
            {
                State = DtlsState.Failed;
                _timers.ClearAll();
                _flight = null;
                _output.Events.Enqueue(new DtlsFailed(DtlsFailureReason.InternalError, message, AlertDescription.InternalError, null));
            }
        }
    }

    private void FailInternal(TimeSpan now, DtlsFailureReason reason, string message, AlertDescription? alert, bool sendAlert)
    {
        if (State is DtlsState.Failed or DtlsState.Closed)
        {
            return;
        }

        if (sendAlert && alert is { } a)
        {
            SendAlert(AlertLevel.Fatal, a);
        }

        State = DtlsState.Failed;
        ReleaseKeys();
        _timers.ClearAll();
        _flight = null;
        _trace.Failed(now, reason, message, alert, _output.Events);
    }

    public void Close(TimeSpan now)
    {
        if (State is DtlsState.Closed or DtlsState.Failed)
        {
            return;
        }

        SendAlert(AlertLevel.Warning, AlertDescription.CloseNotify);
        State = DtlsState.Closed;
        ReleaseKeys();
        _timers.ClearAll();
        _flight = null;
        Log(now, "closed locally");
        _output.Events.Enqueue(new DtlsClosed(ByPeer: false));
    }

    /// <summary>True while the client's final flight waits for the server's ACK (RFC 9147 7: the final flight is acknowledged, not kept forever).</summary>
    public bool FinalFlightRetained => State == DtlsState.Connected && _flight is not null;

    public void Dispose()
    {
        _timers.ClearAll();
        _flight = null;
        ReleaseKeys();
        if (_exporterSecret is not null)
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(_exporterSecret);
            _exporterSecret = null;
        }

        _handshake?.Release();
        _output.Clear();
        if (State is DtlsState.Connecting or DtlsState.Connected)
        {
            State = DtlsState.Closed;
        }
    }

    // ---------------------------------------------------------------- output

    public DtlsOutput PollOutput(Span<byte> buffer) => _output.Poll(buffer, NextDeadline);

    public TimeSpan NextDeadline => State is DtlsState.Connecting or DtlsState.Connected ? _timers.Next : DtlsOutput.NoDeadline;

    // ---------------------------------------------------------------- diagnostics

    public void Log(TimeSpan now, string line) => _trace.Log(now, line);

    /// <summary>The negotiated parameters as a trace entry formatted only when read (server: with the scheme; client: without).</summary>
    public void LogNegotiated(TimeSpan now, CipherSuite suite, NamedGroup group, SignatureScheme? scheme, SrtpProtectionProfile? srtp) =>
        _trace.Negotiated13(now, suite, group, scheme, scheme is null ? null : srtp?.Name ?? "none");

    public string Trace => _trace.Text;

    private void CountDrop(string cause, Action<DtlsStats> count)
    {
        count(Stats);
        _metrics.Drop(cause);
        if (_logger is { } logger)
        {
            DtlsLog.Dropped(logger, cause);
        }
    }
}
