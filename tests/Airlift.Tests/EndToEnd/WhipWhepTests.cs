using Airlift.Tests.Cli;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>One <c>airlift serve</c> in a fresh loopback-only namespace and one headless Chromium for the WHIP/WHEP cases.</summary>
public sealed class WhipWhepFixture : IAsyncLifetime
{
    private const string Script = """
        set -u
        ip link set lo up
        "$AIRLIFT_DOTNET" "$AIRLIFT_DLL" serve --http 127.0.0.1:8083 --udp 127.0.0.1:50003 >"$ECHO_OUT/whip-serve.log" 2>&1 &
        S1=$!
        node "$ECHO_SCRIPT"
        rc=$?
        kill -TERM $S1 2>/dev/null
        wait $S1; echo "SERVE_EXIT whip $?"
        exit $rc
        """;

    internal BrowserEchoRun Run { get; private set; } = BrowserEchoRun.NotStarted("the WHIP/WHEP run has not started");

    public async Task InitializeAsync()
    {
        if (EndToEndSupport.MissingForChromium() is { } missing)
        {
            Run = BrowserEchoRun.NotStarted(missing + (Peers.Required ? " [AIRLIFT_REQUIRE_PEERS=1]" : ""));
            return;
        }

        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["AIRLIFT_DOTNET"] = AirliftCli.Host,
            ["AIRLIFT_DLL"] = AirliftCli.Dll,
            ["ECHO_SCRIPT"] = Path.Combine(EndToEndSupport.ThisFolder, "whip-whep.js"),
            ["SERVE_URL"] = "http://127.0.0.1:8083",
            ["ECHO_CASE_TIMEOUT_MS"] = "25000",
            ["PLAYWRIGHT_CORE"] = EndToEndSupport.PlaywrightCore,
        };
        Run = await BrowserEchoRun.RunAsync("whip-whep", Script, env, TimeSpan.FromSeconds(180), new Dictionary<string, object?>());
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

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
