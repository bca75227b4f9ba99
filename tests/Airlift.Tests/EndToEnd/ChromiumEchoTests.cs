using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Airlift.Tests.Cli;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// One run for the whole class: a fresh network namespace with only loopback (unshare -n) holding two <c>airlift serve</c>
/// processes (direct, and behind the impairment proxy with 10% loss each way and 1200-byte datagrams) and one headless
/// Chromium driven by Playwright (chromium-echo.js), which loads the page once per case, sends its fake camera and
/// microphone, waits for the echo to decode, takes a screenshot and closes the session. A third serve offers only an
/// ICE-TCP passive candidate.
/// </summary>
public sealed class ChromiumEchoFixture : IAsyncLifetime
{
    public static readonly (string Name, string Url)[] Cases =
    [
        ("server-dtls-server", "http://127.0.0.1:8080/?setup=passive"),
        ("server-dtls-client", "http://127.0.0.1:8080/?setup=active"),
        ("lossy-server-dtls-server", "http://127.0.0.1:8081/?setup=passive"),
        ("lossy-server-dtls-client", "http://127.0.0.1:8081/?setup=active"),
        ("ice-tcp", "http://127.0.0.1:8082/?setup=passive"),
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

    public Dictionary<string, JsonElement> Results { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, int> ServerExitCodes { get; } = new(StringComparer.Ordinal);

    public string Log { get; private set; } = "";

    public string? Error { get; private set; }

    public TimeSpan Elapsed { get; private set; }

    public async Task InitializeAsync()
    {
        if (EndToEndSupport.MissingForChromium() is { } missing)
        {
            Error = missing + (Peers.Required ? " [AIRLIFT_REQUIRE_PEERS=1]" : "");
            return;
        }

        var stopwatch = Stopwatch.StartNew();
        Directory.CreateDirectory(EndToEndSupport.ArtifactDir);
        var scriptPath = Path.Combine(Path.GetTempPath(), $"airlift-e2e-chromium-{Environment.ProcessId}.sh");
        await File.WriteAllTextAsync(scriptPath, Script);
        try
        {
            var env = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["AIRLIFT_DOTNET"] = AirliftCli.Host,
                ["AIRLIFT_DLL"] = AirliftCli.Dll,
                ["ECHO_OUT"] = EndToEndSupport.ArtifactDir,
                ["ECHO_SCRIPT"] = Path.Combine(EndToEndSupport.ThisFolder, "chromium-echo.js"),
                ["ECHO_CASES"] = JsonSerializer.Serialize(Cases.Select(c => new { name = c.Name, url = c.Url })),
                ["ECHO_CASE_TIMEOUT_MS"] = "25000",
                ["PLAYWRIGHT_CORE"] = EndToEndSupport.PlaywrightCore,
                ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
                ["DOTNET_NOLOGO"] = "1",
            };
            await using var run = PeerProcess.Start("chromium e2e", "unshare", ["-n", "bash", scriptPath], env);
            try
            {
                await run.WaitForExitAsync(TimeSpan.FromSeconds(240));
            }
            catch (TimeoutException ex)
            {
                Error = ex.Message;
            }

            foreach (var line in run.Lines.Where(l => !l.IsStdErr).Select(l => l.Text))
            {
                if (line.StartsWith("RESULT ", StringComparison.Ordinal))
                {
                    using var doc = JsonDocument.Parse(line["RESULT ".Length..]);
                    Results[doc.RootElement.GetProperty("name").GetString()!] = doc.RootElement.Clone();
                }
                else if (Regex.Match(line, "^SERVE_EXIT (\\w+) (\\d+)$") is { Success: true } m)
                {
                    ServerExitCodes[m.Groups[1].Value] = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            Log = run.Tail(400);
        }
        finally
        {
            File.Delete(scriptPath);
            Elapsed = stopwatch.Elapsed;
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// Headless Chromium 156 against <c>airlift serve</c> on 127.0.0.1 in a network namespace: the answer is accepted, ICE
/// connects to the ICE-lite endpoint, DTLS 1.2 completes after Chromium's fragmented post-quantum ClientHello (it offers
/// DTLS 1.3 first), SRTP is keyed from the exporter, and the echoed video decodes in the page. Both DTLS roles; and the same
/// through the impairment proxy (10% loss each way, datagrams over 1200 bytes dropped). Screenshots land in
/// bin/.../artifacts/e2e.
/// </summary>
public class ChromiumEchoTests(ChromiumEchoFixture fixture, ITestOutputHelper output) : IClassFixture<ChromiumEchoFixture>
{
    [ChromiumFact]
    public void Chromium_EchoDecodes_WithServerAsDtlsServer_AfterItsFragmentedPostQuantumClientHello() =>
        AssertEcho("server-dtls-server", "server", fragmentedClientHello: true);

    [ChromiumFact]
    public void Chromium_EchoDecodes_WithServerAsDtlsClient_SetupActive() =>
        AssertEcho("server-dtls-client", "client", fragmentedClientHello: false);

    [ChromiumFact]
    public void Chromium_EchoDecodes_ThroughTenPercentLossEachWay_And1200ByteDatagrams_ServerAsDtlsServer() =>
        AssertEcho("lossy-server-dtls-server", "server", fragmentedClientHello: true);

    [ChromiumFact]
    public void Chromium_EchoDecodes_ThroughTenPercentLossEachWay_And1200ByteDatagrams_ServerAsDtlsClient() =>
        AssertEcho("lossy-server-dtls-client", "client", fragmentedClientHello: false);

    [ChromiumFact]
    public void Chromium_EchoDecodes_OverIceTcp_WhenTheOnlyCandidateIsTcpPassive_Rfc6544_Rfc4571() =>
        AssertEcho("ice-tcp", "server", fragmentedClientHello: true, protocol: "TCP");

    [ChromiumFact]
    public void ServeProcesses_ShutDownCleanly_OnSigterm_AfterEverySessionClosed()
    {
        RequireRun();
        Assert.Equal(0, fixture.ServerExitCodes.GetValueOrDefault("direct", -1));
        Assert.Equal(0, fixture.ServerExitCodes.GetValueOrDefault("lossy", -1));
        Assert.Equal(0, fixture.ServerExitCodes.GetValueOrDefault("tcp", -1));
        foreach (var log in new[] { "serve-direct.log", "serve-lossy.log", "serve-tcp.log" })
        {
            var text = File.ReadAllText(Path.Combine(EndToEndSupport.ArtifactDir, log));
            output.WriteLine($"{log}:\n{text}");
            Assert.StartsWith("airlift serve: http://127.0.0.1:808", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
            Assert.DoesNotContain("fail", text, StringComparison.OrdinalIgnoreCase);
        }
    }

    private void RequireRun()
    {
        output.WriteLine($"browser run: {fixture.Elapsed.TotalSeconds:0.0} s for {ChromiumEchoFixture.Cases.Length} page loads; artifacts in {EndToEndSupport.ArtifactDir}");
        if (fixture.Error is { } error)
        {
            output.WriteLine(fixture.Log);
            throw new InvalidOperationException(error);
        }
    }

    private void AssertEcho(string name, string serverRole, bool fragmentedClientHello, string protocol = "UDP")
    {
        RequireRun();
        if (!fixture.Results.TryGetValue(name, out var r))
        {
            output.WriteLine(fixture.Log);
            Assert.Fail($"no result for {name}");
        }

        output.WriteLine(JsonSerializer.Serialize(r, new JsonSerializerOptions { WriteIndented = true }));
        Assert.True(r.GetProperty("ok").GetBoolean(), r.GetProperty("error").ToString());
        output.WriteLine($"{name}: echo decoding {r.GetProperty("ms").GetInt32()} ms after the page load began; screenshot {r.GetProperty("screenshot").GetString()}");

        // The browser's view (W3C webrtc-stats): connected, DTLS 1.2 (0xFEFD), SRTP keyed, the echo decoded.
        var browser = r.GetProperty("browser");
        Assert.Equal("connected", browser.GetProperty("connectionState").GetString());
        Assert.Equal("connected", browser.GetProperty("dtlsState").GetString());
        Assert.Equal("FEFD", browser.GetProperty("tlsVersion").GetString());
        Assert.True(browser.GetProperty("framesDecoded").GetInt32() > 0);
        Assert.Equal(serverRole == "server" ? "client" : "server", browser.GetProperty("dtlsRole").GetString());

        // The server's view agrees.
        var server = r.GetProperty("server");
        Assert.Contains(server.GetProperty("ice").GetProperty("state").GetString(), new[] { "Connected", "Completed" });
        Assert.StartsWith(protocol + " 127.0.0.1:", server.GetProperty("ice").GetProperty("selectedTuple").GetString(), StringComparison.Ordinal);
        var dtls = server.GetProperty("dtls");
        Assert.Equal("Connected", dtls.GetProperty("state").GetString());
        Assert.Equal(serverRole, dtls.GetProperty("role").GetString());
        Assert.Equal("DTLS 1.2", dtls.GetProperty("version").GetString());
        Assert.Equal(browser.GetProperty("dtlsCipher").GetString(), dtls.GetProperty("cipherSuite").GetString());
        Assert.Equal(browser.GetProperty("srtpCipher").GetString(), server.GetProperty("srtp").GetProperty("profile").GetString());
        Assert.Equal(0, server.GetProperty("srtp").GetProperty("authFailures").GetInt64());
        Assert.True(server.GetProperty("rtp").GetProperty("packetsOut").GetInt64() > 0);
        Assert.All(server.GetProperty("streams").EnumerateArray(), s => Assert.True(s.GetProperty("packetsOut").GetInt64() > 0, $"no echo on mid {s.GetProperty("mid")}"));
        if (fragmentedClientHello)
        {
            // Chromium's ClientHello with its X25519MLKEM768 share is larger than one 1200-byte datagram: it came in fragments.
            var hello = Regex.Match(dtls.GetProperty("trace").GetString()!, @"received ClientHello seq 0 \((\d+) bytes\)");
            Assert.True(hello.Success, "no ClientHello in the server trace");
            Assert.True(int.Parse(hello.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 1200, hello.Value);
        }

        // DELETE closed the server side.
        Assert.Equal("closed", r.GetProperty("closed").GetString());

        var screenshot = r.GetProperty("screenshot").GetString()!;
        var png = File.ReadAllBytes(screenshot);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
    }
}
