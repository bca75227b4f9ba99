using System.Net;
using System.Text.RegularExpressions;
using Airlift.Tests.Cli;

namespace Airlift.Tests.EndToEnd;

/// <summary>One <c>airlift serve</c> on loopback (ports picked by the OS) for the signaling contract tests.</summary>
public sealed class ServeHttpFixture : IAsyncLifetime
{
    private ServeProcess? _serve;

    internal ServeProcess Serve => _serve ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() =>
        _serve = await ServeProcess.StartAsync(null, "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--connect-timeout", "3");

    public async Task DisposeAsync()
    {
        if (_serve is not null)
        {
            await _serve.DisposeAsync();
        }
    }
}

/// <summary>The HTTP side of <c>airlift serve</c>: page, offer/answer, stats, DELETE, and refusals with reasons.</summary>
public class ServeHttpTests(ServeHttpFixture fixture) : IClassFixture<ServeHttpFixture>
{
    private static readonly string ChromiumOffer = CapturedOffers.Crlf(CapturedOffers.Chromium156);

    private ServeProcess Serve => fixture.Serve;

    [Fact]
    public async Task Page_IsServed_WithBothVideosAndTheStateTable()
    {
        using var response = await Serve.Http.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<video id=\"local\"", html, StringComparison.Ordinal);
        Assert.Contains("<video id=\"remote\"", html, StringComparison.Ordinal);
        Assert.Contains("<table id=\"state\">", html, StringComparison.Ordinal);
        Assert.Contains("no authentication", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Offer_IsAnswered_201_WithLocation_AndOurCandidates()
    {
        using var response = await Serve.PostOfferAsync(ChromiumOffer);
        var answer = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("application/sdp", response.Content.Headers.ContentType?.MediaType);
        var location = response.Headers.Location!.ToString();
        Assert.Matches("^/echo/[A-Za-z0-9]+$", location);
        Assert.Contains("a=ice-lite\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("a=setup:passive\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("a=group:BUNDLE 0 1\r\n", answer, StringComparison.Ordinal);
        var udp = Regex.Match(Serve.Readiness, @"udp 127\.0\.0\.1:(\d+)").Groups[1].Value;
        var tcp = Regex.Match(Serve.Readiness, @"tcp 127\.0\.0\.1:(\d+)").Groups[1].Value;
        Assert.Contains($" udp 2130706431 127.0.0.1 {udp} typ host\r\n", answer, StringComparison.Ordinal);
        Assert.Contains($" tcp ", answer, StringComparison.Ordinal);
        Assert.Contains($" 127.0.0.1 {tcp} typ host tcptype passive\r\n", answer, StringComparison.Ordinal);

        var stats = await Serve.StatsAsync(location);
        Assert.Equal("connecting", stats.GetProperty("state").GetString());
        Assert.Equal("server", stats.GetProperty("dtls").GetProperty("role").GetString());
        Assert.Equal("New", stats.GetProperty("ice").GetProperty("state").GetString());
        Assert.Equal(2, stats.GetProperty("streams").GetArrayLength());

        using var deleted = await Serve.Http.DeleteAsync(location.TrimStart('/'));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var closed = await Serve.StatsAsync(location);
        Assert.Equal("closed", closed.GetProperty("state").GetString());
        Assert.Equal("closed by DELETE", closed.GetProperty("closeReason").GetString());
    }

    [Fact]
    public async Task SetupActive_MakesTheServerTheDtlsClient_Rfc8842_5()
    {
        using var response = await Serve.PostOfferAsync(ChromiumOffer, setup: "active");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains("a=setup:active\r\n", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var location = response.Headers.Location!.ToString();
        Assert.Equal("client", (await Serve.StatsAsync(location)).GetProperty("dtls").GetProperty("role").GetString());
        using var deleted = await Serve.Http.DeleteAsync(location.TrimStart('/'));
    }

    [Fact]
    public async Task ManySessions_AreServedAtOnce_AndEachClosesOnDelete()
    {
        var locations = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            using var response = await Serve.PostOfferAsync(ChromiumOffer, setup: i % 2 == 0 ? "passive" : "active");
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            locations.Add(response.Headers.Location!.ToString());
        }

        Assert.Equal(locations.Count, locations.Distinct().Count());
        foreach (var location in locations)
        {
            using var deleted = await Serve.Http.DeleteAsync(location.TrimStart('/'));
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
            Assert.Equal("closed", (await Serve.StatsAsync(location)).GetProperty("state").GetString());
        }
    }

    [Fact]
    public async Task Session_ThatNeverConnects_IsClosedAfterTheConnectTimeout()
    {
        using var response = await Serve.PostOfferAsync(ChromiumOffer);
        var location = response.Headers.Location!.ToString();
        var stats = await Serve.WaitForStatsAsync(location, s => s.GetProperty("state").GetString() == "closed", TimeSpan.FromSeconds(10));
        Assert.Equal("closed", stats.GetProperty("state").GetString());
        Assert.Equal("not connected within 3 s", stats.GetProperty("closeReason").GetString());
    }

    [Fact]
    public async Task WrongContentType_Is415()
    {
        using var response = await Serve.PostOfferAsync(ChromiumOffer, contentType: "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("application/sdp", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not sdp", "v=0")]
    [InlineData("v=0\r\ns=-\r\n", "no m-section")]
    public async Task BadOffer_Is400_WithTheReason(string offer, string reason)
    {
        using var response = await Serve.PostOfferAsync(offer);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(reason, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OfferWithoutFingerprint_Is400_Rfc8842_5()
    {
        var offer = string.Join("\r\n", ChromiumOffer.Split("\r\n").Where(l => !l.StartsWith("a=fingerprint", StringComparison.Ordinal)));
        using var response = await Serve.PostOfferAsync(offer);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("fingerprint", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownSetupParameter_Is400()
    {
        using var response = await Serve.PostOfferAsync(ChromiumOffer, setup: "sideways");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task UnknownSession_Is404_ForStatsAndDelete()
    {
        using var stats = await Serve.Http.GetAsync("echo/nosuchsession/stats");
        Assert.Equal(HttpStatusCode.NotFound, stats.StatusCode);
        using var deleted = await Serve.Http.DeleteAsync("echo/nosuchsession");
        Assert.Equal(HttpStatusCode.NotFound, deleted.StatusCode);
    }

    [Fact]
    public async Task OversizedOffer_Is413()
    {
        using var response = await Serve.PostOfferAsync("v=0\r\n" + new string('a', 70_000));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData("0.0.0.0:8080", "every interface")]
    [InlineData("[::]:8080", "every interface")]
    [InlineData("example.com:8080", "not ADDRESS:PORT")]
    public async Task Http_OnEveryInterface_OrAHostName_IsRefused(string http, string reason)
    {
        var run = await AirliftCli.RunAsync(TimeSpan.FromSeconds(30), null, "serve", "--http", http);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(reason, string.Join('\n', run.StdErr), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_SaysThePageHasNoAuthentication()
    {
        var run = await AirliftCli.RunAsync(TimeSpan.FromSeconds(30), null, "serve", "--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("no authentication", string.Join('\n', run.StdOut), StringComparison.OrdinalIgnoreCase);
    }
}
