using System.Buffers.Binary;

namespace Airlift.WebRtc.Rtcp;

/// <summary>
/// The RTCP common header (RFC 3550 6.4.1): V=2 (2 bits), P (1), count or FMT (5), packet type (8), length in 32-bit words
/// minus one (16). The writers here emit one packet each; compound packets are the caller's concatenation.
/// </summary>
public static class RtcpHeader
{
    /// <summary>Header bytes.</summary>
    public const int Length = 4;

    /// <summary>Receiver report (RFC 3550 6.4.2).</summary>
    public const byte ReceiverReportType = 201;

    /// <summary>Transport-layer feedback, RTPFB (RFC 4585 6.1).</summary>
    public const byte TransportFeedbackType = 205;

    /// <summary>Payload-specific feedback, PSFB (RFC 4585 6.1).</summary>
    public const byte PayloadFeedbackType = 206;

    /// <summary>Reads one packet's header at the start of <paramref name="packet"/>: false when it is shorter than its stated
    /// length, not version 2, or not a multiple of four bytes.</summary>
    public static bool TryRead(ReadOnlySpan<byte> packet, out int countOrFormat, out byte packetType, out int packetLength)
    {
        countOrFormat = 0;
        packetType = 0;
        packetLength = 0;
        if (packet.Length < Length || packet[0] >> 6 != 2)
        {
            return false;
        }

        packetLength = (BinaryPrimitives.ReadUInt16BigEndian(packet[2..]) + 1) * 4;
        if (packetLength > packet.Length)
        {
            return false;
        }

        countOrFormat = packet[0] & 0x1F;
        packetType = packet[1];
        return true;
    }

    internal static void Write(Span<byte> destination, int countOrFormat, byte packetType, int packetLength)
    {
        destination[0] = (byte)(0x80 | (countOrFormat & 0x1F));
        destination[1] = packetType;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)((packetLength / 4) - 1));
    }
}
