using System.Net;
using Airlift.Cli.Serve;
using Airlift.Dtls;
using Airlift.Tests.Dtls;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// The limits of <c>airlift serve</c> count live sessions only (issue #13: the counts are kept as numbers, not recounted
/// over every session on each offer): a session counts from its 201 until its loop has ended, and its place is free again
/// by the time <c>DELETE</c> returns (the count drops before the session's <c>Closed</c> completes).
/// </summary>
public class ServeLiveCountTests
{
    private static readonly string Offer = CapturedOffers.Crlf(CapturedOffers.Chromium156);
    private static readonly string WhipOffer = Offer.Replace("a=sendrecv", "a=sendonly", StringComparison.Ordinal);

    private static Task<EchoServer> StartAsync(int maxSessions, int maxPublishers, int perClient) =>
        EchoServer.StartAsync(
            new EchoServerOptions
            {
                Udp = [new IPEndPoint(IPAddress.Loopback, 0)],
                Certificate = TestCertificates.Ecdsa,
                MaxSessions = maxSessions,
                MaxSessionsPerClient = perClient,
                Broadcast = new BroadcastLimits { MaxPublishers = maxPublishers },
                ConnectTimeout = TimeSpan.FromSeconds(30),
            },
            logger: null);

    [Fact]
    public async Task Publishers_CountWhileLive_503AtMaxPublishers_AndADeletedOneFreesItsPlaceAtOnce()
    {
        await using var server = await StartAsync(maxSessions: 8, maxPublishers: 2, perClient: 8);
        var hub = server.Broadcast;
        var first = hub.Publish(WhipOffer, DtlsRole.Server);
        var second = hub.Publish(WhipOffer, DtlsRole.Server);
        Assert.Equal(201, first.Status);
        Assert.Equal(201, second.Status);
        Assert.Equal(2, hub.LiveCount);

        var third = hub.Publish(WhipOffer, DtlsRole.Server);
        Assert.Equal(503, third.Status);
        Assert.Contains("--max-publishers", third.Body, StringComparison.Ordinal);

        // A refused or bad offer holds no place.
        Assert.Equal(400, hub.Publish("v=0\r\nnot an offer\r\n", DtlsRole.Server).Status);
        Assert.Equal(2, hub.LiveCount);

        Assert.True(await hub.DeleteAsync(first.Id!));
        Assert.True(hub.Get(first.Id!)!.IsFinished);
        Assert.Equal(1, hub.LiveCount);
        var again = hub.Publish(WhipOffer, DtlsRole.Server);
        Assert.Equal(201, again.Status);
        Assert.Equal(2, hub.LiveCount);
    }

    [Fact]
    public async Task MaxSessions_CountsLivePublishersAndEchoes_AndPerClient_CountsThatClientsLiveEchoesOnly()
    {
        await using var server = await StartAsync(maxSessions: 3, maxPublishers: 8, perClient: 1);
        var a = server.CreateSession(Offer, null, "a");
        Assert.Equal(201, a.Status);
        Assert.Equal(429, server.CreateSession(Offer, null, "a").Status);
        var b = server.CreateSession(Offer, null, "b");
        Assert.Equal(201, b.Status);
        Assert.Equal(2, server.OpenSessions);

        var publisher = server.Broadcast.Publish(WhipOffer, DtlsRole.Server);
        Assert.Equal(201, publisher.Status);
        var refused = server.Broadcast.Publish(WhipOffer, DtlsRole.Server);
        Assert.Equal(503, refused.Status);
        Assert.Contains("maximum of 3 sessions", refused.Body, StringComparison.Ordinal);

        Assert.True(await server.DeleteAsync(a.Id!));
        Assert.True(server.Get(a.Id!)!.IsFinished);
        Assert.Equal(1, server.OpenSessions);
        var a2 = server.CreateSession(Offer, null, "a");
        Assert.Equal(201, a2.Status);
        Assert.Equal(429, server.CreateSession(Offer, null, "a").Status);

        Assert.True(await server.Broadcast.DeleteAsync(publisher.Id!));
        Assert.Equal(0, server.Broadcast.LiveCount);
        Assert.Equal(201, server.Broadcast.Publish(WhipOffer, DtlsRole.Server).Status);
    }

    [Fact]
    public async Task HeldPublisher_KeepsTheAnswersStreams_NotItsSdpText()
    {
        await using var server = await StartAsync(maxSessions: 4, maxPublishers: 4, perClient: 4);
        var created = server.Broadcast.Publish(WhipOffer, DtlsRole.Server);
        Assert.Equal(201, created.Status);
        Assert.Contains("a=recvonly", created.Body, StringComparison.Ordinal);
        var peer = server.Broadcast.Get(created.Id!)!;
        Assert.Equal("", peer.Answer.Sdp);
        Assert.Contains(peer.Answer.Streams, s => s.Receive && s.Kind == "video");
    }
}
