using Airlift.Tests.Cli;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// One <c>airlift serve</c> in a fresh loopback-only namespace and a node driver (<paramref name="script"/>) with its
/// browsers; SIGTERM ends serve afterwards and its exit status is kept (SERVE_EXIT whip N).
/// </summary>
/// <param name="run">Name of the run (log and output files).</param>
/// <param name="httpPort">serve's HTTP port inside the namespace.</param>
/// <param name="udpPort">serve's media port inside the namespace.</param>
/// <param name="script">The driver in this folder.</param>
/// <param name="firefox">Whether the driver also needs Firefox.</param>
/// <param name="seconds">Bound on the whole run.</param>
public abstract class WhipServeFixture(string run, int httpPort, int udpPort, string script, bool firefox, int seconds) : IAsyncLifetime
{
    internal BrowserEchoRun Run { get; private set; } = BrowserEchoRun.NotStarted($"the {run} run has not started");

    public async Task InitializeAsync()
    {
        var missing = EndToEndSupport.MissingForChromium() ?? (firefox ? EndToEndSupport.MissingForFirefox() : null);
        if (missing is not null)
        {
            Run = BrowserEchoRun.NotStarted(missing + (Peers.Required ? " [AIRLIFT_REQUIRE_PEERS=1]" : ""));
            return;
        }

        var shell = $$"""
            set -u
            ip link set lo up
            "$AIRLIFT_DOTNET" "$AIRLIFT_DLL" serve --http 127.0.0.1:{{httpPort}} --udp 127.0.0.1:{{udpPort}} >"$ECHO_OUT/{{run}}-serve.log" 2>&1 &
            S1=$!
            node "$ECHO_SCRIPT"
            rc=$?
            kill -TERM $S1 2>/dev/null
            wait $S1; echo "SERVE_EXIT whip $?"
            exit $rc
            """;
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["AIRLIFT_DOTNET"] = AirliftCli.Host,
            ["AIRLIFT_DLL"] = AirliftCli.Dll,
            ["ECHO_SCRIPT"] = Path.Combine(EndToEndSupport.ThisFolder, script),
            ["SERVE_URL"] = $"http://127.0.0.1:{httpPort}",
            ["ECHO_CASE_TIMEOUT_MS"] = "25000",
            ["PLAYWRIGHT_CORE"] = EndToEndSupport.PlaywrightCore,
        };
        if (firefox)
        {
            env["FIREFOX"] = EndToEndSupport.FirefoxPath;
        }

        Run = await BrowserEchoRun.RunAsync(run, shell, env, TimeSpan.FromSeconds(seconds), new Dictionary<string, object?>());
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>One <c>airlift serve</c> and one headless Chromium for the WHIP/WHEP cases (whip-whep.js).</summary>
public sealed class WhipWhepFixture() : WhipServeFixture("whip-whep", 8083, 50003, "whip-whep.js", firefox: false, seconds: 180);

/// <summary>
/// WHIP (RFC 9725) and WHEP through <c>airlift serve</c>: headless Chromium publishes its fake camera from serve's page
/// (<c>POST /whip</c>), a second page watches (<c>POST /whep</c>) and decodes video (getStats framesDecoded &gt; 0), in both
/// DTLS roles; when the publisher leaves (DELETE of its resource) the viewer's session ends with "the publisher left".
/// </summary>
[Collection(BrowserCollection.Name)]
public class WhipWhepTests(WhipWhepFixture fixture, ITestOutputHelper output) : IClassFixture<WhipWhepFixture>
{
    [ChromiumFact]
    public void ChromiumPublishesOverWhip_ChromiumWatchesOverWhep_AndDecodesVideo_ServerAsDtlsServer() => Case("chromium-passive", "client");

    [ChromiumFact]
    public void ChromiumPublishesOverWhip_ChromiumWatchesOverWhep_AndDecodesVideo_ServerAsDtlsClient() => Case("chromium-active", "server");

    private void Case(string name, string browserRole)
    {
        var run = fixture.Run;
        output.WriteLine(run.Log);
        Assert.True(run.Results.ContainsKey(name), $"no result for {name}: {run.Error}");
        var r = run.Results[name];
        Assert.True(r.GetProperty("ok").GetBoolean(), r.GetProperty("error").GetString());
        Assert.True(r.GetProperty("viewer").GetProperty("framesDecoded").GetInt32() > 0);
        Assert.Equal(browserRole, r.GetProperty("viewer").GetProperty("dtlsRole").GetString());
        Assert.Equal("the publisher left", r.GetProperty("viewerAfterLeave").GetProperty("closeReason").GetString());
        Assert.Equal(0, run.ServerExitCodes.GetValueOrDefault("whip", -1));
    }
}

/// <summary>
/// One <c>airlift serve</c>, headless Chromium publishing over WHIP and stock headless Firefox ESR watching over WHEP
/// (whip-whep-firefox.js, firefox-whep.html).
/// </summary>
public sealed class WhipFirefoxWhepFixture() : WhipServeFixture("whip-firefox", 8084, 50004, "whip-whep-firefox.js", firefox: true, seconds: 240);

/// <summary>
/// Issue #12: Chromium publishes over WHIP and Firefox ESR (NSS, its own RTP stack) watches over WHEP through
/// <c>airlift serve</c>, in both DTLS roles: Firefox decodes the forwarded video (getStats framesDecoded &gt; 0), so
/// serve's SSRC and payload-type rewrite and its answer suit a second browser. And the keyframe path: the keyframe
/// requests of viewers (the one serve sends when a viewer is keyed, and the viewer's own PLI/FIR) reach the publisher as
/// PLI (RFC 4585 6.3.1), counted by Chromium itself (outbound-rtp pliCount), and never more often than once per
/// serve's <c>BroadcastLimits.KeyframeRequestInterval</c> (500 ms).
/// </summary>
[Collection(BrowserCollection.Name)]
public class WhipFirefoxWhepTests(WhipFirefoxWhepFixture fixture, ITestOutputHelper output) : IClassFixture<WhipFirefoxWhepFixture>
{
    private const double KeyframeRequestIntervalMs = 500;

    [ChromiumAndFirefoxFact]
    public void ChromiumPublishesOverWhip_FirefoxWatchesOverWhep_AndDecodesVideo_ServerAsDtlsServer() => Watch("firefox-passive", "passive");

    [ChromiumAndFirefoxFact]
    public void ChromiumPublishesOverWhip_FirefoxWatchesOverWhep_AndDecodesVideo_ServerAsDtlsClient() => Watch("firefox-active", "active");

    [ChromiumAndFirefoxFact]
    public void ViewersKeyframeRequests_ReachThePublisherAsPli_AtMostOncePer500Ms_ServerAsDtlsServer() => Pli("firefox-passive");

    [ChromiumAndFirefoxFact]
    public void ViewersKeyframeRequests_ReachThePublisherAsPli_AtMostOncePer500Ms_ServerAsDtlsClient() => Pli("firefox-active");

    private System.Text.Json.JsonElement Result(string name)
    {
        var run = fixture.Run;
        output.WriteLine(run.Log);
        Assert.True(run.Results.ContainsKey(name), $"no result for {name}: {run.Error}");
        var r = run.Results[name];
        Assert.True(r.GetProperty("ok").GetBoolean(), r.GetProperty("error").GetString());
        return r;
    }

    private void Watch(string name, string serverSetup)
    {
        var viewer = Result(name).GetProperty("viewer");
        Assert.True(viewer.GetProperty("ok").GetBoolean(), viewer.GetProperty("error").GetString());
        Assert.Contains("Firefox/", viewer.GetProperty("userAgent").GetString(), StringComparison.Ordinal);
        Assert.Equal(serverSetup, viewer.GetProperty("answerSetup").GetString());
        Assert.True(viewer.GetProperty("browser").GetProperty("framesDecoded").GetInt32() > 0, "Firefox decoded no video frame");
        var server = viewer.GetProperty("server");
        Assert.Equal("whep", server.GetProperty("kind").GetString());
        Assert.True(server.GetProperty("rtpOut").GetInt64() > 0);
        Assert.Equal(0, fixture.Run.ServerExitCodes.GetValueOrDefault("whip", -1));
    }

    private void Pli(string name)
    {
        var r = Result(name);
        var pli = r.GetProperty("pli");
        var received = pli.GetProperty("publisherPliCount").GetInt32();
        var sent = pli.GetProperty("serverKeyframeRequests").GetInt64();
        var publishedMs = pli.GetProperty("publishedMs").GetDouble();
        var viewer = r.GetProperty("viewer");
        output.WriteLine($"{name}: publisher pliCount {received}, serve sent {sent} (limited {pli.GetProperty("serverKeyframeRequestsLimited").GetInt64()}) over {publishedMs} ms; "
            + $"Firefox sent PLI {viewer.GetProperty("browser").GetProperty("pliCount").GetInt32()}, FIR {viewer.GetProperty("browser").GetProperty("firCount").GetInt32()}, "
            + $"serve got {viewer.GetProperty("server").GetProperty("keyframeRequests").GetInt64()} from the viewer");

        // The viewer's keying asks for a keyframe; the publisher (Chromium) counted each PLI serve sent it.
        Assert.True(received >= 1, "the publisher received no PLI");
        Assert.True(received <= sent, $"the publisher counted {received} PLIs, serve sent {sent}");

        // Rate limit: from the first request on, at most one per 500 ms over the publisher's whole life.
        Assert.True(sent <= 1 + (long)Math.Ceiling(publishedMs / KeyframeRequestIntervalMs), $"serve sent {sent} PLIs in {publishedMs} ms");

        // When Firefox sent a PLI or FIR of its own, serve received it from that viewer.
        var browser = viewer.GetProperty("browser");
        var fromViewer = viewer.GetProperty("server").GetProperty("keyframeRequests").GetInt64();
        if (browser.GetProperty("pliCount").GetInt32() + browser.GetProperty("firCount").GetInt32() > 0)
        {
            Assert.True(fromViewer > 0, "Firefox's PLI did not reach serve");
        }

        // Every request reached the publisher's keyframe path: the viewer's keying and each of its PLI/FIR was either sent
        // as PLI or counted as rate-limited (the publisher's counters are read after the viewer's, so they may only be ahead).
        var limited = pli.GetProperty("serverKeyframeRequestsLimited").GetInt64();
        Assert.True(sent + limited >= 1 + fromViewer, $"1 keying + {fromViewer} viewer requests, but the publisher sent {sent} and limited {limited}");
    }
}

/// <summary>Skips when Chromium's or Firefox's end-to-end needs are missing; with AIRLIFT_REQUIRE_PEERS=1 it runs and fails naming them.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class ChromiumAndFirefoxFactAttribute : FactAttribute
{
    public ChromiumAndFirefoxFactAttribute()
    {
        if (!Peers.Required && (EndToEndSupport.MissingForChromium() ?? EndToEndSupport.MissingForFirefox()) is { } missing)
        {
            Skip = missing;
        }
    }
}
