using System.Buffers.Binary;
using System.Net;
using Airlift.Cli.Serve;
using Airlift.Dtls;
using Airlift.Srtp;
using Airlift.Tests.Dtls;
using Airlift.Tests.Transport;
using Airlift.Transport;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// <see cref="EchoServer"/> in process on loopback, with real peers: ICE checks and a DTLS handshake from
/// <see cref="LoopbackPeer"/>, then SRTP from the keying material, over real UDP sockets to the shared port.
/// </summary>
public class EchoServerTests(ITestOutputHelper output)
{
    private const int IpUdp = 28;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>The captured Chromium offer with the test peer's ICE credentials and certificate.</summary>
    private static string Offer() => string.Join("\r\n", CapturedOffers.Crlf(CapturedOffers.Chromium156).Split("\r\n").Select(line =>
        line.StartsWith("a=ice-ufrag:", StringComparison.Ordinal) ? "a=ice-ufrag:" + TransportLab.PeerUfrag
        : line.StartsWith("a=ice-pwd:", StringComparison.Ordinal) ? "a=ice-pwd:" + TransportLab.PeerPassword
        : line.StartsWith("a=fingerprint:", StringComparison.Ordinal) ? "a=fingerprint:" + TestCertificates.EcdsaPeer.GetFingerprint()
        : line));

    private static Task<EchoServer> StartAsync(Action<string, WebRtcTransportEvent>? beforeEvent = null) =>
        EchoServer.StartAsync(
            new EchoServerOptions
            {
                Udp = [new IPEndPoint(IPAddress.Loopback, 0)],
                Certificate = TestCertificates.Ecdsa,
                BeforeEvent = beforeEvent,
                ConnectTimeout = TimeSpan.FromSeconds(20),
            },
            logger: null);

    /// <summary>A connected peer: its link to the shared port and SRTP contexts keyed from the handshake.</summary>
    private sealed class Peer : IDisposable
    {
        private readonly SrtpContext _protect;
        private readonly SrtpContext _unprotect;
        private readonly uint _ssrc;
        private readonly int _payloadType;

        private Peer(string id, UdpPeerLink link, SrtpContext protect, SrtpContext unprotect, EchoStream video)
        {
            Id = id;
            Link = link;
            _protect = protect;
            _unprotect = unprotect;
            _ssrc = video.RemoteSsrcs[0];
            _payloadType = video.PayloadTypes.First();
            VideoSsrc = video.LocalSsrc;
        }

        public string Id { get; }

        public UdpPeerLink Link { get; }

        public uint VideoSsrc { get; }

        public long BytesIn { get; private set; }

        public long BytesOut { get; private set; }

        public static async Task<Peer> ConnectAsync(EchoServer server, string client)
        {
            var created = server.CreateSession(Offer(), "passive", client);
            Assert.True(created.Status == 201, created.Body);
            var session = server.Get(created.Id!)!;
            var link = new UdpPeerLink(server.UdpEndpoints[0]);
            var options = TransportLab.PeerDtlsOptions() with { ExpectedPeerFingerprint = session.Transport.LocalFingerprint };
            var result = await Task.Run(() => LoopbackPeer.Run(link, session.Transport, DtlsRole.Client, Deadline, options));
            Assert.True(result.Connected && result.KeyingMaterial is not null, result.Trace);
            var profile = result.KeyingMaterial!.Length switch
            {
                56 => SrtpProtectionProfile.AeadAes128Gcm,
                60 => SrtpProtectionProfile.Aes128CmHmacSha1_80,
                _ => throw new InvalidOperationException("unexpected keying material length " + result.KeyingMaterial.Length),
            };
            var keys = SrtpKeys.FromKeyingMaterial(profile, result.KeyingMaterial, DtlsRole.Client);
            return new Peer(created.Id!, link, keys.CreateProtectContext(), keys.CreateUnprotectContext(), session.Plan.Streams.Single(s => s.Kind == "video"));
        }

        /// <summary>Sends video RTP <paramref name="seq"/>; returns the SRTP datagram sent.</summary>
        public byte[] SendVideo(ushort seq, int payload = 1000)
        {
            var buffer = new byte[12 + payload + 64];
            buffer[0] = 0x80;
            buffer[1] = (byte)_payloadType;
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), seq);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4), 3000u * seq);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(8), _ssrc);
            buffer.AsSpan(12, payload).Fill((byte)seq);
            Assert.Equal(SrtpStatus.Ok, _protect.ProtectRtp(buffer, 12 + payload, out var length));
            Send(buffer.AsSpan(0, length));
            return buffer[..length];
        }

        public void SendRtcp(byte[] compound)
        {
            var buffer = new byte[compound.Length + 64];
            compound.CopyTo(buffer, 0);
            Assert.Equal(SrtpStatus.Ok, _protect.ProtectRtcp(buffer, compound.Length, out var length));
            Send(buffer.AsSpan(0, length));
        }

        /// <summary>Media datagrams received until none came for <paramref name="quiet"/> (or <paramref name="max"/> came); STUN and DTLS are skipped.</summary>
        public List<byte[]> ReceiveMedia(TimeSpan quiet, int max = 100_000)
        {
            var got = new List<byte[]>();
            while (got.Count < max && Link.Receive(quiet) is { } datagram)
            {
                if (datagram.Length > 0 && datagram[0] is >= 128 and <= 191)
                {
                    BytesIn += datagram.Length + IpUdp;
                    got.Add(datagram);
                }
            }

            return got;
        }

        /// <summary>True when <paramref name="srtp"/> unprotects as RTP whose payload is <paramref name="fill"/> repeated.</summary>
        public bool IsEchoOf(byte[] srtp, byte fill)
        {
            var copy = srtp.ToArray();
            return _unprotect.UnprotectRtp(copy, out var plain) == SrtpStatus.Ok && plain > 12 && copy.AsSpan(12, plain - 12).IndexOfAnyExcept(fill) < 0;
        }

        public void Dispose()
        {
            Link.Dispose();
            _protect.Dispose();
            _unprotect.Dispose();
        }

        private void Send(ReadOnlySpan<byte> datagram)
        {
            BytesOut += datagram.Length + IpUdp;
            Link.Send(datagram);
        }
    }

    private static byte[] Nack290(uint mediaSsrc)
    {
        var p = new byte[12 + 290 * 4];
        p[0] = 0x81;
        p[1] = 205;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), mediaSsrc);
        for (var i = 0; i < 290; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(14 + i * 4), 0xFFFF); // PID 0, BLP 0xFFFF
        }

        return p;
    }

    [Fact]
    public async Task Nack_With290Entries_OnTheWire_GetsEachPacketAtMostOnce_WithinTheBudget_Issue10Item2()
    {
        // The reported attack end to end: 17 echoed packets, then one 1,172-byte NACK asking for them 290 times each
        // (4,930 resends, about 5.3 MB before the fix). Bytes counted as the peer's socket sees them, plus 28 B IPv4 + UDP.
        await using var server = await StartAsync();
        using var peer = await Peer.ConnectAsync(server, "attacker");
        var echoed = new List<byte[]>();
        for (ushort seq = 0; seq <= 16; seq++)
        {
            peer.SendVideo(seq);
            var echo = peer.ReceiveMedia(TimeSpan.FromSeconds(2), max: 1);
            Assert.Single(echo);
            Assert.True(peer.IsEchoOf(echo[0], (byte)seq));
            echoed.Add(echo[0]);
        }

        var (inBefore, outBefore) = (peer.BytesIn, peer.BytesOut);
        peer.SendRtcp(Nack290(peer.VideoSsrc));
        var answers = peer.ReceiveMedia(TimeSpan.FromMilliseconds(500));
        var resent = answers.Select(a => echoed.FindIndex(e => e.AsSpan().SequenceEqual(a))).ToList();
        var factor = (double)peer.BytesIn / peer.BytesOut; // the server's bytes out / bytes in
        output.WriteLine($"NACK of {peer.BytesOut - outBefore} B on the wire: {answers.Count} datagrams back ({peer.BytesIn - inBefore} B), " +
            $"{resent.Distinct().Count()} distinct; session {peer.BytesIn} B out / {peer.BytesOut} B in = {factor:0.###}");
        Assert.DoesNotContain(-1, resent);
        Assert.Equal(resent.Count, resent.Distinct().Count());
        Assert.InRange(resent.Count, 1, 17);
        Assert.True(peer.BytesIn - inBefore <= 0.5 * peer.BytesOut, "NACK answers beyond the budget");
        Assert.True(factor <= 1.5, $"amplification {factor:0.###}");
    }

    [Fact]
    public async Task PoisonedSession_IsClosedWithItsReason_AndTheOthersOnTheSharedSocketKeepEchoing_Issue10()
    {
        // A bug in one session's processing (stood for by a hook that throws on its first RTP packet) must close that
        // session only: the shared UDP socket and every other session go on.
        string? poisoned = null;
        await using var server = await StartAsync((id, e) =>
        {
            if (id == Volatile.Read(ref poisoned) && e is RtpPacketReceived)
            {
                throw new InvalidOperationException("poison");
            }
        });
        var peers = new List<Peer>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                peers.Add(await Peer.ConnectAsync(server, "client" + i));
            }

            Volatile.Write(ref poisoned, peers[0].Id);
            peers[0].SendVideo(1);
            for (var waited = 0; waited < 100 && !server.Get(peers[0].Id)!.IsFinished; waited++)
            {
                await Task.Delay(50);
            }

            var stats = server.Get(peers[0].Id)!.Snapshot(includeTrace: false);
            Assert.Equal("closed", stats["state"]);
            Assert.Equal("internal error: InvalidOperationException: poison", stats["closeReason"]);

            // Everyone else still echoes on the same port, and a new session still connects.
            peers.Add(await Peer.ConnectAsync(server, "late"));
            foreach (var peer in peers.Skip(1))
            {
                for (ushort seq = 10; seq < 13; seq++)
                {
                    peer.SendVideo(seq);
                    var echo = peer.ReceiveMedia(TimeSpan.FromSeconds(2), max: 1);
                    Assert.Single(echo);
                    Assert.True(peer.IsEchoOf(echo[0], (byte)seq));
                }
            }
        }
        finally
        {
            foreach (var peer in peers)
            {
                peer.Dispose();
            }
        }
    }
}
