using System.Net;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.NetEm;
using Airlift.Transport;

namespace Airlift.Tests.Transport;

public class WebRtcTransportTests
{
    private static readonly TimeSpan OneWay = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan Rtt = 2 * OneWay;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    private static LinkImpairment Clean => new() { Delay = OneWay };

    private static LinkImpairment Dead => new() { Delay = OneWay, Blackhole = true };

    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    private static LabPath V6(bool downWorks) => LabPath.Create("ipv6", "2001:db8::1", "2001:db8::99", Clean, downWorks ? Clean : Dead, 6);

    private static LabPath V4() => LabPath.Create("ipv4", "192.0.2.1", "198.51.100.9", Clean, Clean, 4);

    /// <summary>
    /// SCENARIOS.md F3: the peer's checks reach the transport over IPv6 but nothing comes back; IPv4 works both ways.
    /// The peer keeps checking IPv6 (never answered, never nominated) and at 200 ms checks IPv4 with USE-CANDIDATE.
    /// </summary>
    private static TransportLab F3Lab(DtlsRole transportRole, bool resendOnTupleChange = true)
    {
        var transport = TransportLab.NewTransport(
            transportRole == DtlsRole.Server ? SdpSetupRole.Active : SdpSetupRole.Passive,
            o => o with { ResendFlightOnTupleChange = resendOnTupleChange });
        var lab = new TransportLab(transport, V6(downWorks: false), V4()) { PeerDtlsPath = 0 };
        for (var t = 0; t < 3000; t += 100)
        {
            lab.At(Ms(t), l => l.SendCheck(0, useCandidate: false));
        }

        if (transportRole == DtlsRole.Server)
        {
            // The peer's DTLS client speaks first, on the IPv6 pair it tried first (as the field client did).
            lab.At(Ms(1), l => l.StartPeerDtls(DtlsRole.Client));
        }
        else
        {
            lab.At(Ms(0), l => l.StartPeerDtls(DtlsRole.Server));
        }

        lab.At(Ms(200), l => l.SendCheck(1, useCandidate: true));
        lab.OnCheckSucceeded = (l, path) => l.PeerDtlsPath = path;
        return lab;
    }

    private static TimeSpan NominatedAt(TransportLab lab, int path) =>
        lab.Events.First(e => e.Event is SelectedTupleChange s && s.Tuple == lab.Paths[path].ServerTuple).At;

    private static bool BothConnected(TransportLab lab) => lab.TransportConnectedAt is not null && lab.PeerConnectedAt is not null;

    [Fact]
    public void F3_TransportAsDtlsServer_ConnectsOneRttAfterNominationOfTheWorkingPath()
    {
        var lab = F3Lab(DtlsRole.Server);

        Assert.True(lab.RunUntil(BothConnected, TimeSpan.FromSeconds(10)), lab.Transport.DtlsTrace);

        var v6 = lab.Paths[0].ServerTuple;
        var v4 = lab.Paths[1].ServerTuple;
        var nominated = NominatedAt(lab, 1);
        Assert.Equal(Ms(225), nominated);

        // Before the nomination the server was connecting over the one-way IPv6 tuple (the field failure's state).
        Assert.Contains(lab.SentDtls, s => s.Tuple == v6 && s.At < nominated);

        // At the nomination the pending flight left at once on IPv4; nothing DTLS went to IPv6 afterwards.
        var firstAfter = lab.SentDtls.First(s => s.At >= nominated);
        Assert.Equal(nominated, firstAfter.At);
        Assert.Equal(v4, firstAfter.Tuple);
        Assert.DoesNotContain(lab.SentDtls, s => s.At >= nominated && s.Tuple != v4);
        Assert.Equal(1, lab.Transport.Stats.FlightResendsOnTupleChange);

        // Flight 4 resent at nomination, the peer's flight 5 back one RTT later: Connected after about one RTT, not a backoff interval.
        Assert.InRange(lab.TransportConnectedAt!.Value - nominated, Rtt - Tick, Rtt + Tick);
        Assert.Equal(v4, lab.Transport.SelectedTuple);
        Assert.Equal(IceState.Completed, lab.Transport.IceState);
    }

    [Fact]
    public void F3_TransportAsDtlsClient_ConnectsOneHandshakeAfterNominationOfTheWorkingPath()
    {
        var lab = F3Lab(DtlsRole.Client);

        Assert.True(lab.RunUntil(BothConnected, TimeSpan.FromSeconds(10)), lab.Transport.DtlsTrace);

        var v4 = lab.Paths[1].ServerTuple;
        var nominated = NominatedAt(lab, 1);
        var firstAfter = lab.SentDtls.First(s => s.At >= nominated);
        Assert.Equal(nominated, firstAfter.At);
        Assert.Equal(v4, firstAfter.Tuple);

        // The ClientHello moved at once; a full handshake (two round trips) follows, nothing waits for a retransmission timer.
        Assert.InRange(lab.TransportConnectedAt!.Value - nominated, (2 * Rtt) - Tick, (2 * Rtt) + Tick);
        Assert.Equal(0, lab.Transport.DtlsStats!.TimeoutRetransmissions);
    }

    [Theory]
    [InlineData(DtlsRole.Server)]
    [InlineData(DtlsRole.Client)]
    public void F3_WithoutResendOnTupleChange_RecoveryWaitsForABackoffTimer(DtlsRole role)
    {
        // The field behaviour, kept as an option for the lab: this is what the resend saves.
        var lab = F3Lab(role, resendOnTupleChange: false);

        Assert.True(lab.RunUntil(BothConnected, TimeSpan.FromSeconds(30)));

        var nominated = NominatedAt(lab, 1);
        Assert.True(lab.TransportConnectedAt!.Value - nominated > 3 * Rtt, $"connected {lab.TransportConnectedAt!.Value - nominated} after nomination");
        Assert.Equal(0, lab.Transport.Stats.FlightResendsOnTupleChange);
    }

    [Fact]
    public void TupleChangeMidHandshake_ResendsFlightOnNewTupleAndConnects_Rfc8445_8_1_1()
    {
        // Both paths work. The peer nominates IPv6 first, then nominates IPv4 while the handshake is in progress.
        var transport = TransportLab.NewTransport(SdpSetupRole.Passive);
        var lab = new TransportLab(transport, V6(downWorks: true), V4()) { PeerDtlsPath = 0 };
        lab.At(Ms(0), l => l.StartPeerDtls(DtlsRole.Server));
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true));
        lab.At(Ms(80), l => l.SendCheck(1, useCandidate: true));
        lab.OnCheckSucceeded = (l, path) => l.PeerDtlsPath = path;

        Assert.True(lab.RunUntil(BothConnected, TimeSpan.FromSeconds(10)), transport.DtlsTrace);

        var changes = lab.Events.Where(e => e.Event is SelectedTupleChange).Select(e => ((SelectedTupleChange)e.Event).Tuple).ToList();
        Assert.Equal([lab.Paths[0].ServerTuple, lab.Paths[1].ServerTuple], changes);
        var movedAt = NominatedAt(lab, 1);
        Assert.True(lab.TransportConnectedAt > movedAt, "the tuple changed after the handshake finished; the test lost its point");
        Assert.Equal(1, transport.Stats.FlightResendsOnTupleChange);
        Assert.Contains(lab.SentDtls, s => s.At == movedAt && s.Tuple == lab.Paths[1].ServerTuple);
        Assert.DoesNotContain(lab.SentDtls, s => s.At >= movedAt && s.Tuple != lab.Paths[1].ServerTuple);

        // The peer's final flight still came over the old tuple and was dropped; our resent flight made it answer on the new one.
        Assert.True(transport.Stats.DtlsFromUnselectedTuple >= 1);
    }

    [Fact]
    public void ConnectedTransport_DeliversKeyingMaterialMatchingThePeer_Rfc5764_4_2()
    {
        var lab = new TransportLab(TransportLab.NewTransport(SdpSetupRole.Active), V4());
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true));
        lab.At(Ms(1), l => l.StartPeerDtls(DtlsRole.Client));

        Assert.True(lab.RunUntil(BothConnected, TimeSpan.FromSeconds(5)));
        lab.RunUntil(_ => false, lab.Now + Rtt);

        var km = Assert.Single(lab.Events.Select(e => e.Event).OfType<KeyingMaterial>());
        Assert.Equal(DtlsRole.Server, km.Role);
        Assert.Equal(SrtpProtectionProfile.AeadAes128Gcm, km.Profile);
        Assert.Equal(lab.PeerKeyingMaterial, km.Material);
        Assert.Equal(
            [TransportDtlsState.Connecting, TransportDtlsState.Connected],
            lab.Events.Select(e => e.Event).OfType<DtlsStateChange>().Select(e => e.State));
        Assert.Equal(
            [IceState.Completed],
            lab.Events.Select(e => e.Event).OfType<IceStateChange>().Select(e => e.State));

        Assert.True(lab.Transport.SendApplicationData("hello"u8));
        lab.Drain();
        lab.RunUntil(l => l.PeerApplicationData.Count > 0, lab.Now + TimeSpan.FromSeconds(1));
        Assert.Equal("hello"u8.ToArray(), Assert.Single(lab.PeerApplicationData));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ConsentExpiry_StopsSendingThenFails_Rfc7675_5_1(bool peerRefreshesConsent)
    {
        var lab = new TransportLab(TransportLab.NewTransport(SdpSetupRole.Active), V4());
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true));
        lab.At(Ms(1), l => l.StartPeerDtls(DtlsRole.Client));
        if (peerRefreshesConsent)
        {
            for (var s = 5; s <= 60; s += 5)
            {
                lab.At(TimeSpan.FromSeconds(s), l => l.SendCheck(0, useCandidate: false));
            }
        }

        Assert.True(lab.RunUntil(BothConnected, TimeSpan.FromSeconds(5)));
        lab.RunUntil(_ => false, TimeSpan.FromSeconds(45));

        if (peerRefreshesConsent)
        {
            Assert.Equal(IceState.Completed, lab.Transport.IceState);
            Assert.False(lab.Transport.IsFinished);
            Assert.True(lab.Transport.SendMedia(RtpPacket()));
            return;
        }

        // Last valid check at 25 ms: consent gone at 30.025 s, failure after the 10 s grace period.
        var lost = lab.Events.Single(e => e.Event is SelectedTupleChange { Tuple: null });
        Assert.Equal(TimeSpan.FromSeconds(30) + OneWay, lost.At);
        Assert.Contains(lab.Events, e => e.Event is IceStateChange { State: IceState.Disconnected } && e.At == lost.At);
        var failed = lab.Events.Single(e => e.Event is TransportFailed);
        Assert.Equal(TransportFailureReason.IceFailed, ((TransportFailed)failed.Event).Reason);
        Assert.Equal(lost.At + TimeSpan.FromSeconds(10), failed.At);
        Assert.DoesNotContain(lab.Sent, s => s.At >= lost.At);
        Assert.False(lab.Transport.SendMedia(RtpPacket()));
        Assert.True(lab.Transport.IsFinished);
    }

    [Fact]
    public void PeerClaimingControlledRole_GetsRoleConflictAndNothingIsSelected_Rfc8445_7_3_1_1()
    {
        var lab = new TransportLab(TransportLab.NewTransport(SdpSetupRole.Passive), V4());
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true, controlled: true));

        lab.RunUntil(_ => false, TimeSpan.FromSeconds(2));

        var response = Assert.Single(lab.StunReceivedByPeer);
        Assert.Equal(487, TestIceClient.ErrorCode(response.Bytes));
        Assert.Null(lab.Transport.SelectedTuple);
        Assert.Equal(TransportDtlsState.New, lab.Transport.DtlsState);
        Assert.Empty(lab.SentDtls);
        Assert.Equal(1, lab.Transport.IceStats.RoleConflicts);
    }

    [Theory]
    [InlineData(SdpSetupRole.Passive, DtlsRole.Server, DtlsRole.Client)]
    [InlineData(SdpSetupRole.Active, DtlsRole.Client, DtlsRole.Server)]
    [InlineData(SdpSetupRole.ActPass, DtlsRole.Server, DtlsRole.Server)]
    [InlineData(SdpSetupRole.ActPass, DtlsRole.Client, DtlsRole.Client)]
    public void DtlsRole_FollowsRemoteSetup_Rfc8842_5(SdpSetupRole remote, DtlsRole whenActPass, DtlsRole expected)
    {
        Assert.Equal(expected, WebRtcTransport.ResolveDtlsRole(remote, whenActPass));
        var transport = TransportLab.NewTransport(remote, o => o with { ActPassAnswerRole = whenActPass });
        Assert.Equal(expected, transport.DtlsRole);
        Assert.Equal(expected == DtlsRole.Client ? SdpSetupRole.Active : SdpSetupRole.Passive, transport.LocalSetup);
    }

    [Fact]
    public void HoldConnSetup_IsRejected_Rfc8842_5()
    {
        Assert.Throws<ArgumentException>(() => TransportLab.NewTransport(SdpSetupRole.HoldConn));
    }

    [Fact]
    public void NothingIsSent_BeforeATupleIsSelected_EvenAsDtlsClient()
    {
        var lab = new TransportLab(TransportLab.NewTransport(SdpSetupRole.Passive), V4());
        lab.Inject(lab.Paths[0].ServerTuple, DtlsLikeDatagram());

        lab.RunUntil(_ => false, TimeSpan.FromSeconds(5));

        Assert.Empty(lab.Sent);
        Assert.Equal(TransportDtlsState.New, lab.Transport.DtlsState);
        Assert.Equal(1, lab.Transport.Stats.DtlsFromUnselectedTuple);
        Assert.Null(lab.Transport.DtlsStats);
    }

    [Fact]
    public void ChecksFromUnknownAddress_WithBadIntegrityAreRejected_AndValidOnesDoNotMoveANomination_Rfc8445_7_3()
    {
        var lab = new TransportLab(TransportLab.NewTransport(SdpSetupRole.Active), V4());
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true));
        lab.RunUntil(l => l.Transport.SelectedTuple is not null, TimeSpan.FromSeconds(1));
        var selected = lab.Transport.SelectedTuple;
        var stranger = new IceTuple(lab.Paths[0].ServerTuple.Local, new IPEndPoint(IPAddress.Parse("203.0.113.66"), 40000), IceProtocol.Udp);

        lab.Inject(stranger, lab.Ice.BuildCheck(useCandidate: true, password: "wrongPasswordWrongPassword"));
        Assert.Equal(1, lab.Transport.IceStats.IntegrityFailures);
        Assert.Equal(selected, lab.Transport.SelectedTuple);
        var reply = lab.Sent[^1];
        Assert.Equal(stranger, reply.Tuple);
        Assert.Equal(401, TestIceClient.ErrorCode(reply.Bytes));

        // A valid check from a new address (a peer-reflexive candidate) is answered but does not replace a nominated tuple.
        lab.Inject(stranger, lab.Ice.BuildCheck(useCandidate: false));
        Assert.Equal(selected, lab.Transport.SelectedTuple);
        Assert.True(lab.Ice.IsAuthenticatedSuccess(lab.Sent[^1].Bytes));
    }

    [Fact]
    public void DtlsFromUnselectedAddress_IsDroppedAndCounted()
    {
        var lab = new TransportLab(TransportLab.NewTransport(SdpSetupRole.Active), V4());
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true));
        lab.At(Ms(1), l => l.StartPeerDtls(DtlsRole.Client));
        Assert.True(lab.RunUntil(BothConnected, TimeSpan.FromSeconds(5)));
        var received = lab.Transport.DtlsStats!.DatagramsReceived;
        var stranger = new IceTuple(lab.Paths[0].ServerTuple.Local, new IPEndPoint(IPAddress.Parse("203.0.113.66"), 40000), IceProtocol.Udp);
        var sentBefore = lab.Sent.Count;

        lab.Inject(stranger, DtlsLikeDatagram());

        Assert.Equal(1, lab.Transport.Stats.DtlsFromUnselectedTuple);
        Assert.Equal(received, lab.Transport.DtlsStats!.DatagramsReceived);
        Assert.Equal(sentBefore, lab.Sent.Count);
    }

    [Fact]
    public void BadAndForeignDatagrams_AreDroppedAndCounted_Rfc7983_7()
    {
        var lab = new TransportLab(TransportLab.NewTransport(SdpSetupRole.Active), V4());
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true));
        lab.RunUntil(l => l.Transport.SelectedTuple is not null, TimeSpan.FromSeconds(1));
        var tuple = lab.Paths[0].ServerTuple;
        var check = lab.Ice.BuildCheck(useCandidate: false);

        lab.Inject(tuple, check[..10]);                    // truncated STUN header
        lab.Inject(tuple, check[..(check.Length - 4)]);    // truncated attribute / bad length
        lab.Inject(tuple, [16, 0, 0, 0]);                  // ZRTP
        lab.Inject(tuple, [64, 0, 0, 4, 1, 2, 3, 4]);      // TURN ChannelData
        lab.Inject(tuple, [200, 1, 2]);                    // unknown range
        lab.Inject(tuple, []);                             // empty

        var stats = lab.Transport.Stats;
        Assert.Equal(2, lab.Transport.IceStats.Malformed);
        Assert.Equal(1, stats.ZrtpDropped);
        Assert.Equal(1, stats.TurnChannelDropped);
        Assert.Equal(2, stats.UnknownDropped);
        Assert.Equal(tuple, lab.Transport.SelectedTuple);
    }

    [Fact]
    public void RtpAndRtcp_FromSelectedTuple_AreDeliveredWithTheTuple_OthersDropped_Rfc5761_4()
    {
        var lab = new TransportLab(TransportLab.NewTransport(SdpSetupRole.Active), V4());
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true));
        lab.RunUntil(l => l.Transport.SelectedTuple is not null, TimeSpan.FromSeconds(1));
        var tuple = lab.Paths[0].ServerTuple;
        var stranger = tuple with { Remote = new IPEndPoint(IPAddress.Parse("203.0.113.66"), 40000) };

        lab.Inject(tuple, RtpPacket());
        lab.Inject(tuple, [0x80, 200, 0, 6, 1, 2, 3, 4]);
        lab.Inject(stranger, RtpPacket());

        var rtp = Assert.Single(lab.Events.Select(e => e.Event).OfType<RtpPacketReceived>());
        Assert.Equal(tuple, rtp.Tuple);
        Assert.Equal(RtpPacket(), rtp.Packet);
        Assert.Equal(tuple, Assert.Single(lab.Events.Select(e => e.Event).OfType<RtcpPacketReceived>()).Tuple);
        Assert.Equal(1, lab.Transport.Stats.MediaFromUnselectedTuple);

        Assert.True(lab.Transport.SendMedia(RtpPacket()));
        lab.Drain();
        Assert.Equal(tuple, lab.Sent[^1].Tuple);
        Assert.Equal(RtpPacket(), lab.Sent[^1].Bytes);
    }

    [Fact]
    public void OutputQueue_IsBounded_WhenMediaIsNotDrained()
    {
        var transport = TransportLab.NewTransport(SdpSetupRole.Active, o => o with { MaxQueuedOutputs = 16 });
        var lab = new TransportLab(transport, V4());
        lab.At(Ms(0), l => l.SendCheck(0, useCandidate: true));
        lab.RunUntil(l => l.Transport.SelectedTuple is not null, TimeSpan.FromSeconds(1));

        var accepted = 0;
        for (var i = 0; i < 100; i++)
        {
            accepted += transport.SendMedia(RtpPacket()) ? 1 : 0;
        }

        Assert.Equal(16, accepted);
        Assert.Equal(84, transport.Stats.QueueOverflowDrops);
    }

    private static byte[] RtpPacket() => [0x80, 96, 0, 1, 0, 0, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4];

    private static byte[] DtlsLikeDatagram() => [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0];
}
