using Airlift.WebRtc.Rtcp;

namespace Airlift.Tests.WebRtc;

/// <summary>Each RTCP message the library writes, against annotated bytes, and the NACK reader.</summary>
public class RtcpWireTests
{
    private static byte[] Hex(string annotated) =>
        Convert.FromHexString(string.Concat(annotated.Split('\n').Select(l => l.Split("//")[0]).SelectMany(l => l.Where(char.IsAsciiHexDigit))));

    [Fact]
    public void GenericNack_PacksARunIntoPidAndBlp_Rfc4585_6_2_1()
    {
        var expected = Hex("""
            81 cd 00 04   // V=2 P=0 FMT=1, PT=205 RTPFB, length 4 words (20 bytes)
            11 11 11 11   // SSRC of packet sender
            22 22 22 22   // SSRC of media source
            00 64 00 05   // PID 100, BLP 0b101: 101 and 103 lost too
            01 00 00 00   // PID 256 (more than 16 after 100: a second entry), BLP 0
            """);
        var buffer = new byte[64];
        Assert.True(RtcpNack.TryWrite(buffer, 0x11111111, 0x22222222, [100, 101, 103, 256], out var written));
        Assert.Equal(expected, buffer[..written]);
    }

    [Fact]
    public void GenericNack_IsRead_DeDuplicated_AndBoundedByTheCallersSpan()
    {
        var nack = Hex("""
            81 cd 00 04  11 11 11 11  22 22 22 22
            00 64 00 01  // 100, 101
            00 64 00 02  // 100 again, 102
            """);
        Span<ushort> lost = stackalloc ushort[8];
        Assert.True(RtcpNack.TryRead(nack, out var sender, out var media, lost, out var count));
        Assert.Equal((0x11111111u, 0x22222222u), (sender, media));
        Assert.Equal([100, 101, 102], lost[..count].ToArray());

        Span<ushort> two = stackalloc ushort[2];
        Assert.True(RtcpNack.TryRead(nack, out _, out _, two, out count));
        Assert.Equal(2, count);

        Assert.False(RtcpNack.TryRead(nack[..14], out _, out _, lost, out _)); // shorter than its length field
        Assert.False(RtcpNack.TryRead(Hex("81 ce 00 02 11 11 11 11 22 22 22 22"), out _, out _, lost, out _)); // a PLI
    }

    [Fact]
    public void Pli_IsTwelveBytes_Rfc4585_6_3_1()
    {
        var expected = Hex("""
            81 ce 00 02   // V=2 FMT=1, PT=206 PSFB, length 2 words
            11 11 11 11   // sender SSRC
            22 22 22 22   // media source asked for a keyframe
            """);
        var buffer = new byte[12];
        Assert.True(RtcpPli.TryWrite(buffer, 0x11111111, 0x22222222, out var written));
        Assert.Equal(expected, buffer[..written]);
        Assert.True(RtcpPli.TryRead(buffer, out _, out var media));
        Assert.Equal(0x22222222u, media);
        Assert.False(RtcpPli.TryWrite(new byte[11], 1, 2, out _));
    }

    [Fact]
    public void Fir_CarriesTheTargetInItsFci_Rfc5104_4_3_1()
    {
        var expected = Hex("""
            84 ce 00 04   // V=2 FMT=4, PT=206 PSFB, length 4 words
            11 11 11 11   // sender SSRC
            00 00 00 00   // media source SSRC: 0 for FIR (RFC 5104 4.3.1.2)
            22 22 22 22   // FCI: SSRC asked for a decoder refresh
            07 00 00 00   // command sequence number 7, reserved
            """);
        var buffer = new byte[20];
        Assert.True(RtcpFir.TryWrite(buffer, 0x11111111, 0x22222222, 7, out var written));
        Assert.Equal(expected, buffer[..written]);
    }

    [Fact]
    public void ReceiverReport_OneBlock_Rfc3550_6_4_2()
    {
        var expected = Hex("""
            81 c9 00 07   // V=2 RC=1, PT=201 RR, length 7 words (32 bytes)
            11 11 11 11   // reporter SSRC
            22 22 22 22   // block: source SSRC
            40 ff ff fe   // fraction lost 64/256, cumulative lost -2 (24-bit two's complement)
            00 01 00 10   // extended highest sequence: 1 cycle, seq 16
            00 00 00 20   // jitter 32
            12 34 56 78   // LSR
            00 01 00 00   // DLSR 1 s
            """);
        var buffer = new byte[64];
        Assert.True(RtcpReceiverReport.TryWrite(buffer, 0x11111111, [new RtcpReportBlock(0x22222222, 64, -2, 0x00010010, 32, 0x12345678, 0x10000)], out var written));
        Assert.Equal(expected, buffer[..written]);
        Assert.False(RtcpReceiverReport.TryWrite(buffer, 1, new RtcpReportBlock[32], out _));
    }
}
