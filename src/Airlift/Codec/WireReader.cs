using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Airlift.Codec;

/// <summary>
/// Forward-only big-endian reader over a span. Every <c>TryRead*</c> either consumes exactly the
/// bytes it reports or nothing. Decoders call <see cref="IsEmpty"/> at the end so that trailing bytes
/// are rejected instead of silently ignored.
/// </summary>
internal ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public WireReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    /// <summary>Bytes consumed so far.</summary>
    public readonly int Position => _position;

    /// <summary>Bytes left to read.</summary>
    public readonly int Remaining => _buffer.Length - _position;

    /// <summary>True when every byte has been consumed.</summary>
    public readonly bool IsEmpty => _position == _buffer.Length;

    /// <summary>The unread part of the buffer.</summary>
    public readonly ReadOnlySpan<byte> Rest => _buffer[_position..];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadUInt8(out byte value)
    {
        if (Remaining < 1)
        {
            value = 0;
            return false;
        }

        value = _buffer[_position++];
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadUInt16(out ushort value)
    {
        if (Remaining < 2)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt16BigEndian(_buffer.Slice(_position, 2));
        _position += 2;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadUInt24(out int value)
    {
        if (Remaining < 3)
        {
            value = 0;
            return false;
        }

        var s = _buffer.Slice(_position, 3);
        value = (s[0] << 16) | (s[1] << 8) | s[2];
        _position += 3;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadUInt32(out uint value)
    {
        if (Remaining < 4)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt32BigEndian(_buffer.Slice(_position, 4));
        _position += 4;
        return true;
    }

    /// <summary>Reads a 48-bit unsigned big-endian integer (DTLS record sequence number).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadUInt48(out ulong value)
    {
        if (Remaining < 6)
        {
            value = 0;
            return false;
        }

        var s = _buffer.Slice(_position, 6);
        value = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(s) << 32) | BinaryPrimitives.ReadUInt32BigEndian(s[2..]);
        _position += 6;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadUInt64(out ulong value)
    {
        if (Remaining < 8)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt64BigEndian(_buffer.Slice(_position, 8));
        _position += 8;
        return true;
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    public bool TryReadBytes(int count, out ReadOnlySpan<byte> value)
    {
        if (count < 0 || Remaining < count)
        {
            value = default;
            return false;
        }

        value = _buffer.Slice(_position, count);
        _position += count;
        return true;
    }

    /// <summary>Reads an opaque vector with a 1-byte length prefix (<c>opaque x&lt;0..2^8-1&gt;</c>).</summary>
    public bool TryReadVector8(out ReadOnlySpan<byte> value)
    {
        var start = _position;
        if (TryReadUInt8(out var length) && TryReadBytes(length, out value))
        {
            return true;
        }

        _position = start;
        value = default;
        return false;
    }

    /// <summary>Reads an opaque vector with a 2-byte length prefix.</summary>
    public bool TryReadVector16(out ReadOnlySpan<byte> value)
    {
        var start = _position;
        if (TryReadUInt16(out var length) && TryReadBytes(length, out value))
        {
            return true;
        }

        _position = start;
        value = default;
        return false;
    }

    /// <summary>Reads an opaque vector with a 3-byte length prefix.</summary>
    public bool TryReadVector24(out ReadOnlySpan<byte> value)
    {
        var start = _position;
        if (TryReadUInt24(out var length) && TryReadBytes(length, out value))
        {
            return true;
        }

        _position = start;
        value = default;
        return false;
    }
}
