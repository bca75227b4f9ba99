using System.Buffers;
using System.Text;
using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.Records;
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
}

/// <summary>
/// The shared engine behind both roles: record layer (epochs, sequence numbers, replay windows, AEAD),
/// reassembly, flight packing into datagrams, the retransmission state machine, path-MTU fallback, the
/// output queue and the timers. Sans-IO: it never reads a clock; <c>now</c> is always an argument.
/// </summary>
internal sealed class DtlsEngine
{
    private const int MaxRecordPlaintext = 16384;
    private const int MaxTraceLines = 96;

    private readonly ILogger? _logger;
    private readonly WriteState[] _write = [new WriteState(0), new WriteState(1)];
    private readonly ReplayWindow _replay1 = new();
    private readonly List<byte[]> _earlyRecords = [];
    private readonly Queue<byte[]> _datagrams = new();
    private readonly Queue<DtlsEvent> _events = new();
    private readonly RetransmitTimer _timer;
    private readonly TimerTable _timers = new();
    private readonly List<string> _trace = [];
    private readonly TimeSpan _startedAt;

    private RecordProtection? _read1;
    private IHandshakeHandler _handler = null!;
    private IReadOnlyList<FlightEntry>? _flight;
    private bool _flightIsFinal;
    private int _flightNumber;
    private int _flightTimeouts;
    private int _flightLargestDatagram;
    private int _flightDatagrams;
    private bool _flightRetransmitted;
    private bool _peerRetransmittedThisFlight;
    private bool _datagramProgress;
    private bool _datagramOld;
    private bool _datagramOldAuthenticated;
    private TimeSpan _flightSentAt;
    private TimeSpan _lastTransmitAt;
    private TimeSpan? _lastTriggeredResend;
    private int _triggeredResends;
    private TimeSpan? _smoothedRtt;
    private bool _rttSampledThisFlight;
    private int _fallbackStep;
    private bool _anyMessageReceived;

    public DtlsEngine(DtlsOptions options, DtlsRole role, TimeSpan now)
    {
        options.Validate();
        Options = options;
        Role = role;
        _logger = options.Logger;
        Reassembler = new HandshakeReassembler(options.MaxHandshakeMessageSize, options.MaxBufferedHandshakeBytes, options.MaxFutureMessages);
        _timer = new RetransmitTimer(options.MaxRetransmitTimeout, options.RetransmitJitter, options.Random);
        EffectiveMaxDatagramSize = options.MaxDatagramSize;
        _startedAt = now;
        _timers.Set(EngineTimer.HandshakeDeadline, now + options.HandshakeTimeout);
        DtlsMetrics.HandshakesStarted.Add(1);
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

    // ---------------------------------------------------------------- input

    public void HandleDatagram(TimeSpan now, ReadOnlySpan<byte> datagram)
    {
        Stats.DatagramsReceived++;
        Stats.BytesReceived += datagram.Length;
        DtlsMetrics.DatagramsReceived.Add(1);
        if (State is DtlsState.Failed or DtlsState.Closed)
        {
            CountDrop("closed", s => s.DroppedUnexpected++);
            return;
        }

        if (datagram.IsEmpty)
        {
            CountDrop("empty-datagram", s => s.DroppedMalformed++);
            return;
        }

        var rest = datagram;
        var flightBefore = _flightNumber;
        _datagramProgress = _datagramOld = _datagramOldAuthenticated = false;
        while (!rest.IsEmpty && State is DtlsState.Connecting or DtlsState.Connected)
        {
            if (!RecordHeader.TryRead(rest, out var header) || rest.Length < RecordHeader.Size + header.Length)
            {
                // A truncated or garbled record: nothing after it can be framed either.
                CountDrop("malformed-record", s => s.DroppedMalformed++);
                break;
            }

            var record = rest[..(RecordHeader.Size + header.Length)];
            rest = rest[record.Length..];
            ProcessRecord(now, header, record);
        }

        DeliverMessages(now);

        // A datagram holding only messages we already have is the peer retransmitting its previous flight: it lacks ours.
        // One that also brought new bytes is a retransmission that filled our gaps, and we answer with our next flight instead.
        if (_datagramOld && !_datagramProgress && _flightNumber == flightBefore)
        {
            // An old message in epoch 1 passed AEAD and the replay window: only the real peer can have sent it.
            OnPeerRetransmission(now, authenticated: _datagramOldAuthenticated);
        }
    }

    private void ProcessRecord(TimeSpan now, in RecordHeader header, ReadOnlySpan<byte> record)
    {
        var versionOk = header.Version == ProtocolVersion.Dtls12 || (header.Epoch == 0 && header.Version == ProtocolVersion.Dtls10);
        if (!versionOk || header.Length > MaxRecordPlaintext + 2048)
        {
            CountDrop("bad-version-or-length", s => s.DroppedMalformed++);
            return;
        }

        var fragment = record[RecordHeader.Size..];
        if (header.Epoch == 0)
        {
            // Epoch 0 is unprotected; duplicates are resolved by message_seq in the handshake layer, so no replay window here.
            Dispatch(now, header, 0, fragment);
            return;
        }

        if (header.Epoch != 1)
        {
            CountDrop("wrong-epoch", s => s.DroppedEpoch++);
            return;
        }

        if (_read1 is null)
        {
            // Finished (or data) before we can read epoch 1: keep a few, bounded (RFC 6347 4.1).
            if (_earlyRecords.Count < Options.MaxEarlyRecords)
            {
                _earlyRecords.Add(record.ToArray());
            }
            else
            {
                CountDrop("early-record-buffer-full", s => s.DroppedEpoch++);
            }

            return;
        }

        OpenAndDispatch(now, header, fragment);
    }

    private void OpenAndDispatch(TimeSpan now, in RecordHeader header, ReadOnlySpan<byte> fragment)
    {
        if (!_replay1.IsFresh(header.SequenceNumber))
        {
            CountDrop("replay", s => s.DroppedReplay++);
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(fragment.Length, 1));
        try
        {
            if (!_read1!.TryOpen(header.EpochAndSequence, header.Type, header.Version, fragment, buffer, out var written))
            {
                // RFC 6347 4.1.2.7: invalid records are silently discarded.
                CountDrop("bad-record-mac", s => s.DroppedBadRecordMac++);
                return;
            }

            _replay1.Mark(header.SequenceNumber);
            Dispatch(now, header, 1, buffer.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    private void Dispatch(TimeSpan now, in RecordHeader header, ushort epoch, ReadOnlySpan<byte> plaintext)
    {
        var type = header.Type;
        if (type == ContentType.Handshake)
        {
            HandleHandshakeRecord(now, header, epoch, plaintext);
        }
        else if (type == ContentType.ChangeCipherSpec)
        {
            // The epoch switch is driven by key availability, not by this record: a lost CCS must not stall the handshake.
            if (plaintext.Length != 1 || plaintext[0] != 1)
            {
                CountDrop("malformed-ccs", s => s.DroppedMalformed++);
            }
        }
        else if (type == ContentType.Alert)
        {
            HandleAlert(now, epoch, plaintext);
        }
        else if (type == ContentType.ApplicationData)
        {
            if (epoch == 0 || State != DtlsState.Connected)
            {
                CountDrop("data-before-handshake", s => s.DroppedUnexpected++);
                return;
            }

            // Protected data from the peer proves it has our final flight.
            if (_flightIsFinal)
            {
                _flight = null;
                _timers.Clear(EngineTimer.FinalFlightRetention);
            }

            if (_events.Count >= Options.MaxPendingEvents)
            {
                CountDrop("event-queue-full", s => s.DroppedEventQueueFull++);
                return;
            }

            _events.Enqueue(new DtlsApplicationData(plaintext.ToArray()));
        }
        else
        {
            CountDrop("unknown-content-type", s => s.DroppedMalformed++);
        }
    }

    private void HandleHandshakeRecord(TimeSpan now, in RecordHeader record, ushort epoch, ReadOnlySpan<byte> plaintext)
    {
        var reader = new WireReader(plaintext);
        while (!reader.IsEmpty)
        {
            if (!HandshakeHeader.TryRead(ref reader, out var hs) || !reader.TryReadBytes(hs.FragmentLength, out var fragment))
            {
                CountDrop("malformed-handshake-fragment", s => s.DroppedMalformed++);
                return;
            }

            if (State == DtlsState.Connected && hs.MessageSeq >= Reassembler.NextSeq)
            {
                // A new handshake after completion is renegotiation (or a HelloRequest): refused (RFC 5746 4.4 spirit).
                if (epoch == 1)
                {
                    SendAlert(AlertLevel.Warning, AlertDescription.NoRenegotiation);
                }

                CountDrop("renegotiation", s => s.DroppedUnexpected++);
                continue;
            }

            // A server adopts only a plausible first ClientHello (message_seq 0, or 1 after a cookie exchange): adopting a
            // forged far-future message_seq would make the genuine ClientHello look old and stall the handshake.
            if (!_anyMessageReceived && (Role == DtlsRole.Client || (hs.Type == HandshakeType.ClientHello && hs.MessageSeq <= 1)))
            {
                _anyMessageReceived = true;
                if (Role == DtlsRole.Server)
                {
                    // A server adopts the client's message_seq (1 after a cookie exchange, RFC 6347 4.2.2) and answers with
                    // record sequence numbers above the ClientHello's, as the stateless HelloVerifyRequest used that one.
                    Reassembler.Reset(hs.MessageSeq);
                    NextSendSeq = hs.MessageSeq;
                    // Capped: a forged sequence number near 2^48 must not exhaust our epoch-0 numbers (WriteRecord would throw).
                    _write[0].NextSeq = Math.Max(_write[0].NextSeq, Math.Min(record.SequenceNumber + 1, RecordHeader.MaxSequenceNumber / 2));
                }
            }

            var outcome = Reassembler.Add(hs, fragment);
            switch (outcome)
            {
                case FragmentOutcome.Accepted:
                    _datagramProgress = true;
                    OnPeerProgress(now);
                    break;
                case FragmentOutcome.Old:
                    _datagramOld = true;
                    _datagramOldAuthenticated |= epoch == 1;
                    break;
                case FragmentOutcome.TooFarAhead:
                case FragmentOutcome.OverLimit:
                case FragmentOutcome.Conflict:
                    CountDrop("handshake-fragment-" + outcome.ToString().ToLowerInvariant(), s => s.DroppedHandshakeFragments++);
                    break;
            }
        }

    }

    private void HandleAlert(TimeSpan now, ushort epoch, ReadOnlySpan<byte> plaintext)
    {
        if (plaintext.Length != 2)
        {
            CountDrop("malformed-alert", s => s.DroppedMalformed++);
            return;
        }

        var level = (AlertLevel)plaintext[0];
        var description = (AlertDescription)plaintext[1];
        if (epoch == 0 && State == DtlsState.Connected)
        {
            // After the handshake only protected alerts count; an unprotected one could be forged by anyone on the path.
            CountDrop("unprotected-alert", s => s.DroppedUnexpected++);
            return;
        }

        Log(now, $"received alert {level} {description}");
        if (description == AlertDescription.CloseNotify)
        {
            State = DtlsState.Closed;
            _timers.ClearAll();
            _events.Enqueue(new DtlsClosed(ByPeer: true));
            return;
        }

        if (level == AlertLevel.Fatal)
        {
            FailInternal(now, DtlsFailureReason.PeerAlert, $"peer sent fatal alert {description}", description, sendAlert: false);
        }
    }

    private void DeliverMessages(TimeSpan now)
    {
        while (State == DtlsState.Connecting && Reassembler.TryTakeNext(out var message))
        {
            Log(now, $"received {message!.Type} seq {message.MessageSeq} ({message.Body.Length} bytes) in {_handler.StateName}");
            _handler.OnMessage(now, message);
        }
    }

    // ---------------------------------------------------------------- keys

    public void InstallWriteKeys(RecordProtection protection) => _write[1].Protection = protection;

    public void InstallReadKeys(TimeSpan now, RecordProtection protection)
    {
        _read1 = protection;
        var early = _earlyRecords.ToArray();
        _earlyRecords.Clear();
        foreach (var raw in early)
        {
            if (RecordHeader.TryRead(raw, out var header))
            {
                OpenAndDispatch(now, header, raw.AsSpan(RecordHeader.Size));
            }
        }
    }

    // ---------------------------------------------------------------- flights

    /// <summary>Creates the next handshake message of this side, numbering it.</summary>
    public HandshakeMessage CreateMessage(HandshakeType type, byte[] body) => new(type, NextSendSeq++, body);

    /// <summary>The measured round-trip time (Karn's rule: only flights sent once are sampled), if any.</summary>
    public TimeSpan? SmoothedRtt => _smoothedRtt;

    /// <summary>
    /// First retransmission timeout of a new flight: the configured value, else clamp(2 x RTT, 50 ms, 3 s) from the
    /// caller's estimate or the RTT measured on earlier flights of this handshake, else 400 ms.
    /// </summary>
    private TimeSpan InitialTimeout()
    {
        if (Options.InitialRetransmitTimeout is { } fixedTimeout)
        {
            return fixedTimeout;
        }

        var rtt = _smoothedRtt ?? Options.RttEstimate;
        return rtt is { } r
            ? TimeSpan.FromTicks(Math.Clamp(2 * r.Ticks, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(3).Ticks))
            : Options.EffectiveInitialRetransmitTimeout;
    }

    /// <summary>Writes a new flight out and arms the timer (or, for the final flight, keeps it for peer retransmissions).</summary>
    public void SendFlight(TimeSpan now, IReadOnlyList<FlightEntry> entries, bool final)
    {
        FlightState = FlightState.Sending;
        _flight = entries;
        _flightIsFinal = final;
        _flightNumber++;
        _flightTimeouts = 0;
        _flightRetransmitted = false;
        _flightSentAt = now;
        _rttSampledThisFlight = false;
        _triggeredResends = 0;
        _peerRetransmittedThisFlight = false;
        _lastTriggeredResend = null;
        _timers.Clear(EngineTimer.PartialFlight);
        Transmit(now, "sent");
        if (final)
        {
            FlightState = FlightState.Finished;
            _timers.Clear(EngineTimer.Retransmit);
            _timers.Set(EngineTimer.FinalFlightRetention, now + (Options.FinalFlightRetention ?? Options.MaxRetransmitTimeout * 2));
        }
        else
        {
            FlightState = FlightState.Waiting;
            _timers.Set(EngineTimer.Retransmit, now + _timer.StartNewFlight(InitialTimeout()));
        }
    }

    /// <summary>The peer's final flight arrived: nothing more to retransmit.</summary>
    public void FinalFlightReceived()
    {
        FlightState = FlightState.Finished;
        _flight = null;
        _timers.Clear(EngineTimer.Retransmit);
        _timers.Clear(EngineTimer.PartialFlight);
    }

    /// <summary>Resends the current flight now with the backoff reset (the path changed, e.g. a new ICE tuple).</summary>
    public void ResendNow(TimeSpan now)
    {
        if (_flight is null || State is DtlsState.Failed or DtlsState.Closed)
        {
            return;
        }

        _flightRetransmitted = true;
        Stats.TriggeredRetransmissions++;
        Transmit(now, "resent (path change)");
        if (FlightState == FlightState.Waiting)
        {
            _timers.Set(EngineTimer.Retransmit, now + _timer.StartNewFlight(InitialTimeout()));
        }
    }

    /// <summary>A fragment of the peer's next flight arrived: sample the RTT once per flight, and watch for a stalled partial flight.</summary>
    private void OnPeerProgress(TimeSpan now)
    {
        if (FlightState != FlightState.Waiting || _flight is null)
        {
            return;
        }

        if (!_rttSampledThisFlight && !_flightRetransmitted)
        {
            _rttSampledThisFlight = true;
            var sample = now - _flightSentAt;
            _smoothedRtt = _smoothedRtt is { } srtt ? TimeSpan.FromTicks((7 * srtt.Ticks + sample.Ticks) / 8) : sample;
        }

        // The rest of a flight follows its first datagram closely; if it does not, ask again early by resending ours.
        _timers.Set(EngineTimer.PartialFlight, now + PartialFlightGap());
    }

    private TimeSpan PartialFlightGap()
    {
        var gap = _smoothedRtt is { } rtt ? rtt / 2 : InitialTimeout() / 4;
        return gap < TimeSpan.FromMilliseconds(25) ? TimeSpan.FromMilliseconds(25) : gap;
    }

    private void OnPeerRetransmission(TimeSpan now, bool authenticated)
    {
        if (_flight is null || FlightState is not (FlightState.Waiting or FlightState.Finished))
        {
            return;
        }

        _peerRetransmittedThisFlight = true;

        // Old messages that arrive right after we transmitted crossed our flight on the wire: the peer has not seen it yet.
        // (Authenticated ones are each a distinct retransmission by the peer itself: answer every one, within the total cap.)
        if (!authenticated && now - _lastTransmitAt < PartialFlightGap())
        {
            Stats.SuppressedRetransmissions++;
            return;
        }

        TriggeredResend(now, authenticated, "peer retransmitted");
    }

    /// <summary>
    /// Resends our flight because the peer showed it is missing it. Budget: at most one per initial-timeout interval, unless
    /// the trigger was an authenticated record (which no one but the peer can produce or replay), and never more than
    /// <see cref="DtlsOptions.MaxTriggeredResends"/> per flight: a peer or an attacker replaying datagrams cannot make us amplify.
    /// </summary>
    private void TriggeredResend(TimeSpan now, bool authenticated, string why)
    {
        if (_triggeredResends >= Options.MaxTriggeredResends || (!authenticated && _lastTriggeredResend is { } last && now - last < InitialTimeout()))
        {
            Stats.SuppressedRetransmissions++;
            return;
        }

        _triggeredResends++;
        _lastTriggeredResend = now;
        _flightRetransmitted = true;
        Stats.TriggeredRetransmissions++;
        DtlsMetrics.Retransmissions.Add(1, new KeyValuePair<string, object?>("trigger", "peer"));
        Transmit(now, $"resent ({why})");
    }

    public void HandleTimeout(TimeSpan now)
    {
        if (State == DtlsState.Connecting && _timers.IsDue(EngineTimer.HandshakeDeadline, now))
        {
            FailInternal(now, DtlsFailureReason.Timeout, $"handshake not complete after {Options.HandshakeTimeout.TotalSeconds:0.#} s (waiting in {_handler.StateName})", null, sendAlert: false);
            return;
        }

        if (_timers.IsDue(EngineTimer.FinalFlightRetention, now))
        {
            _timers.Clear(EngineTimer.FinalFlightRetention);
            if (_flightIsFinal)
            {
                _flight = null;
            }
        }

        if (_timers.IsDue(EngineTimer.PartialFlight, now))
        {
            _timers.Clear(EngineTimer.PartialFlight);
            if (FlightState == FlightState.Waiting && _flight is not null)
            {
                TriggeredResend(now, authenticated: false, "peer flight stalled part-way");
            }
        }

        if (FlightState == FlightState.Waiting && _flight is not null && _timers.IsDue(EngineTimer.Retransmit, now))
        {
            _flightTimeouts++;
            MaybeLowerDatagramSize(now);
            _flightRetransmitted = true;
            Stats.TimeoutRetransmissions++;
            DtlsMetrics.Retransmissions.Add(1, new KeyValuePair<string, object?>("trigger", "timeout"));
            _timers.Set(EngineTimer.Retransmit, now + _timer.Backoff());
            _lastTriggeredResend = null;
            Transmit(now, $"resent (timeout #{_flightTimeouts}, next in {_timer.Current.TotalMilliseconds:0} ms)");
            if (_flightDatagrams <= Options.RedundantRetransmitMaxDatagrams)
            {
                // Like QUIC's two probe packets on PTO (RFC 9002 6.2.4): a small flight sent twice after a timeout costs a few
                // hundred bytes and spares a doubled timeout when one copy is lost.
                Transmit(now, "sent a redundant copy");
            }
        }
    }

    private void MaybeLowerDatagramSize(TimeSpan now)
    {
        // Two timeouts of the same flight whose datagrams exceed a fallback size, while the peer shows it is alive by
        // retransmitting its previous flight, look like a path-MTU black hole rather than plain loss.
        if (_flightTimeouts < 2 || !_peerRetransmittedThisFlight)
        {
            return;
        }

        var ladder = Options.DatagramSizeFallbacks;
        while (_fallbackStep < ladder.Count)
        {
            var candidate = ladder[_fallbackStep++];
            if (candidate < EffectiveMaxDatagramSize && candidate < _flightLargestDatagram)
            {
                Log(now, $"flight timed out {_flightTimeouts} times with datagrams up to {_flightLargestDatagram} bytes: lowering datagram size {EffectiveMaxDatagramSize} -> {candidate}");
                EffectiveMaxDatagramSize = candidate;
                Stats.DatagramSizeFallbacks++;
                _flightTimeouts = 0;
                return;
            }
        }
    }

    private void Transmit(TimeSpan now, string what)
    {
        var flight = _flight!;
        var before = _datagrams.Count;
        PackFlight(flight, EffectiveMaxDatagramSize);
        _lastTransmitAt = now;
        var count = _datagrams.Count - before;
        _flightDatagrams = count;
        Log(now, $"{what} flight {_flightNumber} [{string.Join(' ', flight)}] in {count} datagram(s), max {_flightLargestDatagram} bytes (limit {EffectiveMaxDatagramSize})");
    }

    /// <summary>
    /// Cuts the flight into records and packs whole records into datagrams of at most <paramref name="maxDatagram"/> bytes,
    /// counting the record header, handshake header and AEAD overhead exactly. Greedy: each datagram is filled with as
    /// much of the next message as fits before a new one starts. One message fragment per record; records never span datagrams.
    /// Every (re)transmission takes fresh record sequence numbers.
    /// </summary>
    private void PackFlight(IReadOnlyList<FlightEntry> flight, int maxDatagram)
    {
        var datagram = ArrayPool<byte>.Shared.Rent(maxDatagram);
        var plaintext = ArrayPool<byte>.Shared.Rent(maxDatagram);
        var position = 0;
        _flightLargestDatagram = 0;
        try
        {
            foreach (var entry in flight)
            {
                var state = _write[entry.Epoch];
                var overhead = RecordHeader.Size + (state.Protection?.Overhead ?? 0);
                if (entry.IsChangeCipherSpec)
                {
                    if (position + overhead + 1 > maxDatagram)
                    {
                        Flush(datagram, ref position);
                    }

                    plaintext[0] = 1;
                    position += WriteRecord(datagram.AsSpan(position, maxDatagram - position), ContentType.ChangeCipherSpec, state, plaintext.AsSpan(0, 1));
                    continue;
                }

                var message = entry.Message!;
                var body = message.Body;
                var offset = 0;
                do
                {
                    var room = maxDatagram - position - overhead - HandshakeHeader.Size;
                    var remaining = body.Length - offset;
                    if (room < Math.Min(1, remaining) || room < 0)
                    {
                        Flush(datagram, ref position);
                        continue;
                    }

                    var take = Math.Min(remaining, room);
                    var w = new WireWriter(plaintext);
                    new HandshakeHeader(message.Type, body.Length, message.MessageSeq, offset, take).Write(ref w);
                    w.WriteBytes(body.AsSpan(offset, take));
                    position += WriteRecord(datagram.AsSpan(position, maxDatagram - position), ContentType.Handshake, state, w.Written);
                    offset += take;
                }
                while (offset < body.Length);
            }

            Flush(datagram, ref position);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(datagram);
            ArrayPool<byte>.Shared.Return(plaintext, clearArray: true);
        }
    }

    private void Flush(byte[] datagram, ref int position)
    {
        if (position == 0)
        {
            return;
        }

        _datagrams.Enqueue(datagram.AsSpan(0, position).ToArray());
        _flightLargestDatagram = Math.Max(_flightLargestDatagram, position);
        position = 0;
    }

    private int WriteRecord(Span<byte> destination, ContentType type, WriteState state, ReadOnlySpan<byte> plaintext)
    {
        var sequence = state.NextSeq++;
        if (sequence > 0xFFFF_FFFF_FFFFUL)
        {
            throw new InvalidOperationException("Record sequence numbers exhausted for this epoch.");
        }

        var epochSeq = ((ulong)state.Epoch << 48) | sequence;
        int length;
        if (state.Protection is null)
        {
            plaintext.CopyTo(destination[RecordHeader.Size..]);
            length = plaintext.Length;
        }
        else
        {
            length = state.Protection.Seal(epochSeq, type, ProtocolVersion.Dtls12, plaintext, destination[RecordHeader.Size..]);
        }

        new RecordHeader(type, ProtocolVersion.Dtls12, state.Epoch, sequence, (ushort)length).Write(destination);
        return RecordHeader.Size + length;
    }

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
        _datagrams.Enqueue(datagram);
    }

    public void SendAlert(AlertLevel level, AlertDescription description)
    {
        var state = _write[1].Protection is not null ? _write[1] : _write[0];
        var datagram = new byte[RecordHeader.Size + (state.Protection?.Overhead ?? 0) + 2];
        WriteRecord(datagram, ContentType.Alert, state, [(byte)level, (byte)description]);
        _datagrams.Enqueue(datagram);
    }

    public void Close(TimeSpan now)
    {
        if (State is DtlsState.Closed or DtlsState.Failed)
        {
            return;
        }

        SendAlert(AlertLevel.Warning, AlertDescription.CloseNotify);
        State = DtlsState.Closed;
        _timers.ClearAll();
        _flight = null;
        Log(now, "closed locally");
        _events.Enqueue(new DtlsClosed(ByPeer: false));
    }

    public void Emit(DtlsEvent e) => _events.Enqueue(e);

    public void Complete(TimeSpan now, DtlsConnected connected)
    {
        State = DtlsState.Connected;
        _timers.Clear(EngineTimer.HandshakeDeadline);
        DtlsMetrics.HandshakesCompleted.Add(1);
        Log(now, $"connected: {connected.CipherSuite}, SRTP {connected.SrtpProfile?.Name ?? "none"}, datagram size {EffectiveMaxDatagramSize}");
        _events.Enqueue(connected);
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
        _timers.ClearAll();
        _flight = null;
        Log(now, $"failed: {reason}: {message}");
        DtlsMetrics.HandshakesFailed.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
        var report = reason == DtlsFailureReason.Timeout ? string.Join('\n', _trace) : null;
        _events.Enqueue(new DtlsFailed(reason, message, alert, report));
    }

    // ---------------------------------------------------------------- output

    public DtlsOutput PollOutput(Span<byte> buffer)
    {
        if (_datagrams.TryPeek(out var datagram))
        {
            if (buffer.Length < datagram.Length)
            {
                throw new ArgumentException($"Output buffer of {buffer.Length} bytes is smaller than the {datagram.Length}-byte datagram; pass at least MaxDatagramSize bytes.", nameof(buffer));
            }

            _datagrams.Dequeue();
            datagram.CopyTo(buffer);
            Stats.DatagramsSent++;
            Stats.BytesSent += datagram.Length;
            Stats.LargestDatagramSent = Math.Max(Stats.LargestDatagramSent, datagram.Length);
            DtlsMetrics.DatagramsSent.Add(1);
            return new DtlsOutput(DtlsOutputKind.Datagram, datagram.Length, null, default);
        }

        if (_events.TryDequeue(out var e))
        {
            return new DtlsOutput(DtlsOutputKind.Event, 0, e, default);
        }

        return new DtlsOutput(DtlsOutputKind.Timeout, 0, null, NextDeadline);
    }

    /// <summary>The earliest time HandleTimeout has work to do, or <see cref="DtlsOutput.NoDeadline"/>.</summary>
    public TimeSpan NextDeadline => State is DtlsState.Connecting or DtlsState.Connected ? _timers.Next : DtlsOutput.NoDeadline;

    // ---------------------------------------------------------------- diagnostics

    public void Log(TimeSpan now, string line)
    {
        var stamped = $"{(now - _startedAt).TotalMilliseconds,8:0.0} ms  {Role.ToString().ToLowerInvariant()}: {line}";
        if (_trace.Count < MaxTraceLines)
        {
            _trace.Add(stamped);
        }

        _logger?.LogDebug("{Line}", stamped);
    }

    public string Trace
    {
        get
        {
            var sb = new StringBuilder();
            foreach (var line in _trace)
            {
                sb.AppendLine(line);
            }

            return sb.ToString();
        }
    }

    private void CountDrop(string cause, Action<DtlsStats> count)
    {
        count(Stats);
        DtlsMetrics.Drop(cause);
        _logger?.LogTrace("dropped: {Cause}", cause);
    }

    private sealed class WriteState(ushort epoch)
    {
        public ushort Epoch { get; } = epoch;

        public ulong NextSeq { get; set; }

        public RecordProtection? Protection { get; set; }
    }
}
