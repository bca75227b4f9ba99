using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Airlift.Ice.Stun;

/// <summary>
/// Writes one STUN message into a caller buffer. The header length is kept up to date after every
/// attribute, so MESSAGE-INTEGRITY and FINGERPRINT can be computed over what is already written.
/// Add MESSAGE-INTEGRITY then FINGERPRINT last (RFC 8489 14.5, 14.7). A buffer that is too small
/// sets <see cref="Overflowed"/> instead of throwing.
/// </summary>
/// <remarks>
/// Not built on <c>WireWriter</c>: its <c>WriteBytes</c> takes an unscoped span, so a ref struct
/// wrapping it cannot pass stack-allocated attribute values through.
/// </remarks>
internal ref struct StunWriter
{
    private readonly Span<byte> _buffer;
    private readonly StunTransactionId _transactionId;
    private int _position;
    private bool _overflowed;

    public StunWriter(Span<byte> buffer, StunMessageType type, StunTransactionId transactionId)
    {
        _buffer = buffer;
        _transactionId = transactionId;
        if (buffer.Length < StunConstants.HeaderLength)
        {
            _overflowed = true;
            return;
        }

        BinaryPrimitives.WriteUInt16BigEndian(buffer, type.Value);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], StunConstants.MagicCookie);
        transactionId.WriteTo(buffer[8..]);
        _position = StunConstants.HeaderLength;
    }

    public readonly bool Overflowed => _overflowed;

    public readonly int Length => _position;

    public readonly ReadOnlySpan<byte> Written => _buffer[.._position];

    public void AddUsername(string username)
    {
        var bytes = Encoding.UTF8.GetBytes(username);
        if (bytes.Length > StunConstants.MaxUsernameBytes)
        {
            throw new ArgumentException("USERNAME is limited to 513 bytes (RFC 8489 14.3).", nameof(username));
        }

        AddAttribute(StunAttributeTypes.Username, bytes);
    }

    public void AddPriority(uint priority)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, priority);
        AddAttribute(StunAttributeTypes.Priority, v);
    }

    public void AddUseCandidate() => AddAttribute(StunAttributeTypes.UseCandidate, []);

    public void AddIceControlling(ulong tieBreaker) => AddUInt64(StunAttributeTypes.IceControlling, tieBreaker);

    public void AddIceControlled(ulong tieBreaker) => AddUInt64(StunAttributeTypes.IceControlled, tieBreaker);

    /// <summary>XOR-MAPPED-ADDRESS (RFC 8489 14.2); IPv4-mapped IPv6 addresses are sent as IPv4.</summary>
    public void AddXorMappedAddress(IPEndPoint endpoint)
    {
        var address = endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address;
        var isV4 = address.AddressFamily == AddressFamily.InterNetwork;
        Span<byte> v = stackalloc byte[isV4 ? 8 : 20];
        v[0] = 0;
        v[1] = isV4 ? (byte)0x01 : (byte)0x02;
        BinaryPrimitives.WriteUInt16BigEndian(v[2..], (ushort)(endpoint.Port ^ (int)(StunConstants.MagicCookie >> 16)));
        Span<byte> mask = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(mask, StunConstants.MagicCookie);
        _transactionId.WriteTo(mask[4..]);
        var addressBytes = v[4..];
        if (!address.TryWriteBytes(addressBytes, out _))
        {
            throw new ArgumentException("Unsupported address family.", nameof(endpoint));
        }

        for (var i = 0; i < addressBytes.Length; i++)
        {
            addressBytes[i] ^= mask[i];
        }

        AddAttribute(StunAttributeTypes.XorMappedAddress, v);
    }

    /// <summary>ERROR-CODE (RFC 8489 14.8): class in the hundreds digit, number below 100.</summary>
    public void AddErrorCode(int code, string? reason = null)
    {
        if (code < 300 || code > 699)
        {
            throw new ArgumentOutOfRangeException(nameof(code));
        }

        var reasonBytes = Encoding.UTF8.GetBytes(reason ?? StunErrorCode.DefaultReason(code));
        if (reasonBytes.Length > StunConstants.MaxReasonBytes)
        {
            throw new ArgumentException("Reason phrase too long.", nameof(reason));
        }

        var v = new byte[4 + reasonBytes.Length];
        v[2] = (byte)(code / 100);
        v[3] = (byte)(code % 100);
        reasonBytes.CopyTo(v, 4);
        AddAttribute(StunAttributeTypes.ErrorCode, v);
    }

    /// <summary>UNKNOWN-ATTRIBUTES (RFC 8489 14.9), sent with a 420 response.</summary>
    public void AddUnknownAttributes(ReadOnlySpan<ushort> types)
    {
        Span<byte> v = stackalloc byte[types.Length * 2];
        for (var i = 0; i < types.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(v[(i * 2)..], types[i]);
        }

        AddAttribute(StunAttributeTypes.UnknownAttributes, v);
    }

    /// <summary>MESSAGE-INTEGRITY: HMAC-SHA1 keyed with the short-term password (RFC 8489 9.1.1, 14.5).</summary>
    public void AddMessageIntegrity(ReadOnlySpan<byte> key)
    {
        if (_overflowed)
        {
            return;
        }

        Span<byte> mac = stackalloc byte[StunConstants.MessageIntegrityLength];
        StunMessage.ComputeMessageIntegrity(Written, key, mac);
        AddAttribute(StunAttributeTypes.MessageIntegrity, mac);
    }

    /// <summary>FINGERPRINT: CRC-32 of everything before it, xor 0x5354554E (RFC 8489 14.7).</summary>
    public void AddFingerprint()
    {
        if (_overflowed)
        {
            return;
        }

        // The CRC covers a header whose length already counts the 8-byte FINGERPRINT attribute.
        SetHeaderLength(_position - StunConstants.HeaderLength + 8);
        var crc = Crc32.Compute(Written) ^ StunConstants.FingerprintXor;
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, crc);
        AddAttribute(StunAttributeTypes.Fingerprint, v);
    }

    private void AddUInt64(ushort type, ulong value)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(v, value);
        AddAttribute(type, v);
    }

    private void AddAttribute(ushort type, scoped ReadOnlySpan<byte> value)
    {
        var padded = (value.Length + 3) & ~3;
        if (_overflowed || _buffer.Length - _position < 4 + padded)
        {
            _overflowed = true;
            return;
        }

        var dst = _buffer[_position..];
        BinaryPrimitives.WriteUInt16BigEndian(dst, type);
        BinaryPrimitives.WriteUInt16BigEndian(dst[2..], (ushort)value.Length);
        value.CopyTo(dst[4..]);
        dst.Slice(4 + value.Length, padded - value.Length).Clear();
        _position += 4 + padded;
        SetHeaderLength(_position - StunConstants.HeaderLength);
    }

    private readonly void SetHeaderLength(int length) => BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)length);
}
