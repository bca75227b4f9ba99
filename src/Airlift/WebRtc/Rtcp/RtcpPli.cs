using System.Buffers.Binary;

namespace Airlift.WebRtc.Rtcp;

/// <summary>Picture Loss Indication (RFC 4585 6.3.1): PSFB (PT 206), FMT 1, sender SSRC, media source SSRC, no FCI: 12 bytes.</summary>
public static class RtcpPli
{
    /// <summary>The FMT of a PLI.</summary>
    public const int Format = 1;

    /// <summary>Bytes of a PLI.</summary>
    public const int Length = 12;

    /// <summary>Writes a PLI asking <paramref name="mediaSsrc"/>'s sender for a keyframe; false when <paramref name="destination"/> is too small.</summary>
    public static bool TryWrite(Span<byte> destination, uint senderSsrc, uint mediaSsrc, out int written)
    {
        written = 0;
        if (destination.Length < Length)
        {
            return false;
        }

        RtcpHeader.Write(destination, Format, RtcpHeader.PayloadFeedbackType, Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], senderSsrc);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], mediaSsrc);
        written = Length;
        return true;
    }

    /// <summary>True, with the media source, when <paramref name="packet"/> starts with a PLI.</summary>
    public static bool TryRead(ReadOnlySpan<byte> packet, out uint senderSsrc, out uint mediaSsrc)
    {
        senderSsrc = mediaSsrc = 0;
        if (!RtcpHeader.TryRead(packet, out var fmt, out var type, out var length) || type != RtcpHeader.PayloadFeedbackType || fmt != Format || length < Length)
        {
            return false;
        }

        senderSsrc = BinaryPrimitives.ReadUInt32BigEndian(packet[4..]);
        mediaSsrc = BinaryPrimitives.ReadUInt32BigEndian(packet[8..]);
        return true;
    }
}
