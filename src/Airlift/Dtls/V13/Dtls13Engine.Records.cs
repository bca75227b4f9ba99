using System.Buffers;
using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.Records;
using Airlift.Dtls.Reliability;

namespace Airlift.Dtls.V13;

// The record layer of DTLS 1.3 (RFC 9147 4): DTLSPlaintext in epoch 0, DTLSCiphertext with the unified header from
// epoch 2 on, record number encryption (4.2.3), sequence number and epoch reconstruction (4.2.2), replay windows per
// epoch, early records of an epoch whose keys are not installed yet, and dispatch by the inner content type.
internal sealed partial class Dtls13Engine
{
    private const int MaxReadEpochs = 3;
    private const int MaxAckedRecordsPerAck = 32;

    private readonly List<ReadEpoch> _readEpochs = [];
    // At most a few write epochs live at once (0, 2 until released, 3 and a KeyUpdate's next): a short list, searched.
    private readonly List<WriteEpoch> _writeEpochs = new(4) { new WriteEpoch(0, null) };
    private List<byte[]>? _earlyRecords; // made when the first record of a not-yet-keyed epoch arrives
    private readonly List<(ulong Epoch, ulong Sequence)> _received = [];
    private bool _datagramProgress;
    private bool _datagramOld;
    private bool _datagramOldAuthenticated;
    private ulong _currentWriteEpoch;

    /// <summary>The epoch new records of ours are written in after the handshake (3, higher after KeyUpdates).</summary>
    public ulong CurrentWriteEpoch => _currentWriteEpoch;

    public int MaxApplicationDataSize =>
        EffectiveMaxDatagramSize - UnifiedHeader.WrittenSize - 1 - (TryGetWriteEpoch(_currentWriteEpoch, out var w) ? w.Protection?.Overhead ?? 16 : 16);

    /// <summary>Sets the epoch-0 write sequence number (a server continues above the client's ClientHello record, RFC 9147 5.1).</summary>
    public void SetPlaintextWriteSequence(ulong next) => WriteEpochAt(0).NextSeq = Math.Max(WriteEpochAt(0).NextSeq, next);

    public void InstallWriteKeys(ulong epoch, Dtls13RecordProtection protection, bool current)
    {
        var index = IndexOfWriteEpoch(epoch);
        if (index >= 0)
        {
            _writeEpochs[index].Protection?.Dispose();
            _writeEpochs[index] = new WriteEpoch(epoch, protection);
        }
        else
        {
            _writeEpochs.Add(new WriteEpoch(epoch, protection));
        }
        if (current)
        {
            _currentWriteEpoch = epoch;
        }
    }

    public void InstallReadKeys(TimeSpan now, ulong epoch, Dtls13RecordProtection protection)
    {
        if (_readEpochs.Count >= MaxReadEpochs)
        {
            // The oldest epoch's records can no longer arrive in useful order: forget its keys.
            _readEpochs[0].Protection.Dispose();
            _readEpochs.RemoveAt(0);
        }

        _readEpochs.Add(new ReadEpoch(epoch, protection));
        if (_earlyRecords is not { Count: > 0 })
        {
            return;
        }

        var early = _earlyRecords.ToArray();
        _earlyRecords.Clear();
        foreach (var raw in early)
        {
            if (State is DtlsState.Connecting or DtlsState.Connected && UnifiedHeader.TryRead(raw, out var header))
            {
                ProcessCiphertext(now, header, raw);
            }

            System.Security.Cryptography.CryptographicOperations.ZeroMemory(raw);
        }
    }

    public void ReleaseKeys()
    {
        foreach (var epoch in _readEpochs)
        {
            epoch.Protection.Dispose();
        }

        _readEpochs.Clear();
        foreach (var epoch in _writeEpochs)
        {
            epoch.Protection?.Dispose();
            epoch.Protection = null;
        }

        if (_earlyRecords is { } earlyRecords)
        {
            foreach (var raw in earlyRecords)
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(raw);
            }

            earlyRecords.Clear();
        }
    }

    // ---------------------------------------------------------------- input

    public void HandleDatagram(TimeSpan now, ReadOnlySpan<byte> datagram)
    {
        Stats.DatagramsReceived++;
        Stats.BytesReceived += datagram.Length;
        _metrics.DatagramsReceived.Add(1);
        ProcessDatagram(now, datagram, replay: false);
    }

    /// <summary>Processes a datagram whose arrival was already counted (the version switch hands the first one over).</summary>
    public void ProcessDatagram(TimeSpan now, ReadOnlySpan<byte> datagram, bool replay)
    {
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
            if (UnifiedHeader.IsUnified(rest[0]))
            {
                if (!UnifiedHeader.TryRead(rest, out var unified))
                {
                    CountDrop("malformed-unified-header", s => s.DroppedMalformed++);
                    break;
                }

                var record = rest[..(unified.HeaderLength + unified.RecordLength)];
                rest = rest[record.Length..];
                ProcessCiphertext(now, unified, record);
                continue;
            }

            if (!RecordHeader.TryRead(rest, out var header) || rest.Length < RecordHeader.Size + header.Length)
            {
                CountDrop("malformed-record", s => s.DroppedMalformed++);
                break;
            }

            var plain = rest[..(RecordHeader.Size + header.Length)];
            rest = rest[plain.Length..];
            ProcessPlaintext(now, header, plain[RecordHeader.Size..]);
        }

        DeliverMessages(now);
        if (_datagramProgress || _datagramOld)
        {
            _pacing.LargestPeerDatagram = Math.Max(_pacing.LargestPeerDatagram, datagram.Length);
        }

        if (_datagramOld && !_datagramProgress && _flightNumber == flightBefore && !replay)
        {
            OnPeerRetransmission(now, _datagramOldAuthenticated);
        }
    }

    private void ProcessPlaintext(TimeSpan now, in RecordHeader header, ReadOnlySpan<byte> fragment)
    {
        // RFC 9147 4: DTLSPlaintext only in epoch 0; legacy_record_version {254, 253}, or {254, 255} on a first ClientHello.
        if (header.Epoch != 0 || header.Version.Value is not (0xFEFD or 0xFEFF) || header.Length > MaxRecordPlaintext)
        {
            CountDrop("bad-plaintext-record", s => s.DroppedMalformed++);
            return;
        }

        if (header.Type == ContentType.Handshake)
        {
            HandleHandshakeRecord(now, 0, header.SequenceNumber, fragment);
        }
        else if (header.Type == ContentType.Alert)
        {
            HandleAlert(now, 0, fragment);
        }
        else
        {
            // change_cipher_spec has no place in DTLS 1.3 (RFC 9147 5: no middlebox compatibility mode); data and ACKs
            // are always protected.
            CountDrop("unexpected-plaintext-content", s => s.DroppedUnexpected++);
        }
    }

    private void ProcessCiphertext(TimeSpan now, in UnifiedHeader header, ReadOnlySpan<byte> record)
    {
        ReadEpoch? epoch = null;
        for (var i = _readEpochs.Count - 1; i >= 0; i--)
        {
            if ((_readEpochs[i].Epoch & 0x03) == header.EpochBits)
            {
                epoch = _readEpochs[i];
                break;
            }
        }

        var ciphertext = record[header.HeaderLength..];
        if (ciphertext.Length < Dtls13RecordProtection.MaskSampleLength + 1)
        {
            CountDrop("short-ciphertext", s => s.DroppedMalformed++);
            return;
        }

        if (epoch is null)
        {
            // Records of an epoch whose keys come with a message still on its way (RFC 9147 4.2.1): keep a few, bounded.
            if (State == DtlsState.Connecting && (_earlyRecords?.Count ?? 0) < Options.MaxEarlyRecords)
            {
                (_earlyRecords ??= []).Add(record.ToArray());
            }
            else
            {
                CountDrop("unknown-epoch", s => s.DroppedEpoch++);
            }

            return;
        }

        Span<byte> unmasked = stackalloc byte[8];
        record[..header.HeaderLength].CopyTo(unmasked);
        var aad = unmasked[..header.HeaderLength];
        Span<byte> mask = stackalloc byte[2];
        epoch.Protection.ComputeMask(ciphertext[..Dtls13RecordProtection.MaskSampleLength], mask[..header.SequenceLength]);
        for (var i = 0; i < header.SequenceLength; i++)
        {
            aad[1 + i] ^= mask[i];
        }

        var wire = header.SequenceLength == 2 ? (ushort)((aad[1] << 8) | aad[2]) : aad[1];
        var expected = epoch.Replay.Highest is { } highest ? highest + 1 : 0;
        var sequence = UnifiedHeader.Reconstruct(expected, wire, 8 * header.SequenceLength);
        if (!epoch.Replay.IsFresh(sequence))
        {
            CountDrop("replay", s => s.DroppedReplay++);
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(ciphertext.Length);
        try
        {
            if (!epoch.Protection.TryOpen(sequence, aad, ciphertext, buffer, out var written))
            {
                CountDrop("bad-record-mac", s => s.DroppedBadRecordMac++);
                return;
            }

            epoch.Replay.Mark(sequence);

            // DTLSInnerPlaintext (RFC 8446 5.2): content || type || zeros; the type is the last non-zero byte.
            var end = written - 1;
            while (end >= 0 && buffer[end] == 0)
            {
                end--;
            }

            if (end < 0)
            {
                Fail(now, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, "protected record without a content type");
                return;
            }

            if (end > MaxRecordPlaintext)
            {
                Fail(now, DtlsFailureReason.DecodeError, AlertDescription.RecordOverflow, $"protected record decrypts to {end} bytes, over the 2^14 limit");
                return;
            }

            Dispatch(now, new ContentType(buffer[end]), epoch.Epoch, sequence, buffer.AsSpan(0, end));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    private void Dispatch(TimeSpan now, ContentType type, ulong epoch, ulong sequence, ReadOnlySpan<byte> content)
    {
        if (type == ContentType.Handshake)
        {
            HandleHandshakeRecord(now, epoch, sequence, content);
        }
        else if (type == Wire13.Ack)
        {
            HandleAck(now, content);
        }
        else if (type == ContentType.Alert)
        {
            HandleAlert(now, epoch, content);
        }
        else if (type == ContentType.ApplicationData)
        {
            if (epoch < 3 || State != DtlsState.Connected)
            {
                CountDrop("data-before-handshake", s => s.DroppedUnexpected++);
                return;
            }

            if (_output.TryDeliver(content))
            {
                return;
            }

            if (_output.Events.Count >= Options.MaxPendingEvents)
            {
                CountDrop("event-queue-full", s => s.DroppedEventQueueFull++);
                return;
            }

            _output.Events.Enqueue(new DtlsApplicationData(content.ToArray()));
        }
        else
        {
            CountDrop("unknown-content-type", s => s.DroppedMalformed++);
        }
    }

    /// <summary>The epoch each handshake message must arrive in (RFC 9147 5, 6): hellos in 0, the handshake in 2, post-handshake messages in 3 and later.</summary>
    private static bool EpochFits(HandshakeType type, ulong epoch) =>
        type == HandshakeType.ClientHello || type == HandshakeType.ServerHello ? epoch == 0
        : type == Wire13.KeyUpdate || type == Wire13.NewSessionTicket ? epoch >= 3
        : epoch == 2;

    private void HandleHandshakeRecord(TimeSpan now, ulong epoch, ulong sequence, ReadOnlySpan<byte> plaintext)
    {
        var reader = new WireReader(plaintext);
        var any = false;
        while (!reader.IsEmpty)
        {
            if (!HandshakeHeader.TryRead(ref reader, out var hs) || !reader.TryReadBytes(hs.FragmentLength, out var fragment))
            {
                CountDrop("malformed-handshake-fragment", s => s.DroppedMalformed++);
                return;
            }

            if (!EpochFits(hs.Type, epoch))
            {
                CountDrop("handshake-wrong-epoch", s => s.DroppedEpoch++);
                continue;
            }

            if (State == DtlsState.Connected && hs.MessageSeq >= Reassembler.NextSeq && hs.Type != Wire13.KeyUpdate && hs.Type != Wire13.NewSessionTicket)
            {
                CountDrop("post-handshake-message", s => s.DroppedUnexpected++);
                continue;
            }

            var outcome = Reassembler.Add(hs, fragment);
            switch (outcome)
            {
                case FragmentOutcome.Accepted:
                    _datagramProgress = true;
                    any = true;
                    OnPeerProgress(now);
                    break;
                case FragmentOutcome.Old:
                    _datagramOld = true;
                    _datagramOldAuthenticated |= epoch >= 2;
                    any = true;
                    break;
                default:
                    CountDrop("handshake-fragment-" + outcome.ToString().ToLowerInvariant(), s => s.DroppedHandshakeFragments++);
                    break;
            }
        }

        // Remember the record for our ACKs (RFC 9147 7): a ClientHello is answered by the server's flight, not acknowledged.
        if (any && !(Role == DtlsRole.Server && epoch == 0))
        {
            if (_received.Count >= MaxAckedRecordsPerAck)
            {
                _received.RemoveAt(0);
            }

            if (!_received.Contains((epoch, sequence)))
            {
                _received.Add((epoch, sequence));
            }

            if (State == DtlsState.Connecting && HasAckWriteKeys && _timers.Get(EngineTimer.Ack) is null)
            {
                _timers.Set(EngineTimer.Ack, now + AckDelay());
            }
        }
    }

    private void HandleAlert(TimeSpan now, ulong epoch, ReadOnlySpan<byte> plaintext)
    {
        if (plaintext.Length != 2 || (AlertLevel)plaintext[0] is not (AlertLevel.Warning or AlertLevel.Fatal))
        {
            CountDrop("malformed-alert", s => s.DroppedMalformed++);
            return;
        }

        var level = (AlertLevel)plaintext[0];
        var description = (AlertDescription)plaintext[1];
        if (epoch == 0 && (State == DtlsState.Connected || _readEpochs.Count > 0))
        {
            // Once the peer can protect its alerts, an unprotected one could come from anyone on the path.
            CountDrop("unprotected-alert", s => s.DroppedUnexpected++);
            return;
        }

        Log(now, $"received alert {level} {description}");
        if (description == AlertDescription.CloseNotify)
        {
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

        // RFC 8446 6: in TLS 1.3 every alert but close_notify and user_canceled is fatal, whatever its level.
        if (level == AlertLevel.Fatal || description != AlertDescription.UserCanceled)
        {
            FailInternal(now, DtlsFailureReason.PeerAlert, $"peer sent alert {description}", description, sendAlert: false);
        }
    }

    private void DeliverMessages(TimeSpan now)
    {
        while (State is DtlsState.Connecting or DtlsState.Connected && Reassembler.TryTakeNext(out var message))
        {
            _trace.Received(now, message!.Type, message.MessageSeq, message.Body.Length, State == DtlsState.Connected ? "Connected" : _handshake.StateName);
            if (State == DtlsState.Connected)
            {
                OnPostHandshakeMessage(now, message);
            }
            else
            {
                _handshake.OnMessage(now, message, ImpliedEpoch(message));
            }
        }
    }

    // Epoch checks happen per fragment above (EpochFits); a message's epoch is implied by its type.
    private static ulong ImpliedEpoch(HandshakeMessage message) =>
        message.Type == HandshakeType.ClientHello || message.Type == HandshakeType.ServerHello ? 0UL : 2UL;

    // ---------------------------------------------------------------- writing

    private bool HasAckWriteKeys => TryGetWriteEpoch(2, out var w) && w.Protection is not null;

    private int IndexOfWriteEpoch(ulong epoch)
    {
        for (var i = 0; i < _writeEpochs.Count; i++)
        {
            if (_writeEpochs[i].Epoch == epoch)
            {
                return i;
            }
        }

        return -1;
    }

    private bool TryGetWriteEpoch(ulong epoch, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out WriteEpoch? writeEpoch)
    {
        var index = IndexOfWriteEpoch(epoch);
        writeEpoch = index >= 0 ? _writeEpochs[index] : null;
        return writeEpoch is not null;
    }

    /// <summary>The write epoch that must exist (0 always; the current one once connected; a flight's own).</summary>
    private WriteEpoch WriteEpochAt(ulong epoch) =>
        TryGetWriteEpoch(epoch, out var writeEpoch) ? writeEpoch : throw new KeyNotFoundException($"No write epoch {epoch}.");

    public void SendAlert(AlertLevel level, AlertDescription description)
    {
        var epoch = BestWriteEpoch();
        var datagram = new byte[RecordHeader.Size + 2 + 1 + 16 + 8];
        var length = WriteRecord(datagram, ContentType.Alert, epoch, [(byte)level, (byte)description]);
        _output.Datagrams.Enqueue(datagram[..length]);
    }

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

        var epoch = WriteEpochAt(_currentWriteEpoch);
        var datagram = new byte[UnifiedHeader.WrittenSize + data.Length + 1 + epoch.Protection!.Overhead];
        WriteRecord(datagram, ContentType.ApplicationData, epoch, data);
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

        var epoch = WriteEpochAt(_currentWriteEpoch);
        var needed = UnifiedHeader.WrittenSize + data.Length + 1 + epoch.Protection!.Overhead;
        if (destination.Length < needed)
        {
            length = needed;
            return DtlsSealStatus.BufferTooSmall;
        }

        length = WriteRecord(destination, ContentType.ApplicationData, epoch, data);
        _output.CountSent(length);
        return DtlsSealStatus.Sealed;
    }

    public EngineOutput Output => _output;

    private WriteEpoch BestWriteEpoch()
    {
        if (_currentWriteEpoch >= 3 && TryGetWriteEpoch(_currentWriteEpoch, out var app) && app.Protection is not null)
        {
            return app;
        }

        return TryGetWriteEpoch(2, out var hs) && hs.Protection is not null ? hs : WriteEpochAt(0);
    }

    /// <summary>Bytes a record adds around <c>n</c> bytes of content in this epoch.</summary>
    private static int RecordOverhead(WriteEpoch epoch) =>
        epoch.Protection is null ? RecordHeader.Size : UnifiedHeader.WrittenSize + 1 + epoch.Protection.Overhead;

    /// <summary>Writes one record; returns its length. Protected records get the unified header and an encrypted sequence number.</summary>
    private int WriteRecord(Span<byte> destination, ContentType type, WriteEpoch epoch, ReadOnlySpan<byte> content)
    {
        var sequence = epoch.NextSeq++;
        if (sequence > RecordHeader.MaxSequenceNumber)
        {
            throw new InvalidOperationException("Record sequence numbers exhausted for this epoch.");
        }

        if (epoch.Protection is null)
        {
            content.CopyTo(destination[RecordHeader.Size..]);
            new RecordHeader(type, ProtocolVersion.Dtls12, 0, sequence, (ushort)content.Length).Write(destination);
            return RecordHeader.Size + content.Length;
        }

        var protection = epoch.Protection;
        var innerLength = content.Length + 1;
        var cipherLength = innerLength + protection.Overhead;
        var header = destination[..UnifiedHeader.WrittenSize];
        UnifiedHeader.Write(header, epoch.Epoch, sequence, cipherLength);
        var inner = ArrayPool<byte>.Shared.Rent(innerLength);
        try
        {
            content.CopyTo(inner);
            inner[content.Length] = type.Value;
            protection.Seal(sequence, header, inner.AsSpan(0, innerLength), destination.Slice(UnifiedHeader.WrittenSize, cipherLength));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(inner, clearArray: true);
        }

        Span<byte> mask = stackalloc byte[2];
        protection.ComputeMask(destination.Slice(UnifiedHeader.WrittenSize, Dtls13RecordProtection.MaskSampleLength), mask);
        header[1] ^= mask[0];
        header[2] ^= mask[1];
        return UnifiedHeader.WrittenSize + cipherLength;
    }

    private sealed class ReadEpoch(ulong epoch, Dtls13RecordProtection protection)
    {
        public ulong Epoch { get; } = epoch;

        public Dtls13RecordProtection Protection { get; } = protection;

        public ReplayWindow Replay { get; } = new();
    }

    private sealed class WriteEpoch(ulong epoch, Dtls13RecordProtection? protection)
    {
        public ulong Epoch { get; } = epoch;

        public ulong NextSeq { get; set; }

        public Dtls13RecordProtection? Protection { get; set; } = protection;
    }
}
