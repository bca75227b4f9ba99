using System.Buffers.Binary;
using System.Net;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.NetEm;
using Airlift.Tests.Transport;
using Airlift.Transport;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Floods at the <see cref="WebRtcTransport"/> level (RFC 7983 demultiplexing; RFC 4585 / 5104 feedback): RTCP feedback
/// (NACK, PLI, FIR, REMB) from the selected tuple with and without a draining caller, media and DTLS from tuples ICE never
/// selected, RTCP before any selection, ZRTP and TURN ChannelData, STUN with bad integrity from a thousand tuples. The
/// transport itself never answers media (0 bytes out), bounds its queue (<see cref="WebRtcTransportOptions.MaxQueuedOutputs"/>)
/// and counts every drop; afterwards DTLS data still flows both ways, checks are still answered and the selected tuple
/// has not moved.
/// </summary>
public class TransportFloodTests
{
    private static readonly IceTuple Stranger = new(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 3478), new IPEndPoint(IPAddress.Parse("203.0.113.9"), 61_000), IceProtocol.Udp);

    private static readonly Dictionary<string, TransportFlood> Cases = BuildCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    internal static int Count => Cases.Count;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Transport_flood_is_bounded_and_counted_and_nothing_else_breaks(string name)
    {
        var @case = Cases[name];
        var lab = ConnectedLab();
        var selected = lab.Transport.SelectedTuple!.Value;
        var before = lab.Transport.Stats;
        var sentBefore = lab.Sent.Count;
        var eventsBefore = lab.Events.Count;

        var datagrams = @case.Build(lab, selected);
        foreach (var (tuple, datagram) in datagrams)
        {
            lab.Transport.HandleDatagram(lab.Now, tuple, datagram);
            if (@case.DrainEach)
            {
                lab.Drain();
            }
        }

        lab.Drain();
        var after = lab.Transport.Stats;
        var bytesIn = datagrams.Sum(d => d.Datagram.Length + 28);
        var bytesOut = lab.Sent.Skip(sentBefore).Sum(s => s.Bytes.Length + 28);
        Assert.True(bytesOut <= @case.MaxAmplification * bytesIn, $"{bytesOut} bytes out for {bytesIn} in");
        Assert.Equal(@case.Counted(before) + @case.Count, @case.Counted(after));
        Assert.Equal(@case.Events, lab.Events.Skip(eventsBefore).Count(e => e.Event is RtcpPacketReceived or RtpPacketReceived));
        Assert.Equal(0, after.InternalErrors);
        Assert.False(lab.Transport.IsFinished);

        // Nothing else broke: same tuple, DTLS data both ways, a check answered.
        Assert.Equal(selected, lab.Transport.SelectedTuple);
        Assert.Equal(TransportDtlsState.Connected, lab.Transport.DtlsState);
        Assert.True(lab.Transport.SendApplicationData("after the flood"u8));
        lab.Drain();
        lab.PeerDtls!.Send("peer after the flood"u8);
        lab.SendCheck(0, useCandidate: true);
        var checksBefore = lab.Transport.IceStats.ChecksAnswered;
        Assert.True(lab.RunUntil(
            l => l.PeerApplicationData.Any(d => d.AsSpan().SequenceEqual("after the flood"u8))
                && l.Events.Any(e => e.Event is ApplicationDataReceived a && a.Data.AsSpan().SequenceEqual("peer after the flood"u8))
                && l.Transport.IceStats.ChecksAnswered > checksBefore,
            lab.Now + TimeSpan.FromSeconds(5)));
    }

    private static TransportLab ConnectedLab()
    {
        var transport = TransportLab.NewTransport(SdpSetupRole.Active);
        var lab = new TransportLab(transport, LabPath.Create("v4", "192.0.2.1", "198.51.100.9", new LinkImpairment { Delay = TimeSpan.FromMilliseconds(10) }, new LinkImpairment { Delay = TimeSpan.FromMilliseconds(10) }, 4));
        lab.At(TimeSpan.Zero, l => l.SendCheck(0, useCandidate: true));
        lab.At(TimeSpan.FromMilliseconds(1), l => l.StartPeerDtls(DtlsRole.Client));
        Assert.True(lab.RunUntil(l => l.TransportConnectedAt is not null && l.PeerConnectedAt is not null, TimeSpan.FromSeconds(10)), lab.Transport.DtlsTrace);
        lab.RunUntil(_ => false, lab.Now + TimeSpan.FromMilliseconds(100));
        return lab;
    }

    private static Dictionary<string, TransportFlood> BuildCases()
    {
        var c = new Dictionary<string, TransportFlood>();
        var feedback = new Func<int, byte[]>[] { i => Nack(i), Pli, Fir, Remb };

        c["10,000 RTCP feedback packets (NACK, PLI, FIR, REMB) from the selected tuple, drained: each surfaced once, nothing sent back"] =
            new((_, t) => [.. Enumerable.Range(0, 10_000).Select(i => (t, feedback[i % 4](i)))], s => s.RtcpReceived, 10_000, Events: 10_000);
        c["10,000 RTCP NACKs of 290 entries (issue 10 item 2's shape) while the caller does not drain: queue capped, excess counted, nothing sent back"] =
            new((_, t) => [.. Enumerable.Range(0, 10_000).Select(i => (t, Nack(i, entries: 290)))], s => s.QueueOverflowDrops, 10_000 - 1024, Events: 1024, DrainEach: false);
        c["10,000 RTCP packets from a tuple ICE never selected: dropped, counted, no event"] =
            new((_, _) => [.. Enumerable.Range(0, 10_000).Select(i => (Stranger, Nack(i)))], s => s.MediaFromUnselectedTuple, 10_000);
        c["10,000 RTP packets from a tuple ICE never selected: dropped, counted, no event"] =
            new((_, _) => [.. Enumerable.Range(0, 10_000).Select(i => (Stranger, Rtp(i)))], s => s.MediaFromUnselectedTuple, 10_000);
        c["1,000 DTLS records from a tuple ICE never selected (a hijack attempt): dropped, counted, the association untouched"] =
            new((_, _) => [.. Enumerable.Range(0, 1_000).Select(i => (Stranger, DtlsGarbage(i)))], s => s.DtlsFromUnselectedTuple, 1_000);
        c["1,000 ZRTP packets: dropped, counted"] =
            new((_, t) => [.. Enumerable.Range(0, 1_000).Select(i => (t, Zrtp(i)))], s => s.ZrtpDropped, 1_000);
        c["1,000 TURN ChannelData packets: dropped, counted"] =
            new((_, t) => [.. Enumerable.Range(0, 1_000).Select(i => (t, (byte[])[0x40, 0x00, 0x00, 0x04, 1, 2, 3, (byte)i]))], s => s.TurnChannelDropped, 1_000);
        c["1,000 datagrams of no known kind (first byte 255): dropped, counted"] =
            new((_, t) => [.. Enumerable.Range(0, 1_000).Select(i => (t, (byte[])[0xFF, (byte)i, 0, 0]))], s => s.UnknownDropped, 1_000);
        c["1,000 STUN checks with a bad MESSAGE-INTEGRITY from 1,000 tuples: 401s no larger than the requests, selection unchanged"] =
            new((l, _) => [.. Enumerable.Range(0, 1_000).Select(i => (Tuple(i), BadIntegrityCheck(l, i)))], s => s.StunReceived, 1_000, MaxAmplification: 1.0);

        return c;
    }

    private static IceTuple Tuple(int i) => new(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 3478), new IPEndPoint(IPAddress.Parse("203.0.113.10"), 20_000 + i), IceProtocol.Udp);

    /// <summary>Generic NACK (RFC 4585 6.2.1) with <paramref name="entries"/> FCI entries of PID 0, BLP 0xFFFF.</summary>
    private static byte[] Nack(int i, int entries = 4)
    {
        var p = new byte[12 + 4 * entries];
        p[0] = 0x81;
        p[1] = 205;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), 0xABCD0000u + (uint)i);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), 0x1234_5678);
        for (var e = 0; e < entries; e++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(12 + 4 * e + 2), 0xFFFF);
        }

        return p;
    }

    /// <summary>Picture Loss Indication (RFC 4585 6.3.1).</summary>
    private static byte[] Pli(int i) => Feedback(206, 1, i, []);

    /// <summary>Full Intra Request (RFC 5104 4.3.1).</summary>
    private static byte[] Fir(int i) => Feedback(206, 4, i, [0x12, 0x34, 0x56, 0x78, (byte)i, 0, 0, 0]);

    /// <summary>Receiver Estimated Max Bitrate (draft-alvestrand-rmcat-remb): application-layer feedback "REMB".</summary>
    private static byte[] Remb(int i) => Feedback(206, 15, i, [.. "REMB"u8, 1, 0xFF, 0xFF, 0xFF, 0x12, 0x34, 0x56, 0x78]);

    private static byte[] Feedback(byte type, int fmt, int i, byte[] fci)
    {
        var p = new byte[12 + fci.Length];
        p[0] = (byte)(0x80 | fmt);
        p[1] = type;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), 0xABCD0000u + (uint)i);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), 0x1234_5678);
        fci.CopyTo(p, 12);
        return p;
    }

    private static byte[] Rtp(int i)
    {
        var p = new byte[60];
        p[0] = 0x80;
        p[1] = 111;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)i);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), 0x0BAD_F00D);
        return p;
    }

    private static byte[] Zrtp(int i) => [0x10, 0x00, 0x00, (byte)i, .. "ZRTP"u8, 0, 0, 0, 0];

    private static byte[] DtlsGarbage(int i) => [23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, (byte)i, 0, 24, .. new byte[24]];

    private static byte[] BadIntegrityCheck(TransportLab lab, int i)
    {
        var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, lab.Transport.LocalUfrag, lab.Transport.LocalPassword);
        return ice.BuildCheck(useCandidate: true, password: "wrongPasswordWrongPassword" + i);
    }
}

/// <summary>One row: the datagrams (with their tuples), the counter of <see cref="WebRtcTransportStats"/> that rises by
/// <paramref name="Count"/>, the media events surfaced, and the largest bytes-out / bytes-in ratio allowed (IP and UDP
/// headers counted).</summary>
internal sealed record TransportFlood(
    Func<TransportLab, IceTuple, List<(IceTuple Tuple, byte[] Datagram)>> Build,
    Func<WebRtcTransportStats, long> Counted,
    long Count,
    int Events = 0,
    bool DrainEach = true,
    double MaxAmplification = 0);
