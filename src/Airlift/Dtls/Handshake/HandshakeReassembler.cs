using Airlift.Dtls.Messages;

namespace Airlift.Dtls.Handshake;

/// <summary>Outcome of offering one handshake fragment to the <see cref="HandshakeReassembler"/>.</summary>
internal enum FragmentOutcome
{
    /// <summary>The fragment added bytes (or was a harmless duplicate of bytes already held) for a current or future message.</summary>
    Accepted,

    /// <summary>The fragment belongs to a message already delivered: the peer is retransmitting its previous flight.</summary>
    Old,

    /// <summary>The message_seq is beyond the future-message window; dropped.</summary>
    TooFarAhead,

    /// <summary>The message is larger than the configured maximum, or buffering it would exceed the byte budget; dropped.</summary>
    OverLimit,

    /// <summary>The fragment disagrees with bytes, type or length already held; the partial message was discarded.</summary>
    Conflict,
}

/// <summary>
/// Byte-range reassembly of handshake messages (RFC 6347 4.2.3): fragments may arrive in any order,
/// overlap, repeat, or be cut differently on each retransmission. Messages are delivered strictly in
/// message_seq order. Memory for a message is taken only when a plausible first fragment arrives
/// (length within <see cref="DtlsOptions.MaxHandshakeMessageSize"/> and within the per-connection budget).
/// Conflicting overlaps discard the partial message, so a forged fragment can delay a message but never
/// change its bytes.
/// </summary>
internal sealed class HandshakeReassembler
{
    private readonly int _maxMessageSize;
    private readonly int _maxBufferedBytes;
    private readonly int _maxFutureMessages;
    private readonly Dictionary<ushort, PartialMessage> _partials = [];
    private int _bufferedBytes;

    public HandshakeReassembler(int maxMessageSize, int maxBufferedBytes, int maxFutureMessages)
    {
        _maxMessageSize = maxMessageSize;
        _maxBufferedBytes = maxBufferedBytes;
        _maxFutureMessages = maxFutureMessages;
    }

    /// <summary>The message_seq of the next message to deliver.</summary>
    public ushort NextSeq { get; private set; }

    /// <summary>Bytes currently held for partial and future messages.</summary>
    public int BufferedBytes => _bufferedBytes;

    /// <summary>Starts delivery at <paramref name="seq"/>, dropping anything held (used when a server adopts the client's first message_seq).</summary>
    public void Reset(ushort seq)
    {
        _partials.Clear();
        _bufferedBytes = 0;
        NextSeq = seq;
    }

    /// <summary>
    /// Drops every partial and future message held, keeping <see cref="NextSeq"/>: called when we send a flight that the
    /// peer's next messages answer (a ClientHello with the cookie), since nothing received before it can be that answer.
    /// What is dropped came from another association on the same address (a server's previous session for a client that
    /// restarted on the same port, RFC 6347 4.2.8) or from an attacker.
    /// </summary>
    /// <returns>The number of messages dropped.</returns>
    public int DiscardBuffered()
    {
        var dropped = _partials.Count;
        _partials.Clear();
        _bufferedBytes = 0;
        return dropped;
    }

    public FragmentOutcome Add(in HandshakeHeader header, ReadOnlySpan<byte> fragment)
    {
        if (header.MessageSeq < NextSeq)
        {
            return FragmentOutcome.Old;
        }

        if (header.MessageSeq - NextSeq >= _maxFutureMessages)
        {
            return FragmentOutcome.TooFarAhead;
        }

        if (header.Length > _maxMessageSize)
        {
            return FragmentOutcome.OverLimit;
        }

        if (!_partials.TryGetValue(header.MessageSeq, out var partial))
        {
            if (_bufferedBytes + header.Length > _maxBufferedBytes)
            {
                return FragmentOutcome.OverLimit;
            }

            partial = new PartialMessage(header.Type, header.Length);
            _partials[header.MessageSeq] = partial;
            _bufferedBytes += header.Length;
        }
        else if (partial.Type != header.Type || partial.Body.Length != header.Length)
        {
            Discard(header.MessageSeq, partial);
            return FragmentOutcome.Conflict;
        }

        if (!partial.TryAdd(header.FragmentOffset, fragment))
        {
            Discard(header.MessageSeq, partial);
            return FragmentOutcome.Conflict;
        }

        return FragmentOutcome.Accepted;
    }

    /// <summary>Takes the next message when all its bytes have arrived.</summary>
    public bool TryTakeNext(out HandshakeMessage? message)
    {
        if (_partials.TryGetValue(NextSeq, out var partial) && partial.IsComplete)
        {
            _partials.Remove(NextSeq);
            _bufferedBytes -= partial.Body.Length;
            message = new HandshakeMessage(partial.Type, NextSeq, partial.Body);
            NextSeq++;
            return true;
        }

        message = null;
        return false;
    }

    private void Discard(ushort seq, PartialMessage partial)
    {
        _partials.Remove(seq);
        _bufferedBytes -= partial.Body.Length;
    }

    private sealed class PartialMessage
    {
        // Received byte ranges as sorted, non-overlapping, non-adjacent [start, end) pairs.
        // A message that arrives in one fragment (the usual case) needs no list: _whole says it is all held.
        private const int MaxRanges = 256;
        private List<(int Start, int End)>? _ranges;
        private bool _whole;

        public PartialMessage(HandshakeType type, int length)
        {
            Type = type;
            Body = new byte[length];
        }

        public HandshakeType Type { get; }

        public byte[] Body { get; }

        public bool IsComplete => Body.Length == 0 ? _seenEmpty : _whole || (_ranges is { Count: 1 } r && r[0].Start == 0 && r[0].End == Body.Length);

        private bool _seenEmpty;

        public bool TryAdd(int offset, ReadOnlySpan<byte> fragment)
        {
            if (Body.Length == 0)
            {
                _seenEmpty = true;
                return fragment.IsEmpty;
            }

            var end = offset + fragment.Length;
            if (fragment.IsEmpty)
            {
                return true;
            }

            if (_whole)
            {
                // Everything is held: the fragment must repeat it exactly.
                return end <= Body.Length && Body.AsSpan(offset, fragment.Length).SequenceEqual(fragment);
            }

            if (_ranges is null && offset == 0 && fragment.Length == Body.Length)
            {
                fragment.CopyTo(Body);
                _whole = true;
                return true;
            }

            _ranges ??= [];

            // Bytes already held must match exactly; otherwise someone is lying about the message.
            foreach (var (s, e) in _ranges)
            {
                var from = Math.Max(s, offset);
                var to = Math.Min(e, end);
                if (from < to && !Body.AsSpan(from, to - from).SequenceEqual(fragment.Slice(from - offset, to - from)))
                {
                    return false;
                }
            }

            if (_ranges.Count >= MaxRanges)
            {
                // A peer cutting a message into hundreds of disjoint pieces is not a real stack; bound the work.
                return false;
            }

            fragment.CopyTo(Body.AsSpan(offset));
            Insert(offset, end);
            return true;
        }

        private void Insert(int start, int end)
        {
            var i = 0;
            var ranges = _ranges!;
            while (i < ranges.Count && ranges[i].End < start)
            {
                i++;
            }

            while (i < ranges.Count && ranges[i].Start <= end)
            {
                start = Math.Min(start, ranges[i].Start);
                end = Math.Max(end, ranges[i].End);
                ranges.RemoveAt(i);
            }

            ranges.Insert(i, (start, end));
        }
    }
}
