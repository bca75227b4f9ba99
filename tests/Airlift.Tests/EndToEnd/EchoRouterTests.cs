using System.Buffers.Binary;
using Airlift.Cli.Serve;
using Airlift.WebRtc;

namespace Airlift.Tests.EndToEnd;

public class EchoRouterTests
{
    // Offerer (browser) SSRCs A and ours S, per section.
    private const uint AudioA = 0xA0A0A0A0;
    private const uint VideoA = 0xB0B0B0B0;
    private const uint AudioS = 0x11111111;
    private const uint VideoS = 0x22222222;
    private const uint BrowserReceiver = 1;

    private static EchoRouter NewRouter(bool declared = true) => new([
        new EchoStream("0", "audio", new HashSet<int> { 111 }, AudioS, declared ? [AudioA] : [], Receive: true, Send: true),
        new EchoStream("1", "video", new HashSet<int> { 96 }, VideoS, declared ? [VideoA] : [], Receive: true, Send: true),
    ]);

    private static byte[] Rtp(uint ssrc, int payloadType, ushort seq)
    {
        var p = new byte[12 + 4];
        p[0] = 0x80;
        p[1] = (byte)payloadType;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), 90000);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), ssrc);
        p[12] = 0xDE;
        return p;
    }

    private static byte[] Rtcp(int countOrFmt, int type, params uint[] words)
    {
        var p = new byte[4 + words.Length * 4];
        p[0] = (byte)(0x80 | countOrFmt);
        p[1] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)words.Length);
        for (var i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4 + i * 4), words[i]);
        }

        return p;
    }

    private static uint Word(ReadOnlySpan<byte> packet, int index) => BinaryPrimitives.ReadUInt32BigEndian(packet[(index * 4)..]);

    private static (byte[] Output, RtcpCounts Counts, List<(int, ushort)> Resend) Translate(EchoRouter router, byte[] compound, IReadOnlyList<RtpHistory?>? histories = null)
    {
        var output = new byte[compound.Length];
        var counts = default(RtcpCounts);
        NackResponder? nacks = null;
        if (histories is not null)
        {
            nacks = new NackResponder(histories, NackAnswerOptions.Default, TimeSpan.Zero);
            nacks.Budget.Earn(1_000_000);
            nacks.Begin(TimeSpan.FromSeconds(1));
        }

        var n = router.TranslateRtcp(compound, output, ref counts, nacks);
        Assert.InRange(n, 0, compound.Length);
        return (output[..n], counts, nacks is null ? [] : [.. nacks.Accepted]);
    }

    private static void Learn(EchoRouter router)
    {
        Assert.Equal(0, router.RewriteRtp(Rtp(AudioA, 111, 1), out _));
        Assert.Equal(1, router.RewriteRtp(Rtp(VideoA, 96, 1), out _));
    }

    [Fact]
    public void Rtp_FromTheBrowsersStream_IsSentBackAsOurStream_OnlyTheSsrcChanges_Rfc3550_5_1()
    {
        var router = NewRouter();
        var packet = Rtp(VideoA, 96, 4242);
        var before = packet.ToArray();
        Assert.Equal(1, router.RewriteRtp(packet, out var drop));
        Assert.Equal(EchoDrop.None, drop);
        Assert.Equal(VideoS, Word(packet, 2));
        Assert.Equal(before[..8], packet[..8]); // version, marker, payload type, sequence number, timestamp
        Assert.Equal(before[12..], packet[12..]);
    }

    [Fact]
    public void Rtp_FromAnUndeclaredSsrc_IsMappedByPayloadType_AndRemembered()
    {
        var router = NewRouter(declared: false);
        Assert.Null(router.RemoteSsrc(1));
        Assert.Equal(1, router.RewriteRtp(Rtp(0x12345678, 96, 1), out _));
        Assert.Equal(0x12345678u, router.RemoteSsrc(1));
        Assert.Equal(0, router.RewriteRtp(Rtp(0x0BADF00D, 111, 1), out _));
        Assert.Equal(0x0BADF00Du, router.RemoteSsrc(0));
    }

    [Fact]
    public void Rtp_WithAPayloadTypeNotInTheAnswer_IsNotEchoed()
    {
        var router = NewRouter();
        Assert.Equal(-1, router.RewriteRtp(Rtp(VideoA, 97, 1), out var drop)); // rtx, declined in the answer
        Assert.Equal(EchoDrop.UnknownPayloadType, drop);
        Assert.Equal(-1, router.RewriteRtp(Rtp(0x777, 100, 1), out drop));
        Assert.Equal(EchoDrop.UnknownPayloadType, drop);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x80, 96, 0, 1 })]
    [InlineData(new byte[] { 0x40, 96, 0, 1, 0, 0, 0, 0, 0xB0, 0xB0, 0xB0, 0xB0 })]
    public void Rtp_Malformed_IsNotEchoed(byte[] packet)
    {
        Assert.Equal(-1, NewRouter().RewriteRtp(packet, out var drop));
        Assert.Equal(EchoDrop.Malformed, drop);
    }

    [Fact]
    public void Rtp_OnASectionWeDoNotSend_IsNotEchoed()
    {
        var router = new EchoRouter([new EchoStream("1", "video", new HashSet<int> { 96 }, VideoS, [VideoA], Receive: true, Send: false)]);
        Assert.Equal(-1, router.RewriteRtp(Rtp(VideoA, 96, 1), out var drop));
        Assert.Equal(EchoDrop.NotSending, drop);
    }

    [Fact]
    public void Pli_AboutOurStream_BecomesPli_AboutTheBrowsersOwnStream_Rfc4585_6_3_1()
    {
        var router = NewRouter();
        var (output, counts, _) = Translate(router, Rtcp(1, 206, BrowserReceiver, VideoS));
        Assert.Equal(1, counts.Pli);
        Assert.Equal(12, output.Length);
        Assert.Equal(0x81, output[0]);
        Assert.Equal(206, output[1]);
        Assert.Equal(VideoS, Word(output, 1)); // from our stream
        Assert.Equal(VideoA, Word(output, 2)); // about the browser's sender: its encoder makes a keyframe
    }

    [Fact]
    public void Fir_EntriesAboutOurStream_AreRewritten_Rfc5104_4_3_1()
    {
        var router = NewRouter();
        var (output, counts, _) = Translate(router, Rtcp(4, 206, BrowserReceiver, 0, VideoS, 0x07000000, 0xDEAD, 0x01000000));
        Assert.Equal(1, counts.Fir);
        Assert.Equal(20, output.Length); // the entry about an unknown SSRC is dropped
        Assert.Equal(VideoS, Word(output, 1));
        Assert.Equal(0u, Word(output, 2));
        Assert.Equal(VideoA, Word(output, 3));
        Assert.Equal(0x07000000u, Word(output, 4)); // FIR sequence number kept
        Assert.Equal(4, BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(2)));
    }

    [Fact]
    public void Nack_ForPacketsThatNeverReachedUs_IsForwardedToTheBrowsersSender_Rfc4585_6_2_1()
    {
        var router = NewRouter();
        var (output, counts, resend) = Translate(router, Rtcp(1, 205, BrowserReceiver, VideoS, (100u << 16) | 0b101));
        Assert.Equal(1, counts.Nack);
        Assert.Empty(resend);
        Assert.Equal(VideoS, Word(output, 1));
        Assert.Equal(VideoA, Word(output, 2));
        Assert.Equal((100u << 16) | 0b101, Word(output, 3)); // 100, 101, 103
    }

    [Fact]
    public void Nack_ForPacketsWeEchoed_IsAnsweredFromOurHistory_AndOnlyTheRestIsForwarded()
    {
        // Packets lost on the way back reached us once; the browser's sender resending them would be an SRTP replay here.
        var router = NewRouter();
        var video = new RtpHistory();
        video.Store(101, [1, 2, 3]);
        video.Store(103, [4, 5, 6]);
        var (output, counts, resend) = Translate(router, Rtcp(1, 205, BrowserReceiver, VideoS, (100u << 16) | 0b101), [null, video]);
        Assert.Equal([(1, (ushort)101), (1, (ushort)103)], resend);
        Assert.Equal(2, counts.NackServed);
        Assert.Equal(1, counts.Nack);
        Assert.Equal(16, output.Length);
        Assert.Equal(100u << 16, Word(output, 3)); // only 100 is asked of the browser
    }

    [Fact]
    public void Nack_FullyAnsweredFromHistory_ForwardsNothing_AndIsNotCountedAsDiscarded()
    {
        var router = NewRouter();
        var video = new RtpHistory();
        video.Store(65535, [1]);
        video.Store(0, [2]);
        var (output, counts, resend) = Translate(router, Rtcp(1, 205, BrowserReceiver, VideoS, (65535u << 16) | 0b1), [null, video]);
        Assert.Empty(output);
        Assert.Equal(2, resend.Count); // across the sequence number wrap
        Assert.Equal(0, counts.Discarded);
    }

    [Fact]
    public void ReceiverReport_AboutOurStream_BecomesAReportAboutTheBrowsersStream_FromOurSsrc_Rfc3550_6_4_2()
    {
        var router = NewRouter();
        Learn(router);
        uint[] block = [VideoS, 0x05000003, 1000, 7, 0xAABBCCDD, 0x10];
        var (output, counts, _) = Translate(router, Rtcp(1, 201, [BrowserReceiver, .. block]));
        Assert.Equal(1, counts.Reports);
        Assert.Equal(32, output.Length);
        Assert.Equal(0x81, output[0]);
        Assert.Equal(201, output[1]);
        Assert.Equal(VideoS, Word(output, 1));
        Assert.Equal(VideoA, Word(output, 2));
        Assert.Equal(block[1..], Enumerable.Range(3, 5).Select(i => Word(output, i))); // loss, jitter, LSR, DLSR kept
    }

    [Fact]
    public void SenderReport_FromTheBrowsersStream_BecomesOurSenderReport_AndDropsBlocksAboutUnknownStreams()
    {
        var router = NewRouter();
        uint[] senderInfo = [0x01020304, 0x05060708, 90000, 10, 1000];
        uint[] aboutUs = [AudioS, 0, 1, 0, 0, 0];
        uint[] aboutStranger = [0x999, 0, 1, 0, 0, 0];
        var (output, counts, _) = Translate(router, Rtcp(2, 200, [VideoA, .. senderInfo, .. aboutUs, .. aboutStranger]));
        Assert.Equal(1, counts.Reports);
        Assert.Equal(4 + 4 + 20 + 24, output.Length);
        Assert.Equal(0x81, output[0]);
        Assert.Equal(200, output[1]);
        Assert.Equal((4 + 4 + 20 + 24) / 4 - 1, BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(2)));
        Assert.Equal(VideoS, Word(output, 1));
        Assert.Equal(senderInfo, Enumerable.Range(2, 5).Select(i => Word(output, i)));
        Assert.Equal(AudioA, Word(output, 7));
    }

    [Fact]
    public void Compound_KeepsFeedbackAndReports_DropsSdesByeAndTransportCc()
    {
        var router = NewRouter();
        Learn(router);
        byte[] compound =
        [
            .. Rtcp(1, 201, BrowserReceiver, VideoS, 0, 0, 0, 0, 0),
            .. Rtcp(1, 202, BrowserReceiver, 0x01036162, 0), // SDES CNAME "ab"
            .. Rtcp(15, 205, BrowserReceiver, VideoS, 0x00010002, 0x20010000), // transport-cc
            .. Rtcp(1, 206, BrowserReceiver, VideoS),
            .. Rtcp(1, 203, BrowserReceiver), // BYE
        ];
        var (output, counts, _) = Translate(router, compound);
        Assert.Equal(1, counts.Reports);
        Assert.Equal(1, counts.Pli);
        Assert.Equal(3, counts.Discarded);
        Assert.Equal(32 + 12, output.Length);
        Assert.Equal(201, output[1]);
        Assert.Equal(206, output[33]);
    }

    [Fact]
    public void Compound_StopsAtAMalformedPacket_AndNeverWritesMoreThanItRead()
    {
        var router = NewRouter();
        var pli = Rtcp(1, 206, BrowserReceiver, VideoS);
        byte[] lengthTooLong = [0x81, 206, 0x00, 0x09, 0, 0, 0, 1];
        var (output, counts, _) = Translate(router, [.. pli, .. lengthTooLong]);
        Assert.Equal(12, output.Length);
        Assert.Equal(1, counts.Discarded);

        var rng = new Random(6);
        for (var i = 0; i < 2000; i++)
        {
            var junk = new byte[rng.Next(0, 80)];
            rng.NextBytes(junk);
            Translate(router, junk);
        }
    }

    [Fact]
    public void Feedback_AboutAStreamWeDoNotKnow_IsDiscarded()
    {
        var (output, counts, _) = Translate(NewRouter(), Rtcp(1, 206, BrowserReceiver, 0x5555));
        Assert.Empty(output);
        Assert.Equal(1, counts.Discarded);
    }

    [Fact]
    public void History_KeepsTheLastPackets_BySequenceNumber_AndForgetsOverwrittenOnes()
    {
        var history = new RtpHistory();
        history.Store(5, [1, 2, 3]);
        Assert.True(history.TryGet(5, out var packet));
        Assert.Equal([1, 2, 3], packet.ToArray());
        history.Store(5 + RtpHistory.Capacity, [9]);
        Assert.False(history.Contains(5));
        Assert.True(history.Contains(5 + RtpHistory.Capacity));
        history.Store(7, new byte[RtpHistory.MaxPacket + 1]);
        Assert.False(history.Contains(7));
    }
}
