using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Airlift.Cli.Serve;
using Airlift.Tests.Cli;

namespace Airlift.Tests.EndToEnd;

/// <summary>One <c>airlift serve</c> on loopback (ports picked by the OS) for the signaling contract tests.</summary>
public sealed class ServeHttpFixture : IAsyncLifetime
{
    private ServeProcess? _serve;

    internal ServeProcess Serve => _serve ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() =>
        _serve = await ServeProcess.StartAsync(null, "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--connect-timeout", "3",
            "--max-sessions-per-client", "24", "--allowed-host", "echo.test");

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
    public async Task Help_SaysThePageHasNoAuthentication_AndNamesEveryLimit()
    {
        var run = await AirliftCli.RunAsync(TimeSpan.FromSeconds(30), null, "serve", "--help");
        Assert.Equal(0, run.ExitCode);
        var help = string.Join('\n', run.StdOut);
        Assert.Contains("no authentication", help, StringComparison.OrdinalIgnoreCase);
        foreach (var option in new[] { "--max-sessions-per-client", "--allowed-host", "--nack-budget", "--nack-burst", "--nack-rate", "--nack-interval", "--nack-max" })
        {
            Assert.Contains(option, help, StringComparison.Ordinal);
        }
    }

    /// <summary>A GET with the Host header set to <paramref name="host"/> (HttpClient keeps the connection to the real address).</summary>
    private async Task<HttpResponseMessage> GetWithHostAsync(string path, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = host;
        return await Serve.Http.SendAsync(request);
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:8080")]
    [InlineData("127.0.0.1.evil.example")]
    [InlineData("localhost.evil.example")]
    public async Task Host_NotANameOfOurs_Is421_WithTheReason_DnsRebindingProtection(string host)
    {
        // A page on evil.example whose name the attacker re-points at 127.0.0.1 still sends "Host: evil.example".
        using var page = await GetWithHostAsync("", host);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, page.StatusCode);
        var reason = await page.Content.ReadAsStringAsync();
        Assert.Contains("DNS rebinding", reason, StringComparison.Ordinal);
        Assert.Contains("--allowed-host", reason, StringComparison.Ordinal);

        using var content = new StringContent(ChromiumOffer, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/sdp");
        using var post = new HttpRequestMessage(HttpMethod.Post, "echo") { Content = content };
        post.Headers.Host = host;
        using var refused = await Serve.Http.SendAsync(post);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, refused.StatusCode);
        Assert.Null(refused.Headers.Location);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("LOCALHOST.:8080")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]:8080")]
    [InlineData("echo.test")] // --allowed-host
    public async Task Host_Localhost_Loopback_TheBoundAddress_OrAnAllowedHost_IsServed(string host)
    {
        using var page = await GetWithHostAsync("", host);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [Fact]
    public void HostAllowList_ComparesTheNameOnly_CaseAndTrailingDotAside()
    {
        var hosts = new HostAllowList(IPAddress.Parse("192.0.2.7"), IPAddress.Parse("203.0.113.9"), ["Echo.Example.org."]);
        Assert.True(hosts.IsAllowed("192.0.2.7:8080"));
        Assert.True(hosts.IsAllowed("203.0.113.9"));
        Assert.True(hosts.IsAllowed("echo.example.ORG:443"));
        Assert.True(hosts.IsAllowed(null)); // HTTP/1.0 without Host: not a browser, so not a rebinding
        Assert.False(hosts.IsAllowed("192.0.2.8"));
        Assert.False(hosts.IsAllowed("example.org"));
        Assert.False(hosts.IsAllowed("[::2]:80"));
        Assert.False(HostAllowList.TryParseAllowed("*", out _));
        Assert.False(HostAllowList.TryParseAllowed("a..b", out _));
        Assert.True(HostAllowList.TryParseAllowed("[2001:db8::1]", out var v6));
        Assert.Equal("2001:db8::1", v6);
    }

    [Fact]
    public void ClientKey_IsTheIPv4Address_OrTheIPv6Slash64()
    {
        Assert.Equal("192.0.2.1", EchoServer.ClientKey(IPAddress.Parse("192.0.2.1")));
        Assert.Equal("192.0.2.1", EchoServer.ClientKey(IPAddress.Parse("::ffff:192.0.2.1")));
        Assert.Equal("2001:db8:1:2::/64", EchoServer.ClientKey(IPAddress.Parse("2001:db8:1:2:aaaa:bbbb:cccc:dddd")));
        Assert.Equal(EchoServer.ClientKey(IPAddress.Parse("2001:db8:1:2::1")), EchoServer.ClientKey(IPAddress.Parse("2001:db8:1:2::2")));
        Assert.Equal("::1", EchoServer.ClientKey(IPAddress.IPv6Loopback));
    }

    /// <summary>An HTTP client whose connections come from <paramref name="source"/> (any 127.0.0.0/8 address is local on Linux).</summary>
    private static HttpClient ClientFrom(Uri baseUri, string source) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(10) };

    private static async Task<HttpResponseMessage> PostOfferAsync(HttpClient http, string sdp)
    {
        using var content = new StringContent(sdp, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/sdp");
        return await http.PostAsync("echo", content);
    }

    [Fact]
    public async Task OneClient_HoldsAtMostItsShare_429WithRetryAfter_AndAFullServer_Is503WithRetryAfter_Issue10Item9()
    {
        // Before: one HTTP client could hold all 64 sessions. Now at most --max-sessions-per-client live ones each.
        await using var serve = await ServeProcess.StartAsync(null, "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0",
            "--max-sessions", "3", "--max-sessions-per-client", "2", "--connect-timeout", "7");
        using var first = ClientFrom(serve.BaseUri, "127.0.0.1");
        using var second = ClientFrom(serve.BaseUri, "127.0.0.2");
        using var third = ClientFrom(serve.BaseUri, "127.0.0.3");

        var mine = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var ok = await PostOfferAsync(first, ChromiumOffer);
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
            mine.Add(ok.Headers.Location!.ToString());
        }

        using (var tooMany = await PostOfferAsync(first, ChromiumOffer))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, tooMany.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), tooMany.Headers.RetryAfter?.Delta);
            var reason = await tooMany.Content.ReadAsStringAsync();
            Assert.Contains("127.0.0.1", reason, StringComparison.Ordinal);
            Assert.Contains("--max-sessions-per-client", reason, StringComparison.Ordinal);
        }

        using (var other = await PostOfferAsync(second, ChromiumOffer))
        {
            Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        }

        using (var full = await PostOfferAsync(third, ChromiumOffer))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), full.Headers.RetryAfter?.Delta);
            Assert.Contains("maximum of 3 sessions", await full.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A closed session frees its place.
        using (var deleted = await first.DeleteAsync(mine[0].TrimStart('/')))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using var again = await PostOfferAsync(first, ChromiumOffer);
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
    }

    [Theory]
    [InlineData("--max-sessions-per-client", "0", "--max-sessions-per-client")]
    [InlineData("--max-sessions-per-client", "1025", "--max-sessions-per-client")]
    [InlineData("--allowed-host", "*", "--allowed-host")]
    [InlineData("--nack-budget", "9", "--nack-budget")]
    [InlineData("--nack-interval", "-5", "--nack-interval")]
    [InlineData("--nack-max", "100000", "--nack-max")]
    public async Task Limit_OutOfRange_IsRefusedAtStart(string option, string value, string reason)
    {
        var run = await AirliftCli.RunAsync(TimeSpan.FromSeconds(30), null, "serve", "--http", "127.0.0.1:0", option, value);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(reason, string.Join('\n', run.StdErr), StringComparison.Ordinal);
    }
}
