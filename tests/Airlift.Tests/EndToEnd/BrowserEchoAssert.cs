using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Airlift.Tests.EndToEnd;

/// <summary>What the server's trace must show of the browser's first ClientHello.</summary>
internal enum ClientHelloShape
{
    /// <summary>serve is the DTLS client: it sends the ClientHello.</summary>
    NotReceived,

    /// <summary>Larger than one 1200-byte datagram (the X25519MLKEM768 share alone is 1216 bytes): it came in fragments.</summary>
    PostQuantum,

    /// <summary>No post-quantum share: the whole ClientHello fits one 1200-byte datagram.</summary>
    Classic,
}

/// <summary>
/// The checks every browser echo case makes on one <c>RESULT</c> of <see cref="BrowserEchoRun"/>: the browser's view
/// (W3C webrtc-stats: connected, <c>RTCTransportStats.tlsVersion</c> equal to
/// <see cref="EndToEndSupport.ExpectedDtlsVersion"/>, the DTLS role, audio and video echo decoded) and serve's view of the
/// same session (ICE, DTLS state, role, version, cipher suite and SRTP profile equal to the browser's, every stream echoed,
/// no SRTP authentication failure; in DTLS 1.3 the key exchange group of <see cref="EndToEndSupport.ExpectedKeyExchangeGroup"/>),
/// then DELETE closed it and the screenshot is a PNG.
/// </summary>
internal static partial class BrowserEchoAssert
{
    public static void Echo(
        BrowserEchoRun run,
        ITestOutputHelper output,
        BrowserKind browser,
        string name,
        string serverRole,
        bool postQuantum,
        ClientHelloShape clientHello,
        string protocol = "UDP")
    {
        RequireRun(run, output, browser);
        if (!run.Results.TryGetValue(name, out var r))
        {
            output.WriteLine(run.Log);
            Assert.Fail($"no result for {name}");
        }

        output.WriteLine(JsonSerializer.Serialize(r, new JsonSerializerOptions { WriteIndented = true }));
        Assert.True(r.GetProperty("ok").GetBoolean(), r.GetProperty("error").ToString());
        output.WriteLine($"{name}: echo decoding {r.GetProperty("ms").GetInt32()} ms after the page load began; screenshot {r.GetProperty("screenshot").GetString()}");

        var expectedVersion = EndToEndSupport.ExpectedDtlsVersion(browser, postQuantum);
        var b = r.GetProperty("browser");
        Assert.Equal("connected", b.GetProperty("connectionState").GetString());
        Assert.Equal("connected", b.GetProperty("dtlsState").GetString());
        Assert.Equal(expectedVersion, b.GetProperty("tlsVersion").GetString());
        Assert.Equal(serverRole == "server" ? "client" : "server", b.GetProperty("dtlsRole").GetString());
        Assert.True(b.GetProperty("framesDecoded").GetInt32() > 0, "no echoed video frame decoded");
        Assert.True(b.GetProperty("audioPacketsReceived").GetInt32() > 0, "no echoed audio received");
        var pair = b.GetProperty("selectedPair");
        Assert.StartsWith(protocol + " 127.0.0.1:", pair.GetProperty("remote").GetString()!, StringComparison.OrdinalIgnoreCase);

        var server = r.GetProperty("server");
        Assert.Contains(server.GetProperty("ice").GetProperty("state").GetString(), new[] { "Connected", "Completed" });
        Assert.StartsWith(protocol + " 127.0.0.1:", server.GetProperty("ice").GetProperty("selectedTuple").GetString(), StringComparison.Ordinal);
        var dtls = server.GetProperty("dtls");
        Assert.Equal("Connected", dtls.GetProperty("state").GetString());
        Assert.Equal(serverRole, dtls.GetProperty("role").GetString());
        Assert.Equal(EndToEndSupport.ExpectedServerDtlsVersion(browser, postQuantum), dtls.GetProperty("version").GetString());
        Assert.Equal(b.GetProperty("dtlsCipher").GetString(), dtls.GetProperty("cipherSuite").GetString());
        Assert.Equal(b.GetProperty("srtpCipher").GetString(), server.GetProperty("srtp").GetProperty("profile").GetString());
        Assert.Equal(0, server.GetProperty("srtp").GetProperty("authFailures").GetInt64());
        Assert.True(server.GetProperty("rtp").GetProperty("packetsOut").GetInt64() > 0);
        var streams = server.GetProperty("streams").EnumerateArray().ToList();
        Assert.True(streams.Count >= 2, $"expected an audio and a video stream, got {streams.Count}");
        Assert.All(streams, s => Assert.True(s.GetProperty("packetsOut").GetInt64() > 0, $"no echo on mid {s.GetProperty("mid")}"));

        var trace = dtls.GetProperty("trace").GetString()!;
        var hello = FirstClientHello().Match(trace);
        switch (clientHello)
        {
            case ClientHelloShape.NotReceived:
                Assert.False(hello.Success, "serve was the DTLS client but received a ClientHello");
                break;
            case ClientHelloShape.PostQuantum:
                Assert.True(hello.Success, "no ClientHello in the server trace");
                Assert.True(int.Parse(hello.Groups[1].Value, CultureInfo.InvariantCulture) > 1200, hello.Value);
                break;
            case ClientHelloShape.Classic:
                Assert.True(hello.Success, "no ClientHello in the server trace");
                Assert.True(int.Parse(hello.Groups[1].Value, CultureInfo.InvariantCulture) < 1200, "post-quantum share still offered: " + hello.Value);
                break;
        }

        // In DTLS 1.3 the group is the browser's key share: serve's trace names it ("negotiated DTLS 1.3, suite, group, ..."
        // as server, "server chose DTLS 1.3, suite, group" as client).
        if (EndToEndSupport.ExpectedKeyExchangeGroup(browser, postQuantum) is { } group)
        {
            Assert.Equal(group, NegotiatedGroup(trace), ignoreCase: true);
        }

        // DELETE closed the server side.
        Assert.Equal("closed", r.GetProperty("closed").GetString());

        var png = File.ReadAllBytes(r.GetProperty("screenshot").GetString()!);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
    }

    public static void RequireRun(BrowserEchoRun run, ITestOutputHelper output, BrowserKind browser)
    {
        output.WriteLine($"{browser} run: {run.Elapsed.TotalSeconds:0.0} s for {run.Results.Count} cases; artifacts in {EndToEndSupport.ArtifactDir}");
        if (run.Error is { } error)
        {
            output.WriteLine(run.Log);
            throw new InvalidOperationException(error);
        }
    }

    /// <summary>Every serve exited 0 on SIGTERM after its sessions closed, and logged no exception or failure.</summary>
    public static void ServeShutDownCleanly(BrowserEchoRun run, ITestOutputHelper output, BrowserKind browser, IReadOnlyList<(string Name, string Log)> serves)
    {
        RequireRun(run, output, browser);
        foreach (var (serve, log) in serves)
        {
            Assert.Equal(0, run.ServerExitCodes.GetValueOrDefault(serve, -1));
            var text = File.ReadAllText(Path.Combine(EndToEndSupport.ArtifactDir, log));
            output.WriteLine($"{log}:\n{text}");
            Assert.StartsWith("airlift serve: http://127.0.0.1:", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
            Assert.DoesNotContain("fail", text, StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>The key exchange group in serve's DTLS 1.3 trace line, or null when there is none.</summary>
    public static string? NegotiatedGroup(string trace) =>
        Dtls13Negotiated().Match(trace) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex(@"(?:negotiated|server chose) DTLS 1\.3, \w+, (\w+)")]
    private static partial Regex Dtls13Negotiated();

    // The first ClientHello the session saw (seq 0, or seq 1 when a stateless HelloRetryRequest answered the first).
    [GeneratedRegex(@"received ClientHello seq \d+ \((\d+) bytes\)")]
    private static partial Regex FirstClientHello();
}
