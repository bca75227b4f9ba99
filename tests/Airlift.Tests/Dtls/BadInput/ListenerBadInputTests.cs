using System.Net;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.BadInput;

/// <summary>
/// The stateless listener in front of a server (RFC 6347 4.2.1): it keeps no state before a valid cookie, answers
/// only with a HelloVerifyRequest no larger than the datagram that caused it (anti-amplification, RFC 6347 4.2.1
/// and RFC 9147 5.1), and drops anything that is not the first fragment of a ClientHello.
/// </summary>
public class ListenerBadInputTests
{
    private static readonly IPEndPoint Remote = new(IPAddress.Loopback, 40_000);
    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(1);

    private readonly byte[] _response = new byte[2048];

    public static TheoryData<string> DroppedCases() => [.. Dropped.Keys];

    private static readonly Dictionary<string, Func<byte[], byte[]>> Dropped = new()
    {
        ["empty datagram"] = _ => [],
        ["alert record"] = _ => new TestRecord(ContentType.Alert, ProtocolVersion.Dtls12, 0, 0, [2, 40]).Encode(),
        ["ServerHello instead of ClientHello"] = ch => WireEdit.EditFragments([ch], (h, b) => (h with { Type = HandshakeType.ServerHello }, b))[0],
        ["ClientHello in epoch 1"] = ch => WireEdit.Mutated(ch, d => d[4] = 1),
        ["ClientHello fragment with offset > 0"] = ch => WireEdit.EditFragments([ch], (h, b) =>
            (h with { FragmentOffset = 40, FragmentLength = h.Length - 40 }, b[40..]))[0],
        ["ClientHello record longer than the datagram"] = ch => ch[..^1],
        ["truncated record header"] = ch => ch[..12],
        ["ClientHello cut inside the random (body of 20 bytes)"] = ch => WireEdit.EditFragments([ch], (h, b) => (h with { FragmentLength = 20 }, b[..20]))[0],
    };

    [Theory]
    [MemberData(nameof(DroppedCases))]
    public void Listener_drops_anything_but_the_first_fragment_of_a_ClientHello_and_keeps_no_state(string name)
    {
        var listener = new DtlsServerListener(BadInputTests.ServerOptions(201));
        var datagram = Dropped[name](ClientHello(202));

        var decision = listener.HandleDatagram(T0, Remote, datagram, _response, out var length, out var endpoint);

        Assert.Equal(DtlsListenerDecision.Dropped, decision);
        Assert.Equal(0, length);
        Assert.Null(endpoint);
        Assert.Equal(1, listener.Stats.Dropped);
        Assert.Equal(0, listener.Stats.HelloVerifyRequestsSent);
    }

    [Fact]
    public void Listener_never_answers_with_more_bytes_than_it_received_for_any_truncation_of_a_ClientHello()
    {
        var listener = new DtlsServerListener(BadInputTests.ServerOptions(203));
        var hello = ClientHello(204);
        var body = WireEdit.Body([hello], HandshakeType.ClientHello);
        var answered = 0;
        for (var cut = 0; cut <= body.Length; cut++)
        {
            // Consistent framing: the record and fragment lengths describe exactly the first `cut` body bytes.
            var datagram = WireEdit.EditFragments([hello], (h, b) => (h with { FragmentLength = cut }, b[..cut]))[0];
            var decision = listener.HandleDatagram(T0, Remote, datagram, _response, out var length, out _);
            Assert.NotEqual(DtlsListenerDecision.Accepted, decision);
            if (decision == DtlsListenerDecision.HelloVerifyRequest)
            {
                answered++;
                Assert.InRange(length, 1, datagram.Length);
            }
            else
            {
                Assert.Equal(0, length);
            }

            if (datagram.Length < 60)
            {
                Assert.Equal(DtlsListenerDecision.Dropped, decision);
            }
        }

        Assert.True(answered > 0);
    }

    [Fact]
    public void Listener_answers_the_smallest_ClientHello_with_at_most_its_size_and_drops_anything_smaller()
    {
        // The shortest parseable ClientHello start is 13 + 12 + 2 + 32 + 1 + 1 = 61 bytes (empty session id and cookie);
        // its HelloVerifyRequest is 60 bytes. One byte less (no room for the cookie length) is dropped, and so is a
        // valid start when the caller's response buffer cannot hold the whole HelloVerifyRequest.
        var listener = new DtlsServerListener(BadInputTests.ServerOptions(205));
        var hello = ClientHello(206);
        byte[] Cut(int n) => WireEdit.EditFragments([hello], (h, b) => (h with { FragmentLength = n }, b[..n]))[0];

        var smallest = listener.HandleDatagram(T0, Remote, Cut(36), _response, out var smallestLength, out _);
        var tooShort = listener.HandleDatagram(T0, Remote, Cut(35), _response, out var tooShortLength, out _);
        var tinyBuffer = listener.HandleDatagram(T0, Remote, Cut(36), new byte[59], out var tinyLength, out _);

        Assert.Equal(61, Cut(36).Length);
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, smallest);
        Assert.Equal(60, smallestLength);
        Assert.Equal(DtlsListenerDecision.Dropped, tooShort);
        Assert.Equal(0, tooShortLength);
        Assert.Equal(DtlsListenerDecision.Dropped, tinyBuffer);
        Assert.Equal(0, tinyLength);
    }

    [Fact]
    public void Listener_answers_a_bad_cookie_with_a_fresh_HelloVerifyRequest_RFC6347_4_2_1()
    {
        var listener = new DtlsServerListener(BadInputTests.ServerOptions(207));
        var badCookie = new byte[CookieAuthority.CookieLength];
        new Random(3).NextBytes(badCookie);
        var hello = WireEdit.ReplaceBody([ClientHello(208)], HandshakeType.ClientHello, b =>
        {
            Assert.True(Airlift.Dtls.Messages.ClientHello.TryDecode(b, out var ch));
            return WireEdit.EncodeClientHello(ch with { Cookie = badCookie });
        })[0];

        var decision = listener.HandleDatagram(T0, Remote, hello, _response, out var length, out var endpoint);

        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, decision);
        Assert.Null(endpoint);
        Assert.InRange(length, 1, hello.Length);
        var hvr = WireEdit.Body([_response[..length]], HandshakeType.HelloVerifyRequest);
        Assert.True(HelloVerifyRequest.TryDecode(hvr, out var parsed));
        Assert.Equal(CookieAuthority.CookieLength, parsed.Cookie.Length);
        Assert.NotEqual(badCookie, parsed.Cookie);
    }

    [Fact]
    public void Listener_accepts_the_echoed_cookie_only_from_the_same_address_and_the_handshake_completes()
    {
        var (listener, client, buffer, first) = ListenerAndFirstClientHello(209);

        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(T0, Remote, first, _response, out var hvrLength, out _));
        Assert.InRange(hvrLength, 1, first.Length);
        client.HandleDatagram(T0, _response.AsSpan(0, hvrLength));
        var second = Poll(client, buffer);

        // The cookie is bound to the address and port it was issued to.
        var elsewhere = new IPEndPoint(IPAddress.Loopback, Remote.Port + 1);
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(T0, elsewhere, second, _response, out _, out var stranger));
        Assert.Null(stranger);

        Assert.Equal(DtlsListenerDecision.Accepted, listener.HandleDatagram(T0, Remote, second, _response, out var acceptedLength, out var server));
        Assert.Equal(0, acceptedLength);
        Assert.NotNull(server);
        Assert.Equal(1, listener.Stats.Accepted);

        var link = new VirtualLink(client, server, T0);
        link.Pump();
        link.Drive(l => l.BothConnected, 2_000);
        Assert.True(link.BothConnected, server.Trace);
    }

    /// <summary>IPv4 + UDP header bytes around every datagram: amplification is counted on the wire.</summary>
    private const int Ipv4UdpHeaders = 28;

    [Fact]
    public void Listener_answers_a_retransmitted_ClientHello_twice_only_when_both_answers_with_IP_and_UDP_headers_fit_in_the_question()
    {
        var (listener, client, buffer, first) = ListenerAndFirstClientHello(211);

        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(T0, Remote, first, _response, out var firstLength, out var firstCopies, out _));
        Assert.Equal(1, firstCopies);
        Assert.True(firstLength <= first.Length);

        // The answer was lost: the client's timer resends its ClientHello under a new record sequence number. Airlift's own
        // ClientHello is small (about 122 B): two 60-byte answers are 176 B on the wire against its 150, so it gets one.
        var later = T0 + TimeSpan.FromSeconds(5);
        client.HandleTimeout(later);
        var again = Poll(client, buffer);
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(later, Remote, again, _response, out var againLength, out var againCopies, out _));
        Assert.True(againCopies * (againLength + Ipv4UdpHeaders) <= again.Length + Ipv4UdpHeaders, $"{againCopies} x ({againLength} + 28) B answer to a ({again.Length} + 28) B question");
        Assert.Equal(1, againCopies);

        // A browser-sized retransmitted ClientHello (padded here by 200 bytes of extension space) has room for two answers.
        var large = WireEdit.EditFragments([again], (h, b) => (h with { Length = h.Length + 200, FragmentLength = h.FragmentLength + 200 }, [.. b, .. new byte[200]]))[0];
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(later, Remote, large, _response, out var largeLength, out var largeCopies, out _));
        Assert.Equal(2, largeCopies);
        Assert.True(largeCopies * (largeLength + Ipv4UdpHeaders) <= large.Length + Ipv4UdpHeaders);
        Assert.Equal(4, listener.Stats.HelloVerifyRequestsSent);

        // A retransmitted ClientHello too short for two answers gets one.
        var shortest = WireEdit.EditFragments([again], (h, b) => (h with { FragmentLength = 36 }, b[..36]))[0];
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(later, Remote, shortest, _response, out var shortLength, out var shortCopies, out _));
        Assert.Equal(1, shortCopies);
        Assert.True(shortLength <= shortest.Length);
    }

    /// <summary>A listener (seed), a client (seed + 1), a receive buffer and the client's first ClientHello datagram.</summary>
    private static (DtlsServerListener Listener, DtlsEndpoint Client, byte[] Buffer, byte[] First) ListenerAndFirstClientHello(ulong seed)
    {
        var client = DtlsEndpoint.CreateClient(BadInputTests.ClientOptions(seed + 1), T0);
        var buffer = new byte[65535];
        return (new DtlsServerListener(BadInputTests.ServerOptions(seed)), client, buffer, Poll(client, buffer));
    }

    private static byte[] ClientHello(ulong seed)
    {
        var client = DtlsEndpoint.CreateClient(BadInputTests.ClientOptions(seed), T0);
        return Poll(client, new byte[65535]);
    }

    private static byte[] Poll(DtlsEndpoint endpoint, byte[] buffer)
    {
        var output = endpoint.PollOutput(buffer);
        Assert.Equal(DtlsOutputKind.Datagram, output.Kind);
        return buffer[..output.DatagramLength];
    }
}
