using System.Net;
using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Attacks on the stateless cookie exchange (RFC 6347 4.2.1) of <see cref="DtlsServerListener"/> and on a client's
/// handling of HelloVerifyRequests: cookies replayed from another address, expired (two rotation intervals), forged,
/// truncated or bound to other ClientHello fields; valid cookies carrying hostile ClientHellos; answers that must never
/// outgrow the question on the wire (IP and UDP headers counted); and a server or path that answers every ClientHello
/// with a new cookie. After every row a second, honest client completes a handshake through the same listener.
/// </summary>
public class CookieAttackTests
{
    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(1);
    private static readonly IPEndPoint Victim = new(IPAddress.Parse("192.0.2.10"), 40_000);

    private static readonly Dictionary<string, Action<ListenerArena>> Cases = BuildCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    internal static int Count => Cases.Count + 2;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Cookie_attack_ends_in_the_stated_outcome_and_an_honest_client_still_connects(string name)
    {
        var arena = new ListenerArena();
        Cases[name](arena);

        // Nothing else broke: a new client from an untouched address completes a handshake through the same listener.
        arena.AssertHonestClientConnects(new IPEndPoint(IPAddress.Parse("203.0.113.77"), 51_000), arena.Now, seed: 900);
        Assert.Equal(0, arena.Listener.Stats.InternalErrors);
    }

    [Fact]
    public void Client_facing_a_new_cookie_for_every_ClientHello_gives_up_after_MaxHelloVerifyRequests_with_handshake_failure()
    {
        var options = DtlsArena.ClientOptions(31);
        var link = new VirtualLink(options, DtlsArena.ServerOptions(32));
        var client = link.Client;
        var helloes = link.Poll(client);
        var sentHelloes = helloes.Count;
        var random = new Random(33);
        List<byte[]> answer = [];
        for (ushort seq = 0; seq <= options.MaxHelloVerifyRequests; seq++)
        {
            var cookie = new byte[32];
            random.NextBytes(cookie);
            var hvr = WireEdit.HandshakeRecord(HandshakeType.HelloVerifyRequest, seq, [0xFE, 0xFF, 32, .. cookie], seq).Encode();
            answer = DtlsAttack.FeedSafely(link, client, [hvr]);
            if (client.State != DtlsState.Connecting)
            {
                break;
            }

            sentHelloes += Assert.Single(answer) is { } ? 1 : 0;
        }

        // One ClientHello, then one per accepted cookie: MaxHelloVerifyRequests more, never another.
        Assert.Equal(1 + options.MaxHelloVerifyRequests, sentHelloes);
        var failed = Assert.Single(link.ClientEvents.OfType<DtlsFailed>());
        Assert.Equal(AlertDescription.HandshakeFailure, failed.Alert);
        var alert = Assert.Single(WireEdit.Records(Assert.Single(answer)));
        Assert.Equal(ContentType.Alert, alert.Type);
        Assert.Equal(new byte[] { 2, (byte)AlertDescription.HandshakeFailure }, alert.Fragment);
        client.HandleTimeout(link.Now + TimeSpan.FromMinutes(1));
        Assert.Empty(link.Poll(client));
    }

    [Fact]
    public void Client_given_the_same_HelloVerifyRequest_again_and_again_sends_nothing_more_and_still_connects()
    {
        var arena = new ListenerArena();
        var (client, _, hvr) = arena.FirstHelloAndAnswer(Victim, arena.Now, seed: 41);
        var link = new VirtualLink(client, DtlsEndpoint.CreateServer(DtlsArena.ServerOptions(1), arena.Now), arena.Now);
        var second = DtlsAttack.FeedSafely(link, client, [hvr]);
        Assert.Single(second);

        // The same HelloVerifyRequest, replayed a hundred times under its own message_seq: absorbed, nothing sent.
        for (var i = 0; i < 100; i++)
        {
            Assert.Empty(DtlsAttack.FeedSafely(link, client, [hvr]));
        }

        Assert.Equal(DtlsState.Connecting, client.State);
        Assert.Equal(DtlsListenerDecision.Accepted, arena.Offer(Victim, second[0], out _, out var server));
        arena.Complete(client, server!);
    }

    private static Dictionary<string, Action<ListenerArena>> BuildCases()
    {
        var c = new Dictionary<string, Action<ListenerArena>>();

        // ---- the cookie is bound to the address and port it was issued to
        foreach (var (what, elsewhere) in new (string, IPEndPoint)[]
        {
            ("another port of the same host", new IPEndPoint(Victim.Address, Victim.Port + 1)),
            ("another IPv4 address", new IPEndPoint(IPAddress.Parse("198.51.100.7"), Victim.Port)),
            ("an IPv6 address", new IPEndPoint(IPAddress.Parse("2001:db8::10"), Victim.Port)),
            ("the IPv4-mapped IPv6 form of the same address", new IPEndPoint(Victim.Address.MapToIPv6(), Victim.Port)),
        })
        {
            c[$"cookie replayed from {what}: a new HelloVerifyRequest, no endpoint; the owner still connects"] = a =>
            {
                var (client, withCookie) = a.CookieExchange(Victim, a.Now, seed: 11);
                Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, a.Offer(elsewhere, withCookie, out var length, out var stolen));
                Assert.Null(stolen);
                Assert.InRange(length, 1, withCookie.Length);
                Assert.Equal(DtlsListenerDecision.Accepted, a.Offer(Victim, withCookie, out _, out var server));
                a.Complete(client, server!);
            };
        }

        // ---- expiry: valid for one to two rotation intervals (CookieRotationInterval, 5 s here)
        c["cookie presented one rotation interval later: still accepted"] = a =>
        {
            var (client, withCookie) = a.CookieExchange(Victim, a.Now, seed: 12);
            var later = a.Now + a.Options.CookieRotationInterval + TimeSpan.FromMilliseconds(1);
            Assert.Equal(DtlsListenerDecision.Accepted, a.Offer(Victim, withCookie, out _, out var server, later));
            a.Complete(client, server!, later);
        };
        c["cookie presented after two rotation intervals: expired, a new HelloVerifyRequest; the client follows it and connects"] = a =>
        {
            var (client, withCookie) = a.CookieExchange(Victim, a.Now, seed: 13);
            var later = a.Now + 2 * a.Options.CookieRotationInterval + TimeSpan.FromMilliseconds(1);
            Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, a.Offer(Victim, withCookie, out var length, out var none, later));
            Assert.Null(none);
            var link = new VirtualLink(client, DtlsEndpoint.CreateServer(DtlsArena.ServerOptions(1), later), later);
            var third = Assert.Single(DtlsAttack.FeedSafely(link, client, [a.Response[..length]]));
            Assert.Equal(DtlsListenerDecision.Accepted, a.Offer(Victim, third, out _, out var server, later));
            a.Complete(client, server!, later);
        };
        c["cookie from another listener (another secret): a new HelloVerifyRequest, no endpoint"] = a =>
        {
            var other = new ListenerArena(seed: 77);
            var (_, withForeignCookie) = other.CookieExchange(Victim, a.Now, seed: 14);
            Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, a.Offer(Victim, withForeignCookie, out _, out var none));
            Assert.Null(none);
        };

        // ---- forged cookies and cookies moved to other ClientHello fields
        foreach (var (what, edit) in new (string, Func<ClientHello, ClientHello>)[]
        {
            ("with one bit flipped", h => h with { Cookie = WireEdit.Mutated(h.Cookie, k => k[^1] ^= 1) }),
            ("truncated to 31 bytes", h => h with { Cookie = h.Cookie[..31] }),
            ("padded to 255 bytes", h => h with { Cookie = [.. h.Cookie, .. new byte[255 - h.Cookie.Length]] }),
            ("all zero", h => h with { Cookie = new byte[h.Cookie.Length] }),
            ("kept, but the random changed", h => h with { Random = WireEdit.Mutated(h.Random, r => r[0] ^= 1) }),
            ("kept, but a session_id added", h => h with { SessionId = [1, 2, 3, 4] }),
            ("kept, but the version changed to DTLS 1.0", h => h with { ClientVersion = ProtocolVersion.Dtls10 }),
        })
        {
            c[$"cookie {what}: a new HelloVerifyRequest no larger than the question, no endpoint"] = a =>
            {
                var (_, withCookie) = a.CookieExchange(Victim, a.Now, seed: 15);
                var forged = EditHello(withCookie, edit);
                Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, a.Offer(Victim, forged, out var length, out var none));
                Assert.Null(none);
                Assert.InRange(length, 1, forged.Length);
            };
        }

        // ---- a valid cookie is no licence: the endpoint it creates judges the rest of the ClientHello
        c["valid cookie on a ClientHello with a cipher_suites length past the body: endpoint created, fails with decode_error at once"] = a =>
        {
            var (_, withCookie) = a.CookieExchange(Victim, a.Now, seed: 16);
            Assert.True(ClientHello.TryDecode(WireEdit.Body([withCookie], HandshakeType.ClientHello), out var hello));
            var prefix = 2 + 32 + 1 + hello.SessionId.Length + 1 + hello.Cookie.Length;
            var broken = WireEdit.ReplaceBody([withCookie], HandshakeType.ClientHello, b => [.. b[..prefix], 0xFF, 0xFE, .. b[(prefix + 2)..]])[0];
            Assert.Equal(DtlsListenerDecision.Accepted, a.Offer(Victim, broken, out _, out var server));
            Assert.Equal(DtlsState.Failed, server!.State);
            var events = a.DrainEvents(server, out var sent);
            Assert.Equal(DtlsFailureReason.DecodeError, Assert.Single(events.OfType<DtlsFailed>()).Reason);
            Assert.Equal(new byte[] { 2, (byte)AlertDescription.DecodeError }, Assert.Single(WireEdit.Records(sent)).Fragment);
        };
        c["valid cookie on a ClientHello first fragment declaring 16 MiB: endpoint created, nothing buffered, the fragment counted"] = a =>
        {
            var (_, withCookie) = a.CookieExchange(Victim, a.Now, seed: 17);
            var huge = WireEdit.EditFragments([withCookie], (h, b) => (h with { Length = 0xFFFFFF }, b))[0];
            Assert.Equal(DtlsListenerDecision.Accepted, a.Offer(Victim, huge, out _, out var server));
            Assert.Equal(DtlsState.Connecting, server!.State);
            Assert.Equal(0, server.Engine.Reassembler.BufferedBytes);
            Assert.Equal(1, server.Stats.DroppedHandshakeFragments);
            Assert.Empty(a.DrainEvents(server, out var sent));
            Assert.Empty(sent);
        };

        // ---- amplification: the answer never outgrows the question on the wire (IPv4 28, IPv6 48 header bytes each)
        foreach (var remote in new[] { Victim, new IPEndPoint(IPAddress.Parse("2001:db8::20"), 40_000) })
        {
            var family = remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";
            c[$"retransmitted ClientHellos of every size from the shortest answerable to 200 bytes over the genuine one, over {family}: answers x copies never exceed the question, headers counted"] = a =>
            {
                var headers = family == "IPv6" ? 48 : 28;
                var (_, retransmitted) = a.RetransmittedHello(remote, seed: 18);
                var body = WireEdit.Body([retransmitted], HandshakeType.ClientHello);
                var answered = 0;
                for (var size = 36; size <= body.Length + 200; size++)
                {
                    var cut = size <= body.Length ? body[..size] : [.. body, .. new byte[size - body.Length]];
                    var question = WireEdit.EditFragments([retransmitted], (h, _) => (h with { Length = cut.Length, FragmentLength = cut.Length }, cut))[0];
                    var decision = a.Listener.HandleDatagram(a.Now, remote, question, a.Response, out var length, out var copies, out var endpoint);
                    Assert.Null(endpoint);
                    if (decision == DtlsListenerDecision.HelloVerifyRequest)
                    {
                        answered++;
                        Assert.True(copies * (length + headers) <= question.Length + headers, $"{copies} x ({length} + {headers}) B answer to a ({question.Length} + {headers}) B question");
                    }
                }

                Assert.True(answered > 200, $"{answered} sizes answered");
            };
        }

        c["the same first ClientHello a thousand times: a thousand single answers no larger than it, no endpoint, no state"] = a =>
        {
            var (_, first, _) = a.FirstHelloAndAnswer(Victim, a.Now, seed: 19);
            var sentBefore = a.Listener.Stats.HelloVerifyRequestsSent;
            for (var i = 0; i < 1000; i++)
            {
                Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, a.Listener.HandleDatagram(a.Now, Victim, first, a.Response, out var length, out var copies, out var endpoint));
                Assert.Null(endpoint);
                Assert.Equal(1, copies);
                Assert.True(length <= first.Length);
            }

            Assert.Equal(sentBefore + 1000, a.Listener.Stats.HelloVerifyRequestsSent);
            Assert.Equal(0, a.Listener.Stats.Accepted);
        };

        return c;
    }

    private static byte[] EditHello(byte[] datagram, Func<ClientHello, ClientHello> edit) =>
        WireEdit.ReplaceBody([datagram], HandshakeType.ClientHello, b =>
        {
            Assert.True(ClientHello.TryDecode(b, out var hello));
            return WireEdit.EncodeClientHello(edit(hello));
        })[0];
}

/// <summary>A listener and the honest clients that talk to it, in virtual time.</summary>
internal sealed class ListenerArena
{
    private readonly byte[] _buffer = new byte[65535];

    public ListenerArena(ulong seed = 1)
    {
        // A short rotation interval, so that "two intervals later" is still inside a client's 30 s handshake timeout.
        Options = DtlsArena.ServerOptions(seed) with { CookieRotationInterval = TimeSpan.FromSeconds(5) };
        Listener = new DtlsServerListener(Options);
    }

    public DtlsOptions Options { get; }

    public DtlsServerListener Listener { get; }

    public TimeSpan Now { get; } = TimeSpan.FromSeconds(1);

    public byte[] Response { get; } = new byte[2048];

    public DtlsListenerDecision Offer(IPEndPoint remote, byte[] datagram, out int responseLength, out DtlsEndpoint? endpoint, TimeSpan? at = null) =>
        Listener.HandleDatagram(at ?? Now, remote, datagram, Response, out responseLength, out endpoint);

    /// <summary>A fresh client's first ClientHello and the listener's HelloVerifyRequest to it.</summary>
    public (DtlsEndpoint Client, byte[] First, byte[] HelloVerifyRequest) FirstHelloAndAnswer(IPEndPoint remote, TimeSpan now, ulong seed)
    {
        var client = DtlsEndpoint.CreateClient(DtlsArena.ClientOptions(seed), now);
        var first = Poll(client);
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, Listener.HandleDatagram(now, remote, first, Response, out var length, out _));
        return (client, first, Response[..length]);
    }

    /// <summary>Runs the cookie exchange for a fresh client and returns its ClientHello with the cookie (not yet offered).</summary>
    public (DtlsEndpoint Client, byte[] WithCookie) CookieExchange(IPEndPoint remote, TimeSpan now, ulong seed)
    {
        var (client, _, hvr) = FirstHelloAndAnswer(remote, now, seed);
        client.HandleDatagram(now, hvr);
        return (client, Poll(client));
    }

    /// <summary>A fresh client's ClientHello as its timer resends it (record sequence number above 0, no cookie).</summary>
    public (DtlsEndpoint Client, byte[] Retransmitted) RetransmittedHello(IPEndPoint remote, ulong seed)
    {
        var client = DtlsEndpoint.CreateClient(DtlsArena.ClientOptions(seed), Now);
        Poll(client);
        client.HandleTimeout(Now + TimeSpan.FromSeconds(5));
        return (client, Poll(client));
    }

    /// <summary>Completes the handshake between a client and the endpoint the listener accepted for it.</summary>
    public void Complete(DtlsEndpoint client, DtlsEndpoint server, TimeSpan? at = null)
    {
        var link = new VirtualLink(client, server, at ?? Now);
        link.Pump();
        link.Drive(l => l.BothConnected, 5_000);
        Assert.True(link.BothConnected, server.Trace + client.Trace);
    }

    public void AssertHonestClientConnects(IPEndPoint remote, TimeSpan now, ulong seed)
    {
        var (client, withCookie) = CookieExchange(remote, now, seed);
        Assert.Equal(DtlsListenerDecision.Accepted, Listener.HandleDatagram(now, remote, withCookie, Response, out _, out var server));
        Complete(client, server!, now);
    }

    public List<DtlsEvent> DrainEvents(DtlsEndpoint endpoint, out List<byte[]> datagrams)
    {
        var events = new List<DtlsEvent>();
        datagrams = [];
        while (true)
        {
            var output = endpoint.PollOutput(_buffer);
            if (output.Kind == DtlsOutputKind.Datagram)
            {
                datagrams.Add(_buffer[..output.DatagramLength]);
            }
            else if (output.Kind == DtlsOutputKind.Event)
            {
                events.Add(output.Event!);
            }
            else
            {
                return events;
            }
        }
    }

    private byte[] Poll(DtlsEndpoint endpoint)
    {
        var output = endpoint.PollOutput(_buffer);
        Assert.Equal(DtlsOutputKind.Datagram, output.Kind);
        return _buffer[..output.DatagramLength];
    }
}
