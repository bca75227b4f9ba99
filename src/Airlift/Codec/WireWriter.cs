using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Airlift.Codec;

/// <summary>
/// Big-endian writer over a caller-provided span. Writing past the end sets <see cref="Overflowed"/>
/// and writes nothing more, so that an encoder can run to completion and the caller checks once.
/// Length prefixes are reserved with <see cref="BeginVector8"/>/<see cref="BeginVector16"/>/
/// <see cref="BeginVector24"/> and patched by <see cref="EndVector"/> when the scope ends.
/// </summary>
internal ref struct WireWriter
{
    private readonly Span<byte> _buffer;
    private int _position;
    private bool _overflowed;

    public WireWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
        _overflowed = false;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Position => _position;

    /// <summary>True when a write did not fit; the content is then incomplete.</summary>
    public readonly bool Overflowed => _overflowed;

    /// <summary>Space left.</summary>
    public readonly int Remaining => _buffer.Length - _position;

    /// <summary>The bytes written so far.</summary>
    public readonly Span<byte> Written => _buffer[.._position];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Reserve(int count)
    {
        if (_overflowed || Remaining < count)
        {
            _overflowed = true;
            return false;
        }

        return true;
    }

    public void WriteUInt8(byte value)
    {
        if (Reserve(1))
        {
            _buffer[_position++] = value;
        }
    }

    public void WriteUInt16(ushort value)
    {
        if (Reserve(2))
        {
            BinaryPrimitives.WriteUInt16BigEndian(_buffer[_position..], value);
            _position += 2;
        }
    }

    public void WriteUInt24(int value)
    {
        if ((uint)value > 0xFFFFFF)
        {
            throw new ArgumentOutOfRangeException(nameof(value));
        }

        if (Reserve(3))
        {
            _buffer[_position] = (byte)(value >> 16);
            _buffer[_position + 1] = (byte)(value >> 8);
            _buffer[_position + 2] = (byte)value;
            _position += 3;
        }
    }

    public void WriteUInt32(uint value)
    {
        if (Reserve(4))
        {
            BinaryPrimitives.WriteUInt32BigEndian(_buffer[_position..], value);
            _position += 4;
        }
    }

    public void WriteUInt48(ulong value)
    {
        if (value > 0xFFFF_FFFF_FFFFUL)
        {
            throw new ArgumentOutOfRangeException(nameof(value));
        }

        if (Reserve(6))
        {
            BinaryPrimitives.WriteUInt16BigEndian(_buffer[_position..], (ushort)(value >> 32));
            BinaryPrimitives.WriteUInt32BigEndian(_buffer[(_position + 2)..], (uint)value);
            _position += 6;
        }
    }

    public void WriteUInt64(ulong value)
    {
        if (Reserve(8))
        {
            BinaryPrimitives.WriteUInt64BigEndian(_buffer[_position..], value);
            _position += 8;
        }
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        if (Reserve(value.Length))
        {
            value.CopyTo(_buffer[_position..]);
            _position += value.Length;
        }
    }

    /// <summary>Writes a vector with a 1-byte length prefix.</summary>
    public void WriteVector8(ReadOnlySpan<byte> value)
    {
        if (value.Length > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value));
        }

        WriteUInt8((byte)value.Length);
        WriteBytes(value);
    }

    /// <summary>Writes a vector with a 2-byte length prefix.</summary>
    public void WriteVector16(ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value));
        }

        WriteUInt16((ushort)value.Length);
        WriteBytes(value);
    }

    /// <summary>Writes a vector with a 3-byte length prefix.</summary>
    public void WriteVector24(ReadOnlySpan<byte> value)
    {
        WriteUInt24(value.Length);
        WriteBytes(value);
    }

    /// <summary>Reserves a 1-byte length prefix; pass the result to <see cref="EndVector"/>.</summary>
    public LengthScope BeginVector8() => Begin(1);

    /// <summary>Reserves a 2-byte length prefix; pass the result to <see cref="EndVector"/>.</summary>
    public LengthScope BeginVector16() => Begin(2);

    /// <summary>Reserves a 3-byte length prefix; pass the result to <see cref="EndVector"/>.</summary>
    public LengthScope BeginVector24() => Begin(3);

    private LengthScope Begin(int width)
    {
        var start = _position;
        if (Reserve(width))
        {
            _buffer.Slice(_position, width).Clear();
            _position += width;
        }

        return new LengthScope(start, width);
    }

    /// <summary>Patches the length prefix reserved by a <c>BeginVector*</c> call.</summary>
    public void EndVector(LengthScope scope)
    {
        if (_overflowed)
        {
            return;
        }

        var length = _position - scope.Start - scope.Width;
        var max = scope.Width switch { 1 => 0xFF, 2 => 0xFFFF, _ => 0xFFFFFF };
        if (length > max)
        {
            throw new InvalidOperationException($"Vector of {length} bytes exceeds its {scope.Width}-byte length prefix.");
        }

        var prefix = _buffer.Slice(scope.Start, scope.Width);
        for (var i = scope.Width - 1; i >= 0; i--)
        {
            prefix[i] = (byte)length;
            length >>= 8;
        }
    }

    /// <summary>A reserved length prefix.</summary>
    public readonly record struct LengthScope(int Start, int Width);
}
