using System.Globalization;
using System.Text;
using Airlift.Diagnostics;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.Records;
using Airlift.Dtls.Reliability;
using Microsoft.Extensions.Logging;

namespace Airlift.Dtls;

/// <summary>Role-specific handshake logic driven by the shared <see cref="DtlsEngine"/>.</summary>
internal interface IHandshakeHandler
{
    /// <summary>Name of the state, named for what it awaits (for logs and reports).</summary>
    string StateName { get; }

    /// <summary>Called once when the endpoint is created.</summary>
    void Start(TimeSpan now);

    /// <summary>A complete handshake message, in message_seq order.</summary>
    void OnMessage(TimeSpan now, HandshakeMessage message);

    /// <summary>Zeroes the secrets and releases the keys the handshake still holds (the endpoint is being disposed).</summary>
    void Release();
}

/// <summary>One version's engine behind the <see cref="DtlsEndpoint"/> facade: DTLS 1.2 (<see cref="DtlsEngine"/>) or DTLS 1.3 (<see cref="V13.Dtls13Engine"/>).</summary>
internal interface IDtlsEngine
{
    DtlsState State { get; }

    int MaxApplicationDataSize { get; }

    string Trace { get; }

    bool FinalFlightRetained { get; }

    void HandleDatagram(TimeSpan now, ReadOnlySpan<byte> datagram);

    void HandleTimeout(TimeSpan now);

    DtlsOutput PollOutput(Span<byte> buffer);

    void SendApplicationData(ReadOnlySpan<byte> data);

    DtlsSealStatus TrySealApplicationData(ReadOnlySpan<byte> data, Span<byte> destination, out int length);

    /// <summary>The output queue and receive sink of this engine.</summary>
    EngineOutput Output { get; }

    void Close(TimeSpan now);

    void ResendNow(TimeSpan now);

    void OutputLeft(TimeSpan handledAt, TimeSpan sentAt);

    void FailUnexpected(TimeSpan now, Exception exception, string during);

    /// <summary>The keying material exporter of the version (RFC 5705 / RFC 8446 7.5); false before the handshake completed.</summary>
    bool TryExport(string label, byte[]? context, Span<byte> output);

    void Dispose();
}

/// <summary>What the handshake helpers shared by DTLS 1.2 and 1.3 need from an engine.</summary>
internal interface IDtlsEngineCore
{
    DtlsOptions Options { get; }

    DtlsRole Role { get; }

    void Fail(TimeSpan now, DtlsFailureReason reason, AlertDescription alert, string message);

    void Emit(DtlsEvent e);

    void Log(TimeSpan now, string line);
}

/// <summary>
/// The shared engine behind both roles: record layer (epochs, sequence numbers, replay windows, AEAD),
/// reassembly, flight packing into datagrams, the retransmission state machine, path-MTU fallback, the
/// output queue and the timers. Sans-IO: it never reads a clock; <c>now</c> is always an argument.
/// </summary>
internal sealed partial class DtlsEngine : IDtlsEngineCore, IDtlsEngine
{
    private const int MaxRecordPlaintext = 16384;

    private readonly ILogger? _logger;
    private readonly DtlsMetrics _metrics;
    private readonly WriteState[] _write = [new WriteState(0), new WriteState(1)];
    private readonly ReplayWindow _replay1 = new();
    private readonly List<byte[]> _earlyRecords = [];
    private readonly RetransmitTimer _timer;
    private readonly TimerTable _timers = new();
    private readonly TimeSpan _startedAt;
    private readonly EngineOutput _output;
    private readonly EngineTrace _trace;
    private readonly FlightPacing _pacing;

    private RecordProtection? _read1;
    private byte[]? _master;
    private byte[]? _clientRandom;
    private byte[]? _serverRandom;
    private CipherSuiteInfo? _suite;
    private IHandshakeHandler _handler = null!;
    private IReadOnlyList<FlightEntry>? _flight;
    private bool _flightIsFinal;
    private int _flightNumber;
    private int _flightLargestDatagram;
    private int _flightDatagrams;
    private bool _datagramProgress;
    private bool _datagramOld;
    private bool _datagramOldAuthenticated;
    private List<int>?[]? _flightCuts;
    private bool _anyMessageReceived;

    public DtlsEngine(DtlsOptions options, DtlsRole role, TimeSpan now)
    {
        options.Validate(role);
        Options = options;
        Role = role;
        _logger = options.DtlsLogger;
        _metrics = options.Metrics;
        Reassembler = new HandshakeReassembler(options.MaxHandshakeMessageSize, options.MaxBufferedHandshakeBytes, options.MaxFutureMessages);
        _timer = new RetransmitTimer(options.MaxRetransmitTimeout, options.RetransmitJitter, options.Random);
        _pacing = new FlightPacing(options, Stats);
        _output = new EngineOutput(Stats, _metrics);
        EffectiveMaxDatagramSize = options.MaxDatagramSize;
        _startedAt = now;
        // When DTLS 1.3 may follow, the DTLS 1.3 engine takes this timeline over at the switch: sized for its entries too.
        _trace = new EngineTrace(role, now, _logger, _metrics, options.AllowsDtls13 ? EngineTrace.Dtls13Capacity : EngineTrace.Dtls12Capacity);
        _timers.Set(EngineTimer.HandshakeDeadline, now + options.HandshakeTimeout);
        _metrics.HandshakesStarted.Add(1);
    }

    public DtlsOptions Options { get; }

    /// <summary>The public endpoint that owns this engine.</summary>
    public DtlsEndpoint? Endpoint { get; init; }

    public DtlsRole Role { get; }

    public DtlsState State { get; private set; } = DtlsState.Connecting;

    public FlightState FlightState { get; private set; } = FlightState.Preparing;

    public DtlsStats Stats { get; } = new();

    public HandshakeReassembler Reassembler { get; }

    public int EffectiveMaxDatagramSize
    {
        get => Stats.EffectiveMaxDatagramSize;
        private set => Stats.EffectiveMaxDatagramSize = value;
    }

    public TimeSpan StartedAt => _startedAt;

    /// <summary>The next message_seq this side sends.</summary>
    public ushort NextSendSeq { get; set; }

    /// <summary>True once the handler has seen its first message (a server adopts the client's message_seq then).</summary>
    public bool AnyMessageReceived => _anyMessageReceived;

    public void Attach(IHandshakeHandler handler) => _handler = handler;

    /// <summary>Most cookie exchanges before the ClientHello a listener accepted (its message_seq is adopted up to this).</summary>
    public const int MaxCookieExchanges = 16;

    /// <summary>Set by <see cref="DtlsServerListener"/> before the first datagram: that datagram carried a verified cookie.</summary>
    public bool CookieVerified { get; set; }

    // ---------------------------------------------------------------- application data, alerts, outcome

    /// <summary>Largest application-data payload that fits one datagram at the current size.</summary>
    public int MaxApplicationDataSize => EffectiveMaxDatagramSize - RecordHeader.Size - (_write[1].Protection?.Overhead ?? 0);

    public void SendApplicationData(ReadOnlySpan<byte> data)
    {
        if (State != DtlsState.Connected)
        {
            throw new InvalidOperationException($"Cannot send application data in state {State}.");
        }

        if (data.Length > MaxApplicationDataSize)
        {
            throw new ArgumentException($"Application data of {data.Length} bytes exceeds the {MaxApplicationDataSize} bytes that fit one datagram of {EffectiveMaxDatagramSize} bytes.", nameof(data));
        }

        var datagram = new byte[RecordHeader.Size + _write[1].Protection!.Overhead + data.Length];
        WriteRecord(datagram, ContentType.ApplicationData, _write[1], data);
        _output.Datagrams.Enqueue(datagram);
    }

    public DtlsSealStatus TrySealApplicationData(ReadOnlySpan<byte> data, Span<byte> destination, out int length)
    {
        length = 0;
        if (State != DtlsState.Connected)
        {
            return DtlsSealStatus.NotConnected;
        }

        if (data.Length > MaxApplicationDataSize)
        {
            return DtlsSealStatus.TooLarge;
        }

        var needed = RecordHeader.Size + _write[1].Protection!.Overhead + data.Length;
        if (destination.Length < needed)
        {
            length = needed;
            return DtlsSealStatus.BufferTooSmall;
        }

        length = WriteRecord(destination, ContentType.ApplicationData, _write[1], data);
        _output.CountSent(length);
        return DtlsSealStatus.Sealed;
    }

    public EngineOutput Output => _output;

    public void SendAlert(AlertLevel level, AlertDescription description)
    {
        var state = _write[1].Protection is not null ? _write[1] : _write[0];
        var datagram = new byte[RecordHeader.Size + (state.Protection?.Overhead ?? 0) + 2];
        WriteRecord(datagram, ContentType.Alert, state, [(byte)level, (byte)description]);
        _output.Datagrams.Enqueue(datagram);
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

    public void Emit(DtlsEvent e) => _output.Events.Enqueue(e);

    /// <summary>The DTLS 1.2 handshake completed: the exporter's inputs are kept (until Dispose), the events queued.</summary>
    public void CompleteDtls12(TimeSpan now, CipherSuiteInfo suite, SrtpProtectionProfile? srtp, bool ems, byte[] master, byte[] clientRandom, byte[] serverRandom)
    {
        _master = master;
        _clientRandom = clientRandom;
        _serverRandom = serverRandom;
        _suite = suite;
        Complete(now, new DtlsConnected(Role, ProtocolVersion.Dtls12, suite.Suite, srtp, ems, EffectiveMaxDatagramSize, now - StartedAt));
        if (srtp is { } profile)
        {
            var material = new byte[profile.KeyingMaterialLength];
            TryExport(HandshakeCommon.SrtpExporterLabel, null, material);
            Emit(new DtlsKeyingMaterial(profile, material));
        }
    }

    public bool TryExport(string label, byte[]? context, Span<byte> output)
    {
        if (_master is null)
        {
            return false;
        }

        KeySchedule.Export(_suite!.PrfHash, _master, _clientRandom!, _serverRandom!, label, context, output);
        return true;
    }

    public void Complete(TimeSpan now, DtlsConnected connected)
    {
        State = DtlsState.Connected;
        _timers.Clear(EngineTimer.HandshakeDeadline);
        _metrics.HandshakesCompleted.Add(1);
        Log(now, $"connected: {connected.CipherSuite}, SRTP {connected.SrtpProfile?.Name ?? "none"}, datagram size {EffectiveMaxDatagramSize}");
        _output.Events.Enqueue(connected);
    }

    /// <summary>
    /// The exception boundary: an exception escaped the handling of one datagram or timer. Whatever the peer sent, it must
    /// not reach the caller's socket loop; this connection fails with internal_error, the exception is counted and logged.
    /// </summary>
    public void FailUnexpected(TimeSpan now, Exception exception, string during)
    {
        Stats.InternalErrors++;
        _metrics.InternalErrors.Add(1);
        var message = $"internal error while handling {during}: {exception.GetType().Name}: {exception.Message}";
        SafeLogger.Log(_logger, l => DtlsLog.EndpointInternalError(l, exception, "1.2", Role, exception.GetType().Name, during));

        try
        {
            FailInternal(now, DtlsFailureReason.InternalError, message, AlertDescription.InternalError, sendAlert: true);
        }
        catch (Exception)
        {
            // Even the alert could not be written (or the log line failed): fail without either.
            if (State is not (DtlsState.Failed or DtlsState.Closed))
            {
                State = DtlsState.Failed;
                _timers.ClearAll();
                _flight = null;
                _output.Events.Enqueue(new DtlsFailed(DtlsFailureReason.InternalError, message, AlertDescription.InternalError, null));
            }
        }
    }

    /// <summary>True while the final flight is kept to answer the peer's retransmissions (see <see cref="DtlsEndpoint.FinalFlightRetained"/>).</summary>
    public bool FinalFlightRetained => _flightIsFinal && _flight is not null && State == DtlsState.Connected;

    /// <summary>The epoch-0 record sequence number this engine writes next (carried over at the switch to DTLS 1.3).</summary>
    public ulong PlaintextWriteSequence => _write[0].NextSeq;

    /// <summary>
    /// The hello negotiated DTLS 1.3: this engine stops without an event (the endpoint continues with the DTLS 1.3 engine,
    /// which shares <see cref="Stats"/>), keeping nothing.
    /// </summary>
    public void HandOff()
    {
        State = DtlsState.Closed;
        _timers.ClearAll();
        _flight = null;
        ReleaseKeys();
        _output.Datagrams.Clear();
    }

    /// <summary>Stops the engine for good: no timers, no output, keys and handshake secrets released.</summary>
    public void Dispose()
    {
        _timers.ClearAll();
        _flight = null;
        ReleaseKeys();
        if (_master is not null)
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(_master);
            _master = null;
        }

        _handler.Release();
        _output.Clear();
        if (State is DtlsState.Connecting or DtlsState.Connected)
        {
            State = DtlsState.Closed;
        }
    }

    /// <summary>Releases record keys once no record can be read or written any more; idempotent.</summary>
    public void ReleaseKeys()
    {
        _read1?.Dispose();
        _read1 = null;
        _write[1].Protection?.Dispose();
        _write[1].Protection = null;
        foreach (var raw in _earlyRecords)
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(raw);
        }

        _earlyRecords.Clear();
    }

    /// <summary>Fails the handshake: sends the alert (when given) and reports the reason.</summary>
    public void Fail(TimeSpan now, DtlsFailureReason reason, AlertDescription alert, string message) =>
        FailInternal(now, reason, message, alert, sendAlert: true);

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
        _trace.Failed(now, reason, message, alert, _output.Events); // last: the failure is recorded even if the logger throws
    }

    // ---------------------------------------------------------------- output

    public DtlsOutput PollOutput(Span<byte> buffer) => _output.Poll(buffer, NextDeadline);

    /// <summary>The earliest time HandleTimeout has work to do, or <see cref="DtlsOutput.NoDeadline"/>.</summary>
    public TimeSpan NextDeadline => State is DtlsState.Connecting or DtlsState.Connected ? _timers.Next : DtlsOutput.NoDeadline;

    // ---------------------------------------------------------------- diagnostics

    public void Log(TimeSpan now, string line) => _trace.Log(now, line);

    public string Trace => _trace.Text;

    /// <summary>The timeline itself, which the DTLS 1.3 engine takes over at the version switch (same role, start and logger).</summary>
    public EngineTrace Timeline => _trace;

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
