using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using Airlift.Dtls;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.Cli;

/// <summary>
/// The CLI contract from the issue, run against the built airlift.dll in child processes: `cert` output, the
/// `dtls-server` / `dtls-client` --json reports, exit statuses (0 all handshakes succeeded, 1 a handshake failed,
/// 2 bad arguments or unreadable files with a one-line error).
/// </summary>
public sealed partial class CliContractTests(ITestOutputHelper output)
{
    /// <summary>Bound on a whole CLI run; a passing run takes a second or two (dotnet start-up included).</summary>
    private static readonly TimeSpan Run = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Cert_writes_a_p256_certificate_and_key_and_prints_the_sha256_fingerprint_of_the_written_pem_rfc8122_5()
    {
        var dir = Directory.CreateTempSubdirectory("airlift-cli-");
        try
        {
            var certPath = Path.Combine(dir.FullName, "cert.pem");
            var keyPath = Path.Combine(dir.FullName, "key.pem");
            var run = await AirliftCli.RunAsync(Run, output.WriteLine, "cert", "--out", certPath, "--key", keyPath);

            Assert.True(run.ExitCode == 0, run.Log);
            var line = Assert.Single(run.StdOut);
            Assert.Matches(FingerprintText(), line);
            Assert.Equal(Sha256(certPath).ToString(), line);

            // The key file belongs to the certificate: the pair loads as an ECDSA P-256 DTLS certificate.
            using var loaded = DtlsCertificate.LoadPem(certPath, keyPath);
            Assert.Equal(CertificateKeyType.Ecdsa, loaded.KeyType);
            using var ec = loaded.Leaf.GetECDsaPublicKey();
            Assert.Equal(256, ec!.KeySize);
            Assert.Equal(line, loaded.GetFingerprint().ToString());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [PeerFact(Peers.OpenSsl)]
    public async Task Cert_fingerprint_equals_the_one_openssl_computes_from_the_pem()
    {
        Peers.EnsureAvailable(Peers.OpenSsl);
        var dir = Directory.CreateTempSubdirectory("airlift-cli-");
        try
        {
            var certPath = Path.Combine(dir.FullName, "cert.pem");
            var run = await AirliftCli.RunAsync(Run, output.WriteLine, "cert", "--out", certPath, "--key", Path.Combine(dir.FullName, "key.pem"));
            Assert.True(run.ExitCode == 0, run.Log);

            await using var openssl = PeerProcess.Start("openssl x509", Peers.OpenSsl, ["x509", "-in", certPath, "-noout", "-fingerprint", "-sha256"], echo: output.WriteLine);
            var m = await openssl.WaitForAsync(@"^(?i:sha256) Fingerprint=(?<hex>[0-9A-F:]+)$", Run);
            Assert.Equal("sha-256 " + m.Groups["hex"].Value, Assert.Single(run.StdOut));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Dtls_server_and_client_json_reports_carry_every_contract_field_with_equal_exporters_and_the_echo_arrives()
    {
        var port = UdpPorts.GetFree();
        var chain = CertFixtures.RsaChain;
        await using var server = AirliftCli.Start(
            output.WriteLine,
            "dtls-server", "--listen", $"127.0.0.1:{port}", "--cert", chain.CertPath, "--key", chain.KeyPath, "--chain", chain.ChainPath!,
            "--mtu", "600", "--srtp", "SRTP_AEAD_AES_128_GCM,SRTP_AES128_CM_HMAC_SHA1_80", "--require-client-cert",
            "--expect-fingerprint", Sha256(CertFixtures.Ecdsa.CertPath).ToString(), "--count", "1", "--json");
        await AirliftCli.WaitUntilBoundAsync(port, server);

        var client = await AirliftCli.RunAsync(
            Run,
            output.WriteLine,
            "dtls-client", "--connect", $"127.0.0.1:{port}", "--mtu", "600", "--srtp", "SRTP_AES128_CM_HMAC_SHA1_80",
            "--cert", CertFixtures.Ecdsa.CertPath, "--key", CertFixtures.Ecdsa.KeyPath,
            "--expect-fingerprint", Sha256(chain.CertPath).ToString(), "--timeout", "20", "--send", "hi", "--json");
        var serverRun = AirliftCli.Collect(server, await server.WaitForExitAsync(Run));

        Assert.True(client.ExitCode == 0, client.Log);
        Assert.True(serverRun.ExitCode == 0, serverRun.Log);
        var clientObjects = AirliftCli.JsonObjects(client.StdOut);
        var c = Assert.Single(clientObjects, o => Str(o, "event") == "connected");
        var s = Assert.Single(AirliftCli.JsonObjects(serverRun.StdOut));

        AssertConnectedReport(c, "client", maxDatagram: 600);
        AssertConnectedReport(s, "server", maxDatagram: 600);
        Assert.Equal($"127.0.0.1:{port}", Str(c, "peer"));
        Assert.Equal(IPAddress.Loopback, IPEndPoint.Parse(Str(s, "peer")!).Address);

        // Same suite (RSA: the server's certificate), the one profile the client offered, the same 60 exporter bytes.
        Assert.Equal(Str(c, "cipherSuite"), Str(s, "cipherSuite"));
        Assert.Equal("TLS_AES_128_GCM_SHA256", Str(s, "cipherSuite")); // DTLS 1.3 suites do not name the key type (the RSA server signs with RSA-PSS)
        Assert.Equal("SRTP_AES128_CM_HMAC_SHA1_80", Str(c, "srtpProfile"));
        Assert.Equal("SRTP_AES128_CM_HMAC_SHA1_80", Str(s, "srtpProfile"));
        Assert.Equal(120, Str(c, "exporter")!.Length);
        Assert.Equal(Str(c, "exporter"), Str(s, "exporter"));

        // Each side saw the other's certificate (the client also checked it against --expect-fingerprint).
        Assert.Equal(Sha256(chain.CertPath).ToString(), Str(s, "localFingerprint"));
        Assert.Equal(Str(s, "localFingerprint"), Str(c, "peerFingerprint"));
        Assert.Equal(Str(c, "localFingerprint"), Str(s, "peerFingerprint"));

        var echo = Assert.Single(clientObjects, o => Str(o, "event") == "echo");
        Assert.Equal("hi", Str(echo, "data"));
    }

    [Theory]
    [InlineData("1.2", "both", "DTLS 1.2")]
    [InlineData("both", "1.2", "DTLS 1.2")]
    [InlineData("1.3", "both", "DTLS 1.3")]
    public async Task Dtls_option_chooses_the_version_each_side_allows(string server, string client, string expected)
    {
        var port = UdpPorts.GetFree();
        await using var serverProcess = AirliftCli.Start(
            output.WriteLine,
            "dtls-server", "--listen", $"127.0.0.1:{port}", "--insecure-accept-any-certificate", "--dtls", server, "--count", "1", "--json");
        await AirliftCli.WaitUntilBoundAsync(port, serverProcess);
        var run = await AirliftCli.RunAsync(Run, output.WriteLine, "dtls-client", "--connect", $"127.0.0.1:{port}", "--insecure-accept-any-certificate", "--dtls", client, "--timeout", "20", "--json");
        var serverRun = AirliftCli.Collect(serverProcess, await serverProcess.WaitForExitAsync(Run));

        Assert.True(run.ExitCode == 0, run.Log);
        Assert.Equal(expected, Str(Assert.Single(AirliftCli.JsonObjects(run.StdOut), o => Str(o, "event") == "connected"), "version"));
        Assert.Equal(expected, Str(Assert.Single(AirliftCli.JsonObjects(serverRun.StdOut)), "version"));
    }

    [Fact]
    public async Task Dtls_client_against_a_closed_port_reports_failed_in_json_and_exits_1_after_its_timeout()
    {
        var port = UdpPorts.GetFree();
        var run = await AirliftCli.RunAsync(Run, output.WriteLine, "dtls-client", "--connect", $"127.0.0.1:{port}", "--insecure-accept-any-certificate", "--timeout", "4", "--json");

        Assert.True(run.ExitCode == 1, run.Log);
        var report = Assert.Single(AirliftCli.JsonObjects(run.StdOut));
        Assert.Equal("failed", Str(report, "event"));
        Assert.Equal("client", Str(report, "role"));
        Assert.Equal($"127.0.0.1:{port}", Str(report, "peer"));
        Assert.Contains("Timeout", Str(report, "error"), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, report.GetProperty("cipherSuite").ValueKind);
        Assert.Equal(JsonValueKind.Null, report.GetProperty("exporter").ValueKind);
        Assert.Matches(FingerprintText(), Str(report, "localFingerprint"));

        // The report counts what the client really did: its ClientHellos (first and retransmitted) went out.
        Assert.True(report.GetProperty("datagramsSent").GetInt64() >= 2, report.ToString());
        Assert.True(report.GetProperty("retransmissions").GetInt32() >= 1, report.ToString());
    }

    /// <summary>Argument lists ('|'-separated; {placeholders} resolved at run time) that the contract says end in status 2.</summary>
    public static TheoryData<string> BadArguments => new()
    {
        "nonsense-command",
        "dtls-server|--listen|not-an-endpoint",
        "dtls-server|--listen|127.0.0.1:5999|--count|0",
        "dtls-server|--listen|127.0.0.1:5999|--mtu|100",
        "dtls-server|--listen|127.0.0.1:5999|--srtp|SRTP_NOPE",
        "dtls-server|--listen|127.0.0.1:5999|--cert|/nonexistent/cert.pem|--key|/nonexistent/key.pem",
        "dtls-server|--listen|127.0.0.1:5999|--cert|{dir}|--key|{dir}",
        "dtls-server|--listen|127.0.0.1:5999|--cert|{garbage}|--key|{garbage}",
        "dtls-server|--listen|127.0.0.1:5999|--cert|{ecdsa-cert}|--key|{rsa-key}",
        "dtls-server|--listen|127.0.0.1:5999|--cert|{ecdsa-cert}|--key|{ecdsa-key}|--chain|/nonexistent/chain.pem",
        "dtls-client",
        "dtls-client|--connect|127.0.0.1:5999|--timeout|0",
        "dtls-client|--connect|127.0.0.1:5999|--expect-fingerprint|md5 ZZ",
        "dtls-client|--connect|127.0.0.1:5999",
        "dtls-server|--listen|127.0.0.1:5999",
        "dtls-client|--connect|127.0.0.1:5999|--expect-fingerprint|sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33",
        "dtls-client|--connect|127.0.0.1:5999|--insecure-accept-any-certificate|--expect-fingerprint|sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
        "dtls-client|--connect|127.0.0.1:5999|--cert|{ecdsa-cert}",
        "dtls-client|--connect|127.0.0.1:5999|--bogus-flag",
        "dtls-client|--connect|127.0.0.1:5999|--insecure-accept-any-certificate|--dtls|1.1",
        "dtls-client|--connect|127.0.0.1:5999|--insecure-accept-any-certificate|--srtp|SRTP_NULL_SHA1_80",
        "cert|--out|{dir}/c.pem",
        "cert|--out|/nonexistent/dir/c.pem|--key|/nonexistent/dir/k.pem",
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public async Task Bad_arguments_and_unreadable_files_print_one_error_line_and_exit_2(string arguments)
    {
        var dir = Directory.CreateTempSubdirectory("airlift-cli-");
        try
        {
            var garbage = Path.Combine(dir.FullName, "garbage.pem");
            await File.WriteAllTextAsync(garbage, "this is not PEM\n");
            var args = arguments.Split('|').Select(a => a
                .Replace("{dir}", dir.FullName, StringComparison.Ordinal)
                .Replace("{garbage}", garbage, StringComparison.Ordinal)
                .Replace("{ecdsa-cert}", CertFixtures.Ecdsa.CertPath, StringComparison.Ordinal)
                .Replace("{ecdsa-key}", CertFixtures.Ecdsa.KeyPath, StringComparison.Ordinal)
                .Replace("{rsa-key}", CertFixtures.RsaSingle.KeyPath, StringComparison.Ordinal)).ToArray();

            var run = await AirliftCli.RunAsync(Run, output.WriteLine, args);

            Assert.True(run.ExitCode == 2, $"exit {run.ExitCode}\n{run.Log}");
            Assert.DoesNotContain(run.StdOut, l => l.Length > 0);
            var error = Assert.Single(run.StdErr, l => l.Length > 0);
            Assert.StartsWith("airlift: ", error, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static void AssertConnectedReport(JsonElement o, string role, int maxDatagram)
    {
        Assert.Equal(JsonValueKind.Object, o.ValueKind);
        Assert.Equal("connected", Str(o, "event"));
        Assert.Equal(role, Str(o, "role"));
        Assert.True(IPEndPoint.TryParse(Str(o, "peer")!, out _), $"peer {o}");
        Assert.Equal("DTLS 1.3", Str(o, "version")); // both ends are Airlift: DTLS 1.3 is preferred
        Assert.True(CipherSuite.TryParse(Str(o, "cipherSuite")!, out _), $"cipherSuite {o}");
        Assert.True(SrtpProtectionProfile.TryParse(Str(o, "srtpProfile")!, out _), $"srtpProfile {o}");
        Assert.Matches("^[0-9A-Fa-f]+$", Str(o, "exporter"));
        Assert.Matches(FingerprintText(), Str(o, "localFingerprint"));
        Assert.Matches(FingerprintText(), Str(o, "peerFingerprint"));
        Assert.True(o.GetProperty("handshakeMs").GetDouble() >= 0, $"handshakeMs {o}");
        Assert.True(o.GetProperty("datagramsSent").GetInt64() > 0, $"datagramsSent {o}");
        Assert.True(o.GetProperty("datagramsReceived").GetInt64() > 0, $"datagramsReceived {o}");
        var largest = o.GetProperty("largestDatagramSent").GetInt32();
        Assert.InRange(largest, 1, maxDatagram);
        Assert.True(o.GetProperty("retransmissions").GetInt32() >= 0, $"retransmissions {o}");
    }

    /// <summary>A string property (null for JSON null); throws (fails the test) when the property is missing or of another type.</summary>
    private static string? Str(JsonElement o, string name)
    {
        Assert.True(o.TryGetProperty(name, out var v), $"no \"{name}\" in {o}");
        Assert.True(v.ValueKind is JsonValueKind.String or JsonValueKind.Null, $"\"{name}\" is {v.ValueKind} in {o}");
        return v.GetString();
    }

    internal static CertificateFingerprint Sha256(string pemPath)
    {
        using var cert = X509Certificate2.CreateFromPem(File.ReadAllText(pemPath));
        return CertificateFingerprint.Compute("sha-256", cert.RawData);
    }

    [GeneratedRegex("^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex FingerprintText();
}
