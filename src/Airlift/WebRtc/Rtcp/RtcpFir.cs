using System.Buffers.Binary;

namespace Airlift.WebRtc.Rtcp;

/// <summary>
/// Full Intra Request (RFC 5104 4.3.1): PSFB (PT 206), FMT 4, sender SSRC, media source SSRC 0 (RFC 5104 4.3.1.2), then
/// one FCI of 8 bytes: the SSRC asked for a keyframe and a command sequence number (8 bits, incremented per new request),
/// 24 reserved bits. 20 bytes.
/// </summary>
public static class RtcpFir
{
    /// <summary>The FMT of a FIR.</summary>
    public const int Format = 4;

    /// <summary>Bytes of a FIR with one FCI entry.</summary>
    public const int Length = 20;

    /// <summary>Writes a FIR to <paramref name="targetSsrc"/>; false when <paramref name="destination"/> is too small.</summary>
    public static bool TryWrite(Span<byte> destination, uint senderSsrc, uint targetSsrc, byte sequenceNumber, out int written)
    {
        written = 0;
        if (destination.Length < Length)
        {
            return false;
        }

        RtcpHeader.Write(destination, Format, RtcpHeader.PayloadFeedbackType, Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], senderSsrc);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], targetSsrc);
        destination[16] = sequenceNumber;
        destination[17] = destination[18] = destination[19] = 0;
        written = Length;
        return true;
    }
}
