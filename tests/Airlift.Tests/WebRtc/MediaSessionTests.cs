using System.Buffers.Binary;
using System.Net;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Tests.Dtls;
using Airlift.Tests.Transport;
using Airlift.Transport;
using Airlift.WebRtc;

namespace Airlift.Tests.WebRtc;

/// <summary>
/// Two <see cref="WebRtcTransport"/>s wired to each other in memory, in virtual time (A the DTLS client, B the server),
/// each keyed by its own <see cref="MediaSession"/> from the transport's keying material: media goes A -> B -> A as spans.
/// </summary>
public class MediaSessionTests
{
    private const int Packets = 1000;

    [Fact]
    public void EchoThroughTwoTransports_AllocatesZeroBytesPerPacket_InSteadyState()
    {
        var pair = new Pair();
        pair.Connect();

        // Warm up: the transports' media buffers, the SRTP contexts' per-SSRC state, the queues reach their size.
        for (var i = 0; i < 64; i++)
        {
            Assert.True(pair.EchoOne((ushort)i));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var echoed = 0;
        for (var i = 64; i < 64 + Packets; i++)
        {
            echoed += pair.EchoOne((ushort)i) ? 1 : 0;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(Packets, echoed);
        Assert.Equal(0, allocated);
        Assert.Equal(64 + Packets, pair.MediaA.UnprotectStats!.RtpPackets);
    }

    [Fact]
    public void MediaBeforeKeys_IsNotKeyed_AndASmallBuffer_IsBufferTooSmall_NotAnException()
    {
        using var media = new MediaSession();
        var packet = new byte[100];
        Assert.Equal(MediaStatus.NotKeyed, media.UnprotectRtp(packet).Status);
        Assert.Equal(MediaStatus.NotKeyed, media.ProtectRtp(packet, 50).Status);

        var pair = new Pair();
        pair.Connect();
        var full = new byte[40];
        Pair.WriteRtp(full, 1, 0x1111);
        Assert.Equal(MediaStatus.BufferTooSmall, pair.MediaA.ProtectRtp(full, full.Length).Status);
        Assert.Equal(WebRtcOutputKind.BufferTooSmall, pair.A.PollOutput(new byte[16]).Kind);
        Assert.Equal(pair.A.PollBufferSize, pair.A.PollOutput(new byte[16]).Length);
    }

    [Fact]
    public void TamperedSrtp_IsASrtpDrop_WithItsReason()
    {
        var pair = new Pair();
        pair.Connect();
        var buffer = new byte[1500];
        var length = Pair.WriteRtp(buffer, 7, 0x2222);
        var sent = pair.MediaA.ProtectRtp(buffer, length);
        Assert.Equal(MediaStatus.Ok, sent.Status);
        buffer[sent.Length - 1] ^= 1;
        var received = pair.MediaB.UnprotectRtp(buffer.AsSpan(0, sent.Length));
        Assert.Equal(MediaStatus.SrtpDropped, received.Status);
        Assert.Equal(Airlift.Srtp.SrtpStatus.AuthenticationFailed, received.Srtp);
    }

    /// <summary>The two transports, their media sessions and the virtual clock.</summary>
    private sealed class Pair
    {
        private static readonly IceTuple TupleA = new(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 1000), new IPEndPoint(IPAddress.Parse("10.0.0.2"), 2000), IceProtocol.Udp);
        private static readonly IceTuple TupleB = new(TupleA.Remote, TupleA.Local, IceProtocol.Udp);
        private readonly byte[] _pollA = new byte[2048];
        private readonly byte[] _pollB = new byte[2048];
        private readonly byte[] _send = new byte[1500];
        private TimeSpan _now;
        private TimeSpan _deadlineA = TimeSpan.MaxValue;
        private TimeSpan _deadlineB = TimeSpan.MaxValue;
        private ushort _lastEchoedSeq;
        private bool _echoArrived;

        public Pair()
        {
            A = new WebRtcTransport(Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, SdpSetupRole.Passive, 7), TimeSpan.Zero);
            B = new WebRtcTransport(Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, SdpSetupRole.Active, 11), TimeSpan.Zero);
        }

        public WebRtcTransport A { get; }

        public WebRtcTransport B { get; }

        public MediaSession MediaA { get; } = new();

        public MediaSession MediaB { get; } = new();

        private static WebRtcTransportOptions Options(DtlsCertificate local, DtlsCertificate remote, SdpSetupRole remoteSetup, ulong seed) =>
            new(new DtlsOptions(local)
            {
                Random = RandomSource.Seeded(seed),
                SrtpProfiles = [SrtpProtectionProfile.AeadAes128Gcm],
                ProtocolVersions = [ProtocolVersion.Dtls12],
            }, remoteSetup, remote.GetFingerprint())
            {
                RemoteUfrag = TransportLab.PeerUfrag,
                RemotePassword = TransportLab.PeerPassword,
            };

        /// <summary>A test ICE client nominates the one tuple on both sides; then DTLS runs between them until both are keyed.</summary>
        public void Connect()
        {
            foreach (var (t, tuple) in new[] { (A, TupleA), (B, TupleB) })
            {
                var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, t.LocalUfrag, t.LocalPassword);
                t.HandleDatagram(_now, tuple, ice.BuildCheck(useCandidate: true));
            }

            for (var step = 0; step < 10_000 && !(MediaA.IsKeyed && MediaB.IsKeyed); step++)
            {
                DrainA();
                DrainB();
                if (!(MediaA.IsKeyed && MediaB.IsKeyed))
                {
                    _now = TimeSpan.FromTicks(Math.Max(_now.Ticks + 1, Math.Min(Math.Min(_deadlineA.Ticks, _deadlineB.Ticks), _now.Ticks + TimeSpan.TicksPerSecond)));
                    A.HandleTimeout(_now);
                    B.HandleTimeout(_now);
                }
            }

            Assert.True(MediaA.IsKeyed && MediaB.IsKeyed, "both sides keyed");
            Assert.Equal(TransportDtlsState.Connected, A.DtlsState);
            Assert.Equal(TransportDtlsState.Connected, B.DtlsState);
        }

        /// <summary>A sends one RTP packet; B unprotects it and sends it back with its own SSRC; A unprotects the echo.</summary>
        public bool EchoOne(ushort seq)
        {
            _now += TimeSpan.FromMilliseconds(1);
            var length = WriteRtp(_send, seq, 0xA0A0A0A0);
            if (MediaA.SendRtp(A, _send, length).Status != MediaStatus.Ok)
            {
                return false;
            }

            _echoArrived = false;
            DrainA();
            DrainB();
            DrainA();
            return _echoArrived && _lastEchoedSeq == seq;
        }

        public static int WriteRtp(Span<byte> buffer, ushort seq, uint ssrc)
        {
            buffer[0] = 0x80;
            buffer[1] = 96;
            BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], seq);
            BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], seq * 3000u);
            BinaryPrimitives.WriteUInt32BigEndian(buffer[8..], ssrc);
            buffer.Slice(12, 24).Fill(0x5A);
            return 36;
        }

        private void DrainA()
        {
            while (true)
            {
                var o = A.PollOutput(_pollA);
                switch (o.Kind)
                {
                    case WebRtcOutputKind.Transmit:
                        if (_pollA[0] is < 2)
                        {
                            continue; // STUN responses go to the test ICE client, not to B
                        }

                        B.HandleDatagram(_now, TupleB, _pollA.AsSpan(0, o.Length));
                        break;
                    case WebRtcOutputKind.Event:
                        if (o.Event is KeyingMaterial km)
                        {
                            MediaA.SetKeys(km);
                        }

                        break;
                    case WebRtcOutputKind.RtpReceived:
                        var echo = MediaA.UnprotectRtp(_pollA.AsSpan(0, o.Length));
                        if (echo.Status == MediaStatus.Ok && BinaryPrimitives.ReadUInt32BigEndian(_pollA.AsSpan(8)) == 0xB0B0B0B0)
                        {
                            _lastEchoedSeq = BinaryPrimitives.ReadUInt16BigEndian(_pollA.AsSpan(2));
                            _echoArrived = true;
                        }

                        break;
                    case WebRtcOutputKind.RtcpReceived:
                        break;
                    default:
                        _deadlineA = o.Deadline;
                        return;
                }
            }
        }

        private void DrainB()
        {
            while (true)
            {
                var o = B.PollOutput(_pollB);
                switch (o.Kind)
                {
                    case WebRtcOutputKind.Transmit:
                        if (_pollB[0] is < 2)
                        {
                            continue;
                        }

                        A.HandleDatagram(_now, TupleA, _pollB.AsSpan(0, o.Length));
                        break;
                    case WebRtcOutputKind.Event:
                        if (o.Event is KeyingMaterial km)
                        {
                            MediaB.SetKeys(km);
                        }

                        break;
                    case WebRtcOutputKind.RtpReceived:
                        var plain = MediaB.UnprotectRtp(_pollB.AsSpan(0, o.Length));
                        if (plain.Status == MediaStatus.Ok)
                        {
                            // The echo: our SSRC, then protected in place in the poll buffer (it has room for the tag) and queued.
                            BinaryPrimitives.WriteUInt32BigEndian(_pollB.AsSpan(8), 0xB0B0B0B0);
                            _ = MediaB.SendRtp(B, _pollB, plain.Length);
                        }

                        break;
                    case WebRtcOutputKind.RtcpReceived:
                        break;
                    default:
                        _deadlineB = o.Deadline;
                        return;
                }
            }
        }
    }
}
