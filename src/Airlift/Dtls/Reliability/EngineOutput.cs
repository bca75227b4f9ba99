using System.Globalization;
using System.Text;
using Airlift.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Airlift.Dtls.Reliability;

/// <summary>
/// The output side both engines share: datagrams and events waiting for <c>PollOutput</c> (datagrams first, then events,
/// then the next deadline), counted into <see cref="DtlsStats"/> and the metrics as they leave.
/// </summary>
internal sealed class EngineOutput(DtlsStats stats, DtlsMetrics metrics)
{
    public DatagramQueue Datagrams { get; } = new();

    public Queue<DtlsEvent> Events { get; } = new();

    /// <summary>Copies the next datagram into <paramref name="buffer"/>, or returns the next event, or the deadline.</summary>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> is smaller than the next datagram.</exception>
    public DtlsOutput Poll(Span<byte> buffer, TimeSpan deadline)
    {
        if (Datagrams.TryPeek(out var datagram))
        {
            if (buffer.Length < datagram.Length)
            {
                throw new ArgumentException($"Output buffer of {buffer.Length} bytes is smaller than the {datagram.Length}-byte datagram; pass at least MaxDatagramSize bytes.", nameof(buffer));
            }

            var length = Datagrams.DequeueInto(buffer);
            stats.DatagramsSent++;
            stats.BytesSent += length;
            stats.LargestDatagramSent = Math.Max(stats.LargestDatagramSent, length);
            metrics.DatagramsSent.Add(1);
            return new DtlsOutput(DtlsOutputKind.Datagram, length, null, default);
        }

        return Events.TryDequeue(out var e)
            ? new DtlsOutput(DtlsOutputKind.Event, 0, e, default)
            : new DtlsOutput(DtlsOutputKind.Timeout, 0, null, deadline);
    }

    /// <summary>Counts a datagram that left without the queue (sealed straight into the caller's buffer).</summary>
    public void CountSent(int length)
    {
        stats.DatagramsSent++;
        stats.BytesSent += length;
        stats.LargestDatagramSent = Math.Max(stats.LargestDatagramSent, length);
        metrics.DatagramsSent.Add(1);
    }

    private Memory<byte> _sink;
    private bool _sinkOpen;
    private DtlsReceiveResult _sinkResult;

    /// <summary>Starts a zero-allocation receive: the first application-data record goes into <paramref name="target"/>.</summary>
    public void OpenSink(Memory<byte> target)
    {
        _sink = target;
        _sinkOpen = true;
        _sinkResult = default;
    }

    /// <summary>Ends the receive started by <see cref="OpenSink"/> and returns what it delivered.</summary>
    public DtlsReceiveResult CloseSink()
    {
        _sink = default;
        _sinkOpen = false;
        return _sinkResult;
    }

    /// <summary>The result of the last closed sink.</summary>
    public DtlsReceiveResult LastSinkResult => _sinkResult;

    /// <summary>
    /// Delivers decrypted application data into the open sink; false when there is none, it was used already, or the data
    /// does not fit (then the caller queues the event as before and the result says BufferTooSmall).
    /// </summary>
    public bool TryDeliver(ReadOnlySpan<byte> plaintext)
    {
        if (!_sinkOpen || _sinkResult.Status != DtlsReceiveStatus.None)
        {
            return false;
        }

        if (plaintext.Length > _sink.Length)
        {
            _sinkResult = new DtlsReceiveResult(DtlsReceiveStatus.BufferTooSmall, plaintext.Length);
            return false;
        }

        plaintext.CopyTo(_sink.Span);
        _sinkResult = new DtlsReceiveResult(DtlsReceiveStatus.Received, plaintext.Length);
        return true;
    }

    public void Clear()
    {
        Datagrams.Clear();
        Events.Clear();
    }
}

/// <summary>
/// Datagrams waiting for <c>PollOutput</c>. A datagram handed over as an array is queued as it is; one copied in with
/// <see cref="EnqueueCopy"/> (every handshake flight) goes into a buffer rented from the shared pool and returned when it
/// is copied out or the queue is cleared, so a flight costs no array per datagram.
/// </summary>
internal sealed class DatagramQueue
{
    private readonly Queue<(byte[] Buffer, int Length, bool Pooled)> _queue = new();

    public int Count => _queue.Count;

    /// <summary>Queues <paramref name="datagram"/> itself (no copy).</summary>
    public void Enqueue(byte[] datagram) => _queue.Enqueue((datagram, datagram.Length, false));

    /// <summary>Queues a copy of <paramref name="datagram"/> in a pooled buffer.</summary>
    public void EnqueueCopy(ReadOnlySpan<byte> datagram)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(datagram.Length);
        datagram.CopyTo(buffer);
        _queue.Enqueue((buffer, datagram.Length, true));
    }

    /// <summary>The next datagram, not dequeued.</summary>
    public bool TryPeek(out ReadOnlyMemory<byte> datagram)
    {
        if (_queue.TryPeek(out var entry))
        {
            datagram = entry.Buffer.AsMemory(0, entry.Length);
            return true;
        }

        datagram = default;
        return false;
    }

    /// <summary>Copies the next datagram into <paramref name="destination"/> (which must be large enough) and dequeues it.</summary>
    public int DequeueInto(Span<byte> destination)
    {
        var (buffer, length, pooled) = _queue.Dequeue();
        buffer.AsSpan(0, length).CopyTo(destination);
        if (pooled)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        return length;
    }

    /// <summary>Drops every queued datagram, returning pooled buffers.</summary>
    public void Clear()
    {
        while (_queue.TryDequeue(out var entry))
        {
            if (entry.Pooled)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(entry.Buffer);
            }
        }
    }
}

/// <summary>
/// The handshake timeline both engines keep (bounded), stamped with the time since the handshake began and the role, sent to
/// the logger at Debug, and attached to a timeout failure as its report. Entries are kept as values (the time, and either a
/// line or the fields of a received message) and formatted only when read or when a logger is listening at Debug: a
/// handshake nobody inspects formats nothing but the few lines its callers already built.
/// </summary>
internal sealed class EngineTrace(DtlsRole role, TimeSpan startedAt, ILogger? logger, DtlsMetrics metrics, int capacity = EngineTrace.Dtls12Capacity)
{
    /// <summary>Entries of a DTLS 1.2 handshake without losses (about ten a side): the list is allocated once.</summary>
    public const int Dtls12Capacity = 12;

    /// <summary>
    /// Entries of a DTLS 1.3 handshake without losses, the DTLS 1.2 engine's first ones included (the DTLS 1.3 engine takes
    /// the timeline over at the version switch): 10 for a server, 13 for a client.
    /// </summary>
    public const int Dtls13Capacity = 16;

    private const int MaxLines = 96;

    private readonly List<Entry> _entries = new(capacity);
    private readonly bool _logging = logger?.IsEnabled(LogLevel.Debug) == true;

    /// <summary>Adds a line and logs it.</summary>
    public void Log(TimeSpan now, string line)
    {
        Keep(new Entry((now - startedAt).Ticks, EntryKind.Line, line, default, 0, 0, null));
        if (_logging)
        {
            DtlsLog.Timeline(logger!, Stamp(now - startedAt, line));
        }
    }

    /// <summary>
    /// "{what} flight {number} [{types}] in {count} datagram(s), max {largest} bytes (limit {limit})", kept as fields;
    /// <paramref name="types"/> holds up to eight handshake types, one a byte from the low end (type + 1; 0xFF a
    /// ChangeCipherSpec; 0 ends the list).
    /// </summary>
    public void Transmitted(TimeSpan now, string what, int number, ulong types, int count, int largest, int limit)
    {
        var entry = new Entry((now - startedAt).Ticks, EntryKind.Transmitted, what, default, number, count, null, types, largest, limit);
        Keep(entry);
        if (_logging)
        {
            DtlsLog.Timeline(logger!, Format(entry));
        }
    }

    /// <summary>"negotiated {suite}, {group}, {scheme}, EMS {ems}, SRTP {srtp}", kept as fields.</summary>
    public void Negotiated(TimeSpan now, CipherSuite suite, NamedGroup group, SignatureScheme scheme, bool ems, string srtp)
    {
        var fields = ((ulong)suite.Value << 32) | ((ulong)group.Value << 16) | scheme.Value;
        var entry = new Entry((now - startedAt).Ticks, EntryKind.Negotiated, null, default, ems ? 1 : 0, 0, srtp, fields, 0, 0);
        Keep(entry);
        if (_logging)
        {
            DtlsLog.Timeline(logger!, Format(entry));
        }
    }

    /// <summary>
    /// DTLS 1.3's "negotiated DTLS 1.3, {suite}, {group}, {scheme}, SRTP {srtp}" (the server) or, without a scheme,
    /// "server chose DTLS 1.3, {suite}, {group}" (the client), kept as fields.
    /// </summary>
    public void Negotiated13(TimeSpan now, CipherSuite suite, NamedGroup group, SignatureScheme? scheme, string? srtp)
    {
        var fields = ((ulong)suite.Value << 32) | ((ulong)group.Value << 16) | (ulong)(scheme?.Value ?? 0);
        Add(new Entry((now - startedAt).Ticks, EntryKind.Negotiated13, null, default, scheme is null ? 0 : 1, 0, srtp, fields, 0, 0));
    }

    /// <summary>DTLS 1.3's "connected: DTLS 1.3, {suite}, SRTP {srtp}, datagram size {size}", kept as fields.</summary>
    public void Connected13(TimeSpan now, CipherSuite suite, string srtp, int datagramSize) =>
        Add(new Entry((now - startedAt).Ticks, EntryKind.Connected13, null, default, 0, 0, srtp, suite.Value, datagramSize, 0));

    /// <summary>DTLS 1.3's "sent ACK of {count} record(s) in epoch {epoch}", kept as fields.</summary>
    public void AckSent(TimeSpan now, int count, ulong epoch) =>
        Add(new Entry((now - startedAt).Ticks, EntryKind.AckSent, null, default, count, 0, null, epoch, 0, 0));

    /// <summary>DTLS 1.3's "flight {number} acknowledged", kept as fields.</summary>
    public void FlightAcknowledged(TimeSpan now, int number) =>
        Add(new Entry((now - startedAt).Ticks, EntryKind.FlightAcknowledged, null, default, number, 0, null, 0, 0, 0));

    /// <summary>"received {type} seq {seq} ({length} bytes) in {state}", kept as fields.</summary>
    public void Received(TimeSpan now, HandshakeType type, int messageSeq, int length, string state)
    {
        var entry = new Entry((now - startedAt).Ticks, EntryKind.Received, null, type, messageSeq, length, state);
        Keep(entry);
        if (_logging)
        {
            DtlsLog.Timeline(logger!, Format(entry));
        }
    }

    /// <summary>
    /// Records a failure: the metric, the trace line, and the <see cref="DtlsFailed"/> event (with the timeline when the
    /// handshake timed out) queued before the line is logged, so the failure is reported even if the logger throws.
    /// </summary>
    public void Failed(TimeSpan now, DtlsFailureReason reason, string message, AlertDescription? alert, Queue<DtlsEvent> events)
    {
        metrics.HandshakesFailed.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
        var line = $"failed: {reason}: {message}";
        Keep(new Entry((now - startedAt).Ticks, EntryKind.Line, line, default, 0, 0, null));
        events.Enqueue(new DtlsFailed(reason, message, alert, reason == DtlsFailureReason.Timeout ? Report : null));
        if (logger is not null)
        {
            DtlsLog.Timeline(logger, Stamp(now - startedAt, line));
        }
    }

    /// <summary>The lines joined by newlines (a failure report).</summary>
    public string Report
    {
        get
        {
            var sb = new StringBuilder();
            for (var i = 0; i < _entries.Count; i++)
            {
                if (i > 0)
                {
                    sb.Append('\n');
                }

                sb.Append(Format(_entries[i]));
            }

            return sb.ToString();
        }
    }

    /// <summary>The lines, one per line.</summary>
    public string Text
    {
        get
        {
            var sb = new StringBuilder();
            foreach (var entry in _entries)
            {
                sb.AppendLine(Format(entry));
            }

            return sb.ToString();
        }
    }

    private void Add(Entry entry)
    {
        Keep(entry);
        if (_logging)
        {
            DtlsLog.Timeline(logger!, Format(entry));
        }
    }

    private void Keep(Entry entry)
    {
        if (_entries.Count < MaxLines)
        {
            _entries.Add(entry);
        }
    }

    private string Format(Entry entry)
    {
        var at = TimeSpan.FromTicks(entry.AtTicks);
        switch (entry.Kind)
        {
            case EntryKind.Received:
                return Stamp(at, string.Create(CultureInfo.InvariantCulture, $"received {entry.Type} seq {entry.MessageSeq} ({entry.Length} bytes) in {entry.State}"));
            case EntryKind.Transmitted:
                var types = new StringBuilder();
                for (var packed = entry.Fields; (packed & 0xFF) != 0; packed >>= 8)
                {
                    types.Append(types.Length > 0 ? " " : string.Empty)
                        .Append((packed & 0xFF) == 0xFF ? "CCS" : new HandshakeType((byte)((packed & 0xFF) - 1)).ToString());
                }

                return Stamp(at, string.Create(CultureInfo.InvariantCulture, $"{entry.Line} flight {entry.MessageSeq} [{types}] in {entry.Length} datagram(s), max {entry.A} bytes (limit {entry.B})"));
            case EntryKind.Negotiated:
                var suite = new CipherSuite((ushort)(entry.Fields >> 32));
                var group = new NamedGroup((ushort)(entry.Fields >> 16));
                var scheme = new SignatureScheme((ushort)entry.Fields);
                return Stamp(at, string.Create(CultureInfo.InvariantCulture, $"negotiated {suite}, {group}, {scheme}, EMS {entry.MessageSeq != 0}, SRTP {entry.State}"));
            case EntryKind.Negotiated13:
                var suite13 = new CipherSuite((ushort)(entry.Fields >> 32));
                var group13 = new NamedGroup((ushort)(entry.Fields >> 16));
                return Stamp(at, entry.MessageSeq != 0
                    ? string.Create(CultureInfo.InvariantCulture, $"negotiated DTLS 1.3, {suite13}, {group13}, {new SignatureScheme((ushort)entry.Fields)}, SRTP {entry.State ?? "none"}")
                    : string.Create(CultureInfo.InvariantCulture, $"server chose DTLS 1.3, {suite13}, {group13}"));
            case EntryKind.Connected13:
                return Stamp(at, string.Create(CultureInfo.InvariantCulture, $"connected: DTLS 1.3, {new CipherSuite((ushort)entry.Fields)}, SRTP {entry.State}, datagram size {entry.A}"));
            case EntryKind.AckSent:
                return Stamp(at, string.Create(CultureInfo.InvariantCulture, $"sent ACK of {entry.MessageSeq} record(s) in epoch {entry.Fields}"));
            case EntryKind.FlightAcknowledged:
                return Stamp(at, string.Create(CultureInfo.InvariantCulture, $"flight {entry.MessageSeq} acknowledged"));
            default:
                return Stamp(at, entry.Line!);
        }
    }

    private string Stamp(TimeSpan at, string line) =>
        string.Create(CultureInfo.InvariantCulture, $"{at.TotalMilliseconds,8:0.0} ms  {role.ToString().ToLowerInvariant()}: {line}");

    private enum EntryKind : byte
    {
        Line,
        Received,
        Transmitted,
        Negotiated,
        Negotiated13,
        Connected13,
        AckSent,
        FlightAcknowledged,
    }

    /// <summary>
    /// One timeline entry: a line, or the fields of a received message, a transmitted flight, the negotiated parameters or
    /// another fixed DTLS 1.3 line, formatted only when read.
    /// </summary>
    private readonly record struct Entry(
        long AtTicks, EntryKind Kind, string? Line, HandshakeType Type, int MessageSeq, int Length, string? State, ulong Fields = 0, int A = 0, int B = 0);
}
