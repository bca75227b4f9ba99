using System.Net;
using System.Text.Json;
using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls;

/// <summary>
/// Chromium 156's real post-quantum ClientHello (1413 bytes, sent as two records in two datagrams with record version
/// FEFF) against Airlift's server, directly and through the stateless cookie exchange (SCENARIOS.md; RFC 6347 4.2.1).
/// </summary>
public class ChromiumClientHelloTests
{
    private static readonly IPEndPoint Chromium = new(IPAddress.Loopback, 57165);
    private static readonly Lazy<byte[][]> ClientHelloDatagrams = new(Load);

    private static byte[][] Load()
    {
        var path = TestCertificates.FixturePath("vectors", "chromium156-to-icelite-dtls12.jsonl");
        var dtls = File.ReadLines(path).Skip(1)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("kind").GetString() == "dtls" && e.GetProperty("from").GetInt32() == Chromium.Port)
            .Select(e => Convert.FromHexString(e.GetProperty("hex").GetString()!))
            .Take(2)
            .ToArray();
        Assert.Equal(2, dtls.Length);
        return dtls;
    }

    private static DtlsOptions ServerOptions() => new(TestCertificates.Ecdsa)
    {
        Random = RandomSource.Seeded(42),
        SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
        AllowAnyPeerCertificate = true,
        // DTLS 1.2 behaviour under test (DTLS 1.3 has its own tests in Dtls/V13).
        ProtocolVersions = [ProtocolVersion.Dtls12],
    };

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

    private static ServerHello FirstServerHello(List<byte[]> datagrams, out ushort messageSeq)
    {
        Assert.NotEmpty(datagrams);
        Assert.True(RecordHeader.TryRead(datagrams[0], out var record));
        Assert.Equal(ContentType.Handshake, record.Type);
        var r = new WireReader(datagrams[0].AsSpan(RecordHeader.Size, record.Length));
        Assert.True(HandshakeHeader.TryRead(ref r, out var hs));
        Assert.Equal(HandshakeType.ServerHello, hs.Type);
        Assert.True(r.TryReadBytes(hs.FragmentLength, out var body));
        Assert.True(ServerHello.TryDecode(body, out var sh));
        messageSeq = hs.MessageSeq;
        return sh;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Server_answers_the_fragmented_post_quantum_ClientHello_in_either_order_with_DTLS_1_2(bool reversed)
    {
        var server = DtlsEndpoint.CreateServer(ServerOptions(), TimeSpan.Zero);
        var (a, b) = reversed ? (ClientHelloDatagrams.Value[1], ClientHelloDatagrams.Value[0]) : (ClientHelloDatagrams.Value[0], ClientHelloDatagrams.Value[1]);
        server.HandleDatagram(TimeSpan.Zero, a);
        Assert.Empty(Drain(server));
        server.HandleDatagram(TimeSpan.Zero, b);

        var flight = Drain(server);
        var sh = FirstServerHello(flight, out _);
        Assert.Equal(ProtocolVersion.Dtls12, sh.ServerVersion);
        Assert.Equal(CipherSuite.EcdheEcdsaWithAes128GcmSha256, sh.CipherSuite);
        Assert.True(Extensions.TryFind(sh.Extensions, ExtensionType.ExtendedMasterSecret, out _));
        Assert.True(Extensions.TryFind(sh.Extensions, ExtensionType.UseSrtp, out _));
        Assert.All(flight, d => Assert.True(d.Length <= 1200));
        Assert.Equal(0, server.Stats.DroppedMalformed);
    }

    [Fact]
    public void Fragmented_ClientHello_passes_the_stateless_cookie_exchange_and_no_state_is_kept_before_the_cookie()
    {
        var listener = new DtlsServerListener(ServerOptions());
        var response = new byte[1500];
        var now = TimeSpan.FromSeconds(5);

        // First ClientHello: its first fragment alone earns a HelloVerifyRequest no larger than the datagram that asked.
        var first = ClientHelloDatagrams.Value[0];
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(now, Chromium, first, response, out var hvrLength, out var none));
        Assert.Null(none);
        Assert.True(hvrLength <= first.Length);
        Assert.Equal(DtlsListenerDecision.Dropped, listener.HandleDatagram(now, Chromium, ClientHelloDatagrams.Value[1], response, out _, out _));

        var hvrReader = new WireReader(response.AsSpan(RecordHeader.Size, hvrLength - RecordHeader.Size));
        Assert.True(HandshakeHeader.TryRead(ref hvrReader, out var hvrHeader));
        Assert.True(hvrReader.TryReadBytes(hvrHeader.FragmentLength, out var hvrBody));
        Assert.True(HelloVerifyRequest.TryDecode(hvrBody, out var hvr));

        // Second ClientHello, as Chromium would send it: same body plus the cookie, message_seq 1, cut in two records.
        var (second1, second2) = RebuildWithCookie(hvr.Cookie);

        // The tail fragment first: no state exists for this peer yet, so it is dropped.
        Assert.Equal(DtlsListenerDecision.Dropped, listener.HandleDatagram(now, Chromium, second2, response, out _, out _));

        // A cookie from another address is not accepted.
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(now, new IPEndPoint(IPAddress.Loopback, 1), second1, response, out _, out var stranger));
        Assert.Null(stranger);

        Assert.Equal(DtlsListenerDecision.Accepted, listener.HandleDatagram(now, Chromium, second1, response, out _, out var endpoint));
        Assert.NotNull(endpoint);
        Assert.Empty(Drain(endpoint));
        endpoint.HandleDatagram(now, second2);
        var sh = FirstServerHello(Drain(endpoint), out var seq);
        Assert.Equal(1, seq);
        Assert.Equal(CipherSuite.EcdheEcdsaWithAes128GcmSha256, sh.CipherSuite);
        Assert.Equal(2, listener.Stats.HelloVerifyRequestsSent);
        Assert.Equal(1, listener.Stats.Accepted);
    }

    private static (byte[] First, byte[] Second) RebuildWithCookie(byte[] cookie)
    {
        var body = new byte[1413];
        var firstLength = 0;
        foreach (var datagram in ClientHelloDatagrams.Value)
        {
            Assert.True(RecordHeader.TryRead(datagram, out var record));
            var r = new WireReader(datagram.AsSpan(RecordHeader.Size, record.Length));
            Assert.True(HandshakeHeader.TryRead(ref r, out var h));
            Assert.True(r.TryReadBytes(h.FragmentLength, out var fragment));
            body = body.Length == h.Length ? body : new byte[h.Length];
            fragment.CopyTo(body.AsSpan(h.FragmentOffset));
            if (h.FragmentOffset == 0)
            {
                firstLength = h.FragmentLength;
            }
        }

        Assert.True(ClientHello.TryDecode(body, out var hello));
        var withCookie = hello with { Cookie = cookie };
        var encoded = new byte[4096];
        var w = new WireWriter(encoded);
        withCookie.Encode(ref w);
        var full = w.Written.ToArray();
        return (Record(full, 0, firstLength, 2), Record(full, firstLength, full.Length - firstLength, 3));
    }

    private static byte[] Record(byte[] body, int offset, int length, ulong recordSeq)
    {
        var datagram = new byte[RecordHeader.Size + HandshakeHeader.Size + length];
        var w = new WireWriter(datagram.AsSpan(RecordHeader.Size));
        new HandshakeHeader(HandshakeType.ClientHello, body.Length, 1, offset, length).Write(ref w);
        w.WriteBytes(body.AsSpan(offset, length));
        new RecordHeader(ContentType.Handshake, ProtocolVersion.Dtls10, 0, recordSeq, (ushort)(HandshakeHeader.Size + length)).Write(datagram);
        return datagram;
    }
}
