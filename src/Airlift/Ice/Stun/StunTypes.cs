using System.Buffers.Binary;

namespace Airlift.Ice.Stun;

/// <summary>STUN message class, carried in bits C1 and C0 of the message type (RFC 8489 5).</summary>
internal enum StunClass : byte
{
    Request = 0b00,
    Indication = 0b01,
    SuccessResponse = 0b10,
    ErrorResponse = 0b11,
}

/// <summary>
/// The 14-bit STUN message type: a 12-bit method interleaved with the 2-bit class (RFC 8489 5, figure 3).
/// Kept as the raw wire value so that unknown methods survive decoding.
/// </summary>
internal readonly record struct StunMessageType(ushort Value)
{
    /// <summary>The Binding method (0x001), the only one ICE uses.</summary>
    public const ushort BindingMethod = 0x001;

    public static readonly StunMessageType BindingRequest = Create(BindingMethod, StunClass.Request);
    public static readonly StunMessageType BindingIndication = Create(BindingMethod, StunClass.Indication);
    public static readonly StunMessageType BindingSuccess = Create(BindingMethod, StunClass.SuccessResponse);
    public static readonly StunMessageType BindingError = Create(BindingMethod, StunClass.ErrorResponse);

    /// <summary>Method bits M11..M0, with the class bits squeezed out.</summary>
    public ushort Method => (ushort)(((Value & 0x3E00) >> 2) | ((Value & 0x00E0) >> 1) | (Value & 0x000F));

    /// <summary>Class from bits C1 (0x0100) and C0 (0x0010).</summary>
    public StunClass Class => (StunClass)(((Value & 0x0100) >> 7) | ((Value & 0x0010) >> 4));

    /// <summary>Interleaves a 12-bit method and a class into the 14-bit type field.</summary>
    public static StunMessageType Create(ushort method, StunClass cls)
    {
        if (method > 0xFFF)
        {
            throw new ArgumentOutOfRangeException(nameof(method));
        }

        var c = (int)cls;
        var v = ((method & 0xF80) << 2) | ((method & 0x070) << 1) | (method & 0x00F) | ((c & 0b10) << 7) | ((c & 0b01) << 4);
        return new StunMessageType((ushort)v);
    }

    /// <inheritdoc/>
    public override string ToString() => $"stun(method=0x{Method:X3}, {Class})";
}

/// <summary>STUN attribute type codes used by ICE (RFC 8489 18.3, RFC 8445 16.1).</summary>
internal static class StunAttributeTypes
{
    // Comprehension-required range 0x0000-0x7FFF.
    public const ushort MappedAddress = 0x0001;
    public const ushort Username = 0x0006;
    public const ushort MessageIntegrity = 0x0008;
    public const ushort ErrorCode = 0x0009;
    public const ushort UnknownAttributes = 0x000A;
    public const ushort XorMappedAddress = 0x0020;
    public const ushort Priority = 0x0024;
    public const ushort UseCandidate = 0x0025;

    // Comprehension-optional range 0x8000-0xFFFF.
    public const ushort Software = 0x8022;
    public const ushort Fingerprint = 0x8028;
    public const ushort IceControlled = 0x8029;
    public const ushort IceControlling = 0x802A;

    /// <summary>Types below 0x8000 must be understood or the request rejected with 420 (RFC 8489 14).</summary>
    public static bool IsComprehensionRequired(ushort type) => type < 0x8000;
}

/// <summary>The 96-bit transaction id (RFC 8489 5), held as two integers so it compares cheaply.</summary>
internal readonly record struct StunTransactionId(ulong High, uint Low)
{
    public const int Length = 12;

    public static StunTransactionId Read(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(source), BinaryPrimitives.ReadUInt32BigEndian(source[8..]));

    /// <summary>A fresh id from the caller's random source (sans-IO: no ambient randomness).</summary>
    public static StunTransactionId Create(Action<Span<byte>> fillRandom)
    {
        Span<byte> b = stackalloc byte[Length];
        fillRandom(b);
        return Read(b);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], Low);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{High:x16}{Low:x8}";
}

/// <summary>ERROR-CODE value (RFC 8489 14.8): code 300..699 and a UTF-8 reason phrase.</summary>
internal readonly record struct StunErrorCode(int Code, string Reason)
{
    public const int BadRequest = 400;
    public const int Unauthorized = 401;
    public const int UnknownAttribute = 420;
    public const int RoleConflict = 487;

    public int Class => Code / 100;

    public int Number => Code % 100;

    /// <summary>The reason phrase RFC 8489 14.8 and RFC 8445 16.1 suggest for the codes ICE sends.</summary>
    public static string DefaultReason(int code) => code switch
    {
        BadRequest => "Bad Request",
        Unauthorized => "Unauthorized",
        UnknownAttribute => "Unknown Attribute",
        RoleConflict => "Role Conflict",
        _ => "Error",
    };
}

/// <summary>Constants shared by the STUN encoder and decoder.</summary>
internal static class StunConstants
{
    public const uint MagicCookie = 0x2112A442;
    public const int HeaderLength = 20;
    public const int MessageIntegrityLength = 20;

    /// <summary>The FINGERPRINT CRC-32 is xor'ed with this ("STUN" in ASCII, RFC 8489 14.7).</summary>
    public const uint FingerprintXor = 0x5354554E;

    /// <summary>USERNAME is at most 513 bytes (RFC 8489 14.3).</summary>
    public const int MaxUsernameBytes = 513;

    /// <summary>The ERROR-CODE reason is at most 763 bytes (RFC 8489 14.8).</summary>
    public const int MaxReasonBytes = 763;

    /// <summary>How many distinct unknown comprehension-required types one message may report.</summary>
    public const int MaxUnknownAttributes = 16;
}
