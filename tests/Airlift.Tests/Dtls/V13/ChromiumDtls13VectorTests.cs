using System.Net;
using System.Text.Json;
using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.V13;

/// <summary>
/// Real DTLS 1.3 datagrams captured from Chromium 156 (tests/fixtures/vectors): its ClientHellos (post-quantum, two
/// datagrams; classic, one datagram) answered by Airlift's server, and a Chromium server's unified-header records framed
/// by the same parser Airlift's record layer uses.
/// </summary>
public class ChromiumDtls13VectorTests
{
    private static List<(int From, byte[] Data)> Dtls(string file) =>
        File.ReadLines(TestCertificates.FixturePath("vectors", file)).Skip(1)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("kind").GetString() == "dtls")
            .Select(e => (e.GetProperty("from").GetInt32(), Convert.FromHexString(e.GetProperty("hex").GetString()!)))
            .ToList();

    private static List<byte[]> Drain(DtlsEndpoint endpoint)
    {
        var buffer = new byte[65535];
        var datagrams = new List<byte[]>();
        for (var o = endpoint.PollOutput(buffer); o.Kind != DtlsOutputKind.Timeout; o = endpoint.PollOutput(buffer))
        {
            if (o.Kind == DtlsOutputKind.Datagram)
            {
                datagrams.Add(buffer.AsSpan(0, o.DatagramLength).ToArray());
            }
        }

        return datagrams;
    }

    private static ServerHello ServerHelloIn(byte[] datagram)
    {
        Assert.True(RecordHeader.TryRead(datagram, out var record));
        var r = new WireReader(datagram.AsSpan(RecordHeader.Size, record.Length));
        Assert.True(HandshakeHeader.TryRead(ref r, out var hs));
        Assert.Equal(HandshakeType.ServerHello, hs.Type);
        Assert.True(r.TryReadBytes(hs.FragmentLength, out var body));
        Assert.True(ServerHello.TryDecode(body, out var sh));
        return sh!;
    }

    [Theory]
    [InlineData("chromium156-loopback-dtls13-pq.jsonl", 2, 0x11EC)]
    [InlineData("chromium156-loopback-dtls13-nopq.jsonl", 1, 0x001D)]
    public void Airlift_answers_Chromiums_captured_ClientHello_with_a_DTLS_1_3_ServerHello_for_its_key_share(string file, int helloDatagrams, ushort group)
    {
        var datagrams = Dtls(file);
        var chromium = datagrams[0].From;
        var hello = datagrams.Where(d => d.From == chromium).Take(helloDatagrams).ToList();
        var server = DtlsEndpoint.CreateServer(Dtls13HandshakeTests.Options(TestCertificates.Ecdsa, 60, SrtpProtectionProfile.Aes128CmHmacSha1_80), TimeSpan.Zero);
        foreach (var (_, data) in hello)
        {
            server.HandleDatagram(TimeSpan.Zero, data);
        }

        var answer = Drain(server);
        Assert.Equal(ProtocolVersion.Dtls13, server.Version);
        Assert.NotEmpty(answer);
        var sh = ServerHelloIn(answer[0]);
        Assert.True(Extensions.TryFind(sh.Extensions, ExtensionType.SupportedVersions, out var sv));
        Assert.Equal(new byte[] { 0xFE, 0xFC }, sv.Data);
        Assert.True(Extensions.TryFind(sh.Extensions, new ExtensionType(51), out var ks));
        Assert.Equal(group, (ushort)((ks.Data[0] << 8) | ks.Data[1]));
        Assert.Equal(CipherSuite.Tls13Aes128GcmSha256, sh.CipherSuite);

        // The rest of the flight is protected: unified headers only, and nothing over Chromium's 1200-byte datagrams.
        Assert.True(RecordHeader.TryRead(answer[0], out var first));
        var afterServerHello = answer[0].AsSpan(RecordHeader.Size + first.Length);
        Assert.True(answer.Skip(1).Any(d => (d[0] & 0xE0) == 0x20) || (!afterServerHello.IsEmpty && (afterServerHello[0] & 0xE0) == 0x20));
        Assert.All(answer, d => Assert.True(d.Length <= 1200));
        Assert.Equal(0, server.Stats.InternalErrors);
    }

    [Fact]
    public void The_stateless_listener_answers_Chromiums_two_datagram_hello_with_a_HelloRetryRequest_cookie_no_larger_than_the_hello()
    {
        var datagrams = Dtls("chromium156-loopback-dtls13-pq.jsonl");
        var chromium = datagrams[0].From;
        var hello = datagrams.Where(d => d.From == chromium).Take(2).Select(d => d.Data).ToList();
        var listener = new DtlsServerListener(Dtls13HandshakeTests.Options(TestCertificates.Ecdsa, 61));
        var remote = new IPEndPoint(IPAddress.Loopback, chromium);
        var response = new byte[2048];

        Assert.Equal(DtlsListenerDecision.Buffered, listener.HandleDatagram(TimeSpan.Zero, remote, hello[0], response, out _, out _));
        Assert.Equal(DtlsListenerDecision.HelloRetryRequest, listener.HandleDatagram(TimeSpan.Zero, remote, hello[1], response, out var length, out var copies, out _));
        Assert.Equal(1, copies);
        Assert.True(length <= hello[0].Length + hello[1].Length);
        var hrr = ServerHelloIn(response[..length]);
        Assert.Equal(Airlift.Dtls.V13.Wire13.HelloRetryRequestRandom.ToArray(), hrr.Random);
        Assert.True(Extensions.TryFind(hrr.Extensions, new ExtensionType(44), out _), "cookie");
        Assert.False(Extensions.TryFind(hrr.Extensions, new ExtensionType(51), out _), "Chromium already sent the preferred share");

        // The completed hello is remembered for its copies (within the same budget): a late copy of its second fragment
        // is dropped, a copy of its first asks for the answer again.
        Assert.True(listener.PendingClientHelloBytes is > 0 and < 2048, $"{listener.PendingClientHelloBytes}");
        Assert.Equal(DtlsListenerDecision.Dropped, listener.HandleDatagram(TimeSpan.FromMilliseconds(100), remote, hello[1], response, out _, out _));
        Assert.Equal(DtlsListenerDecision.HelloRetryRequest, listener.HandleDatagram(TimeSpan.FromMilliseconds(100), remote, hello[0], response, out _, out _));
    }

    [Fact]
    public void The_captured_server_flight_of_Chromium_frames_into_unified_header_records_that_cover_each_datagram_exactly()
    {
        var datagrams = Dtls("chromium156-loopback-dtls13-pq.jsonl");
        var protectedDatagrams = datagrams.Select(d => d.Data).Where(d => (d[0] & 0xE0) == 0x20).ToList();
        Assert.NotEmpty(protectedDatagrams);
        foreach (var datagram in protectedDatagrams)
        {
            var rest = datagram.AsSpan();
            var records = 0;
            while (!rest.IsEmpty)
            {
                Assert.True(Airlift.Dtls.V13.UnifiedHeader.TryRead(rest, out var header), Convert.ToHexString(datagram));
                Assert.True(header.RecordLength >= 17);
                rest = rest[(header.HeaderLength + header.RecordLength)..];
                records++;
            }

            Assert.True(records >= 1);
        }
    }
}
