using System.Diagnostics.CodeAnalysis;

namespace Airlift.NetEm;

/// <summary>
/// A deterministic, sans-IO emulated path between a client and a server. It never reads a clock: the
/// caller passes <c>now</c> to <see cref="Send"/> and <see cref="TryReceive"/>, and asks
/// <see cref="NextDeliveryTime"/> when to come back.
/// </summary>
/// <remarks>
/// <para>
/// Engine shape and drain rule (the same for every Airlift engine, see docs/architecture.md): offer datagrams with
/// <see cref="HandleDatagram"/>, tell it the time with <see cref="HandleTimeout"/>, and after each of those calls
/// <see cref="PollOutput"/> until it returns <see cref="NetEmOutputKind.Timeout"/>, whose deadline is the next delivery
/// (<see cref="NetEmOutput.NoDeadline"/>: nothing in flight). The older <see cref="Send"/> / <see cref="TryReceive"/> /
/// <see cref="NextDeliveryTime"/> members work on the same queue.
/// </para>
/// <para>
/// Determinism: each direction has its own xoshiro256** stream seeded from <see cref="NetEmOptions.Seed"/>,
/// and every datagram draws the same fixed number of values from its direction's stream whatever its
/// fate. So the fate of datagram n in a direction depends only on the seed, n, the impairment settings
/// and the datagrams themselves (size, content for scripted drops), never on the other direction, on
/// timing, or on whether an earlier datagram happened to be dropped for another reason.
/// </para>
/// <para>Not thread-safe; the proxy serialises access with a lock.</para>
/// </remarks>
public sealed class NetworkEmulator
{
    // Fixed per-datagram draws, in this order: burst loss, burst transition, loss, jitter, reorder,
    // duplicate, duplicate jitter. Changing the count changes every seeded fate: do not.
    private const int DrawsPerDatagram = 7;

    private NetEmOptions _options;
    private readonly DirectionState[] _directions;
    private readonly PriorityQueue<Pending, QueueKey> _queue = new();
    private readonly int[] _scriptRemaining;
    private readonly List<NetEmTraceEntry> _trace = [];
    private long _sendSequence;
    private long _queuedBytes;
    private long _traceOmitted;
    private TimeSpan _now = TimeSpan.MinValue;

    /// <summary>Creates an emulator; the options are validated first.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public NetworkEmulator(NetEmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _directions =
        [
            new DirectionState(options.Seed ^ 0x0C11_E17C_5E8F_0001UL),
            new DirectionState(options.Seed ^ 0x5E8F_0C11_E17C_0002UL),
        ];
        _scriptRemaining = new int[options.ScriptedDrops.Count];
        for (var i = 0; i < _scriptRemaining.Length; i++)
        {
            _scriptRemaining[i] = options.ScriptedDrops[i].Count;
        }
    }

    /// <summary>The options in use.</summary>
    public NetEmOptions Options => _options;

    /// <summary>
    /// Changes one direction's impairments from now on (a path change: e.g. ICE moving to a working tuple). Datagrams
    /// already queued keep their fates; the random streams continue, so a seeded run stays reproducible.
    /// </summary>
    public void SetImpairment(LinkDirection direction, LinkImpairment impairment)
    {
        ArgumentNullException.ThrowIfNull(impairment);
        impairment.Validate();
        _options = direction == LinkDirection.ClientToServer ? _options with { ClientToServer = impairment } : _options with { ServerToClient = impairment };
    }

    /// <summary>Delivery time of the next datagram in flight, or null when nothing is in flight.</summary>
    public TimeSpan? NextDeliveryTime => _queue.TryPeek(out _, out var key) ? key.At : null;

    /// <summary>Delivery time of the next datagram in flight, or <see cref="NetEmOutput.NoDeadline"/>: the deadline of the engine shape.</summary>
    public TimeSpan NextDeadline => _queue.TryPeek(out _, out var key) ? key.At : NetEmOutput.NoDeadline;

    /// <summary>Datagrams in flight.</summary>
    public int QueuedDatagrams => _queue.Count;

    /// <summary>The first <see cref="NetEmOptions.MaxTraceEntries"/> datagrams sent, in send order.</summary>
    public IReadOnlyList<NetEmTraceEntry> Trace => _trace;

    /// <summary>A snapshot of the counters.</summary>
    public NetEmStats Stats => new(
        _directions[0].Snapshot(),
        _directions[1].Snapshot(),
        _queue.Count,
        _queuedBytes,
        _traceOmitted);

    /// <summary>
    /// Offers a datagram to the path at time <paramref name="now"/>. The emulator decides its fate at once
    /// and, if it is forwarded, keeps a private copy until its delivery time.
    /// </summary>
    /// <param name="now">Current (virtual) time.</param>
    /// <param name="direction">Direction of travel.</param>
    /// <param name="datagram">The UDP payload; it is copied, the caller may reuse the buffer.</param>
    /// <param name="flow">A caller tag returned with the delivery (e.g. which client); not used for fates.</param>
    /// <returns>The fate of the datagram itself (a duplicate that does not fit the queue is only counted).</returns>
    public NetEmFate Send(TimeSpan now, LinkDirection direction, ReadOnlySpan<byte> datagram, int flow = 0)
    {
        if (direction is not (LinkDirection.ClientToServer or LinkDirection.ServerToClient))
        {
            throw new ArgumentOutOfRangeException(nameof(direction), direction, "Unknown direction.");
        }

        Advance(now);
        var state = _directions[(int)direction];
        var impairment = _options.For(direction);
        var index = state.Seen++;
        state.LargestSeen = Math.Max(state.LargestSeen, datagram.Length);

        Span<double> u = stackalloc double[DrawsPerDatagram];
        for (var i = 0; i < u.Length; i++)
        {
            u[i] = state.Random.NextDouble();
        }

        var burstLost = false;
        if (impairment.Burst is { } burst)
        {
            burstLost = u[0] < (state.InBadState ? burst.LossInBad : burst.LossInGood);
            state.InBadState = state.InBadState ? u[1] >= burst.PBadToGood : u[1] < burst.PGoodToBad;
        }

        NetEmFate fate;
        if (MatchesScriptedDrop(direction, index, datagram))
        {
            fate = NetEmFate.DroppedScripted;
        }
        else if (impairment.Blackhole)
        {
            fate = NetEmFate.DroppedBlackhole;
        }
        else if (datagram.Length > impairment.MaxDatagramSize)
        {
            fate = NetEmFate.DroppedOversize;
        }
        else if (burstLost)
        {
            fate = NetEmFate.DroppedBurst;
        }
        else if (u[2] < impairment.LossRate)
        {
            fate = NetEmFate.DroppedLoss;
        }
        else
        {
            fate = NetEmFate.Forwarded;
        }

        TimeSpan? deliverAt = null;
        TimeSpan? duplicateAt = null;
        var reordered = false;
        if (fate == NetEmFate.Forwarded)
        {
            var at = DeliveryTime(now, impairment, u[3]);
            reordered = u[4] < impairment.ReorderRate;
            if (reordered)
            {
                at += impairment.ReorderDelay;
            }

            if (TryEnqueue(direction, datagram, now, at, flow))
            {
                deliverAt = at;
                if (reordered)
                {
                    state.Reordered++;
                }

                if (u[5] < impairment.DuplicateRate)
                {
                    var copyAt = DeliveryTime(now, impairment, u[6]);
                    if (TryEnqueue(direction, datagram, now, copyAt, flow))
                    {
                        duplicateAt = copyAt;
                        state.Duplicated++;
                    }
                    else
                    {
                        state.DroppedQueueFull++;
                    }
                }
            }
            else
            {
                fate = NetEmFate.DroppedQueueFull;
                reordered = false;
            }
        }

        state.Count(fate);
        Record(index, now, direction, datagram, fate, deliverAt, duplicateAt, reordered);
        return fate;
    }

    /// <summary>
    /// The engine-shape name of <see cref="Send"/>: offers a datagram to the path at <paramref name="now"/> (and advances the
    /// emulator's clock to it); then drain <see cref="PollOutput"/>.
    /// </summary>
    /// <param name="now">Current (virtual) time.</param>
    /// <param name="direction">Direction of travel.</param>
    /// <param name="datagram">The UDP payload; it is copied, the caller may reuse the buffer.</param>
    /// <param name="flow">A caller tag returned with the delivery (e.g. which client); not used for fates.</param>
    /// <returns>The fate of the datagram itself.</returns>
    public NetEmFate HandleDatagram(TimeSpan now, LinkDirection direction, ReadOnlySpan<byte> datagram, int flow = 0)
        => Send(now, direction, datagram, flow);

    /// <summary>Advances the emulator's clock to <paramref name="now"/> (it never goes back); datagrams due by then become
    /// available to <see cref="PollOutput"/>.</summary>
    public void HandleTimeout(TimeSpan now) => Advance(now);

    /// <summary>
    /// Returns the next datagram due at the emulator's clock (the latest <c>now</c> given to <see cref="HandleDatagram"/> or
    /// <see cref="HandleTimeout"/>), copied into <paramref name="buffer"/>: earliest delivery time first, ties in the order
    /// they were queued. When none is due, returns <see cref="NetEmOutputKind.Timeout"/> with the next delivery time. A
    /// buffer too small for the datagram gives <see cref="NetEmOutputKind.BufferTooSmall"/> (the size needed in
    /// <see cref="NetEmOutput.Length"/>) and leaves it queued.
    /// </summary>
    public NetEmOutput PollOutput(Span<byte> buffer)
    {
        if (!_queue.TryPeek(out var head, out var key) || key.At > _now)
        {
            return new NetEmOutput(NetEmOutputKind.Timeout, default, 0, 0, default, default, NextDeadline);
        }

        if (head.Datagram.Length > buffer.Length)
        {
            return new NetEmOutput(NetEmOutputKind.BufferTooSmall, head.Direction, head.Datagram.Length, head.Flow, head.SentAt, key.At, default);
        }

        var pending = Dequeue(key);
        pending.Datagram.CopyTo(buffer);
        return new NetEmOutput(NetEmOutputKind.Deliver, pending.Direction, pending.Datagram.Length, pending.Flow, pending.SentAt, key.At, default);
    }

    private void Advance(TimeSpan now)
    {
        if (now > _now)
        {
            _now = now;
        }
    }

    private Pending Dequeue(QueueKey key)
    {
        var pending = _queue.Dequeue();
        _queuedBytes -= pending.Datagram.Length;
        var state = _directions[(int)pending.Direction];
        state.Delivered++;
        state.LargestDelivered = Math.Max(state.LargestDelivered, pending.Datagram.Length);
        return pending;
    }

    /// <summary>
    /// Takes the next datagram whose delivery time is at or before <paramref name="now"/>: earliest
    /// delivery time first, ties in the order they were queued.
    /// </summary>
    public bool TryReceive(TimeSpan now, [MaybeNullWhen(false)] out NetEmDelivery delivery)
    {
        if (!_queue.TryPeek(out _, out var key) || key.At > now)
        {
            delivery = null;
            return false;
        }

        Advance(now);
        var pending = Dequeue(key);
        delivery = new NetEmDelivery(pending.Direction, pending.Datagram, pending.SentAt, key.At, pending.Flow);
        return true;
    }

    private static TimeSpan DeliveryTime(TimeSpan now, LinkImpairment impairment, double u)
    {
        var jitterTicks = (long)Math.Round(((2 * u) - 1) * impairment.Jitter.Ticks);
        var at = now + impairment.Delay + TimeSpan.FromTicks(jitterTicks);
        return at < now ? now : at;
    }

    private bool MatchesScriptedDrop(LinkDirection direction, long index, ReadOnlySpan<byte> datagram)
    {
        if (_scriptRemaining.Length == 0)
        {
            return false;
        }

        IReadOnlyList<InspectedRecord>? records = null;
        var matched = false;
        for (var i = 0; i < _scriptRemaining.Length; i++)
        {
            var drop = _options.ScriptedDrops[i];
            if (drop.Direction != direction)
            {
                continue;
            }

            if (drop.DatagramIndex is { } first)
            {
                matched |= index >= first && index - first < drop.Count;
                continue;
            }

            if (_scriptRemaining[i] == 0)
            {
                continue;
            }

            records ??= DtlsDatagramInspector.Inspect(datagram, out _);
            var carries = drop.Dtls13Epoch is { } epoch
                ? DtlsDatagramInspector.CarriesDtls13Epoch(records, epoch)
                : DtlsDatagramInspector.CarriesHandshake(records, drop.HandshakeType);
            if (carries)
            {
                _scriptRemaining[i]--;
                matched = true;
            }
        }

        return matched;
    }

    private bool TryEnqueue(LinkDirection direction, ReadOnlySpan<byte> datagram, TimeSpan now, TimeSpan at, int flow)
    {
        if (_queue.Count >= _options.MaxQueuedDatagrams || _queuedBytes + datagram.Length > _options.MaxQueuedBytes)
        {
            return false;
        }

        _queue.Enqueue(new Pending(direction, datagram.ToArray(), now, flow), new QueueKey(at, _sendSequence++));
        _queuedBytes += datagram.Length;
        return true;
    }

    private void Record(long index, TimeSpan now, LinkDirection direction, ReadOnlySpan<byte> datagram, NetEmFate fate, TimeSpan? deliverAt, TimeSpan? duplicateAt, bool reordered)
    {
        if (_trace.Count >= _options.MaxTraceEntries)
        {
            _traceOmitted++;
            return;
        }

        _trace.Add(new NetEmTraceEntry(index, now, direction, datagram.Length, fate, deliverAt, duplicateAt, reordered, DtlsDatagramInspector.Describe(datagram)));
    }

    private sealed record Pending(LinkDirection Direction, byte[] Datagram, TimeSpan SentAt, int Flow);

    private readonly record struct QueueKey(TimeSpan At, long Sequence) : IComparable<QueueKey>
    {
        public int CompareTo(QueueKey other)
        {
            var c = At.CompareTo(other.At);
            return c != 0 ? c : Sequence.CompareTo(other.Sequence);
        }
    }

    private sealed class DirectionState(ulong seed)
    {
        public Xoshiro256StarStar Random = new(seed);
        public bool InBadState;
        public long Seen;
        public long Delivered;
        public long DroppedLoss;
        public long DroppedBurst;
        public long DroppedOversize;
        public long DroppedBlackhole;
        public long DroppedScripted;
        public long DroppedQueueFull;
        public long Duplicated;
        public long Reordered;
        public int LargestSeen;
        public int LargestDelivered;

        public void Count(NetEmFate fate)
        {
            switch (fate)
            {
                case NetEmFate.DroppedLoss: DroppedLoss++; break;
                case NetEmFate.DroppedBurst: DroppedBurst++; break;
                case NetEmFate.DroppedOversize: DroppedOversize++; break;
                case NetEmFate.DroppedBlackhole: DroppedBlackhole++; break;
                case NetEmFate.DroppedScripted: DroppedScripted++; break;
                case NetEmFate.DroppedQueueFull: DroppedQueueFull++; break;
                default: break;
            }
        }

        public NetEmDirectionStats Snapshot() => new(
            Seen, Delivered, DroppedLoss, DroppedBurst, DroppedOversize, DroppedBlackhole,
            DroppedScripted, DroppedQueueFull, Duplicated, Reordered, LargestSeen, LargestDelivered);
    }
}
