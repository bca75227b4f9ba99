using System.Text.Json;
using Airlift.Tests.Cli;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// One run for the whole class: a fresh network namespace with only loopback (unshare -n) holding two <c>airlift serve</c>
/// processes (direct, and behind the impairment proxy with 10% loss each way and 1200-byte datagrams) and headless
/// Chromium driven by Playwright (chromium-echo.js), which loads the page once per case, sends its fake camera and
/// microphone, waits for the echo to decode, takes a screenshot and closes the session. A third serve offers only an
/// ICE-TCP passive candidate. Chromium is launched twice: as shipped (its DTLS ClientHello carries an X25519MLKEM768 key
/// share), then with <c>--disable-features=WebRtcPqcForDtls</c> (no post-quantum share).
/// </summary>
public sealed class ChromiumEchoFixture : IAsyncLifetime
{
    /// <summary>Chromium's switch for its post-quantum DTLS key share.</summary>
    public const string PostQuantumFeature = "WebRtcPqcForDtls";

    public static readonly (string Name, string Url, bool PostQuantum)[] Cases =
    [
        ("server-dtls-server", "http://127.0.0.1:8080/?setup=passive", true),
        ("server-dtls-client", "http://127.0.0.1:8080/?setup=active", true),
        ("lossy-server-dtls-server", "http://127.0.0.1:8081/?setup=passive", true),
        ("lossy-server-dtls-client", "http://127.0.0.1:8081/?setup=active", true),
        ("ice-tcp", "http://127.0.0.1:8082/?setup=passive", true),
        ("pq-off-server-dtls-server", "http://127.0.0.1:8080/?setup=passive", false),
        ("pq-off-server-dtls-client", "http://127.0.0.1:8080/?setup=active", false),
    ];

    private const string Script = """
        set -u
        ip link set lo up
        "$AIRLIFT_DOTNET" "$AIRLIFT_DLL" serve --http 127.0.0.1:8080 --udp 127.0.0.1:50000 --tcp 127.0.0.1:50000 >"$ECHO_OUT/serve-direct.log" 2>&1 &
        S1=$!
        "$AIRLIFT_DOTNET" "$AIRLIFT_DLL" serve --http 127.0.0.1:8081 --udp 127.0.0.1:50001 --impair-loss 10 --impair-max-datagram 1200 --impair-seed 7 >"$ECHO_OUT/serve-lossy.log" 2>&1 &
        S2=$!
        "$AIRLIFT_DOTNET" "$AIRLIFT_DLL" serve --http 127.0.0.1:8082 --udp none --tcp 127.0.0.1:50002 >"$ECHO_OUT/serve-tcp.log" 2>&1 &
        S3=$!
        node "$ECHO_SCRIPT"
        rc=$?
        kill -TERM $S1 $S2 $S3 2>/dev/null
        wait $S1; echo "SERVE_EXIT direct $?"
        wait $S2; echo "SERVE_EXIT lossy $?"
        wait $S3; echo "SERVE_EXIT tcp $?"
        exit $rc
        """;

    internal BrowserEchoRun Run { get; private set; } = BrowserEchoRun.NotStarted("the Chromium run has not started");

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
            ["ECHO_SCRIPT"] = Path.Combine(EndToEndSupport.ThisFolder, "chromium-echo.js"),
            ["ECHO_CASES"] = JsonSerializer.Serialize(Cases.Select(c => new
            {
                name = c.Name,
                url = c.Url,
                disableFeatures = c.PostQuantum ? Array.Empty<string>() : [PostQuantumFeature],
            })),
            ["ECHO_CASE_TIMEOUT_MS"] = "25000",
            ["PLAYWRIGHT_CORE"] = EndToEndSupport.PlaywrightCore,
        };
        var expected = Cases.ToDictionary(
            c => c.Name,
            c => (object?)new { postQuantum = c.PostQuantum, tlsVersion = EndToEndSupport.ExpectedDtlsVersion(BrowserKind.Chromium, c.PostQuantum) });
        Run = await BrowserEchoRun.RunAsync("chromium", Script, env, TimeSpan.FromSeconds(300), expected);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// Headless Chromium 156 against <c>airlift serve</c> on 127.0.0.1 in a network namespace: the answer is accepted, ICE
/// connects to the ICE-lite endpoint, DTLS completes in the version <see cref="EndToEndSupport.ExpectedDtlsVersion"/>
/// names (Chromium offers DTLS 1.3 first; <c>RTCTransportStats.tlsVersion</c> and serve's stats must both say it), SRTP is
/// keyed from the exporter, and the echoed audio and video arrive and decode in the page. Both DTLS roles; the same
/// through the impairment proxy (10% loss each way, datagrams over 1200 bytes dropped); and both roles again with
/// Chromium's post-quantum key share switched off. Screenshots and chromium-summary.json land in bin/.../artifacts/e2e.
/// </summary>
[Collection(BrowserCollection.Name)]
public class ChromiumEchoTests(ChromiumEchoFixture fixture, ITestOutputHelper output) : IClassFixture<ChromiumEchoFixture>
{
    [ChromiumFact]
    public void Chromium_EchoDecodes_WithServerAsDtlsServer_AfterItsFragmentedPostQuantumClientHello() =>
        Echo("server-dtls-server", "server", postQuantum: true, ClientHelloShape.PostQuantum);

    [ChromiumFact]
    public void Chromium_EchoDecodes_WithServerAsDtlsClient_SetupActive() =>
        Echo("server-dtls-client", "client", postQuantum: true, ClientHelloShape.NotReceived);

    [ChromiumFact]
    public void Chromium_EchoDecodes_ThroughTenPercentLossEachWay_And1200ByteDatagrams_ServerAsDtlsServer() =>
        Echo("lossy-server-dtls-server", "server", postQuantum: true, ClientHelloShape.PostQuantum);

    [ChromiumFact]
    public void Chromium_EchoDecodes_ThroughTenPercentLossEachWay_And1200ByteDatagrams_ServerAsDtlsClient() =>
        Echo("lossy-server-dtls-client", "client", postQuantum: true, ClientHelloShape.NotReceived);

    [ChromiumFact]
    public void Chromium_EchoDecodes_OverIceTcp_WhenTheOnlyCandidateIsTcpPassive_Rfc6544_Rfc4571() =>
        Echo("ice-tcp", "server", postQuantum: true, ClientHelloShape.PostQuantum, protocol: "TCP");

    [ChromiumFact]
    public void Chromium_WithoutPostQuantumKeyShare_EchoDecodes_WithServerAsDtlsServer_ClientHelloInOneDatagram() =>
        Echo("pq-off-server-dtls-server", "server", postQuantum: false, ClientHelloShape.Classic);

    [ChromiumFact]
    public void Chromium_WithoutPostQuantumKeyShare_EchoDecodes_WithServerAsDtlsClient() =>
        Echo("pq-off-server-dtls-client", "client", postQuantum: false, ClientHelloShape.NotReceived);

    [ChromiumFact]
    public void ServeProcesses_ShutDownCleanly_OnSigterm_AfterEverySessionClosed() =>
        BrowserEchoAssert.ServeShutDownCleanly(
            fixture.Run,
            output,
            BrowserKind.Chromium,
            [("direct", "serve-direct.log"), ("lossy", "serve-lossy.log"), ("tcp", "serve-tcp.log")]);

    private void Echo(string name, string serverRole, bool postQuantum, ClientHelloShape clientHello, string protocol = "UDP")
    {
        var expected = ChromiumEchoFixture.Cases.Single(c => c.Name == name);
        Assert.Equal(expected.PostQuantum, postQuantum);
        BrowserEchoAssert.Echo(fixture.Run, output, BrowserKind.Chromium, name, serverRole, postQuantum, clientHello, protocol);
    }
}
