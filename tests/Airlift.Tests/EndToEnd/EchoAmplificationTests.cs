using System.Buffers.Binary;
using Airlift.Cli.Serve;
using Airlift.Dtls;
using Airlift.Srtp;
using Airlift.Transport;
using Airlift.WebRtc;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// What a peer can make <c>airlift serve</c> send, measured on its media path (<see cref="EchoMedia"/>, real SRTP, virtual
/// time): the amplification factor is bytes out / bytes in with 28 bytes of IPv4 + UDP header counted per datagram.
/// </summary>
public class EchoAmplificationTests(ITestOutputHelper output)
{
    private const int IpUdp = 28;
    private const uint AudioA = 0xA0A0A0A0;
    private const uint VideoA = 0xB0B0B0B0;
    private const uint AudioS = 0x11111111;
    private const uint VideoS = 0x22222222;
    private const uint BrowserReceiver = 1;

    /// <summary>The echo with its SRTP keyed, and the peer's side of the keys; counts every datagram both ways.</summary>
    private sealed class Rig : IDisposable
    {
        private readonly SrtpContext _peerProtect;
        private readonly SrtpContext _peerUnprotect;
        private uint _rtpTimestamp;

        public Rig(EchoLimits? limits = null, int seed = 1)
        {
            var material = new byte[60];
            new Random(seed).NextBytes(material);
            var profile = SrtpProtectionProfile.Aes128CmHmacSha1_80;
            var peerKeys = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
            _peerProtect = peerKeys.CreateProtectContext();
            _peerUnprotect = peerKeys.CreateUnprotectContext();
            Media = new EchoMedia(
                [
                    new EchoStream("0", "audio", new HashSet<int> { 111 }, AudioS, [AudioA], Receive: true, Send: true),
                    new EchoStream("1", "video", new HashSet<int> { 96 }, VideoS, [VideoA], Receive: true, Send: true),
                ],
                limits ?? EchoLimits.Default,
                packet =>
                {
                    Sent.Add(packet.ToArray());
                    BytesOut += packet.Length + IpUdp;
                    return true;
                },
                TimeSpan.Zero);
            Media.SetKeys(new KeyingMaterial(profile, material, DtlsRole.Server));
        }

        public EchoMedia Media { get; }

        public List<byte[]> Sent { get; } = [];

        public long BytesIn { get; private set; }

        public long BytesOut { get; set; }

        /// <summary>Video RTP from the peer with <paramref name="payload"/> bytes of payload; returns what the echo sent for it.</summary>
        public byte[] SendVideo(TimeSpan now, ushort seq, int payload = 1000)
        {
            var buffer = new byte[12 + payload + 64];
            buffer[0] = 0x80;
            buffer[1] = 96;
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), seq);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4), _rtpTimestamp += 3000);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(8), VideoA);
            buffer.AsSpan(12, payload).Fill((byte)seq);
            Assert.Equal(SrtpStatus.Ok, _peerProtect.ProtectRtp(buffer, 12 + payload, out var length));
            var before = Sent.Count;
            BytesIn += length + IpUdp;
            Media.HandleRtp(now, buffer.AsSpan(0, length));
            Assert.Equal(before + 1, Sent.Count);
            return Sent[^1];
        }

        /// <summary>A compound SRTCP packet from the peer; returns the packets the echo sent because of it.</summary>
        public List<byte[]> SendRtcp(TimeSpan now, byte[] compound)
        {
            var buffer = new byte[compound.Length + 64];
            compound.CopyTo(buffer, 0);
            Assert.Equal(SrtpStatus.Ok, _peerProtect.ProtectRtcp(buffer, compound.Length, out var length));
            var before = Sent.Count;
            BytesIn += length + IpUdp;
            Media.HandleRtcp(now, buffer.AsSpan(0, length));
            return Sent[before..];
        }

        public void Dispose()
        {
            Media.Dispose();
            _peerProtect.Dispose();
            _peerUnprotect.Dispose();
        }
    }

    /// <summary>RFC 4585 6.2.1 Generic NACK about our video stream with the given (PID, BLP) entries.</summary>
    private static byte[] Nack(params (ushort Pid, ushort Blp)[] entries)
    {
        var p = new byte[12 + entries.Length * 4];
        p[0] = 0x81;
        p[1] = 205;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), BrowserReceiver);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), VideoS);
        for (var i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(12 + i * 4), entries[i].Pid);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(14 + i * 4), entries[i].Blp);
        }

        return p;
    }

    /// <summary>RFC 4585 6.3.1 PLI about our video stream.</summary>
    private static byte[] Pli()
    {
        var p = new byte[12];
        p[0] = 0x81;
        p[1] = 206;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 2);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), BrowserReceiver);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), VideoS);
        return p;
    }

    [Fact]
    public void Nack_With290Entries_OfPid0Blp0xFFFF_ResendsEachPacketOnce_AndStaysWithinTheBudget_Issue10Item2()
    {
        // Field report: one 1,172-byte NACK (290 FCI entries, PID 0, BLP 0xFFFF) made serve resend 17 packets 4,930 times.
        using var rig = new Rig();
        var now = TimeSpan.FromSeconds(1);
        var echoed = new List<byte[]>();
        for (ushort seq = 0; seq <= 16; seq++)
        {
            echoed.Add(rig.SendVideo(now, seq));
            now += TimeSpan.FromMilliseconds(33);
        }

        var nack = Nack([.. Enumerable.Repeat(((ushort)0, (ushort)0xFFFF), 290)]);
        Assert.Equal(1172, nack.Length);
        var outBefore = rig.BytesOut;
        var sent = rig.SendRtcp(now, nack);

        // Every packet sent back is one of the 17 echoed ones, none twice.
        var resent = sent.Select(p => echoed.FindIndex(e => e.AsSpan().SequenceEqual(p))).ToList();
        Assert.DoesNotContain(-1, resent);
        Assert.Equal(resent.Count, resent.Distinct().Count());
        Assert.InRange(resent.Count, 1, 17);

        // The bound: NACK answers never exceed EchoLimits.ResendBudgetRatio (0.5) of the bytes received, so the session as a
        // whole (echo 1:1, RTCP translated shorter, answers) stays within 1.5.
        var nackBytesOut = rig.BytesOut - outBefore;
        var factor = (double)rig.BytesOut / rig.BytesIn;
        output.WriteLine($"290-entry NACK: {resent.Count} resends, {nackBytesOut} B out for it; session {rig.BytesOut} B out / {rig.BytesIn} B in = {factor:0.###}");
        Assert.True(nackBytesOut <= 0.5 * rig.BytesIn, $"NACK answers {nackBytesOut} B for {rig.BytesIn} B received");
        Assert.True(factor <= 1.5, $"amplification {factor:0.###} ({rig.BytesOut} B out / {rig.BytesIn} B in)");

        // What was not resent is counted, not forwarded (we hold those packets) and not silently lost.
        var stats = rig.Media.Snapshot();
        Assert.Equal(290 * 17 - 17, stats.Rtcp.NackDuplicate);
        Assert.Equal(resent.Count, stats.Rtcp.NackServed);
        Assert.Equal(17 - resent.Count, stats.Rtcp.NackOverBudget);
        Assert.Equal(0, stats.Rtcp.Nack);
    }

    [Fact]
    public void Nack_ForAFewPacketsLostOnTheWayBack_IsAnsweredInFull()
    {
        // The budget must not get in the way of real repair: 5 of 100 packets lost downstream are all resent at once.
        using var rig = new Rig();
        var now = TimeSpan.Zero;
        var echoed = new List<byte[]>();
        for (ushort seq = 0; seq < 100; seq++)
        {
            echoed.Add(rig.SendVideo(now, seq));
            now += TimeSpan.FromMilliseconds(11);
        }

        var sent = rig.SendRtcp(now, Nack((40, 0b1011), (90, 0)));
        Assert.Equal([echoed[40], echoed[41], echoed[42], echoed[44], echoed[90]], sent);
    }

    [Fact]
    public void Nack_ForAPacketResentWithinTheInterval_IsNotResentAgain_UntilTheIntervalPassed()
    {
        var limits = EchoLimits.Default with { Nack = NackAnswerOptions.Default with { NackResendInterval = TimeSpan.FromMilliseconds(50) } };
        using var rig = new Rig(limits);
        var now = TimeSpan.Zero;
        for (ushort seq = 0; seq < 50; seq++)
        {
            rig.SendVideo(now, seq);
        }

        Assert.Single(rig.SendRtcp(now, Nack((7, 0))));
        Assert.Empty(rig.SendRtcp(now + TimeSpan.FromMilliseconds(49), Nack((7, 0))));
        Assert.Single(rig.SendRtcp(now + TimeSpan.FromMilliseconds(50), Nack((7, 0))));
        Assert.Equal(1, rig.Media.Snapshot().Rtcp.NackTooSoon);
    }

    [Fact]
    public void Nack_RepeatedInTwoNackPacketsOfOneCompound_IsResentOnce_EvenWithoutAnInterval()
    {
        using var rig = new Rig(EchoLimits.Default with { Nack = NackAnswerOptions.Default with { NackResendInterval = TimeSpan.Zero } });
        var now = TimeSpan.Zero;
        for (ushort seq = 0; seq < 20; seq++)
        {
            rig.SendVideo(now, seq);
        }

        var sent = rig.SendRtcp(now, [.. Nack((3, 0b1)), .. Nack((3, 0b1), (3, 0))]);
        Assert.Equal(2, sent.Count); // 3 and 4
        Assert.Equal(2, sent.Distinct(new ByteArrayEquality()).Count());
        Assert.Equal(3, rig.Media.Snapshot().Rtcp.NackDuplicate);
    }

    private sealed class ByteArrayEquality : IEqualityComparer<byte[]>
    {
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => obj.Length;
    }

    [Fact]
    public void Nack_ForMorePacketsThanTheCap_ResendsAtMostMaxResendsPerRtcp_AndCountsTheRest()
    {
        using var rig = new Rig();
        var now = TimeSpan.Zero;
        for (ushort seq = 0; seq < 200; seq++)
        {
            rig.SendVideo(now, seq, payload: 100); // small packets: the budget is not what limits here
            now += TimeSpan.FromMilliseconds(5);
        }

        var entries = Enumerable.Range(0, 10).Select(i => ((ushort)(i * 17), (ushort)0xFFFF)).ToArray(); // 170 distinct
        var sent = rig.SendRtcp(now, Nack(entries));
        Assert.Equal(NackAnswerOptions.Default.MaxResendsPerRtcp, sent.Count);
        Assert.Equal(170 - NackAnswerOptions.Default.MaxResendsPerRtcp, rig.Media.Snapshot().Rtcp.NackOverCap);
    }

    [Fact]
    public void RtcpFeedbackFlood_OfNacksAndPlis_StaysWithinTheBudget_AtEverySecond()
    {
        // 20 virtual seconds of a 30 fps camera (3 packets of 1000 B a frame) with, every 10 ms, a compound of a 100-entry NACK
        // (random PIDs over the last 300 sequence numbers, BLP 0xFFFF) and 10 PLIs. Checked every second: NACK answers
        // within ResendBudgetRatio of what was received and within the time bucket; the echo and the translated RTCP never more
        // than their input; so the whole session stays within 1 + 0.5.
        var limits = EchoLimits.Default;
        using var rig = new Rig(limits);
        var rng = new Random(10);
        var now = TimeSpan.Zero;
        ushort seq = 0;
        var nextFrame = TimeSpan.Zero;
        long rtcpIn = 0, rtcpOut = 0;
        for (var second = 1; second <= 20; second++)
        {
            for (var end = TimeSpan.FromSeconds(second); now < end; now += TimeSpan.FromMilliseconds(10))
            {
                for (; nextFrame <= now; nextFrame += TimeSpan.FromSeconds(1.0 / 30))
                {
                    for (var k = 0; k < 3; k++)
                    {
                        rig.SendVideo(now, seq++);
                    }
                }

                var entries = Enumerable.Range(0, 100).Select(_ => ((ushort)(seq - rng.Next(1, 300)), (ushort)0xFFFF)).ToArray();
                var compound = Nack(entries).Concat(Enumerable.Range(0, 10).SelectMany(_ => Pli())).ToArray();
                var inBefore = rig.BytesIn;
                var sent = rig.SendRtcp(now, compound);
                rtcpIn += rig.BytesIn - inBefore;
                rtcpOut += sent.Where(p => p[1] is >= 192 and <= 223).Sum(p => p.Length + IpUdp); // SRTCP (RFC 5761 4)
            }

            var stats = rig.Media.Snapshot();
            var resent = stats.RetransmittedBytes;
            Assert.True(resent <= limits.Nack.ResendBudgetRatio * rig.BytesIn, $"second {second}: {resent} B resent for {rig.BytesIn} B in");
            Assert.True(resent <= limits.Nack.ResendBurstBytes + (limits.Nack.ResendBytesPerSecond * now.TotalSeconds), $"second {second}: {resent} B resent in {now}");
            Assert.True(rtcpOut <= rtcpIn, $"second {second}: translated RTCP {rtcpOut} B for {rtcpIn} B in");
            Assert.True(rig.BytesOut <= (1 + limits.Nack.ResendBudgetRatio) * rig.BytesIn, $"second {second}: {rig.BytesOut} B out / {rig.BytesIn} B in");
        }

        var final = rig.Media.Snapshot();
        output.WriteLine($"flood: {rig.BytesIn} B in, {rig.BytesOut} B out ({(double)rig.BytesOut / rig.BytesIn:0.###}), {final.Retransmitted} resends ({final.RetransmittedBytes} B), " +
            $"dropped: {final.Rtcp.NackDuplicate} duplicate, {final.Rtcp.NackTooSoon} too soon, {final.Rtcp.NackOverCap} over cap, {final.Rtcp.NackOverBudget} over budget; {final.Rtcp.Pli} PLIs forwarded");
        Assert.True(final.Retransmitted > 0); // repair still works under the flood, within the budget
        Assert.True(final.Rtcp.NackOverBudget > 0); // and the budget is what held it
        Assert.True(final.Rtcp.Pli > 0);
    }

    [Fact]
    public void Rtp_FromNewSsrcs_BeyondMaxRemoteSsrcs_IsDroppedAndCounted_AndTheKnownStreamStillEchoes()
    {
        var router = new EchoRouter([new EchoStream("1", "video", new HashSet<int> { 96 }, VideoS, [VideoA], Receive: true, Send: true)], maxRemoteSsrcs: 4);
        var rtp = new byte[16];
        rtp[0] = 0x80;
        rtp[1] = 96;
        for (uint ssrc = 1; ssrc <= 10; ssrc++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(8), ssrc);
            var index = router.RewriteRtp(rtp, out var drop);
            Assert.Equal(ssrc <= 3 ? 0 : -1, index); // VideoA declared + 3 learned = 4
            Assert.Equal(ssrc <= 3 ? EchoDrop.None : EchoDrop.SsrcLimit, drop);
        }

        BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(8), VideoA);
        Assert.Equal(0, router.RewriteRtp(rtp, out _));
    }
}
