using System.Buffers;

namespace Airlift.Dtls.Handshake;

/// <summary>
/// A growable run of bytes in one buffer rented from <see cref="ArrayPool{T}.Shared"/> (first rented at
/// <c>initialSize</c>, then a buffer twice as large each time it fills): the handshake transcripts of both DTLS versions.
/// Bytes written are cleared before any buffer goes back to the pool, on growth, <see cref="Clear"/> and
/// <see cref="Release"/>, so nothing of a handshake lingers in a shared pool.
/// </summary>
internal sealed class PooledBytes(int initialSize)
{
    private byte[]? _buffer;
    private int _length;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer is null ? [] : _buffer.AsSpan(0, _length);

    /// <summary>Appends <paramref name="count"/> bytes and returns them to be written.</summary>
    public Span<byte> Append(int count)
    {
        var needed = _length + count;
        if (_buffer is null || _buffer.Length < needed)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer is null ? initialSize : _buffer.Length * 2));
            if (_buffer is { } old)
            {
                old.AsSpan(0, _length).CopyTo(larger);
                old.AsSpan(0, _length).Clear();
                ArrayPool<byte>.Shared.Return(old);
            }

            _buffer = larger;
        }

        var span = _buffer.AsSpan(_length, count);
        _length = needed;
        return span;
    }

    /// <summary>Forgets the bytes (cleared); the buffer is kept for what comes next.</summary>
    public void Clear()
    {
        _buffer?.AsSpan(0, _length).Clear();
        _length = 0;
    }

    /// <summary>Clears the bytes and returns the buffer to the pool; empty afterwards, and usable again.</summary>
    public void Release()
    {
        if (_buffer is { } buffer)
        {
            buffer.AsSpan(0, _length).Clear();
            _buffer = null;
            _length = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
