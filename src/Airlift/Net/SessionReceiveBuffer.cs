using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Airlift.Dtls;

namespace Airlift.Net;

/// <summary>
/// The received application data of one session, kept as length-prefixed records in one ring of bytes (allocated at the first
/// record, never grown) until the application reads them with <see cref="ReceiveAsync"/>: the socket loop opens each record
/// into its own buffer and copies the plaintext here, the reader copies it into the caller's buffer. Nothing is allocated per
/// record on either side once the ring exists (the reader's await uses a pooled state machine and this object as its
/// <see cref="IValueTaskSource{TResult}"/>). Bounded: a record that does not fit is dropped and counted (the peer's
/// protocol recovers it like a lost datagram). One reader at a time.
/// </summary>
internal sealed class SessionReceiveBuffer : IValueTaskSource<bool>
{
    private const int Prefix = 4;

    /// <summary>The prefix keeps the length in its low 24 bits (records are datagram-sized) and the record's tag above.</summary>
    private const int LengthMask = 0xFF_FFFF;

    private readonly Lock _lock = new();
    private readonly int _capacity;
    private byte[]? _ring;
    private int _head;
    private int _used;
    private bool _ended;
    private bool _waiting;
    private bool _reading;
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = true };

    public SessionReceiveBuffer(int capacity) => _capacity = capacity;

    /// <summary>Records dropped because the ring was full.</summary>
    public long Dropped { get; private set; }

    /// <summary>Bytes of the ring in use (prefixes included).</summary>
    public int Buffered
    {
        get
        {
            lock (_lock)
            {
                return _used;
            }
        }
    }

    /// <summary>
    /// The tag of the record the last <see cref="ReceiveAsync"/> returned (<see cref="DtlsReceiveStatus.Received"/> or
    /// <see cref="DtlsReceiveStatus.BufferTooSmall"/>); read by the one reader after its receive completed.
    /// </summary>
    public byte LastTag { get; private set; }

    /// <summary>Writer (the loop): appends one record with an optional <paramref name="tag"/> (read back as <see cref="LastTag"/>);
    /// false (counted) when it does not fit or the session ended.</summary>
    public bool TryWrite(ReadOnlySpan<byte> record, byte tag = 0)
    {
        if (record.Length > LengthMask)
        {
            throw new ArgumentOutOfRangeException(nameof(record), "A record is at most 16 MiB.");
        }

        bool wake;
        lock (_lock)
        {
            if (_ended)
            {
                return false;
            }

            if (Prefix + record.Length > _capacity - _used)
            {
                Dropped++;
                return false;
            }

            _ring ??= GC.AllocateUninitializedArray<byte>(_capacity);
            Span<byte> prefix = stackalloc byte[Prefix];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(prefix, record.Length | (tag << 24));
            Put(prefix);
            Put(record);
            wake = TakeWaiterLocked();
        }

        if (wake)
        {
            _signal.SetResult(true);
        }

        return true;
    }

    /// <summary>Writer: no more records will come (closed, failed, removed); the reader gets what is buffered, then the end.</summary>
    public void End()
    {
        bool wake;
        lock (_lock)
        {
            _ended = true;
            wake = TakeWaiterLocked();
        }

        if (wake)
        {
            _signal.SetResult(true);
        }
    }

    /// <summary>
    /// Copies the next record into <paramref name="destination"/>: <see cref="DtlsReceiveStatus.Received"/> with its length;
    /// <see cref="DtlsReceiveStatus.BufferTooSmall"/> with the size needed (the record stays); <see cref="DtlsReceiveStatus.None"/>
    /// once the session ended and nothing is left. Waits while the ring is empty.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another receive is already waiting.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first (nothing is taken).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<DtlsReceiveResult> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_reading)
            {
                throw new InvalidOperationException("Only one receive at a time may wait on a session.");
            }

            _reading = true;
        }

        try
        {
            while (true)
            {
                short version;
                lock (_lock)
                {
                    if (TryReadLocked(destination.Span, out var result))
                    {
                        return result;
                    }

                    if (_ended)
                    {
                        return default;
                    }

                    cancellationToken.ThrowIfCancellationRequested();
                    _signal.Reset();
                    _waiting = true;
                    version = _signal.Version;
                }

                using (cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(static s => ((SessionReceiveBuffer)s!).WakeReader(), this) : default)
                {
                    await new ValueTask<bool>(this, version).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _reading = false;
            }
        }
    }

    private void WakeReader()
    {
        bool wake;
        lock (_lock)
        {
            wake = TakeWaiterLocked();
        }

        if (wake)
        {
            _signal.SetResult(false);
        }
    }

    private bool TakeWaiterLocked()
    {
        var wake = _waiting;
        _waiting = false;
        return wake;
    }

    private bool TryReadLocked(Span<byte> destination, out DtlsReceiveResult result)
    {
        result = default;
        if (_used == 0)
        {
            return false;
        }

        Span<byte> prefix = stackalloc byte[Prefix];
        Peek(0, prefix);
        var word = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(prefix);
        var length = word & LengthMask;
        LastTag = (byte)((uint)word >> 24);
        if (length > destination.Length)
        {
            result = new DtlsReceiveResult(DtlsReceiveStatus.BufferTooSmall, length);
            return true;
        }

        Peek(Prefix, destination[..length]);
        Advance(Prefix + length);
        result = new DtlsReceiveResult(DtlsReceiveStatus.Received, length);
        return true;
    }

    private void Put(ReadOnlySpan<byte> data)
    {
        var tail = (_head + _used) % _capacity;
        var first = Math.Min(data.Length, _capacity - tail);
        data[..first].CopyTo(_ring.AsSpan(tail));
        data[first..].CopyTo(_ring!);
        _used += data.Length;
    }

    private void Peek(int offset, Span<byte> destination)
    {
        var start = (_head + offset) % _capacity;
        var first = Math.Min(destination.Length, _capacity - start);
        _ring.AsSpan(start, first).CopyTo(destination);
        _ring.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    private void Advance(int count)
    {
        _head = (_head + count) % _capacity;
        _used -= count;
        if (_used == 0)
        {
            _head = 0;
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);
}
