using Airlift.Cli;
using Airlift.Cli.Storm;
using Airlift.Dtls;
using Airlift.Tests.EndToEnd;
using Airlift.WebRtc;
using Xunit.Abstractions;

namespace Airlift.Tests.Storm;

/// <summary>
/// <c>airlift storm --serve URL</c> against a real <c>airlift serve</c> child on loopback: every session posts a WHIP offer,
/// runs controlling ICE and DTLS against the answer, sends SRTP, and DELETEs its resource; refusals keep their HTTP reason.
/// </summary>
public class StormServeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    private static Task<ServeProcess> StartServeAsync(params string[] limits) =>
        ServeProcess.StartAsync(null, ["--http", "127.0.0.1:0", "--udp", "127.0.0.1:0", .. limits]);

    [Fact]
    public async Task Twenty_whip_sessions_through_serve_all_connect_send_media_the_server_counts_and_are_deleted()
    {
        await using var serve = await StartServeAsync("--max-publishers", "32", "--max-sessions", "64", "--max-sessions-per-client", "64");
        var settings = new StormSettings
        {
            Mode = StormServerMode.Serve,
            ServeUrl = new Uri(serve.BaseUri, "whip"),
            Connections = 20,
            MediaPackets = 10,
            Timeout = TimeSpan.FromSeconds(30),
        };
        settings.Validate();

        var report = await new StormRunner(settings, output.WriteLine).RunAsync(CancellationToken.None).WaitAsync(Limit);

        var text = string.Join('\n', StormReportText.Lines(report));
        Assert.True(report.AllConnected, text);
        Assert.True(report.CountsAddUp, text);
        Assert.Equal(20, report.Connected);
        Assert.Equal(20, report.HeldAtEnd);
        Assert.Empty(report.FailuresByReason);
        var serveFigures = Assert.IsType<StormServeFigures>(report.Serve);
        Assert.NotNull(serveFigures.SignallingMs);
        Assert.NotNull(serveFigures.IceMs);
        Assert.NotNull(serveFigures.DtlsMs);
        Assert.True(serveFigures.StunRequests >= 20, text);

        // The server authenticated the sessions' packets (WHIP stats rtpIn) and WHIP sends none back. Not "all 200": on a
        // starved machine the kernel drops datagrams at serve's socket (RcvbufErrors), which nothing retransmits.
        Assert.Equal(200, serveFigures.MediaSent);
        Assert.Equal(20, serveFigures.MediaStatsRead);
        Assert.InRange(serveFigures.MediaAccepted, 1, 200);
        Assert.Equal(0, serveFigures.MediaReceived);
        Assert.Equal(20, serveFigures.Deleted);
        Assert.Empty(serveFigures.DeleteFailures);
        Assert.Contains($"media: 10 SRTP packets per session, 200 sent, {serveFigures.MediaAccepted} counted by the server (stats of 20 sessions)", text, StringComparison.Ordinal);

        // DELETE ended every publisher: serve lists none.
        var live = await serve.Http.GetStringAsync("whip");
        Assert.Equal("[]", live.Trim());
    }

    [Fact]
    public async Task Offers_above_serves_max_publishers_fail_by_their_http_status_and_reason()
    {
        await using var serve = await StartServeAsync("--max-publishers", "2", "--max-sessions-per-client", "64");
        var settings = new StormSettings
        {
            Mode = StormServerMode.Serve,
            ServeUrl = new Uri(serve.BaseUri, "whip"),
            Connections = 5,
            Versions = [ProtocolVersion.Dtls12],
            DtlsText = "1.2",
            Timeout = TimeSpan.FromSeconds(30),
        };
        settings.Validate();

        var report = await new StormRunner(settings, output.WriteLine).RunAsync(CancellationToken.None).WaitAsync(Limit);

        var text = string.Join('\n', StormReportText.Lines(report));
        Assert.False(report.AllConnected, text);
        Assert.True(report.CountsAddUp, text);
        Assert.Equal(2, report.Connected);
        Assert.Equal(2, report.Versions["DTLS 1.2"]);
        Assert.Equal(3, report.Failed);
        var (reason, count) = Assert.Single(report.FailuresByReason);
        Assert.Equal(3, count);
        Assert.StartsWith("signalling: HTTP 503 Service Unavailable: ", reason, StringComparison.Ordinal);
        Assert.Contains("--max-publishers", reason, StringComparison.Ordinal);
        Assert.Contains($"failed: 3 x {reason}", text, StringComparison.Ordinal);
        Assert.Equal(2, report.Serve!.Deleted);
    }

    [Fact]
    public async Task Sessions_through_the_seeded_lossy_proxy_all_connect_and_the_proxy_carries_their_media_path()
    {
        await using var serve = await StartServeAsync("--max-publishers", "32", "--max-sessions-per-client", "64");
        var settings = new StormSettings
        {
            Mode = StormServerMode.Serve,
            ServeUrl = new Uri(serve.BaseUri, "whip"),
            Connections = 10,
            ProxyLossPercent = 5,
            Seed = 3,
            Timeout = TimeSpan.FromSeconds(45),
        };
        settings.Validate();

        var report = await new StormRunner(settings, output.WriteLine).RunAsync(CancellationToken.None).WaitAsync(Limit);

        var text = string.Join('\n', StormReportText.Lines(report));
        Assert.True(report.AllConnected, text);
        Assert.Equal(10, report.Serve!.Deleted);

        // The proxy started with the first answer and saw every session's own flow (ICE routes by it), and dropped some.
        var proxy = Assert.IsAssignableFrom<IReadOnlyDictionary<string, long>>(report.Proxy);
        Assert.Equal(10, proxy["clientsAccepted"]);
        Assert.True(proxy["sentToUpstream"] < proxy["receivedFromClients"], "5 % loss dropped nothing");
    }

    [Fact]
    public void The_storm_offer_is_a_sendonly_bundle_offer_with_our_credentials_fingerprint_actpass_and_candidate()
    {
        using var certificate = DtlsCertificate.GenerateEcdsa("storm-test");
        var fingerprint = certificate.GetFingerprint();
        var sdp = ServeStorm.Offer("abcdEFGH", "0123456789abcdefghijklmn", fingerprint, new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.1.0.1"), 40000), 0x1234, 7);

        Assert.True(SdpOffer.TryParse(sdp, out var offer, out var error), error?.ToString());
        Assert.Equal("abcdEFGH", offer.Ice.Ufrag);
        Assert.Equal("0123456789abcdefghijklmn", offer.Ice.Password);
        Assert.Equal(Airlift.Ice.Sdp.SdpSetupRole.ActPass, offer.Ice.Setup);
        Assert.Equal(fingerprint.ToString(), Assert.Single(offer.Ice.Fingerprints).ToString(), ignoreCase: true);
        var candidate = Assert.Single(offer.Ice.Candidates);
        Assert.Equal(("127.1.0.1", 40000), (candidate.Address, candidate.Port));
        var video = Assert.Single(offer.Media);
        Assert.Equal(MediaDirection.SendOnly, video.Direction);
        Assert.True(video.RtcpMux);
        Assert.Equal("VP8", Assert.Single(video.Codecs).Name);
        Assert.Equal([0x1234u], video.Ssrcs);
        Assert.Equal(["0"], offer.Bundle);
    }

    [Theory]
    [InlineData(false, null, 5, "--media is for --serve")]
    [InlineData(true, "ftp://127.0.0.1/whip", 0, "--serve needs an http:// or https:// URL")]
    [InlineData(true, null, 0, "--serve needs an http:// or https:// URL")]
    public void Serve_settings_out_of_range_are_refused_with_a_reason(bool serve, string? url, int media, string expected)
    {
        var settings = new StormSettings { Mode = serve ? StormServerMode.Serve : StormServerMode.SelfInProcess, ServeUrl = url is null ? null : new Uri(url), MediaPackets = media };
        var e = Assert.Throws<CliException>(settings.Validate);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
