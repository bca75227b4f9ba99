using System.Net;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls.V13;

/// <summary>
/// The stateless listener's assembly of ClientHellos that span several datagrams (DTLS 1.3 with the hybrid share: 1.4 KB):
/// both cases were found by <c>airlift soak --reuse-ports</c>, where they made handshakes time out.
/// </summary>
public class ListenerHelloReassemblyTests
{
    private static readonly IPEndPoint Remote = IPEndPoint.Parse("127.0.0.1:5000");

    private static DtlsOptions ServerOptions() => Dtls13HandshakeTests.Options(TestCertificates.Ecdsa, 41);

    private static List<byte[]> Drain(DtlsEndpoint endpoint)
    {
        var buffer = new byte[4096];
        var datagrams = new List<byte[]>();
        while (endpoint.PollOutput(buffer) is { Kind: not DtlsOutputKind.Timeout } output)
        {
            if (output.Kind == DtlsOutputKind.Datagram)
            {
                datagrams.Add(buffer.AsSpan(0, output.DatagramLength).ToArray());
            }
        }

        return datagrams;
    }

    private static TimeSpan NextDeadline(DtlsEndpoint endpoint)
    {
        var buffer = new byte[4096];
        while (true)
        {
            var output = endpoint.PollOutput(buffer);
            if (output.Kind == DtlsOutputKind.Timeout)
            {
                return output.Deadline;
            }
        }
    }

    /// <summary>Feeds datagrams to the listener; the HelloRetryRequest (if any) and the endpoint (if accepted) come back.</summary>
    private static (byte[]? Retry, DtlsEndpoint? Accepted, List<DtlsListenerDecision> Decisions) Offer(DtlsServerListener listener, TimeSpan now, IEnumerable<byte[]> datagrams)
    {
        var response = new byte[4096];
        byte[]? retry = null;
        DtlsEndpoint? accepted = null;
        var decisions = new List<DtlsListenerDecision>();
        foreach (var d in datagrams)
        {
            var decision = listener.HandleDatagram(now, Remote, d, response, out var length, out var endpoint);
            decisions.Add(decision);
            if (decision == DtlsListenerDecision.HelloRetryRequest)
            {
                retry ??= response.AsSpan(0, length).ToArray();
            }

            accepted ??= endpoint;
        }

        return (retry, accepted, decisions);
    }

    /// <summary>Runs client and server to the end of their handshake without loss; returns whether both connected.</summary>
    private static bool Complete(DtlsEndpoint client, DtlsEndpoint server, TimeSpan now)
    {
        for (var i = 0; i < 20 && (client.State != DtlsState.Connected || server.State != DtlsState.Connected); i++)
        {
            now += TimeSpan.FromMilliseconds(5);
            foreach (var d in Drain(server))
            {
                client.HandleDatagram(now, d);
            }

            foreach (var d in Drain(client))
            {
                server.HandleDatagram(now, d);
            }
        }

        return client.State == DtlsState.Connected && server.State == DtlsState.Connected;
    }

    /// <summary>A listener and a DTLS 1.3 client with the default (hybrid) shares, at 5 s.</summary>
    private static (TimeSpan Now, DtlsServerListener Listener, DtlsEndpoint Client) Fresh(ulong seed)
    {
        var now = TimeSpan.FromSeconds(5);
        return (now, new DtlsServerListener(ServerOptions()), DtlsEndpoint.CreateClient(Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, seed), now));
    }

    [Fact]
    public void A_hello_resent_at_a_lower_datagram_size_with_two_fragments_in_one_datagram_is_assembled()
    {
        var (now, listener, client) = Fresh(42);

        var (retry, _, _) = Offer(listener, now, Drain(client));
        Assert.NotNull(retry);
        client.HandleDatagram(now, retry);

        // The cookie hello at 1200 bytes is lost every time; the retry comes twice (the server is alive), so after two
        // timeouts the client lowers its datagram size and packs the fragments it already cut: [0, 975) alone, then
        // [975, 1175) and [1175, 1455) together in one datagram.
        Drain(client);
        client.HandleDatagram(now, retry);
        List<byte[]> resent = [];
        for (var i = 0; i < 6 && resent.Count == 0; i++)
        {
            now = NextDeadline(client);
            client.HandleTimeout(now);
            var datagrams = Drain(client);
            if (datagrams.Max(d => d.Length) <= 1000)
            {
                resent = datagrams;
            }
        }

        Assert.True(resent.Count >= 2, client.Trace);
        Assert.Contains(resent, d => RecordCount(d) > 1);

        // Only the lower-size copy arrives (each of its datagrams once, not the redundant copy).
        var once = resent.Take(1).Concat(resent.Skip(1).TakeWhile(d => FragmentOffset(d) != 0)).ToList();
        Assert.Contains(once, d => RecordCount(d) > 1);
        var (_, accepted, decisions) = Offer(listener, now, once);
        Assert.True(accepted is not null, string.Join(", ", decisions) + client.Trace);
        Assert.True(Complete(client, accepted, now), client.Trace + accepted.Trace);
    }

    [Fact]
    public void A_late_copy_of_the_previous_hellos_fragment_is_not_taken_into_the_next_hello_from_the_same_address()
    {
        var now = TimeSpan.FromSeconds(5);
        var listener = new DtlsServerListener(ServerOptions());

        // Client A's first hello is answered; A also resent it (its timer fired first) and only the second fragment of
        // that copy arrives, late.
        var a = DtlsEndpoint.CreateClient(Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, 43), now);
        var first = Drain(a);
        Assert.Equal(2, first.Count);
        now = NextDeadline(a);
        a.HandleTimeout(now);
        var copy = Drain(a);
        var (retryA, _, _) = Offer(listener, now, first);
        Assert.NotNull(retryA);
        var (_, _, lateDecisions) = Offer(listener, now, [copy[1]]);

        // Client B restarts on the same address and port (RFC 6347 4.2.8) with a hello of the same length.
        now += TimeSpan.FromMilliseconds(300);
        var b = DtlsEndpoint.CreateClient(Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, 44), now);
        var helloB = Drain(b);
        Assert.Equal(first.Select(d => d.Length), helloB.Select(d => d.Length));
        var (retryB, _, _) = Offer(listener, now, helloB);
        Assert.NotNull(retryB);
        b.HandleDatagram(now, retryB);
        var (_, accepted, decisions) = Offer(listener, now, Drain(b));
        Assert.True(accepted is not null, string.Join(", ", decisions));
        Assert.True(Complete(b, accepted, now), $"late copy: {string.Join(", ", lateDecisions)}\n" + b.Trace + accepted.Trace);
    }

    [Fact]
    public void A_resent_hello_whose_answer_was_lost_is_answered_again()
    {
        var (now, listener, client) = Fresh(45);
        var (lost, _, _) = Offer(listener, now, Drain(client));
        Assert.NotNull(lost);

        now = NextDeadline(client);
        client.HandleTimeout(now);
        var resent = Drain(client);

        // Its first fragment is enough to know the hello: answered at once, twice (the first answer was lost), and the
        // two answers are smaller than the datagram that asked, IP and UDP headers counted.
        var response = new byte[4096];
        Assert.Equal(DtlsListenerDecision.HelloRetryRequest, listener.HandleDatagram(now, Remote, resent[0], response, out var length, out var copies, out _));
        Assert.Equal(2, copies);
        Assert.True(2 * (length + 28) <= resent[0].Length + 28);
        var (retry, _, decisions) = Offer(listener, now, resent.Skip(1));
        Assert.True(retry is not null, string.Join(", ", decisions));

        client.HandleDatagram(now, retry);
        var (_, accepted, _) = Offer(listener, now, Drain(client));
        Assert.NotNull(accepted);
        Assert.True(Complete(client, accepted, now), client.Trace + accepted.Trace);
    }

    [Theory]
    [InlineData(true)] // the default shares: two-datagram hellos
    [InlineData(false)] // an X25519 share only: the server asks for the hybrid one, and such a retry cannot be rebuilt
    public void A_client_restarted_on_the_port_that_takes_its_predecessors_HelloRetryRequest_still_connects_when_only_the_cookie_was_asked(bool hybrid)
    {
        // Found by `airlift soak --reuse-ports` (1 in 10,000): a client abandons its handshake and the next client on the
        // same port receives the HelloRetryRequest meant for it. Nothing in a HelloRetryRequest names the hello it answers
        // and the cookie is valid for the address, so the new client echoes it; the server must not build the transcript
        // on the other client's first hello.
        var (now, listener, a) = Fresh(46);
        DtlsOptions ClientOptions(ulong seed) => hybrid
            ? Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, seed)
            : Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, seed) with { Dtls13KeyShares = [NamedGroup.X25519] };
        if (!hybrid)
        {
            a = DtlsEndpoint.CreateClient(ClientOptions(46), now);
        }

        var (retryForA, _, _) = Offer(listener, now, Drain(a));
        Assert.NotNull(retryForA);

        var b = DtlsEndpoint.CreateClient(ClientOptions(47), now);
        var (retryForB, _, _) = Offer(listener, now, Drain(b));
        Assert.NotNull(retryForB);
        b.HandleDatagram(now, retryForA); // B's own answer is lost; A's arrives at the port B now holds

        var (_, accepted, decisions) = Offer(listener, now, Drain(b));
        if (!hybrid)
        {
            // The retry asked for another key share, so B's first hello cannot be rebuilt from its second: dropped, counted.
            Assert.Null(accepted);
            Assert.Contains(DtlsListenerDecision.Dropped, decisions);
            return;
        }

        Assert.True(accepted is not null, string.Join(", ", decisions));
        Assert.Contains("first hello rebuilt from the second", accepted.Trace);
        Assert.True(Complete(b, accepted, now), b.Trace + accepted.Trace);
    }

    [Fact]
    public void A_late_copy_of_an_accepted_cookie_hello_makes_no_second_endpoint()
    {
        // Found by `airlift soak --reuse-ports`: the copy's endpoint sent a flight for the old hello to the next client
        // on the port, which took its ServerHello and could not read the rest.
        var (now, listener, client) = Fresh(48);
        var (retry, _, _) = Offer(listener, now, Drain(client));
        client.HandleDatagram(now, retry!);
        var cookieHello = Drain(client);
        var (_, accepted, _) = Offer(listener, now, cookieHello);
        Assert.NotNull(accepted);

        var (_, again, decisions) = Offer(listener, now + TimeSpan.FromMilliseconds(200), cookieHello);
        Assert.Null(again);
        Assert.All(decisions, d => Assert.Equal(DtlsListenerDecision.Dropped, d));
        Assert.Equal(1, listener.Stats.Accepted);
    }

    [Fact]
    public void Remembered_hellos_are_evicted_before_a_hello_still_being_assembled()
    {
        var pending = new Airlift.Dtls.V13.PendingClientHellos(3 * 1000);
        var now = TimeSpan.FromSeconds(1);
        var body = new byte[1000];
        new Random(7).NextBytes(body);
        byte[] Id(byte b) => [127, 0, 0, 1, 0x13, b];

        // A: first half arrives, the second is still on its way.
        Assert.Null(pending.Add(now, Id(1), 0, 1000, 0, body.AsSpan(0, 500), out _, out _));

        // B and C complete (and are remembered for their copies), then D starts: the budget holds three hellos.
        foreach (var id in new byte[] { 2, 3 })
        {
            Assert.Null(pending.Add(now, Id(id), 0, 1000, 0, body.AsSpan(0, 500), out _, out _));
            Assert.NotNull(pending.Add(now, Id(id), 0, 1000, 500, body.AsSpan(500), out _, out _));
        }

        Assert.Null(pending.Add(now, Id(4), 0, 1000, 0, body.AsSpan(0, 500), out _, out _));
        Assert.True(pending.Bytes <= 3 * 1000);

        // A's second half completes A: a remembered hello made room, not A.
        Assert.Equal(body, pending.Add(now + TimeSpan.FromMilliseconds(300), Id(1), 0, 1000, 500, body.AsSpan(500), out var duplicate, out _));
        Assert.False(duplicate);
    }

    [Fact]
    public void A_DTLS_1_2_cookie_hello_in_two_datagrams_gives_the_new_endpoint_the_whole_hello()
    {
        // A 1.2-only client whose cookie hello spans two datagrams (a larger hello, or a smaller path, than this client's):
        // the endpoint accepted on the last datagram must answer at once, not after the client's next retransmission
        // (which a lossy path may not bring).
        var now = TimeSpan.FromSeconds(5);
        var listener = new DtlsServerListener(ServerOptions());
        var client = DtlsEndpoint.CreateClient(Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, 49) with { ProtocolVersions = [ProtocolVersion.Dtls12] }, now);

        var response = new byte[4096];
        var first = Assert.Single(Drain(client));
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(now, Remote, first, response, out var length, out _));
        client.HandleDatagram(now, response.AsSpan(0, length));

        var cookieHello = Assert.Single(Drain(client));
        var (_, accepted, decisions) = Offer(listener, now, SplitHello(cookieHello, 100));
        Assert.Equal([DtlsListenerDecision.Buffered, DtlsListenerDecision.Accepted], decisions);
        var flight = Drain(accepted!);
        Assert.NotEmpty(flight);
        foreach (var d in flight)
        {
            client.HandleDatagram(now, d);
        }

        Assert.True(Complete(client, accepted!, now), client.Trace + accepted!.Trace);
    }

    /// <summary>
    /// The single-record hello in <paramref name="datagram"/> as two datagrams, fragments [0, at) and [at, end). Both keep
    /// the record's sequence number, so that the client's next records still follow it.
    /// </summary>
    private static byte[][] SplitHello(byte[] datagram, int at)
    {
        const int headers = 13 + 12;
        var bodyLength = datagram.Length - headers;
        byte[] Fragment(int offset, int count)
        {
            var d = new byte[headers + count];
            datagram.AsSpan(0, headers).CopyTo(d);
            d[11] = (byte)((12 + count) >> 8);
            d[12] = (byte)(12 + count);
            d[19] = (byte)(offset >> 16);
            d[20] = (byte)(offset >> 8);
            d[21] = (byte)offset;
            d[22] = (byte)(count >> 16);
            d[23] = (byte)(count >> 8);
            d[24] = (byte)count;
            datagram.AsSpan(headers + offset, count).CopyTo(d.AsSpan(headers));
            return d;
        }

        return [Fragment(0, at), Fragment(at, bodyLength - at)];
    }

    private static int FragmentOffset(byte[] datagram) => (datagram[19] << 16) | (datagram[20] << 8) | datagram[21];

    private static int RecordCount(byte[] datagram)
    {
        var count = 0;
        for (var p = 0; p + 13 <= datagram.Length; p += 13 + ((datagram[p + 11] << 8) | datagram[p + 12]))
        {
            count++;
        }

        return count;
    }
}
