using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>Skips unless aiortc and root (for a veth network namespace) are available; with AIRLIFT_REQUIRE_PEERS=1 it runs and fails.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class AiortcEchoTheoryAttribute : TheoryAttribute
{
    public AiortcEchoTheoryAttribute()
    {
        if (!Peers.Required && AiortcEchoTests.MissingMessage() is { } missing)
        {
            Skip = missing;
        }
    }
}

/// <summary>
/// aiortc 1.4 as a second real WebRTC client of <c>airlift serve</c>: it offers a synthetic VP8 video track, the echo
/// comes back over Airlift's ICE-lite + DTLS-SRTP, and aiortc SRTP-decrypts and decodes it. aiortc omits loopback
/// candidates, so it runs in a network namespace joined to ours by a veth pair and serve binds the host-side address;
/// the test relays the offer and answer (aiortc's stdout/stdin to serve's HTTP on 127.0.0.1).
/// </summary>
public class AiortcEchoTests(ITestOutputHelper output)
{
    public const string Package = "python3-aiortc";
    private const string Python = "/usr/bin/python3";

    internal static string? MissingMessage()
    {
        if (!Directory.Exists("/usr/lib/python3/dist-packages/aiortc") || !File.Exists(Python))
        {
            return $"requires aiortc (apt-get install {Package})";
        }

        return EndToEndSupport.MissingForNamespaces();
    }

    [AiortcEchoTheory]
    [InlineData("passive")]
    [InlineData("active")]
    public async Task Aiortc_ReceivesAndDecodesTheEcho_OfItsOwnVideo(string setup)
    {
        if (MissingMessage() is { } missing)
        {
            throw new InvalidOperationException(missing + " [AIRLIFT_REQUIRE_PEERS=1]");
        }

        var stopwatch = Stopwatch.StartNew();
        using var ns = await VethNamespace.CreateAsync("e2e", 78, setup == "passive" ? 0 : 1, output.WriteLine);
        await using var serve = await ServeProcess.StartAsync(output.WriteLine, "--http", "127.0.0.1:0", "--udp", $"{ns.HostAddress}:0");
        await using var peer = PeerProcess.Start("aiortc", "ip", ["netns", "exec", ns.Name, Python, Path.Combine(EndToEndSupport.ThisFolder, "aiortc-echo.py")], echo: output.WriteLine);

        var offer = JsonSerializer.Deserialize<string>((await peer.WaitForAsync("^OFFER (.*)$", TimeSpan.FromSeconds(30))).Groups[1].Value)!;
        using var response = await serve.PostOfferAsync(offer, setup);
        var answer = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, answer);
        var location = response.Headers.Location!.ToString();
        await peer.WriteLineAsync(JsonSerializer.Serialize(answer));

        var result = JsonDocument.Parse((await peer.WaitForAsync("^RESULT (.*)$", TimeSpan.FromSeconds(40))).Groups[1].Value).RootElement;
        var server = await serve.StatsAsync(location);
        output.WriteLine($"aiortc ({setup}) after {stopwatch.Elapsed.TotalSeconds:0.0} s: {result}\nserver: {server}");

        Assert.Equal("connected", result.GetProperty("dtlsState").GetString());
        Assert.Equal(setup == "passive" ? "client" : "server", result.GetProperty("dtlsRole").GetString());
        Assert.True(result.GetProperty("frames").GetInt32() >= 10, $"aiortc decoded {result.GetProperty("frames")} echoed frames");
        Assert.Equal(160, result.GetProperty("width").GetInt32());

        Assert.Equal("connected", server.GetProperty("state").GetString());
        Assert.Equal("SRTP_AES128_CM_HMAC_SHA1_80", server.GetProperty("srtp").GetProperty("profile").GetString());
        Assert.Equal(0, server.GetProperty("srtp").GetProperty("authFailures").GetInt64());
        Assert.True(server.GetProperty("rtp").GetProperty("packetsOut").GetInt64() > 0);
        Assert.StartsWith($"UDP {ns.HostAddress}:", server.GetProperty("ice").GetProperty("selectedTuple").GetString(), StringComparison.Ordinal);
        Assert.Contains($"<-> {ns.PeerAddress}:", server.GetProperty("ice").GetProperty("selectedTuple").GetString(), StringComparison.Ordinal);

        // aiortc closes (close_notify): the server session ends by itself.
        await peer.WriteLineAsync("CLOSE");
        Assert.Equal(0, await peer.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        var closed = await serve.WaitForStatsAsync(location, s => s.GetProperty("state").GetString() == "closed", TimeSpan.FromSeconds(10));
        Assert.Equal("closed", closed.GetProperty("state").GetString());
        Assert.Equal("closed by the peer (close_notify)", closed.GetProperty("closeReason").GetString());
    }

    /// <summary>A network namespace joined to ours by a veth pair (subnet 10.78.x.0/24); removed on dispose.</summary>
}
