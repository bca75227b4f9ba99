using System.Buffers;
using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.Reliability;

namespace Airlift.Dtls.V13;

/// <summary>One message of a flight of ours and the epoch its records go in.</summary>
internal readonly record struct Outgoing13(ulong Epoch, HandshakeMessage Message)
{
    public override string ToString() => Message.Type.ToString();
}

// Reliability the DTLS 1.3 way (RFC 9147 5.8, 7, 8): flights whose records are remembered by record number, ACKs that
// mark byte ranges of our messages as received, selective retransmission of only the unacknowledged ranges (packed
// exactly like the DTLS 1.2 engine packs: whole records, never spanning datagrams, cut where earlier transmissions cut),
// implicit acknowledgement by the peer's next flight, the ACK timer, and the same RTT, budget and path-MTU rules.
internal sealed partial class Dtls13Engine
{
    private Dictionary<(ulong Epoch, ulong Sequence), (int Message, int Offset, int Length)> _sentRecords = [];
    private List<FlightMessage>? _flight;
    private bool _flightAwaitsAck;
    private Action<TimeSpan>? _onFlightAcked;
    private int _flightNumber;
    private int _flightLargestDatagram;
    private int _flightDatagrams;
    private int _acksSent;
    private bool _handshakeReleased;

    public TimeSpan? SmoothedRtt => _pacing.SmoothedRtt;

    /// <summary>Carries the RTT the DTLS 1.2 engine measured before the version switch.</summary>
    public void AdoptRtt(TimeSpan rtt) => _pacing.SmoothedRtt = rtt;

    private TimeSpan InitialTimeout() => _pacing.InitialTimeout();

    /// <summary>RFC 9147 7.1: an ACK for a partial flight waits about a quarter of the retransmission timeout for the rest.</summary>
    private TimeSpan AckDelay()
    {
        var delay = InitialTimeout() / 4;
        return delay < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : delay;
    }

    /// <summary>
    /// Sends a new flight. Our flight implicitly acknowledges the peer's (its records need no ACK). A flight that
    /// <paramref name="awaitsAck"/> (the client's final flight, a KeyUpdate) ends when the peer acknowledges all of it;
    /// other flights end when the peer's next flight arrives (<see cref="FlightDone"/>).
    /// </summary>
    public void SendFlight(TimeSpan now, IReadOnlyList<Outgoing13> messages, bool awaitsAck, Action<TimeSpan>? onAcked = null)
    {
        var flight = new List<FlightMessage>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            flight.Add(new FlightMessage(messages[i].Epoch, messages[i].Message));
        }

        _flight = flight;
        _flightAwaitsAck = awaitsAck;
        _onFlightAcked = onAcked;
        _sentRecords.Clear();
        _received.Clear();
        _timers.Clear(EngineTimer.Ack);
        _flightNumber++;
        _pacing.StartFlight(now);
        Transmit(now, "sent");
        _timers.StartFlight(now, _timer.StartNewFlight(InitialTimeout()));
        if (awaitsAck && State == DtlsState.Connected)
        {
            _timers.Set(EngineTimer.FinalFlightRetention, now + Options.EffectiveFinalFlightRetention);
        }
    }

    /// <summary>The peer's next flight arrived: ours reached it (implicit acknowledgement, RFC 9147 7.1).</summary>
    public void FlightDone()
    {
        _flight = null;
        _sentRecords.Clear();
        _timers.Clear(EngineTimer.Retransmit);
        _timers.Clear(EngineTimer.DeferredPathResend);
    }

    /// <summary>Sends an ACK now for the peer's records received since our last flight (the final flight, KeyUpdate, or the ACK timer).</summary>
    public void SendAck(TimeSpan now)
    {
        _timers.Clear(EngineTimer.Ack);
        var epoch = BestWriteEpoch();
        if (_received.Count == 0 || epoch.Protection is null)
        {
            return;
        }

        // As many record numbers per ACK as fit the datagram size in force; more ACKs when they do not (228-byte paths).
        var room = EffectiveMaxDatagramSize - UnifiedHeader.WrittenSize - 1 - epoch.Protection.Overhead - 2;
        var perDatagram = Math.Clamp(room / AckMessage.EntrySize, 1, MaxAckedRecordsPerAck);
        Span<byte> body = stackalloc byte[2 + AckMessage.EntrySize * MaxAckedRecordsPerAck];
        for (var start = 0; start < _received.Count; start += perDatagram)
        {
            var length = AckMessage.Encode(body, _received, start, Math.Min(perDatagram, _received.Count - start));
            var size = UnifiedHeader.WrittenSize + length + 1 + epoch.Protection.Overhead;
            var datagram = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                WriteRecord(datagram.AsSpan(0, size), Wire13.Ack, epoch, body[..length]);
                _output.Datagrams.EnqueueCopy(datagram.AsSpan(0, size));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(datagram);
            }
        }

        _acksSent++;
        _trace.AckSent(now, _received.Count, epoch.Epoch);
    }

    private void HandleAck(TimeSpan now, ReadOnlySpan<byte> content)
    {
        if (!AckMessage.TryRead(content, out var records))
        {
            CountDrop("malformed-ack", s => s.DroppedMalformed++);
            return;
        }

        if (_flight is null)
        {
            return;
        }

        var newlyAcked = 0;
        ulong highestAckedSequence = 0;
        for (var i = 0; i < records.Length; i += AckMessage.EntrySize)
        {
            var number = AckMessage.EntryAt(records, i);
            if (_sentRecords.Remove(number, out var sent))
            {
                _flight[sent.Message].Ack(sent.Offset, sent.Length);
                newlyAcked++;
                highestAckedSequence = Math.Max(highestAckedSequence, number.Sequence);
            }
        }

        if (newlyAcked == 0)
        {
            return;
        }

        SampleRtt(now);
        if (_flight.TrueForAll(m => m.FullyAcked))
        {
            _trace.FlightAcknowledged(now, _flightNumber);
            _timers.Clear(EngineTimer.Retransmit);
            _timers.Clear(EngineTimer.DeferredPathResend);
            if (_flightAwaitsAck)
            {
                var done = _onFlightAcked;
                _flight = null;
                _sentRecords.Clear();
                _timers.Clear(EngineTimer.FinalFlightRetention);
                done?.Invoke(now);

                // The client's final flight is acknowledged: the server has it and will not send in epoch 2 again.
                ReleaseHandshakeState(now);
            }

            return;
        }

        // RFC 9147 7.1: records sent before an acknowledged one and not acknowledged themselves were lost: resend them now
        // (the ACK is authenticated, so only the peer can trigger this; the per-flight budget still applies).
        foreach (var ((_, sequence), _) in _sentRecords)
        {
            if (sequence < highestAckedSequence)
            {
                TriggeredResend(now, authenticated: true, "ACK shows records lost");
                break;
            }
        }
    }

    /// <summary>The output of the call made at <paramref name="handledAt"/> left at <paramref name="sentAt"/> (see <see cref="TimerTable.OutputLeft"/>).</summary>
    public void OutputLeft(TimeSpan handledAt, TimeSpan sentAt) => _timers.OutputLeft(handledAt, sentAt);

    /// <summary>Resends what the peer has not acknowledged, now, with the backoff reset (the ICE path changed, field failure F3).</summary>
    public void ResendNow(TimeSpan now)
    {
        if (_flight is null || State is DtlsState.Failed or DtlsState.Closed)
        {
            return;
        }

        switch (_pacing.PathChanged(now, out var deferUntil))
        {
            case PathChangeDecision.Refused:
                Log(now, "path changed: flight not resent (triggered-resend budget spent)");
                return;
            case PathChangeDecision.Deferred:
                _timers.Set(EngineTimer.DeferredPathResend, deferUntil);
                return;
        }

        _timers.Clear(EngineTimer.DeferredPathResend);
        if (_pacing.RestoreDatagramSize() is { } restored)
        {
            Log(now, restored);
        }

        Transmit(now, "resent (path change)");
        _timers.StartFlight(now, _timer.StartNewFlight(InitialTimeout()));
    }

    private void OnPeerProgress(TimeSpan now) => SampleRtt(now);

    private void SampleRtt(TimeSpan now)
    {
        if (_flight is not null)
        {
            _pacing.SampleRtt(now);
        }
    }

    private void OnPeerRetransmission(TimeSpan now, bool authenticated)
    {
        if (_flight is not null)
        {
            _pacing.PeerRetransmitted = true;

            // Old records in the same instant we sent (the burst that completed the peer's flight carried duplicates too)
            // crossed our flight: they say nothing about it having been lost.
            if (now == _pacing.LastTransmitAt || (!authenticated && now - _pacing.LastTransmitAt < AckDelay() * 2))
            {
                // Crossed our flight on the wire.
                Stats.SuppressedRetransmissions++;
                return;
            }

            TriggeredResend(now, authenticated, "peer retransmitted");
            return;
        }

        // The peer resends a flight we answered with an ACK (our ACK was lost): acknowledge again, within the budget.
        if (authenticated && _received.Count > 0)
        {
            if (_acksSent >= Options.MaxTriggeredResends + 1)
            {
                Stats.SuppressedRetransmissions++;
                return;
            }

            SendAck(now);
        }
    }

    private void TriggeredResend(TimeSpan now, bool authenticated, string why)
    {
        if (!_pacing.TryPeerTriggeredResend(now, authenticated))
        {
            return;
        }

        Transmit(now, $"resent ({why})");
        if (_timers.Get(EngineTimer.Retransmit) is not null)
        {
            // RFC 9147 5.8.1 (the RFC 6347 state machine): a resend passes through SENDING, which sets the retransmit timer
            // again (not doubled). Left armed, the deadline of the first send could fire moments after this resend.
            _timers.Set(EngineTimer.Retransmit, now + _timer.Current);
        }
    }

    public void HandleTimeout(TimeSpan now)
    {
        if (State == DtlsState.Connecting && _timers.IsDue(EngineTimer.HandshakeDeadline, now))
        {
            FailInternal(now, DtlsFailureReason.Timeout, $"handshake not complete after {Options.HandshakeTimeout.TotalSeconds:0.#} s (waiting in {_handshake.StateName})", null, sendAlert: false);
            return;
        }

        if (_timers.IsDue(EngineTimer.FinalFlightRetention, now))
        {
            _timers.Clear(EngineTimer.FinalFlightRetention);
            if (State == DtlsState.Connected && _flight is not null)
            {
                Log(now, "final flight never acknowledged; released");
                FlightDone();
            }

            ReleaseHandshakeState(now);
        }

        if (_timers.IsDue(EngineTimer.Ack, now))
        {
            SendAck(now);
        }

        if (_timers.IsDue(EngineTimer.DeferredPathResend, now))
        {
            _timers.Clear(EngineTimer.DeferredPathResend);
            ResendNow(now);
        }

        if (_flight is not null && _timers.IsDue(EngineTimer.Retransmit, now))
        {
            _pacing.TimedOut();
            MaybeLowerDatagramSize(now);
            _timers.Set(EngineTimer.Retransmit, now + _timer.Backoff());
            Transmit(now, $"resent (timeout #{_pacing.FlightTimeouts}, next in {_timer.Current.TotalMilliseconds:0} ms)");
            if (_flightDatagrams <= Options.RedundantRetransmitMaxDatagrams)
            {
                Transmit(now, "sent a redundant copy");
            }
        }
    }

    /// <summary>
    /// Frees what only the handshake needed once the peer can no longer ask for it (issue #13, memory per idle endpoint):
    /// the epoch-2 record protection both ways (AEAD contexts and record-number mask ciphers, disposed), the last flight's
    /// record map, the record numbers kept for ACKs, and the handshake object with its secrets (zeroed). The client calls it
    /// when the server acknowledged its final flight; the server when its retention of the handshake keys ends
    /// (<see cref="DtlsOptions.EffectiveFinalFlightRetention"/> after Connected). A late epoch-2 record after this is an
    /// unknown epoch: dropped and counted, the connection unaffected.
    /// </summary>
    private void ReleaseHandshakeState(TimeSpan now)
    {
        if (_handshakeReleased || State != DtlsState.Connected || _flight is not null)
        {
            return;
        }

        _handshakeReleased = true;
        for (var i = _readEpochs.Count - 1; i >= 0; i--)
        {
            if (_readEpochs[i].Epoch == 2)
            {
                _readEpochs[i].Protection.Dispose();
                _readEpochs.RemoveAt(i);
            }
        }

        var handshakeWrite = IndexOfWriteEpoch(2);
        if (handshakeWrite >= 0)
        {
            _writeEpochs[handshakeWrite].Protection?.Dispose();
            _writeEpochs.RemoveAt(handshakeWrite);
        }

        _sentRecords = []; // an empty map holds less than a trimmed one (TrimExcess keeps, and allocates, a minimal table)
        _received.Clear();
        _received.TrimExcess();
        _timers.Clear(EngineTimer.Ack);
        _handshake.Release();
        _handshake = ReleasedHandshake.Instance;
        Log(now, "handshake state released (epoch-2 keys, last flight, handshake secrets)");
    }

    private void MaybeLowerDatagramSize(TimeSpan now)
    {
        if (_pacing.LowerDatagramSize(_flightLargestDatagram) is { } why)
        {
            Log(now, why);
        }
    }

    private void Transmit(TimeSpan now, string what)
    {
        var flight = _flight!;
        var before = _output.Datagrams.Count;
        PackFlight(flight, EffectiveMaxDatagramSize);
        _pacing.LastTransmitAt = now;
        var count = _output.Datagrams.Count - before;
        _flightDatagrams = count;
        _trace.Transmitted(now, what, _flightNumber, PackTypes(flight), count, _flightLargestDatagram, EffectiveMaxDatagramSize);
    }

    /// <summary>The flight's message types for the trace (formatted only when read), one a byte (type + 1), at most eight.</summary>
    private static ulong PackTypes(List<FlightMessage> flight)
    {
        ulong packed = 0;
        for (var i = Math.Min(flight.Count, 8) - 1; i >= 0; i--)
        {
            packed = (packed << 8) | ((ulong)flight[i].Message.Type.Value + 1);
        }

        return packed;
    }

    /// <summary>
    /// Packs the unacknowledged byte ranges of the flight's messages into records and datagrams of at most
    /// <paramref name="maxDatagram"/> bytes (headers, content type and AEAD tag counted exactly); one fragment per record,
    /// records never span datagrams, fresh record numbers every time, each remembered for the peer's ACKs.
    /// </summary>
    private void PackFlight(List<FlightMessage> flight, int maxDatagram)
    {
        var datagram = ArrayPool<byte>.Shared.Rent(maxDatagram);
        var plaintext = ArrayPool<byte>.Shared.Rent(maxDatagram);
        var position = 0;
        _flightLargestDatagram = 0;
        try
        {
            for (var index = 0; index < flight.Count; index++)
            {
                var entry = flight[index];
                var epoch = WriteEpochAt(entry.Epoch);
                var overhead = RecordOverhead(epoch);
                var body = entry.Message.Body;
                var from = 0;
                while (entry.NextUnacked(from, out var start, out var end))
                {
                    var offset = start;
                    var written = false; // an empty range (an empty message) still needs its one fragment after a flush
                    do
                    {
                        var room = maxDatagram - position - overhead - HandshakeHeader.Size;
                        var remaining = end - offset;
                        if (room < Math.Min(1, remaining) || room < 0)
                        {
                            Flush(datagram, ref position);
                            continue;
                        }

                        var take = Math.Min(Math.Min(remaining, room), entry.NextCut(offset) - offset);
                        entry.AddCut(offset + take);
                        var w = new WireWriter(plaintext);
                        new HandshakeHeader(entry.Message.Type, body.Length, entry.Message.MessageSeq, offset, take).Write(ref w);
                        w.WriteBytes(body.AsSpan(offset, take));
                        var sequence = epoch.NextSeq;
                        position += WriteRecord(datagram.AsSpan(position, maxDatagram - position), ContentType.Handshake, epoch, w.Written);
                        _sentRecords[(epoch.Epoch, sequence)] = (index, offset, take);
                        offset += take;
                        written = true;
                    }
                    while (offset < end || !written);

                    if (end == start)
                    {
                        break; // an empty message's one range
                    }

                    from = end;
                }
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

        _output.Datagrams.EnqueueCopy(datagram.AsSpan(0, position));
        _flightLargestDatagram = Math.Max(_flightLargestDatagram, position);
        position = 0;
    }

    // ---------------------------------------------------------------- post-handshake (RFC 9147 8, RFC 8446 4.6.3)

    private Tls13KeySchedule? _schedule;
    private Tls13CipherSuiteInfo? _suite;
    private byte[]? _readSecret;
    private byte[]? _writeSecret;
    private ulong _readEpoch = 3;

    /// <summary>Keeps the application traffic secrets for KeyUpdate.</summary>
    public void SetTrafficSecrets(Tls13CipherSuiteInfo suite, Tls13KeySchedule schedule, byte[] readSecret, byte[] writeSecret)
    {
        _suite = suite;
        _schedule = schedule;
        _readSecret = readSecret;
        _writeSecret = writeSecret;
    }

    /// <summary>Starts a KeyUpdate of our sending keys (and asks the peer to update its own when <paramref name="requestPeerUpdate"/>).</summary>
    public bool UpdateKeys(TimeSpan now, bool requestPeerUpdate)
    {
        if (State != DtlsState.Connected || _flight is not null || _writeSecret is null)
        {
            return false;
        }

        var message = CreateMessage(Wire13.KeyUpdate, [(byte)(requestPeerUpdate ? 1 : 0)]);
        SendFlight(now, [new Outgoing13(_currentWriteEpoch, message)], awaitsAck: true, onAcked: NextWriteEpoch);
        return true;
    }

    private void NextWriteEpoch(TimeSpan now)
    {
        var next = _schedule!.NextTrafficSecret(_writeSecret!);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(_writeSecret);
        _writeSecret = next;
        InstallWriteKeys(_currentWriteEpoch + 1, _schedule.CreateProtection(_suite!, next), current: true);
        Stats.KeyUpdates++;
        Log(now, $"KeyUpdate acknowledged: sending in epoch {_currentWriteEpoch}");
    }

    private void OnPostHandshakeMessage(TimeSpan now, HandshakeMessage message)
    {
        if (message.Type == Wire13.KeyUpdate)
        {
            if (message.Body.Length != 1 || message.Body[0] > 1)
            {
                Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "malformed KeyUpdate");
                return;
            }

            var next = _schedule!.NextTrafficSecret(_readSecret!);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(_readSecret);
            _readSecret = next;
            _readEpoch++;
            InstallReadKeys(now, _readEpoch, _schedule.CreateProtection(_suite!, next));

            Stats.KeyUpdates++;
            Log(now, $"peer KeyUpdate: reading epoch {_readEpoch}");
            SendAck(now);
            if (message.Body[0] == 1)
            {
                UpdateKeys(now, requestPeerUpdate: false);
            }

            return;
        }

        if (message.Type == Wire13.NewSessionTicket)
        {
            // No resumption: acknowledged and forgotten.
            SendAck(now);
            return;
        }

        Fail(now, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, $"unexpected {message.Type} after the handshake");
    }

    /// <summary>Stands in for the handshake once it is released: nothing left to hold or receive.</summary>
    private sealed class ReleasedHandshake : IHandshake13
    {
        public static readonly ReleasedHandshake Instance = new();

        public string StateName => "Released";

        public void OnMessage(TimeSpan now, HandshakeMessage message, ulong epoch)
        {
        }

        public void Release()
        {
        }
    }

    /// <summary>
    /// One message of our current flight, with the byte ranges the peer acknowledged and where earlier transmissions cut it.
    /// Both lists are made on first use: a flight acknowledged implicitly and never cut (the usual case) needs neither.
    /// </summary>
    private sealed class FlightMessage(ulong epoch, HandshakeMessage message)
    {
        // Stands for "all of it acknowledged" without a list of its own (never written: compared by reference only).
        private static readonly List<(int Start, int End)> WholeMessage = [];

        private List<(int Start, int End)>? _acked;
        private List<int>? _cuts;
        private bool _emptyAcked;

        public ulong Epoch { get; } = epoch;

        public HandshakeMessage Message { get; } = message;

        public bool FullyAcked => Message.Body.Length == 0
            ? _emptyAcked
            : ReferenceEquals(_acked, WholeMessage) || (_acked is { Count: 1 } acked && acked[0].Start == 0 && acked[0].End == Message.Body.Length);

        public void Ack(int offset, int length)
        {
            if (length == 0)
            {
                _emptyAcked |= Message.Body.Length == 0;
                return;
            }

            if (_acked is null && offset == 0 && length == Message.Body.Length)
            {
                // Acknowledged whole in one record (the usual case): one range, no list.
                _acked = WholeMessage;
                return;
            }

            if (ReferenceEquals(_acked, WholeMessage))
            {
                return; // nothing left to learn about this message
            }

            var ranges = _acked ??= new List<(int Start, int End)>(2);
            var start = offset;
            var end = offset + length;
            for (var i = ranges.Count - 1; i >= 0; i--)
            {
                var (s, e) = ranges[i];
                if (s <= end && start <= e)
                {
                    start = Math.Min(start, s);
                    end = Math.Max(end, e);
                    ranges.RemoveAt(i);
                }
            }

            var at = 0;
            while (at < ranges.Count && ranges[at].Start <= start)
            {
                at++;
            }

            ranges.Insert(at, (start, end));
        }

        /// <summary>
        /// The first byte range not yet acknowledged that starts at or after <paramref name="from"/>, in order; a whole empty
        /// message is the one range (0, 0). Walking the ranges: start at 0, then continue from each range's end.
        /// </summary>
        public bool NextUnacked(int from, out int start, out int end)
        {
            start = end = 0;
            if (Message.Body.Length == 0)
            {
                return from == 0 && !_emptyAcked;
            }

            if (ReferenceEquals(_acked, WholeMessage))
            {
                return false;
            }

            var position = from;
            if (_acked is { } acked)
            {
                foreach (var (s, e) in acked)
                {
                    if (e <= position)
                    {
                        continue;
                    }

                    if (s > position)
                    {
                        (start, end) = (position, s);
                        return true;
                    }

                    position = e;
                }
            }

            if (position < Message.Body.Length)
            {
                (start, end) = (position, Message.Body.Length);
                return true;
            }

            return false;
        }

        public int NextCut(int offset)
        {
            if (_cuts is null)
            {
                return Message.Body.Length;
            }

            var i = _cuts.BinarySearch(offset + 1);
            i = i < 0 ? ~i : i;
            return i < _cuts.Count ? _cuts[i] : Message.Body.Length;
        }

        public void AddCut(int cut)
        {
            if (cut >= Message.Body.Length)
            {
                return;
            }

            _cuts ??= new List<int>(4);
            var i = _cuts.BinarySearch(cut);
            if (i < 0)
            {
                _cuts.Insert(~i, cut);
            }
        }
    }
}
