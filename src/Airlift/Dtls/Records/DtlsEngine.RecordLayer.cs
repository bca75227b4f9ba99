using System.Buffers;
using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.Reliability;

namespace Airlift.Dtls;

// The record layer of the engine (RFC 6347 4.1): framing received datagrams into records, epochs, the replay window,
// AEAD open, early next-epoch records, dispatch by content type, and writing protected records.
internal sealed partial class DtlsEngine
{
    // ---------------------------------------------------------------- input

    public void HandleDatagram(TimeSpan now, ReadOnlySpan<byte> datagram)
    {
        Stats.DatagramsReceived++;
        Stats.BytesReceived += datagram.Length;
        _metrics.DatagramsReceived.Add(1);
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
        var early13 = ReadOnlySpan<byte>.Empty;
        var flightBefore = _flightNumber;
        _datagramProgress = _datagramOld = _datagramOldAuthenticated = false;
        while (!rest.IsEmpty && State is DtlsState.Connecting or DtlsState.Connected)
        {
            if (Role == DtlsRole.Client && Options.AllowsDtls13 && (rest[0] & 0xE0) == 0x20)
            {
                // A DTLS 1.3 record (unified header): kept below unless this datagram's ServerHello switches us to DTLS 1.3.
                early13 = rest;
                break;
            }

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
        if (!early13.IsEmpty && State is DtlsState.Connecting or DtlsState.Connected)
        {
            // DTLS 1.3 records before the ServerHello that switches us to DTLS 1.3 (it was lost or reordered): kept, bounded,
            // for the DTLS 1.3 engine, which reads them once the handshake keys exist. After a switch (this engine handed off)
            // the endpoint hands the whole datagram to the DTLS 1.3 engine instead: no copy.
            KeepEarlyDtls13Datagram(early13);
        }

        if (_datagramProgress || _datagramOld)
        {
            // The datagram carried handshake data of this session: the path from the peer carries its size.
            _pacing.LargestPeerDatagram = Math.Max(_pacing.LargestPeerDatagram, datagram.Length);
        }

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
            if (header.Length > MaxRecordPlaintext)
            {
                // RFC 6347 4.1: at most 2^14 bytes of plaintext; unauthenticated, so dropped rather than fatal.
                CountDrop("plaintext-record-overflow", s => s.DroppedMalformed++);
                return;
            }

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
            if (written > MaxRecordPlaintext)
            {
                // RFC 5246 6.2.3: authentic, so the peer itself broke the limit.
                Fail(now, DtlsFailureReason.DecodeError, AlertDescription.RecordOverflow, $"protected record decrypts to {written} bytes, over the 2^14 limit");
                return;
            }

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

            if (_output.TryDeliver(plaintext))
            {
                return;
            }

            if (_output.Events.Count >= Options.MaxPendingEvents)
            {
                CountDrop("event-queue-full", s => s.DroppedEventQueueFull++);
                return;
            }

            _output.Events.Enqueue(new DtlsApplicationData(plaintext.ToArray()));
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

            // Each handshake message belongs to one epoch (RFC 6347 4.1, RFC 5246 7.4.9): in a DTLS 1.2 handshake only
            // Finished follows ChangeCipherSpec. A Finished in plaintext, or a hello in epoch 1, is not the peer's handshake.
            var expectedEpoch = hs.Type == HandshakeType.Finished ? 1 : 0;
            if (epoch != expectedEpoch)
            {
                CountDrop("handshake-wrong-epoch", s => s.DroppedEpoch++);
                continue;
            }

            // A server adopts only a plausible first ClientHello (message_seq 0, or 1 after a cookie exchange): adopting a
            // forged far-future message_seq would make the genuine ClientHello look old and stall the handshake.
            // After a verified cookie the ClientHello is the one that carried it: a client that followed several
            // HelloVerifyRequests (the cookie secret rotated) numbers it 2 or more (RFC 6347 4.2.2).
            var plausibleSeq = hs.MessageSeq <= 1 || (CookieVerified && hs.MessageSeq <= MaxCookieExchanges);
            if (!_anyMessageReceived && (Role == DtlsRole.Client || (hs.Type == HandshakeType.ClientHello && plausibleSeq)))
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
        if (level is not (AlertLevel.Warning or AlertLevel.Fatal))
        {
            CountDrop("malformed-alert-level", s => s.DroppedMalformed++);
            return;
        }

        if (epoch == 0 && State == DtlsState.Connected)
        {
            // After the handshake only protected alerts count; an unprotected one could be forged by anyone on the path.
            CountDrop("unprotected-alert", s => s.DroppedUnexpected++);
            return;
        }

        Log(now, $"received alert {level} {description}");
        if (description == AlertDescription.CloseNotify)
        {
            // RFC 5246 7.2.1: answer with our own close_notify, then nothing more is read or written.
            if (State == DtlsState.Connected)
            {
                SendAlert(AlertLevel.Warning, AlertDescription.CloseNotify);
            }

            State = DtlsState.Closed;
            _flight = null;
            ReleaseKeys();
            _timers.ClearAll();
            _output.Events.Enqueue(new DtlsClosed(ByPeer: true));
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
            _trace.Received(now, message!.Type, message.MessageSeq, message.Body.Length, _handler.StateName);
            _handler.OnMessage(now, message);
        }
    }

    private readonly List<(long Datagram, byte[] Records)> _earlyDtls13 = [];

    /// <summary>
    /// Unified-header records that arrived before the ServerHello switched this client to DTLS 1.3 (at most
    /// <see cref="DtlsOptions.MaxEarlyRecords"/> datagrams' worth), with the number of the datagram that carried them.
    /// </summary>
    public IReadOnlyList<(long Datagram, byte[] Records)> EarlyDtls13Datagrams => _earlyDtls13;

    private void KeepEarlyDtls13Datagram(ReadOnlySpan<byte> records)
    {
        if (_earlyDtls13.Count < Options.MaxEarlyRecords)
        {
            _earlyDtls13.Add((Stats.DatagramsReceived, records.ToArray()));
        }
        else
        {
            CountDrop("early-dtls13-buffer-full", s => s.DroppedEpoch++);
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

    // ---------------------------------------------------------------- writing records

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

    private sealed class WriteState(ushort epoch)
    {
        public ushort Epoch { get; } = epoch;

        public ulong NextSeq { get; set; }

        public RecordProtection? Protection { get; set; }
    }
}
