using System.Buffers.Binary;

namespace Airlift.WebRtc.Rtcp;

/// <summary>
/// Generic NACK (RFC 4585 6.2.1): RTPFB (PT 205), FMT 1; SSRC of packet sender; SSRC of media source; then FCI entries
/// of PID (16 bits, a lost sequence number) and BLP (16 bits, bit i set: PID + i + 1 lost too).
/// </summary>
public static class RtcpNack
{
    /// <summary>The FMT of a generic NACK.</summary>
    public const int Format = 1;

    /// <summary>
    /// Writes a NACK for <paramref name="lost"/> (sequence numbers in sending order, wrap-around allowed): each run within
    /// 17 of its PID shares one FCI entry. False (nothing usable written) when <paramref name="destination"/> is too small
    /// or <paramref name="lost"/> is empty.
    /// </summary>
    public static bool TryWrite(Span<byte> destination, uint senderSsrc, uint mediaSsrc, ReadOnlySpan<ushort> lost, out int written)
    {
        written = 0;
        if (lost.IsEmpty || destination.Length < 16)
        {
            return false;
        }

        var at = 12;
        var i = 0;
        while (i < lost.Length)
        {
            if (at + 4 > destination.Length || at + 4 > 4 * 65536)
            {
                return false;
            }

            var pid = lost[i++];
            ushort blp = 0;
            while (i < lost.Length && (ushort)(lost[i] - pid - 1) < 16)
            {
                blp |= (ushort)(1 << (ushort)(lost[i] - pid - 1));
                i++;
            }

            BinaryPrimitives.WriteUInt16BigEndian(destination[at..], pid);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(at + 2)..], blp);
            at += 4;
        }

        RtcpHeader.Write(destination, Format, RtcpHeader.TransportFeedbackType, at);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], senderSsrc);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], mediaSsrc);
        written = at;
        return true;
    }

    /// <summary>
    /// Reads a generic NACK (one packet, header included) into <paramref name="lost"/>: every sequence number it asks for,
    /// once each (a number repeated across FCI entries is kept once), at most <paramref name="lost"/>'s length (the rest is
    /// ignored: that is the caller's bound). False when it is not a well-formed generic NACK.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> packet, out uint senderSsrc, out uint mediaSsrc, Span<ushort> lost, out int count)
    {
        senderSsrc = mediaSsrc = 0;
        count = 0;
        if (!RtcpHeader.TryRead(packet, out var fmt, out var type, out var length) || type != RtcpHeader.TransportFeedbackType || fmt != Format || length < 16)
        {
            return false;
        }

        senderSsrc = BinaryPrimitives.ReadUInt32BigEndian(packet[4..]);
        mediaSsrc = BinaryPrimitives.ReadUInt32BigEndian(packet[8..]);
        for (var at = 12; at + 4 <= length; at += 4)
        {
            var pid = BinaryPrimitives.ReadUInt16BigEndian(packet[at..]);
            var blp = BinaryPrimitives.ReadUInt16BigEndian(packet[(at + 2)..]);
            Add(lost, ref count, pid);
            for (var bit = 0; bit < 16; bit++)
            {
                if ((blp & (1 << bit)) != 0)
                {
                    Add(lost, ref count, (ushort)(pid + bit + 1));
                }
            }
        }

        return true;
    }

    private static void Add(Span<ushort> lost, ref int count, ushort seq)
    {
        if (count >= lost.Length || lost[..count].Contains(seq))
        {
            return;
        }

        lost[count++] = seq;
    }
}
