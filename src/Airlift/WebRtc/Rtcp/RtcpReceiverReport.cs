using System.Buffers.Binary;

namespace Airlift.WebRtc.Rtcp;

/// <summary>One report block (RFC 3550 6.4.1): reception statistics about one source.</summary>
/// <param name="Ssrc">The source reported on.</param>
/// <param name="FractionLost">Fraction lost since the last report, in 1/256.</param>
/// <param name="CumulativeLost">Packets lost since the start (24-bit signed, clamped).</param>
/// <param name="HighestSequence">Extended highest sequence number received (cycles in the upper 16 bits).</param>
/// <param name="Jitter">Interarrival jitter in timestamp units.</param>
/// <param name="LastSenderReport">Middle 32 bits of the last SR's NTP timestamp (LSR), 0 if none.</param>
/// <param name="DelaySinceLastSenderReport">Delay since that SR in 1/65536 s (DLSR), 0 if none.</param>
public readonly record struct RtcpReportBlock(uint Ssrc, byte FractionLost, int CumulativeLost, uint HighestSequence, uint Jitter, uint LastSenderReport, uint DelaySinceLastSenderReport);

/// <summary>Receiver report (RFC 3550 6.4.2): PT 201, RC blocks, the reporter's SSRC, then 24 bytes per block.</summary>
public static class RtcpReceiverReport
{
    /// <summary>Bytes of one report block.</summary>
    public const int BlockLength = 24;

    /// <summary>Most blocks in one report (RC is 5 bits).</summary>
    public const int MaxBlocks = 31;

    /// <summary>Writes a receiver report; false when there are more than <see cref="MaxBlocks"/> blocks or <paramref name="destination"/> is too small.</summary>
    public static bool TryWrite(Span<byte> destination, uint reporterSsrc, ReadOnlySpan<RtcpReportBlock> blocks, out int written)
    {
        written = 0;
        var length = 8 + (blocks.Length * BlockLength);
        if (blocks.Length > MaxBlocks || destination.Length < length)
        {
            return false;
        }

        RtcpHeader.Write(destination, blocks.Length, RtcpHeader.ReceiverReportType, length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], reporterSsrc);
        for (var i = 0; i < blocks.Length; i++)
        {
            var b = blocks[i];
            var at = destination[(8 + (i * BlockLength))..];
            BinaryPrimitives.WriteUInt32BigEndian(at, b.Ssrc);
            var lost = Math.Clamp(b.CumulativeLost, -0x800000, 0x7FFFFF);
            BinaryPrimitives.WriteUInt32BigEndian(at[4..], ((uint)b.FractionLost << 24) | ((uint)lost & 0xFFFFFF));
            BinaryPrimitives.WriteUInt32BigEndian(at[8..], b.HighestSequence);
            BinaryPrimitives.WriteUInt32BigEndian(at[12..], b.Jitter);
            BinaryPrimitives.WriteUInt32BigEndian(at[16..], b.LastSenderReport);
            BinaryPrimitives.WriteUInt32BigEndian(at[20..], b.DelaySinceLastSenderReport);
        }

        written = length;
        return true;
    }
}
