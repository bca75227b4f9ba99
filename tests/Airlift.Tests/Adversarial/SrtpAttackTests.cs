using System.Buffers.Binary;
using Airlift.Dtls;
using Airlift.Srtp;
using Airlift.Tests.Srtp;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Attacks on SRTP/SRTCP unprotect (RFC 3711 3.3, 3.4, RFC 7714; str0m "srtp-replay-attack", libsrtp's
/// srtp_driver bad-tag and replay cases), for every profile: forged and truncated tags, forged packets whose sequence
/// number would move the rollover counter (a "huge ROC jump" the receiver must not take from an unauthenticated
/// packet), a genuine sender whose ROC ran far ahead, forged SRTCP indexes, replays, floods of forged SSRCs, and
/// malformed headers. Each is a typed, counted drop that changes no receiver state; the next genuine RTP and RTCP
/// packets, and other SSRCs, still pass.
/// </summary>
public class SrtpAttackTests
{
    private const uint Ssrc = 0x1122_3344;
    private const uint OtherSsrc = 0x5566_7788;
    private const ushort LastGenuineSeq = 40_000;

    private static readonly Dictionary<string, SrtpAttack> Cases = BuildCases();

    public static TheoryData<string, ushort> CaseNames()
    {
        var data = new TheoryData<string, ushort>();
        foreach (var name in Cases.Keys)
        {
            foreach (var profile in SrtpTestPackets.Profiles)
            {
                data.Add(name, profile.Value);
            }
        }

        return data;
    }

    internal static int Count => Cases.Count * SrtpTestPackets.Profiles.Length;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Srtp_attack_is_a_counted_drop_that_changes_no_state_and_genuine_packets_still_pass(string name, ushort profile)
    {
        var @case = Cases[name];
        using var lab = new SrtpLab(new SrtpProtectionProfile(profile));
        var before = lab.ReceiverState();
        var stats = Counters(lab.Receiver.Stats);

        var attack = @case.Build(lab);
        foreach (var (packet, isRtcp) in attack)
        {
            var copy = (byte[])packet.Clone();
            var status = isRtcp ? lab.Receiver.UnprotectRtcp(copy, out _) : lab.Receiver.UnprotectRtp(copy, out _);
            Assert.Equal(@case.Expected, status);
        }

        var delta = Counters(lab.Receiver.Stats).Zip(stats, (a, b) => a - b).ToArray();
        var want = new long[delta.Length];
        want[(int)@case.Expected - 1] = attack.Count;
        Assert.Equal(want, delta);
        Assert.Equal(before, lab.ReceiverState());

        // Nothing else broke: the sender's next RTP and RTCP packets pass, on this SSRC and another.
        lab.AssertGenuineStillPasses(Ssrc);
        lab.AssertGenuineStillPasses(OtherSsrc, 7);
    }

    // Same order as SrtpStatus after Ok.
    private static long[] Counters(SrtpStats s) =>
        [s.DroppedTruncated, s.DroppedMalformed, s.DroppedBufferTooSmall, s.DroppedAuthentication, s.DroppedReplay, s.DroppedTooOld, s.DroppedSsrcLimit, s.DroppedKeyExhausted];

    private static Dictionary<string, SrtpAttack> BuildCases()
    {
        var c = new Dictionary<string, SrtpAttack>();
        var rtp = (byte[] p) => (p, false);
        var rtcp = (byte[] p) => (p, true);

        // ---- forged tags
        c["RTP with the last tag byte flipped: authentication failure"] = new(l => [rtp(Flip(l.NextRtp(), ^1))], SrtpStatus.AuthenticationFailed);
        c["RTP with an all-zero tag: authentication failure"] = new(l => [rtp(ZeroTag(l.NextRtp(), l.Receiver.RtpTrailerLength))], SrtpStatus.AuthenticationFailed);
        c["RTP with one payload bit flipped: authentication failure"] = new(l => [rtp(Flip(l.NextRtp(), 14))], SrtpStatus.AuthenticationFailed);
        c["RTP with its SSRC changed to another stream: authentication failure, no stream created"] =
            new(l => [rtp(WithSsrc(l.NextRtp(), 0xDEAD_BEEF))], SrtpStatus.AuthenticationFailed);
        c["RTP missing its last tag byte: authentication failure"] = new(l => [rtp(l.NextRtp()[..^1])], SrtpStatus.AuthenticationFailed);
        c["SRTCP with the last tag byte flipped: authentication failure"] = new(l => [rtcp(Flip(l.NextRtcp(), ^1))], SrtpStatus.AuthenticationFailed);
        c["SRTCP with the E bit cleared: authentication failure"] = new(l => [rtcp(FlipEBit(l, l.NextRtcp()))], SrtpStatus.AuthenticationFailed);

        // ---- the rollover counter: unauthenticated packets must never move it (RFC 3711 3.3.1: state changes after authentication)
        foreach (var (what, seq) in new (string, ushort)[]
        {
            ("ahead in the same ROC (60000)", 60_000),
            ("just after a wrap (100, guessed as ROC + 1)", 100),
            ("at the last value guessed as ROC + 1 (7231)", 7_231),
            ("inside the replay window but never received (39995)", 39_995),
        })
        {
            c[$"forged RTP with sequence number {what}: authentication failure, ROC and window unchanged"] =
                new(l => [rtp(ForgedRtp(seq, Ssrc, l.Receiver.RtpTrailerLength))], SrtpStatus.AuthenticationFailed);
        }

        c["forged RTP flood: 5000 packets sweeping the fresh sequence space across the wrap: all authentication failures, ROC unchanged"] =
            new(l => [.. Enumerable.Range(0, 5000).Select(i => rtp(ForgedRtp(unchecked((ushort)(LastGenuineSeq + 1 + i * 6)), Ssrc, l.Receiver.RtpTrailerLength, seed: i)))],
                SrtpStatus.AuthenticationFailed);
        c["genuine sender whose ROC ran 100 wraps ahead: authentication failure (the ROC cannot be guessed), receiver state unchanged"] =
            new(l => [rtp(l.SenderRunsAhead(100))], SrtpStatus.AuthenticationFailed);
        c["forged SRTCP claiming index 2^31 - 1: authentication failure, replay state unchanged"] =
            new(l => [rtcp(WithRtcpIndex(l, ForgedRtcpLike(l), 0x7FFF_FFFF))], SrtpStatus.AuthenticationFailed);
        c["forged SRTCP flood over 2000 fresh indexes up to 2^31: all authentication failures"] =
            new(l => [.. Enumerable.Range(0, 2000).Select(i => rtcp(WithRtcpIndex(l, ForgedRtcpLike(l), (uint)(1_000 + (long)i * 1_000_003 % 0x7FFF_0000))))],
                SrtpStatus.AuthenticationFailed);

        // ---- replays (RFC 3711 3.3.2)
        c["an accepted RTP packet replayed: replayed"] = new(l => [rtp(l.LastAcceptedRtp)], SrtpStatus.Replayed);
        c["an accepted SRTCP packet replayed: replayed"] = new(l => [rtcp(l.LastAcceptedRtcp)], SrtpStatus.Replayed);
        c["a genuine RTP packet older than the replay window: too old"] = new(l => [rtp(l.OldGenuineRtp)], SrtpStatus.TooOld);

        // ---- SSRC exhaustion: forged packets must not take stream slots
        c["1000 forged SSRCs: authentication failures, no stream slot taken"] =
            new(l => [.. Enumerable.Range(0, 1000).Select(i => rtp(ForgedRtp(1, (uint)(0xA000_0000 + i), l.Receiver.RtpTrailerLength, seed: i)))],
                SrtpStatus.AuthenticationFailed);

        // ---- malformed headers
        c["RTP version 1: malformed"] = new(l => [rtp(WireVersion(l.NextRtp(), 1))], SrtpStatus.Malformed);
        c["RTP with 15 CSRCs announced but absent: truncated"] = new(l => [rtp(WithCsrcCount(l.NextRtp(), 15))], SrtpStatus.Truncated);
        c["RTP header extension length of 65535 words: truncated"] = new(l => [rtp(WithHugeExtension(l.NextRtp()))], SrtpStatus.Truncated);
        c["RTP shorter than its header and tag: truncated"] = new(l => [rtp(l.NextRtp()[..(12 + l.Receiver.RtpTrailerLength - 1)])], SrtpStatus.Truncated);
        c["SRTCP shorter than header, index and tag: truncated"] = new(l => [rtcp(l.NextRtcp()[..(8 + l.Receiver.RtcpTrailerLength - 1)])], SrtpStatus.Truncated);
        c["SRTCP version 0: malformed"] = new(l => [rtcp(WireVersion(l.NextRtcp(), 0))], SrtpStatus.Malformed);

        return c;
    }

    private static byte[] Flip(byte[] packet, Index at)
    {
        var copy = (byte[])packet.Clone();
        copy[at] ^= 0x01;
        return copy;
    }

    private static byte[] ZeroTag(byte[] packet, int tagLength)
    {
        var copy = (byte[])packet.Clone();
        copy.AsSpan(copy.Length - tagLength).Clear();
        return copy;
    }

    private static byte[] WithSsrc(byte[] packet, uint ssrc)
    {
        var copy = (byte[])packet.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(8), ssrc);
        return copy;
    }

    private static byte[] WireVersion(byte[] packet, int version)
    {
        var copy = (byte[])packet.Clone();
        copy[0] = (byte)((copy[0] & 0x3F) | (version << 6));
        return copy;
    }

    private static byte[] WithCsrcCount(byte[] packet, int count)
    {
        var copy = packet[..(12 + 30)];
        copy[0] = (byte)((copy[0] & 0xF0) | count);
        return copy;
    }

    private static byte[] WithHugeExtension(byte[] packet)
    {
        var copy = (byte[])packet.Clone();
        copy[0] |= 0x10;
        copy[12] = 0xBE;
        copy[13] = 0xDE;
        copy[14] = 0xFF;
        copy[15] = 0xFF;
        return copy;
    }

    /// <summary>An RTP packet with a random payload and tag that no key produced.</summary>
    private static byte[] ForgedRtp(ushort seq, uint ssrc, int tagLength, int seed = 0)
    {
        var packet = SrtpTestPackets.Rtp(seq, ssrc, 60, seed: (ulong)(seed + 1000));
        var forged = new byte[packet.Length + tagLength];
        packet.CopyTo(forged, 0);
        new Random(seed).NextBytes(forged.AsSpan(12));
        return forged;
    }

    private static byte[] ForgedRtcpLike(SrtpLab l)
    {
        var genuine = l.NextRtcp();
        new Random(5).NextBytes(genuine.AsSpan(8, genuine.Length - 8));
        return genuine;
    }

    private static int RtcpWordAt(SrtpLab l, byte[] packet) =>
        l.IsAead ? packet.Length - 4 : packet.Length - 4 - (l.Receiver.RtcpTrailerLength - 4);

    private static byte[] WithRtcpIndex(SrtpLab l, byte[] packet, uint index)
    {
        var copy = (byte[])packet.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(RtcpWordAt(l, copy)), 0x8000_0000u | index);
        return copy;
    }

    private static byte[] FlipEBit(SrtpLab l, byte[] packet)
    {
        var copy = (byte[])packet.Clone();
        copy[RtcpWordAt(l, copy)] ^= 0x80;
        return copy;
    }
}

/// <summary>One row: the attack packets (and whether each is SRTCP) built against a lab, and the status each must get.</summary>
internal sealed record SrtpAttack(Func<SrtpLab, List<(byte[] Packet, bool IsRtcp)>> Build, SrtpStatus Expected);

/// <summary>
/// A protect context (the sender) and an unprotect context (the receiver) that have exchanged a genuine stream:
/// RTP up to sequence 40,000 with some gaps and 20 SRTCP packets, so that the receiver has a rollover counter, a
/// replay window and SRTCP state to lose.
/// </summary>
internal sealed class SrtpLab : IDisposable
{
    private const uint Ssrc = 0x1122_3344;

    public SrtpLab(SrtpProtectionProfile profile)
    {
        (Sender, Receiver) = SrtpTestPackets.Pair(profile);
        IsAead = profile == SrtpProtectionProfile.AeadAes128Gcm || profile == SrtpProtectionProfile.AeadAes256Gcm;
        byte[] old = [];
        foreach (var seq in new ushort[] { 1, 2, 3, 20_000, 39_500, 39_800, 39_990, 40_000 })
        {
            var packet = SrtpTestPackets.ProtectRtp(Sender, SrtpTestPackets.Rtp(seq, Ssrc, 80));
            if (seq == 20_000)
            {
                old = SrtpTestPackets.ProtectRtp(Sender, SrtpTestPackets.Rtp(20_001, Ssrc, 80));
            }

            Assert.Equal(SrtpStatus.Ok, Receiver.UnprotectRtp((byte[])packet.Clone(), out _));
            LastAcceptedRtp = packet;
        }

        OldGenuineRtp = old;
        for (var i = 0; i < 20; i++)
        {
            var packet = SrtpTestPackets.ProtectRtcp(Sender, SrtpTestPackets.Rtcp(Ssrc, seed: (ulong)i));
            Assert.Equal(SrtpStatus.Ok, Receiver.UnprotectRtcp((byte[])packet.Clone(), out _));
            LastAcceptedRtcp = packet;
        }
    }

    public SrtpContext Sender { get; }

    public SrtpContext Receiver { get; }

    public bool IsAead { get; }

    public byte[] LastAcceptedRtp { get; } = [];

    public byte[] LastAcceptedRtcp { get; } = [];

    /// <summary>A genuine packet (sequence 20,001) never delivered, now far behind the window.</summary>
    public byte[] OldGenuineRtp { get; }

    private ushort _nextSeq = 40_001;

    /// <summary>The sender's next genuine RTP packet (not delivered).</summary>
    public byte[] NextRtp() => SrtpTestPackets.ProtectRtp(Sender, SrtpTestPackets.Rtp(_nextSeq++, Ssrc, 80));

    /// <summary>The sender's next genuine SRTCP packet (not delivered).</summary>
    public byte[] NextRtcp() => SrtpTestPackets.ProtectRtcp(Sender, SrtpTestPackets.Rtcp(Ssrc, seed: 99));

    /// <summary>A second sender on the same key whose ROC runs <paramref name="wraps"/> wraps ahead; its packet at sequence 40,001.</summary>
    public byte[] SenderRunsAhead(int wraps)
    {
        var (ahead, unused) = SrtpTestPackets.Pair(Receiver.Profile);
        unused.Dispose();
        using (ahead)
        {
            ushort seq = 40_000;
            for (var i = 0; i < 3 * wraps; i++)
            {
                SrtpTestPackets.ProtectRtp(ahead, SrtpTestPackets.Rtp(seq, Ssrc, 10));
                seq = unchecked((ushort)(seq + 0x5555));
            }

            while (seq != 40_001)
            {
                seq = unchecked((ushort)(seq + Math.Min(0x7000, unchecked((ushort)(40_001 - seq)) + 0)));
                SrtpTestPackets.ProtectRtp(ahead, SrtpTestPackets.Rtp(seq, Ssrc, 10));
            }

            Assert.True(ahead.TryGetRolloverCounter(Ssrc, out var roc) && roc >= wraps, $"ROC {roc}");
            return SrtpTestPackets.ProtectRtp(ahead, SrtpTestPackets.Rtp(40_002, Ssrc, 80));
        }
    }

    /// <summary>What an attack must not change: the receiver's ROC of the stream and the number of streams.</summary>
    public (uint Roc, int Ssrcs) ReceiverState()
    {
        Assert.True(Receiver.TryGetRolloverCounter(Ssrc, out var roc));
        return (roc, Receiver.Stats.Ssrcs);
    }

    public void AssertGenuineStillPasses(uint ssrc, ushort? fixedSeq = null)
    {
        var seq = fixedSeq ?? _nextSeq++;
        var plain = SrtpTestPackets.Rtp(seq, ssrc, 80);
        var packet = SrtpTestPackets.ProtectRtp(Sender, plain);
        Assert.Equal(SrtpStatus.Ok, Receiver.UnprotectRtp(packet, out var n));
        Assert.Equal(plain, packet[..n]);
        var control = SrtpTestPackets.ProtectRtcp(Sender, SrtpTestPackets.Rtcp(ssrc, seed: seq));
        Assert.Equal(SrtpStatus.Ok, Receiver.UnprotectRtcp(control, out _));
    }

    public void Dispose()
    {
        Sender.Dispose();
        Receiver.Dispose();
    }
}
