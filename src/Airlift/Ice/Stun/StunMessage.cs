using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using Airlift.Codec;

namespace Airlift.Ice.Stun;

/// <summary>Why a datagram was not accepted as a STUN message. Decoding never throws.</summary>
internal enum StunDecodeError
{
    None,

    /// <summary>Shorter than the 20-byte header.</summary>
    TooShort,

    /// <summary>The two top bits are not zero or the magic cookie is wrong (RFC 8489 5).</summary>
    NotStun,

    /// <summary>The length field is not a multiple of 4 or disagrees with the datagram size.</summary>
    BadLength,

    /// <summary>An attribute header or value runs past the end of the message.</summary>
    TruncatedAttribute,

    /// <summary>A known attribute has a value of the wrong size or content.</summary>
    BadAttributeValue,

    /// <summary>An attribute follows FINGERPRINT, which must be last (RFC 8489 14.7).</summary>
    FingerprintNotLast,

    /// <summary>The FINGERPRINT value does not match the message (RFC 8489 7.3).</summary>
    FingerprintMismatch,
}

/// <summary>
/// A decoded STUN message: header fields and the attributes ICE needs. Attribute values are
/// copied out of the datagram; MESSAGE-INTEGRITY is kept as an offset so it can be checked
/// against the same datagram with <see cref="VerifyMessageIntegrity"/> once the key is known.
/// </summary>
internal sealed class StunMessage
{
    private StunMessage(StunMessageType type, StunTransactionId transactionId)
    {
        Type = type;
        TransactionId = transactionId;
    }

    public StunMessageType Type { get; }

    public StunTransactionId TransactionId { get; }

    public string? Username { get; private set; }

    public uint? Priority { get; private set; }

    public bool UseCandidate { get; private set; }

    public ulong? IceControlling { get; private set; }

    public ulong? IceControlled { get; private set; }

    public IPEndPoint? XorMappedAddress { get; private set; }

    public StunErrorCode? ErrorCode { get; private set; }

    /// <summary>Types listed in an UNKNOWN-ATTRIBUTES attribute (error responses only).</summary>
    public IReadOnlyList<ushort> UnknownAttributesListed { get; private set; } = [];

    /// <summary>
    /// Comprehension-required attribute types this decoder does not understand (before any
    /// MESSAGE-INTEGRITY). A request with any of these gets a 420 (RFC 8489 6.3.1.1).
    /// </summary>
    public IReadOnlyList<ushort> UnknownComprehensionRequired => _unknown ?? (IReadOnlyList<ushort>)[];

    /// <summary>Offset of the MESSAGE-INTEGRITY attribute header, or -1 when absent.</summary>
    public int MessageIntegrityOffset { get; private set; } = -1;

    public bool HasMessageIntegrity => MessageIntegrityOffset >= 0;

    /// <summary>True when a FINGERPRINT was present (and, since decoding succeeded, correct).</summary>
    public bool HasFingerprint { get; private set; }

    /// <summary>Total length on the wire, header included.</summary>
    public int Length { get; private set; }

    private List<ushort>? _unknown;

    /// <summary>Cheap check on the fixed header: top bits zero, length multiple of 4, magic cookie.</summary>
    public static bool LooksLikeStun(ReadOnlySpan<byte> datagram) =>
        datagram.Length >= StunConstants.HeaderLength
        && (datagram[0] & 0xC0) == 0
        && (datagram[3] & 0x03) == 0
        && BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]) == StunConstants.MagicCookie;

    /// <summary>
    /// Decodes one STUN message that fills the whole datagram (trailing bytes are rejected).
    /// A present FINGERPRINT is verified here; MESSAGE-INTEGRITY is verified by the caller.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> datagram, out StunMessage? message, out StunDecodeError error)
    {
        message = null;
        if (datagram.Length < StunConstants.HeaderLength)
        {
            error = StunDecodeError.TooShort;
            return false;
        }

        var r = new WireReader(datagram);
        r.TryReadUInt16(out var rawType);
        r.TryReadUInt16(out var length);
        r.TryReadUInt32(out var cookie);
        r.TryReadBytes(StunTransactionId.Length, out var txid);
        if ((rawType & 0xC000) != 0 || cookie != StunConstants.MagicCookie)
        {
            error = StunDecodeError.NotStun;
            return false;
        }

        if ((length & 3) != 0 || length != r.Remaining)
        {
            error = StunDecodeError.BadLength;
            return false;
        }

        var m = new StunMessage(new StunMessageType(rawType), StunTransactionId.Read(txid)) { Length = datagram.Length };
        var afterIntegrity = false;
        while (!r.IsEmpty)
        {
            var attributeStart = r.Position;
            if (!r.TryReadUInt16(out var type) || !r.TryReadUInt16(out var valueLength) || !r.TryReadBytes(valueLength, out var value))
            {
                error = StunDecodeError.TruncatedAttribute;
                return false;
            }

            var padding = (4 - (valueLength & 3)) & 3;
            if (!r.TryReadBytes(padding, out _))
            {
                error = StunDecodeError.TruncatedAttribute;
                return false;
            }

            if (type == StunAttributeTypes.Fingerprint)
            {
                if (!r.IsEmpty)
                {
                    error = StunDecodeError.FingerprintNotLast;
                    return false;
                }

                if (valueLength != 4)
                {
                    error = StunDecodeError.BadAttributeValue;
                    return false;
                }

                // The CRC covers everything before this attribute, with the header length as sent
                // (it already counts FINGERPRINT because FINGERPRINT is last).
                var expected = Crc32.Compute(datagram[..attributeStart]) ^ StunConstants.FingerprintXor;
                if (BinaryPrimitives.ReadUInt32BigEndian(value) != expected)
                {
                    error = StunDecodeError.FingerprintMismatch;
                    return false;
                }

                m.HasFingerprint = true;
                continue;
            }

            // RFC 8489 14.5: everything after MESSAGE-INTEGRITY except FINGERPRINT is ignored.
            if (afterIntegrity)
            {
                continue;
            }

            if (!m.TryApplyAttribute(type, value, txid, attributeStart))
            {
                error = StunDecodeError.BadAttributeValue;
                return false;
            }

            afterIntegrity = m.HasMessageIntegrity;
        }

        message = m;
        error = StunDecodeError.None;
        return true;
    }

    private bool TryApplyAttribute(ushort type, ReadOnlySpan<byte> value, ReadOnlySpan<byte> txid, int attributeStart)
    {
        // Only the first occurrence of an attribute is processed (RFC 8489 14).
        switch (type)
        {
            case StunAttributeTypes.Username:
                if (value.Length > StunConstants.MaxUsernameBytes || !Utf8.IsValid(value))
                {
                    return false;
                }

                Username ??= Encoding.UTF8.GetString(value);
                return true;
            case StunAttributeTypes.MessageIntegrity:
                if (value.Length != StunConstants.MessageIntegrityLength)
                {
                    return false;
                }

                MessageIntegrityOffset = attributeStart;
                return true;
            case StunAttributeTypes.Priority:
                if (value.Length != 4)
                {
                    return false;
                }

                Priority ??= BinaryPrimitives.ReadUInt32BigEndian(value);
                return true;
            case StunAttributeTypes.UseCandidate:
                if (value.Length != 0)
                {
                    return false;
                }

                UseCandidate = true;
                return true;
            case StunAttributeTypes.IceControlling:
                if (value.Length != 8)
                {
                    return false;
                }

                IceControlling ??= BinaryPrimitives.ReadUInt64BigEndian(value);
                return true;
            case StunAttributeTypes.IceControlled:
                if (value.Length != 8)
                {
                    return false;
                }

                IceControlled ??= BinaryPrimitives.ReadUInt64BigEndian(value);
                return true;
            case StunAttributeTypes.XorMappedAddress:
                if (!TryReadXorAddress(value, txid, out var endpoint))
                {
                    return false;
                }

                XorMappedAddress ??= endpoint;
                return true;
            case StunAttributeTypes.ErrorCode:
                if (!TryReadErrorCode(value, out var errorCode))
                {
                    return false;
                }

                ErrorCode ??= errorCode;
                return true;
            case StunAttributeTypes.UnknownAttributes:
                if ((value.Length & 1) != 0)
                {
                    return false;
                }

                if (UnknownAttributesListed.Count == 0)
                {
                    var list = new ushort[value.Length / 2];
                    for (var i = 0; i < list.Length; i++)
                    {
                        list[i] = BinaryPrimitives.ReadUInt16BigEndian(value[(i * 2)..]);
                    }

                    UnknownAttributesListed = list;
                }

                return true;
            case StunAttributeTypes.MappedAddress:
                // Understood (legacy servers send it in responses) but ICE has no use for it.
                return true;
            default:
                if (StunAttributeTypes.IsComprehensionRequired(type))
                {
                    _unknown ??= [];
                    if (!_unknown.Contains(type) && _unknown.Count < StunConstants.MaxUnknownAttributes)
                    {
                        _unknown.Add(type);
                    }
                }

                // Unknown comprehension-optional ones (e.g. Chromium's 0xC057) are ignored.
                return true;
        }
    }

    private static bool TryReadXorAddress(ReadOnlySpan<byte> value, ReadOnlySpan<byte> txid, out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (value.Length < 4)
        {
            return false;
        }

        var family = value[1];
        var port = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(value[2..]) ^ (StunConstants.MagicCookie >> 16));
        Span<byte> mask = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(mask, StunConstants.MagicCookie);
        txid.CopyTo(mask[4..]);
        int addressLength;
        if (family == 0x01 && value.Length == 8)
        {
            addressLength = 4;
        }
        else if (family == 0x02 && value.Length == 20)
        {
            addressLength = 16;
        }
        else
        {
            return false;
        }

        Span<byte> address = stackalloc byte[addressLength];
        for (var i = 0; i < addressLength; i++)
        {
            address[i] = (byte)(value[4 + i] ^ mask[i]);
        }

        endpoint = new IPEndPoint(new IPAddress(address), port);
        return true;
    }

    private static bool TryReadErrorCode(ReadOnlySpan<byte> value, out StunErrorCode errorCode)
    {
        errorCode = default;
        if (value.Length < 4 || value.Length - 4 > StunConstants.MaxReasonBytes)
        {
            return false;
        }

        var cls = value[2] & 0x07;
        var number = value[3];
        var reason = value[4..];
        if (cls < 3 || cls > 6 || number > 99 || !Utf8.IsValid(reason))
        {
            return false;
        }

        errorCode = new StunErrorCode(cls * 100 + number, Encoding.UTF8.GetString(reason));
        return true;
    }

    /// <summary>
    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1) against <paramref name="datagram"/>, which must be the
    /// bytes this message was decoded from. The HMAC covers the message up to the attribute, with
    /// the header length adjusted to end just after MESSAGE-INTEGRITY (RFC 8489 14.5). The compare
    /// is constant-time.
    /// </summary>
    public bool VerifyMessageIntegrity(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key)
    {
        if (!HasMessageIntegrity || datagram.Length != Length)
        {
            return false;
        }

        var offset = MessageIntegrityOffset;
        var received = datagram.Slice(offset + 4, StunConstants.MessageIntegrityLength);
        Span<byte> computed = stackalloc byte[StunConstants.MessageIntegrityLength];
        ComputeMessageIntegrity(datagram[..offset], key, computed);
        return CryptographicOperations.FixedTimeEquals(received, computed);
    }

    /// <summary>
    /// HMAC-SHA1 over <paramref name="prefix"/> (header plus attributes before MESSAGE-INTEGRITY)
    /// as if the header length already counted the 24-byte MESSAGE-INTEGRITY attribute.
    /// </summary>
    internal static void ComputeMessageIntegrity(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key, Span<byte> destination)
    {
        var rented = ArrayPool<byte>.Shared.Rent(prefix.Length);
        try
        {
            var copy = rented.AsSpan(0, prefix.Length);
            prefix.CopyTo(copy);
            BinaryPrimitives.WriteUInt16BigEndian(copy[2..], (ushort)(prefix.Length - StunConstants.HeaderLength + 4 + StunConstants.MessageIntegrityLength));
            HMACSHA1.HashData(key, copy, destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
