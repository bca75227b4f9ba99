using System.Text.Json;
using Airlift.Tests.Cli;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// One run for the whole class: a fresh network namespace with only loopback (unshare -n) holding two <c>airlift serve</c>
/// processes (direct, and behind the impairment proxy with 10% loss each way and 1200-byte datagrams) and stock headless
/// Firefox ESR (no Playwright build exists for it here). firefox-echo.js writes a throwaway profile (user.js with fake
/// media devices that count as capturing, loopback candidates, no first-run, telemetry or updates), runs
/// <c>firefox-esr --headless --no-remote --profile DIR URL</c>, serves the test-owned page firefox-echo.html, proxies its
/// signaling to serve's <c>POST /echo</c> (serve itself is unchanged), and receives each case's result from the page.
/// </summary>
public sealed class FirefoxEchoFixture : IAsyncLifetime
{
    public static readonly (string Name, int Port, string Setup, string Bundle)[] Cases =
    [
        ("server-dtls-server", 8080, "passive", "balanced"),
        ("server-dtls-client", 8080, "active", "balanced"),
        ("max-bundle-server-dtls-server", 8080, "passive", "max-bundle"),
        ("max-bundle-server-dtls-client", 8080, "active", "max-bundle"),
        ("lossy-server-dtls-server", 8081, "passive", "balanced"),
        ("lossy-server-dtls-client", 8081, "active", "balanced"),
    ];

    private const string Script = """
        set -u
        ip link set lo up
        "$AIRLIFT_DOTNET" "$AIRLIFT_DLL" serve --http 127.0.0.1:8080 --udp 127.0.0.1:50000 >"$ECHO_OUT/firefox-serve-direct.log" 2>&1 &
        S1=$!
        "$AIRLIFT_DOTNET" "$AIRLIFT_DLL" serve --http 127.0.0.1:8081 --udp 127.0.0.1:50001 --impair-loss 10 --impair-max-datagram 1200 --impair-seed 7 >"$ECHO_OUT/firefox-serve-lossy.log" 2>&1 &
        S2=$!
        node "$ECHO_SCRIPT"
        rc=$?
        kill -TERM $S1 $S2 2>/dev/null
        wait $S1; echo "SERVE_EXIT direct $?"
        wait $S2; echo "SERVE_EXIT lossy $?"
        exit $rc
        """;

    internal BrowserEchoRun Run { get; private set; } = BrowserEchoRun.NotStarted("the Firefox run has not started");

    public async Task InitializeAsync()
    {
        if (EndToEndSupport.MissingForFirefox() is { } missing)
        {
            Run = BrowserEchoRun.NotStarted(missing + (Peers.Required ? " [AIRLIFT_REQUIRE_PEERS=1]" : ""));
            return;
        }

        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["AIRLIFT_DOTNET"] = AirliftCli.Host,
            ["AIRLIFT_DLL"] = AirliftCli.Dll,
            ["ECHO_SCRIPT"] = Path.Combine(EndToEndSupport.ThisFolder, "firefox-echo.js"),
            ["ECHO_CASES"] = JsonSerializer.Serialize(Cases.Select(c => new { name = c.Name, port = c.Port, setup = c.Setup, bundle = c.Bundle })),
            ["ECHO_CASE_TIMEOUT_MS"] = "25000",
            ["FIREFOX"] = EndToEndSupport.FirefoxPath,
        };
        var expected = Cases.ToDictionary(
            c => c.Name,
            c => (object?)new { postQuantum = true, tlsVersion = EndToEndSupport.ExpectedDtlsVersion(BrowserKind.Firefox, postQuantum: true) });
        Run = await BrowserEchoRun.RunAsync("firefox", Script, env, TimeSpan.FromSeconds(300), expected);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// Headless Firefox ESR 153 (NSS) against <c>airlift serve</c> on 127.0.0.1 in a network namespace: ICE connects to the
/// ICE-lite endpoint, DTLS completes in the version <see cref="EndToEndSupport.ExpectedDtlsVersion"/> names (Firefox offers
/// DTLS 1.3, 1.2 and 0303 with an X25519MLKEM768 share; its ClientHello body is 1461 bytes in two fragments), SRTP is
/// keyed, and the echoed audio and video both arrive and the video decodes. Both DTLS roles, direct and through the
/// impairment proxy (10% loss each way, datagrams over 1200 bytes dropped). Canvas screenshots, Firefox's logs and
/// firefox-summary.json land in bin/.../artifacts/e2e.
/// </summary>
[Collection(BrowserCollection.Name)]
public class FirefoxEchoTests(FirefoxEchoFixture fixture, ITestOutputHelper output) : IClassFixture<FirefoxEchoFixture>
{
    [FirefoxFact]
    public void Firefox_EchoDecodes_WithServerAsDtlsServer_AfterItsFragmentedPostQuantumClientHello() =>
        Echo("server-dtls-server", "server", ClientHelloShape.PostQuantum);

    [FirefoxFact]
    public void Firefox_EchoDecodes_WithServerAsDtlsClient_SetupActive() =>
        Echo("server-dtls-client", "client", ClientHelloShape.NotReceived);

    [FirefoxFact]
    public void Firefox_MaxBundle_BundleOnlyVideoIsAccepted_AndEchoedVideoDecodes_ServerAsDtlsServer_Rfc9143() =>
        MaxBundle("max-bundle-server-dtls-server", "server", ClientHelloShape.PostQuantum);

    [FirefoxFact]
    public void Firefox_MaxBundle_BundleOnlyVideoIsAccepted_AndEchoedVideoDecodes_ServerAsDtlsClient_Rfc9143() =>
        MaxBundle("max-bundle-server-dtls-client", "client", ClientHelloShape.NotReceived);

    [FirefoxFact]
    public void Firefox_EchoDecodes_ThroughTenPercentLossEachWay_And1200ByteDatagrams_ServerAsDtlsServer() =>
        Echo("lossy-server-dtls-server", "server", ClientHelloShape.PostQuantum);

    [FirefoxFact]
    public void Firefox_EchoDecodes_ThroughTenPercentLossEachWay_And1200ByteDatagrams_ServerAsDtlsClient() =>
        Echo("lossy-server-dtls-client", "client", ClientHelloShape.NotReceived);

    [FirefoxFact]
    public void FirefoxServeProcesses_ShutDownCleanly_OnSigterm_AfterEverySessionClosed() =>
        BrowserEchoAssert.ServeShutDownCleanly(
            fixture.Run,
            output,
            BrowserKind.Firefox,
            [("direct", "firefox-serve-direct.log"), ("lossy", "firefox-serve-lossy.log")]);

    /// <summary>Issue #12: with max-bundle Firefox offers video as bundle-only; the answer must bundle it and video must come back.</summary>
    private void MaxBundle(string name, string serverRole, ClientHelloShape clientHello)
    {
        Echo(name, serverRole, clientHello);
        var result = fixture.Run.Results[name];
        Assert.Equal("max-bundle", result.GetProperty("bundlePolicy").GetString());
        Assert.True(result.GetProperty("offerBundleOnly").GetInt32() >= 1, "Firefox offered no bundle-only section: the case tests nothing");
        Assert.Equal("a=group:BUNDLE 0 1", result.GetProperty("answerBundle").GetString());
        Assert.True(result.GetProperty("browser").GetProperty("framesDecoded").GetInt32() > 0, "no echoed video frame decoded");
    }

    private void Echo(string name, string serverRole, ClientHelloShape clientHello)
    {
        var expected = FirefoxEchoFixture.Cases.Single(c => c.Name == name);
        Assert.Equal(serverRole == "server" ? "passive" : "active", expected.Setup);
        BrowserEchoAssert.Echo(fixture.Run, output, BrowserKind.Firefox, name, serverRole, postQuantum: true, clientHello);

        // Firefox reports the browser's product in its user agent; the page ran in the Firefox this test launched.
        Assert.Contains("Firefox/", fixture.Run.Results[name].GetProperty("userAgent").GetString(), StringComparison.Ordinal);
    }
}
