using System.Buffers.Binary;

namespace Airlift.Transport;

/// <summary>
/// RFC 4571 2 framing of datagrams on a TCP stream (ICE-TCP, RFC 6544 3): each packet is preceded by a 16-bit big-endian
/// length. A fixed buffer of <c>2 + maxFrameSize</c> bytes: a length above the limit sets <see cref="IsOversized"/> and the
/// caller closes the connection, so memory per connection never grows with what the peer sends.
/// </summary>
/// <remarks>Use: write received bytes into <see cref="GetWriteBuffer"/>, call <see cref="Advance"/>, then
/// <see cref="TryReadFrame"/> until false; a returned frame is valid until the next call.</remarks>
internal sealed class Rfc4571Framer
{
    public const int HeaderLength = 2;

    private readonly byte[] _buffer;
    private int _start;
    private int _end;

    public Rfc4571Framer(int maxFrameSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxFrameSize, ushort.MaxValue);
        MaxFrameSize = maxFrameSize;
        _buffer = new byte[HeaderLength + maxFrameSize];
    }

    public int MaxFrameSize { get; }

    /// <summary>A length prefix exceeded <see cref="MaxFrameSize"/>: the stream cannot be parsed further.</summary>
    public bool IsOversized { get; private set; }

    /// <summary>Bytes received but not yet returned as frames.</summary>
    public int Buffered => _end - _start;

    /// <summary>Free space to receive into (compacts first). Never empty unless <see cref="IsOversized"/>.</summary>
    public Memory<byte> GetWriteBuffer()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        return IsOversized ? Memory<byte>.Empty : _buffer.AsMemory(_end);
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _buffer.Length - _end);
        _end += count;
    }

    /// <summary>Copies as much of <paramref name="data"/> as fits; returns the bytes taken.</summary>
    public int Append(ReadOnlySpan<byte> data)
    {
        var free = GetWriteBuffer().Span;
        var n = Math.Min(free.Length, data.Length);
        data[..n].CopyTo(free);
        _end += n;
        return n;
    }

    /// <summary>Returns the next complete frame (empty frames included), or false when more bytes are needed or the stream is oversized.</summary>
    public bool TryReadFrame(out ReadOnlySpan<byte> frame)
    {
        frame = default;
        if (IsOversized || _end - _start < HeaderLength)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(_buffer.AsSpan(_start));
        if (length > MaxFrameSize)
        {
            IsOversized = true;
            return false;
        }

        if (_end - _start < HeaderLength + length)
        {
            return false;
        }

        frame = _buffer.AsSpan(_start + HeaderLength, length);
        _start += HeaderLength + length;
        return true;
    }

    /// <summary>Writes <paramref name="payload"/> with its length prefix; returns the bytes written.</summary>
    /// <exception cref="ArgumentException">The payload is larger than 65535 bytes or the destination too small.</exception>
    public static int WriteFrame(ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        if (payload.Length > ushort.MaxValue || destination.Length < HeaderLength + payload.Length)
        {
            throw new ArgumentException("The frame does not fit.", nameof(payload));
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)payload.Length);
        payload.CopyTo(destination[HeaderLength..]);
        return HeaderLength + payload.Length;
    }
}
