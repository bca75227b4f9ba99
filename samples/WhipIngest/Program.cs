// A WHIP ingest server (RFC 9725): POST /whip with an SDP offer -> 201 Created, answer, Location; DELETE on the Location
// ends it. Counts each publisher's SRTP-decrypted RTP packets. Argument: HTTP port (default 8080, 0 picks a free one).
using System.Collections.Concurrent;
using System.Net;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Net;
using Airlift.Transport;
using Airlift.WebRtc;

using var certificate = DtlsCertificate.GenerateEcdsa("whip-ingest");
// Media on one loopback UDP port (bind a public address to go live); beyond 16 publishers, 503.
await using var host = new TransportHost(new TransportHostOptions { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)], MaxSessions = 16 });
var publishers = new ConcurrentDictionary<string, TransportSession>();

var app = WebApplication.Create();
app.Urls.Add($"http://127.0.0.1:{(args.Length > 0 ? int.Parse(args[0]) : 8080)}");
app.MapPost("/whip", async (HttpRequest request) =>
{
    var body = new char[SdpOffer.MaxLength + 1]; // at most one character more than an offer may have
    var length = await new StreamReader(request.Body).ReadBlockAsync(body);
    CertificateFingerprint? fingerprint = null;
    if (!SdpOffer.TryParse(new string(body, 0, length), out var offer, out var error)
        || offer.Ice is not { Setup: { } setup, Ufrag: { } ufrag, Password: { } password }
        || !offer.Ice.Fingerprints.Any(f => CertificateFingerprint.TryParse(f.ToString(), out fingerprint)))
    {
        return Results.Text($"bad offer: {error?.ToString() ?? "it needs a=setup, a=ice-ufrag, a=ice-pwd, a=fingerprint"}\n", statusCode: 400);
    }

    var dtls = new DtlsOptions(certificate) { SrtpProfiles = [SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80] };
    TransportSession session;
    try
    {
        session = host.CreateSession(new WebRtcTransportOptions(dtls, setup, fingerprint!) { RemoteUfrag = ufrag, RemotePassword = password });
    }
    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException) // e.g. 16 publishers already
    {
        return Results.Text($"cannot take this publisher now: {ex.Message}\n", statusCode: 503);
    }

    var options = new SdpAnswerOptions
    {
        Ufrag = session.LocalUfrag,
        Password = session.LocalPassword,
        Fingerprint = session.LocalFingerprint.ToString(),
        Setup = session.LocalSetup,
        Candidates = [IceCandidate.CreateHost(host.UdpEndpoints[0], IceProtocol.Udp)],
        ChooseDirection = _ => MediaDirection.RecvOnly,
    };
    if (!SdpAnswerBuilder.TryBuild(offer, options, out var answer, out var answerError) || !answer.Streams.Any(s => s.Receive))
    {
        session.Close();
        return Results.Text($"bad offer: {answerError?.ToString() ?? "it sends no audio or video"}\n", statusCode: 400);
    }

    var id = Guid.NewGuid().ToString("N");
    publishers[id] = session;
    _ = Task.Run(() => Receive(id, session));
    request.HttpContext.Response.Headers.Location = $"/whip/{id}";
    return Results.Text(answer.Sdp, "application/sdp", statusCode: 201);
}).Accepts<string>("application/sdp"); // routing answers 415 to any other Content-Type
app.MapDelete("/whip/{id}", (string id) => publishers.TryRemove(id, out var session) ? Close(session) : Results.NotFound());

await app.StartAsync();
Console.WriteLine($"WHIP endpoint: {app.Urls.First()}/whip, media on udp {host.UdpEndpoints[0]}");
await app.WaitForShutdownAsync(); // then disposing the host closes every publisher

static IResult Close(TransportSession session)
{
    session.Close(); // completes its events: Receive prints the total
    return Results.Ok();
}

async Task Receive(string id, TransportSession session)
{
    using var media = new MediaSession();
    using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // not connected by then: closed
    using var closeAtDeadline = deadline.Token.Register(session.Close);
    long packets = 0;
    await foreach (var e in session.Events.ReadAllAsync())
    {
        switch (e)
        {
            case KeyingMaterial keys: // DTLS-SRTP is up
                media.SetKeys(keys);
                deadline.CancelAfter(Timeout.InfiniteTimeSpan);
                break;
            case RtpPacketReceived rtp when media.UnprotectRtp(rtp.Packet).Status == MediaStatus.Ok && ++packets % 100 == 0:
                Console.WriteLine($"{id}: {packets} RTP packets");
                break;
        }
    }

    publishers.TryRemove(id, out _);
    Console.WriteLine($"{id}: ended after {packets} RTP packets");
}
