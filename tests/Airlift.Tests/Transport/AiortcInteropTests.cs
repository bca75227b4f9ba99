using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Airlift.Dtls;
using Airlift.Ice.Sdp;
using Airlift.Net;
using Airlift.Tests.Interop;
using Airlift.Transport;
using Xunit.Abstractions;

namespace Airlift.Tests.Transport;

/// <summary>
/// Skips unless aiortc (apt-get install python3-aiortc) and root (for a network namespace) are available; with
/// AIRLIFT_REQUIRE_PEERS=1 it runs anyway and fails naming the package.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class AiortcTheoryAttribute : TheoryAttribute
{
    public AiortcTheoryAttribute()
    {
        if (!Peers.Required && AiortcInteropTests.MissingMessage() is { } missing)
        {
            Skip = missing;
        }
    }
}

/// <summary>
/// aiortc 1.4 (a full ICE controlling agent with OpenSSL DTLS) against the Airlift transport's UDP driver. aiortc omits
/// loopback candidates, so it runs in a network namespace joined to ours by a veth pair; the Airlift host binds the
/// host-side veth address. Offer/answer travel as JSON lines over the script's stdin/stdout.
/// </summary>
public class AiortcInteropTests(ITestOutputHelper output)
{
    public const string Package = "python3-aiortc";
    private const string Python = "/usr/bin/python3";

    // aiortc offers (a=setup:actpass); we answer. Its RTCDtlsTransport is driven directly (no SCTP), as ICE controlling.
    private const string Script = """
        import asyncio, json, sys
        from aiortc import (RTCCertificate, RTCDtlsFingerprint, RTCDtlsParameters, RTCDtlsTransport,
                            RTCIceCandidate, RTCIceGatherer, RTCIceParameters, RTCIceTransport)

        async def main():
            gatherer = RTCIceGatherer(iceServers=[])
            gatherer._connection.ice_controlling = True
            await gatherer.gather()
            cert = RTCCertificate.generateCertificate()
            ice = RTCIceTransport(gatherer)
            dtls = RTCDtlsTransport(ice, [cert])
            params = gatherer.getLocalParameters()
            fp = [f for f in cert.getFingerprints() if f.algorithm == "sha-256"][0]
            print("OFFER " + json.dumps({"ufrag": params.usernameFragment, "pwd": params.password, "fingerprint": fp.value}), flush=True)
            answer = json.loads(await asyncio.get_event_loop().run_in_executor(None, sys.stdin.readline))
            await ice.addRemoteCandidate(RTCIceCandidate(component=1, foundation="1", ip=answer["ip"], port=answer["port"],
                                                         priority=2130706431, protocol="udp", type="host"))
            await ice.addRemoteCandidate(None)
            await asyncio.wait_for(ice.start(RTCIceParameters(usernameFragment=answer["ufrag"], password=answer["pwd"], iceLite=True)), 10)
            print("ICE " + ice.state, flush=True)
            dtls._set_role("client" if answer["setup"] == "passive" else "server")
            await asyncio.wait_for(dtls.start(RTCDtlsParameters(fingerprints=[RTCDtlsFingerprint(algorithm="sha-256", value=answer["fingerprint"])])), 10)
            km = dtls.ssl.export_keying_material(b"EXTRACTOR-dtls_srtp", 60) if dtls.state == "connected" else b""
            if dtls.state == "connected":
                await dtls._send_data(b"hello from aiortc")
            print("RESULT " + json.dumps({"state": dtls.state, "km": km.hex()}), flush=True)
            await asyncio.sleep(0.5)
            await dtls.stop()
            await ice.stop()

        asyncio.run(main())
        """;

    internal static string? MissingMessage()
    {
        if (!Directory.Exists("/usr/lib/python3/dist-packages/aiortc") || !File.Exists(Python))
        {
            return $"requires aiortc (apt-get install {Package})";
        }

        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip"))
        {
            return "requires root and iproute2 for a network namespace";
        }

        return null;
    }

    [AiortcTheory]
    [InlineData(DtlsRole.Server)]
    [InlineData(DtlsRole.Client)]
    public async Task Aiortc_ConnectsOverUdpInANamespace_AndDtlsSrtpKeysAgree(DtlsRole airliftRole)
    {
        if (MissingMessage() is { } missing)
        {
            throw new InvalidOperationException(missing + " [AIRLIFT_REQUIRE_PEERS=1]");
        }

        using var ns = await VethNamespace.CreateAsync("aio", 77, 0, output.WriteLine);
        var scriptPath = Path.Combine(Path.GetTempPath(), $"airlift-aiortc-{Environment.ProcessId}-{airliftRole}.py");
        await File.WriteAllTextAsync(scriptPath, Script);
        try
        {
            await using var host = new TransportHost(new TransportHostOptions { UdpListen = [new IPEndPoint(ns.HostAddress, 0)] });
            await using var peer = PeerProcess.Start("aiortc", "ip", ["netns", "exec", ns.Name, Python, scriptPath], echo: output.WriteLine);

            var offer = JsonDocument.Parse((await peer.WaitForAsync("^OFFER (.*)$", TimeSpan.FromSeconds(30))).Groups[1].Value).RootElement;
            var fingerprint = CertificateFingerprint.Parse("sha-256 " + offer.GetProperty("fingerprint").GetString());
            var options = TransportLab.NewOptions(SdpSetupRole.ActPass, seed: (ulong)Environment.ProcessId) with
            {
                RemoteFingerprint = fingerprint,
                RemoteUfrag = offer.GetProperty("ufrag").GetString(),
                RemotePassword = offer.GetProperty("pwd").GetString(),
                ActPassAnswerRole = airliftRole,
                Dtls = TransportLab.NewOptions(SdpSetupRole.ActPass).Dtls with { Random = RandomSource.Cryptographic },
            };
            var session = host.CreateSession(options);
            var local = host.UdpEndpoints[0];
            await peer.WriteLineAsync(JsonSerializer.Serialize(new
            {
                ufrag = session.LocalUfrag,
                pwd = session.LocalPassword,
                fingerprint = session.LocalFingerprint.ToString()["sha-256 ".Length..],
                ip = local.Address.ToString(),
                port = local.Port,
                setup = session.LocalSetup == SdpSetupRole.Passive ? "passive" : "active",
            }));

            var result = JsonDocument.Parse((await peer.WaitForAsync("^RESULT (.*)$", TimeSpan.FromSeconds(30))).Groups[1].Value).RootElement;
            Assert.Equal("connected", result.GetProperty("state").GetString());

            KeyingMaterial? km = null;
            ApplicationDataReceived? data = null;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (km is null || data is null)
            {
                switch (await session.Events.ReadAsync(cts.Token))
                {
                    case KeyingMaterial k:
                        km = k;
                        break;
                    case ApplicationDataReceived d:
                        data = d;
                        break;
                    case TransportFailed f:
                        Assert.Fail(f.Message);
                        break;
                }
            }

            Assert.Equal(airliftRole, km.Role);
            Assert.Equal(SrtpProtectionProfile.Aes128CmHmacSha1_80, km.Profile);
            Assert.Equal(result.GetProperty("km").GetString(), Convert.ToHexStringLower(km.Material));
            Assert.Equal("hello from aiortc"u8.ToArray(), data.Data);
            Assert.Equal(ns.PeerAddress, session.SelectedTuple!.Value.Remote.Address);
        }
        finally
        {
            File.Delete(scriptPath);
        }
    }

    /// <summary>A network namespace joined to ours by a veth pair; removed on dispose.</summary>
}
