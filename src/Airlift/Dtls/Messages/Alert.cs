using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// Alert record body (RFC 5246 7.2): <c>level(1) description(1)</c>. Unknown levels and descriptions
/// are kept as their byte value (the enums are byte-backed), so the caller decides what they mean.
/// </summary>
internal readonly record struct Alert(AlertLevel Level, AlertDescription Description)
{
    /// <summary>Body size on the wire.</summary>
    public const int Size = 2;

    /// <summary>Decodes the body; false unless it is exactly two bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, out Alert message)
    {
        if (body.Length != Size)
        {
            message = default;
            return false;
        }

        message = new Alert((AlertLevel)body[0], (AlertDescription)body[1]);
        return true;
    }

    /// <summary>Writes the body.</summary>
    public void Encode(ref WireWriter writer)
    {
        writer.WriteUInt8((byte)Level);
        writer.WriteUInt8((byte)Description);
    }
}
