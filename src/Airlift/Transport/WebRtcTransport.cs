using Airlift.Diagnostics;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Microsoft.Extensions.Logging;

namespace Airlift.Transport;

/// <summary>
/// The WebRTC transport of an ICE-lite endpoint as a sans-IO state machine: an <see cref="IceLiteAgent"/> and a
/// <see cref="DtlsEndpoint"/> on one demultiplexed port (RFC 7983), with DTLS pinned to the ICE selected tuple.
/// </summary>
/// <remarks>
/// <para>Drain rule (the one rule of every Airlift engine, docs/architecture.md "Engine shape and drain rule"): after every call that takes <c>now</c> (<see cref="HandleDatagram"/>, <see cref="HandleTimeout"/>,
/// <see cref="Close"/>) and after <see cref="SendMedia"/> / <see cref="SendApplicationData"/>, call <see cref="PollOutput"/>
/// until it returns <see cref="WebRtcOutputKind.Timeout"/>; then call <see cref="HandleTimeout"/> at (or after) the returned
/// deadline, or earlier when a datagram arrives. Time is any monotonic clock as a <see cref="TimeSpan"/>; the transport
/// never reads one.</para>
/// <para>Demultiplexing (RFC 7983 7): STUN goes to the ICE agent from any address (it authenticates checks); DTLS goes to the
/// endpoint only from the selected tuple; RTP/RTCP from the selected tuple is handed out by <see cref="PollOutput"/> as
/// <see cref="WebRtcOutputKind.RtpReceived"/> / <see cref="WebRtcOutputKind.RtcpReceived"/>, written into the caller's buffer
/// (still SRTP-protected: <c>Airlift.WebRtc.MediaSession</c> keys and runs SRTP);
/// everything else (ZRTP, TURN ChannelData, unknown) is dropped. Every drop is counted in <see cref="Stats"/> and on the
/// <c>Airlift.Transport</c> meter.</para>
/// <para>Sending: nothing but STUN responses leaves before ICE selects a tuple; the DTLS endpoint is created at the first
/// selection (so its handshake timeout starts then). DTLS datagrams always go to the selected tuple at the moment they are
/// polled. When the selected tuple changes while the handshake runs, the pending flight is resent at once on the new tuple,
/// whatever the DTLS role (field failure F3). When consent is lost on every tuple, nothing is sent until a new valid check.</para>
/// <para>RTT: an ICE-lite agent sends no checks, so the transport cannot measure a round trip before DTLS starts. The
/// caller may put a known estimate in <see cref="DtlsOptions.RttEstimate"/>; otherwise the endpoint starts from its default
/// timeout and samples flight round trips itself (Karn's rule).</para>
/// </remarks>
public sealed class WebRtcTransport
{
    private readonly WebRtcTransportOptions _options;
    private readonly DtlsOptions _dtlsOptions;
    private readonly IceLiteAgent _ice;
    private readonly ILogger _logger;
    private readonly TransportMetrics _metrics;
    private readonly Queue<Pending> _queue = new();

    // Media buffers (inbound RTP/RTCP waiting for PollOutput, outbound media waiting to be sent), each
    // MaxMediaPacketSize bytes, reused: at most MaxQueuedOutputs exist, so steady-state media allocates nothing.
    private readonly Stack<byte[]> _freeMediaBuffers = new();
    private DtlsEndpoint? _dtls;
    private TimeSpan _dtlsDeadline = DtlsOutput.NoDeadline;
    private Counters _c;
    private bool _finished;
    private bool _internalError;

    /// <summary>Creates a transport. Nothing is sent until a connectivity check selects a tuple.</summary>
    /// <param name="options">Options.</param>
    /// <param name="now">Current time.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public WebRtcTransport(WebRtcTransportOptions options, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
#pragma warning disable CS0618 // The legacy Logger keeps working as the fallback of LoggerFactory.
        _logger = AirliftLoggers.Create(options.LoggerFactory, AirliftLogCategories.Transport, options.Logger) ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
#pragma warning restore CS0618
        _metrics = TransportMetrics.For(options.MeterFactory);
        DtlsRole = ResolveDtlsRole(options.RemoteSetup, options.ActPassAnswerRole);
        _dtlsOptions = options.Dtls with
        {
            ExpectedPeerFingerprint = options.RemoteFingerprint,
            LoggerFactory = options.Dtls.LoggerFactory ?? options.LoggerFactory,
            MeterFactory = options.Dtls.MeterFactory ?? options.MeterFactory,
        };
        _ice = new IceLiteAgent(options.ToIceOptions());
        if (options.RemoteUfrag is not null)
        {
            _ice.SetRemoteCredentials(options.RemoteUfrag, options.RemotePassword!);
        }

        CreatedAt = now;
        LocalFingerprint = options.Dtls.Certificate.GetFingerprint();
    }

    /// <summary>Our DTLS role, decided from the peer's <c>a=setup</c>.</summary>
    public DtlsRole DtlsRole { get; }

    /// <summary>The <c>a=setup</c> value to put in our answer: <c>active</c> when we are the DTLS client, else <c>passive</c>.</summary>
    public SdpSetupRole LocalSetup => DtlsRole == DtlsRole.Client ? SdpSetupRole.Active : SdpSetupRole.Passive;

    /// <summary>Local ICE ufrag, to signal as <c>a=ice-ufrag</c> (and the key shared-port drivers route on).</summary>
    public string LocalUfrag => _ice.LocalUfrag;

    /// <summary>Local ICE password, to signal as <c>a=ice-pwd</c>.</summary>
    public string LocalPassword => _ice.LocalPassword;

    /// <summary>Our certificate's sha-256 fingerprint, to signal as <c>a=fingerprint</c>.</summary>
    public CertificateFingerprint LocalFingerprint { get; }

    /// <summary>When the transport was created.</summary>
    public TimeSpan CreatedAt { get; }

    /// <summary>ICE state.</summary>
    public IceState IceState => _ice.State;

    /// <summary>DTLS state.</summary>
    public TransportDtlsState DtlsState { get; private set; } = TransportDtlsState.New;

    /// <summary>True once the transport failed or was closed: it takes no more input and sends nothing.</summary>
    public bool IsFinished => _finished;

    /// <summary>The tuple DTLS and media use now, or null.</summary>
    public IceTuple? SelectedTuple => _ice.SelectedTuple;

    /// <summary>The peer's ICE ufrag, once known.</summary>
    public string? RemoteUfrag => _ice.RemoteUfrag;

    /// <summary>Transport counters.</summary>
    public WebRtcTransportStats Stats => new(
        _c.DatagramsReceived, _c.StunReceived, _c.DtlsReceived, _c.DtlsFromUnselectedTuple, _c.DtlsUnsentNoTuple,
        _c.RtpReceived, _c.RtcpReceived, _c.MediaFromUnselectedTuple, _c.ZrtpDropped, _c.TurnChannelDropped, _c.UnknownDropped,
        _c.IgnoredAfterClose, _c.QueueOverflowDrops, _c.TupleChanges, _c.FlightResendsOnTupleChange, _c.DatagramsSent, _c.InternalErrors)
    {
        MediaTooLarge = _c.MediaTooLarge,
    };

    /// <summary>ICE agent counters (checks answered, integrity failures, role conflicts, malformed STUN...).</summary>
    public IceLiteStats IceStats => _ice.Stats;

    /// <summary>DTLS endpoint counters, once the endpoint exists.</summary>
    public DtlsStats? DtlsStats => _dtls?.Stats;

    /// <summary>The DTLS handshake timeline, once the endpoint exists (diagnostics).</summary>
    public string? DtlsTrace => _dtls?.Trace;

    /// <summary>The negotiated DTLS parameters (version, cipher suite, SRTP profile, effective datagram size), once connected.</summary>
    public DtlsConnected? DtlsConnection { get; private set; }

    /// <summary>Smallest buffer <see cref="PollOutput"/> accepts.</summary>
    public int PollBufferSize => Math.Max(Math.Max(_dtlsOptions.MaxDatagramSize, _options.MaxMediaPacketSize), 1500);

    /// <summary>
    /// Our DTLS role from the peer's <c>a=setup</c> (RFC 8842 5): the peer <c>passive</c> makes us the client, <c>active</c>
    /// the server, and <c>actpass</c> (an offer) lets us, the answerer, choose <paramref name="whenActPass"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><c>holdconn</c>, which has no role.</exception>
    public static DtlsRole ResolveDtlsRole(SdpSetupRole remoteSetup, DtlsRole whenActPass) => remoteSetup switch
    {
        SdpSetupRole.Passive => DtlsRole.Client,
        SdpSetupRole.Active => DtlsRole.Server,
        SdpSetupRole.ActPass => whenActPass,
        _ => throw new ArgumentException($"a=setup:{remoteSetup} gives no DTLS role.", nameof(remoteSetup)),
    };

    /// <summary>Sets the peer's ICE credentials when they were not in the options (e.g. the offer arrived later).</summary>
    /// <exception cref="ArgumentException">Not valid ice-char strings.</exception>
    public void SetRemoteIceCredentials(string ufrag, string password) => _ice.SetRemoteCredentials(ufrag, password);

    /// <summary>Processes one datagram received on <paramref name="tuple"/>. Never throws: an unexpected exception fails
    /// this transport with <see cref="TransportFailureReason.InternalError"/>.</summary>
    public void HandleDatagram(TimeSpan now, IceTuple tuple, ReadOnlySpan<byte> datagram) => HandleRoutedDatagram(now, tuple, datagram, null);

    /// <summary>The output of the call made at <paramref name="handledAt"/> leaves at <paramref name="sentAt"/>, a later
    /// reading of the same clock: a DTLS flight armed in that call counts its first retransmit timeout from then (see
    /// <c>DtlsEndpoint.OutputLeft</c>). Never fires anything.</summary>
    internal void OutputLeft(TimeSpan handledAt, TimeSpan sentAt) => _dtls?.OutputLeft(handledAt, sentAt);

    /// <summary>As <see cref="HandleDatagram(TimeSpan, IceTuple, ReadOnlySpan{byte})"/>, with the STUN message a host already
    /// decoded from <paramref name="datagram"/> to route it (so STUN is decoded once per datagram).</summary>
    internal void HandleRoutedDatagram(TimeSpan now, IceTuple tuple, ReadOnlySpan<byte> datagram, Ice.Stun.StunMessage? decodedStun)
    {
        try
        {
            HandleDatagramCore(now, tuple, datagram, decodedStun);
        }
        catch (Exception ex)
        {
            FailUnexpected(ex, "a datagram");
        }
    }

    private void FailUnexpected(Exception ex, string during)
    {
        _internalError = true;
        _c.InternalErrors++;
        TransportLog.InternalError(_logger, ex, ex.GetType().Name, during);
        Fail(TransportFailureReason.InternalError, $"internal error while handling {during}: {ex.GetType().Name}: {ex.Message}", null);
    }

    private void HandleDatagramCore(TimeSpan now, IceTuple tuple, ReadOnlySpan<byte> datagram, Ice.Stun.StunMessage? decodedStun)
    {
        if (_finished)
        {
            _c.IgnoredAfterClose++;
            _metrics.Drop("closed");
            return;
        }

        _c.DatagramsReceived++;
        var kind = PacketClassifier.Classify(datagram);
        switch (kind)
        {
            case PacketKind.Stun:
                _c.StunReceived++;
                _ice.HandleDecodedStun(now, tuple, datagram, decodedStun);
                PumpIce(now);
                break;
            case PacketKind.Dtls:
                if (_dtls is null || _ice.SelectedTuple != tuple)
                {
                    _c.DtlsFromUnselectedTuple++;
                    _metrics.Drop("dtls_unselected_tuple");
                    TransportLog.DtlsFromUnselectedTuple(_logger, tuple, _ice.SelectedTuple);
                    return;
                }

                _c.DtlsReceived++;
                _dtls.HandleDatagram(now, datagram);
                break;
            case PacketKind.Rtp:
            case PacketKind.Rtcp:
                if (_ice.SelectedTuple != tuple)
                {
                    _c.MediaFromUnselectedTuple++;
                    _metrics.Drop("media_unselected_tuple");
                    return;
                }

                if (datagram.Length > _options.MaxMediaPacketSize)
                {
                    _c.MediaTooLarge++;
                    _metrics.Drop("media_too_large");
                    return;
                }

                if (EnqueueMedia(tuple, datagram, kind == PacketKind.Rtcp ? PendingKind.RtcpReceived : PendingKind.RtpReceived))
                {
                    if (kind == PacketKind.Rtcp)
                    {
                        _c.RtcpReceived++;
                    }
                    else
                    {
                        _c.RtpReceived++;
                    }
                }

                break;
            case PacketKind.Zrtp:
                _c.ZrtpDropped++;
                _metrics.Drop("zrtp");
                break;
            case PacketKind.TurnChannel:
                _c.TurnChannelDropped++;
                _metrics.Drop("turn_channel");
                break;
            default:
                _c.UnknownDropped++;
                _metrics.Drop("unknown");
                break;
        }
    }

    /// <summary>Processes timers due at <paramref name="now"/> (consent expiry, DTLS retransmission); harmless to call early.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        if (_finished)
        {
            return;
        }

        try
        {
            HandleTimeoutCore(now);
        }
        catch (Exception ex)
        {
            FailUnexpected(ex, "a timeout");
        }
    }

    private void HandleTimeoutCore(TimeSpan now)
    {
        _ice.HandleTimeout(now);
        PumpIce(now);
        if (!_finished && _dtls is not null && now >= _dtlsDeadline)
        {
            _dtls.HandleTimeout(now);
            _dtlsDeadline = DtlsOutput.NoDeadline; // re-learned when PollOutput drains the endpoint
        }
    }

    /// <summary>
    /// Returns the next output: a datagram written into <paramref name="buffer"/> with the tuple to send it on, a received
    /// (still protected) RTP or RTCP packet written into <paramref name="buffer"/>, an event, or the next deadline.
    /// <paramref name="buffer"/> must hold at least <see cref="PollBufferSize"/> bytes; a smaller one gets
    /// <see cref="WebRtcOutputKind.BufferTooSmall"/> (with the size needed in <see cref="WebRtcOutput.Length"/>) and nothing
    /// is taken from the transport. Allocates nothing per media packet.
    /// </summary>
    public WebRtcOutput PollOutput(Span<byte> buffer)
    {
        if (buffer.Length < PollBufferSize)
        {
            return new WebRtcOutput(WebRtcOutputKind.BufferTooSmall, default, PollBufferSize, null, default);
        }

        while (true)
        {
            if (_queue.TryDequeue(out var pending))
            {
                if (pending.Event is not null)
                {
                    return new WebRtcOutput(WebRtcOutputKind.Event, default, 0, pending.Event, default);
                }

                pending.Datagram.Span.CopyTo(buffer);
                if (pending.Pooled is { } pooled)
                {
                    _freeMediaBuffers.Push(pooled);
                }

                switch (pending.Kind)
                {
                    case PendingKind.RtpReceived:
                        return new WebRtcOutput(WebRtcOutputKind.RtpReceived, pending.Tuple, pending.Datagram.Length, null, default);
                    case PendingKind.RtcpReceived:
                        return new WebRtcOutput(WebRtcOutputKind.RtcpReceived, pending.Tuple, pending.Datagram.Length, null, default);
                }

                _c.DatagramsSent++;
                return new WebRtcOutput(WebRtcOutputKind.Transmit, pending.Tuple, pending.Datagram.Length, null, default);
            }

            if (_dtls is null || _internalError)
            {
                break;
            }

            DtlsOutput output;
            try
            {
                output = _dtls.PollOutput(buffer);
                if (output.Kind == DtlsOutputKind.Event)
                {
                    OnDtlsEvent(output.Event!);
                    continue;
                }
            }
            catch (Exception ex)
            {
                FailUnexpected(ex, "DTLS output");
                continue;
            }

            if (output.Kind == DtlsOutputKind.Timeout)
            {
                _dtlsDeadline = output.Deadline;
                break;
            }

            if (_ice.SelectedTuple is { } tuple)
            {
                _c.DatagramsSent++;
                return new WebRtcOutput(WebRtcOutputKind.Transmit, tuple, output.DatagramLength, null, default);
            }

            _c.DtlsUnsentNoTuple++;
            _metrics.Drop("dtls_no_tuple");
        }

        var deadline = _finished ? DtlsOutput.NoDeadline : _dtlsDeadline;
        if (!_finished && _ice.NextDeadline < deadline)
        {
            deadline = _ice.NextDeadline;
        }

        return new WebRtcOutput(WebRtcOutputKind.Timeout, default, 0, null, deadline);
    }

    /// <summary>
    /// Queues an (already SRTP-protected) RTP or RTCP packet for the selected tuple; <see cref="PollOutput"/> hands it out as
    /// a <see cref="WebRtcOutputKind.Transmit"/>. The bytes are copied into a reused buffer (no allocation per packet).
    /// Returns false, and sends nothing, when no tuple holds consent, the transport finished, the packet is empty or larger
    /// than <see cref="WebRtcTransportOptions.MaxMediaPacketSize"/>, or the output queue is full.
    /// </summary>
    public bool SendMedia(ReadOnlySpan<byte> packet)
    {
        if (_finished || _ice.SelectedTuple is not { } tuple || packet.Length > _options.MaxMediaPacketSize || packet.IsEmpty)
        {
            return false;
        }

        return EnqueueMedia(tuple, packet, PendingKind.Transmit);
    }

    private bool EnqueueMedia(IceTuple tuple, ReadOnlySpan<byte> packet, PendingKind kind)
    {
        if (_queue.Count >= _options.MaxQueuedOutputs)
        {
            _c.QueueOverflowDrops++;
            _metrics.Drop("queue_full");
            return false;
        }

        var buffer = _freeMediaBuffers.TryPop(out var free) ? free : new byte[_options.MaxMediaPacketSize];
        packet.CopyTo(buffer);
        _queue.Enqueue(new Pending(tuple, buffer.AsMemory(0, packet.Length), null, kind, buffer));
        return true;
    }

    /// <summary>Sends DTLS application data (connected only). Returns false when not connected or too large for one record.</summary>
    public bool SendApplicationData(ReadOnlySpan<byte> data)
    {
        if (_finished || _dtls is null || _dtls.State != Dtls.DtlsState.Connected || data.Length > _dtls.MaxApplicationDataSize)
        {
            return false;
        }

        _dtls.Send(data);
        return true;
    }

    /// <summary>Keying material exporter (RFC 5705) of the connected DTLS association.</summary>
    /// <exception cref="InvalidOperationException">DTLS is not connected.</exception>
    public byte[] ExportKeyingMaterial(string label, byte[]? context, int length) =>
        _dtls is null ? throw new InvalidOperationException("DTLS has not started.") : _dtls.ExportKeyingMaterial(label, context, length);

    /// <summary>Sends close_notify on the selected tuple (if any), closes ICE and reports the closed states.</summary>
    public void Close(TimeSpan now)
    {
        if (_finished)
        {
            return;
        }

        if (_dtls is not null && _dtls.State is Dtls.DtlsState.Connecting or Dtls.DtlsState.Connected)
        {
            _dtls.Close(now);
            DrainDtlsIntoQueue();
        }

        _finished = true;
        _ice.Close();
        PumpIce(now);
        SetDtlsState(TransportDtlsState.Closed);
    }

    private void DrainDtlsIntoQueue()
    {
        var buffer = new byte[_dtlsOptions.MaxDatagramSize];
        while (true)
        {
            var output = _dtls!.PollOutput(buffer);
            if (output.Kind == DtlsOutputKind.Timeout)
            {
                _dtlsDeadline = output.Deadline;
                return;
            }

            if (output.Kind == DtlsOutputKind.Event)
            {
                OnDtlsEvent(output.Event!);
            }
            else if (_ice.SelectedTuple is { } tuple)
            {
                Enqueue(new Pending(tuple, buffer.AsSpan(0, output.DatagramLength).ToArray()));
            }
        }
    }

    private void PumpIce(TimeSpan now)
    {
        Span<byte> stun = stackalloc byte[StunResponseBufferSize];
        while (true)
        {
            var output = _ice.PollOutput(stun);
            if (output.Kind == IceOutputKind.Transmit)
            {
                Enqueue(new Pending(output.Tuple, stun[..output.Length].ToArray()));
                continue;
            }

            if (output.Kind != IceOutputKind.Event)
            {
                break; // Timeout (the deadline is read in PollOutput); BufferTooSmall cannot happen: the agent's responses fit
            }

            switch (output.Event)
            {
                case SelectedTupleChanged changed:
                    OnSelectedTupleChanged(now, changed.Tuple);
                    break;
                case IceStateChanged state:
                    TransportLog.IceState(_logger, state.State);
                    Enqueue(new Pending(new IceStateChange(state.State)));
                    if (state.State == IceState.Failed)
                    {
                        Fail(TransportFailureReason.IceFailed, "ICE consent expired on every tuple (RFC 7675) and no new check arrived within the grace period.", null);
                    }

                    break;
            }
        }
    }

    /// <summary>Room for the agent's largest response (its own writers use 256 bytes).</summary>
    private const int StunResponseBufferSize = 512;

    private void OnSelectedTupleChanged(TimeSpan now, IceTuple? tuple)
    {
        _c.TupleChanges++;
        _metrics.TupleChanges.Add(1);
        TransportLog.SelectedTuple(_logger, tuple?.ToString() ?? "(none)");
        Enqueue(new Pending(new SelectedTupleChange(tuple)));
        if (tuple is null || _finished)
        {
            return;
        }

        if (_dtls is null)
        {
            _dtls = DtlsRole == DtlsRole.Client ? DtlsEndpoint.CreateClient(_dtlsOptions, now) : DtlsEndpoint.CreateServer(_dtlsOptions, now);
            SetDtlsState(TransportDtlsState.Connecting);
        }
        else if (_dtls.State == Dtls.DtlsState.Connecting && _options.ResendFlightOnTupleChange)
        {
            // F3: the flight in progress went to the old tuple, which may be one-way. Move it now, not at the next backoff tick.
            _dtls.ResendFlight(now);
            _c.FlightResendsOnTupleChange++;
            _metrics.FlightResends.Add(1);
        }
    }

    private void OnDtlsEvent(DtlsEvent dtlsEvent)
    {
        switch (dtlsEvent)
        {
            case DtlsConnected connected:
                DtlsConnection = connected;
                SetDtlsState(TransportDtlsState.Connected);
                break;
            case DtlsKeyingMaterial km:
                Enqueue(new Pending(new KeyingMaterial(km.Profile, km.Material, DtlsRole)));
                break;
            case DtlsPeerCertificate cert:
                Enqueue(new Pending(new PeerCertificate(cert)));
                break;
            case DtlsApplicationData data:
                Enqueue(new Pending(new ApplicationDataReceived(data.Data)));
                break;
            case DtlsClosed:
                SetDtlsState(TransportDtlsState.Closed);
                break;
            case DtlsFailed failed:
                Fail(TransportFailureReason.DtlsFailed, $"DTLS failed: {failed.Reason}: {failed.Message}", failed);
                break;
        }
    }

    private void Fail(TransportFailureReason reason, string message, DtlsFailed? dtls)
    {
        if (_finished)
        {
            return;
        }

        TransportLog.Failed(_logger, reason, message);
        _metrics.Failures.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
        _finished = true;
        SetDtlsState(reason == TransportFailureReason.DtlsFailed || DtlsState != TransportDtlsState.Connected ? TransportDtlsState.Failed : TransportDtlsState.Closed);
        Enqueue(new Pending(new TransportFailed(reason, message, dtls)));
    }

    private void SetDtlsState(TransportDtlsState state)
    {
        if (DtlsState is TransportDtlsState.Failed or TransportDtlsState.Closed || DtlsState == state)
        {
            return;
        }

        DtlsState = state;
        TransportLog.DtlsState(_logger, state);
        Enqueue(new Pending(new DtlsStateChange(state)));
    }

    private bool Enqueue(Pending pending)
    {
        // State events always fit: they are few and the caller needs them; the cap bounds data (media, responses).
        if (_queue.Count >= _options.MaxQueuedOutputs && pending.Event is not (IceStateChange or DtlsStateChange or SelectedTupleChange or TransportFailed or KeyingMaterial))
        {
            _c.QueueOverflowDrops++;
            _metrics.Drop("queue_full");
            return false;
        }

        _queue.Enqueue(pending);
        return true;
    }

    private enum PendingKind : byte
    {
        Transmit,
        RtpReceived,
        RtcpReceived,
    }

    private readonly record struct Pending(IceTuple Tuple, ReadOnlyMemory<byte> Datagram, WebRtcTransportEvent? Event, PendingKind Kind, byte[]? Pooled)
    {
        public Pending(IceTuple tuple, ReadOnlyMemory<byte> datagram)
            : this(tuple, datagram, null, PendingKind.Transmit, null)
        {
        }

        public Pending(WebRtcTransportEvent transportEvent)
            : this(default, default, transportEvent, PendingKind.Transmit, null)
        {
        }
    }

    private struct Counters
    {
        public long DatagramsReceived;
        public long StunReceived;
        public long DtlsReceived;
        public long DtlsFromUnselectedTuple;
        public long DtlsUnsentNoTuple;
        public long RtpReceived;
        public long RtcpReceived;
        public long MediaFromUnselectedTuple;
        public long ZrtpDropped;
        public long TurnChannelDropped;
        public long UnknownDropped;
        public long IgnoredAfterClose;
        public long QueueOverflowDrops;
        public long TupleChanges;
        public long FlightResendsOnTupleChange;
        public long DatagramsSent;
        public long InternalErrors;
        public long MediaTooLarge;
    }
}
