using Airlift.Dtls;
using Xunit.Abstractions;

namespace Airlift.Tests.Interop;

/// <summary>
/// The interop harness proved on the real peers themselves, before any Airlift code is put between them:
/// each pair completes a DTLS 1.2 handshake with use_srtp (RFC 5764 4.1.2) and both ends derive the same
/// 60-byte EXTRACTOR-dtls_srtp keying material (RFC 5764 4.2, RFC 5705 4), read with PeerOutput's parsers.
/// </summary>
public sealed class PeerSelfTests(ITestOutputHelper output)
{
    private const int SrtpKeyingMaterialLength = 60; // 2 x (16-byte key + 14-byte salt), RFC 5764 4.2
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(30);
    private static readonly SrtpProtectionProfile Srtp = SrtpProtectionProfile.Aes128CmHmacSha1_80;

    [PeerFact(Peers.OpenSsl)]
    public async Task OpenSsl_client_and_server_export_equal_srtp_keying_material_over_a_2_7kB_rsa_chain_rfc5764_4_2()
    {
        Peers.EnsureAvailable(Peers.OpenSsl);
        var port = UdpPorts.GetFree();
        await using var server = PeerProcess.Start(PeerCommands.OpenSslServer(port, CertFixtures.RsaChain, Srtp), output.WriteLine);
        await server.WaitForAsync(PeerOutput.Lines.OpenSslServerReady, Step);

        await using var client = PeerProcess.Start(PeerCommands.OpenSslClient(port, CertFixtures.Ecdsa, Srtp), output.WriteLine);
        await client.WaitForAsync(PeerOutput.Lines.OpenSslExporter, Step);
        await server.WaitForAsync(PeerOutput.Lines.OpenSslExporter, Step);

        var clientKeys = AssertExporter(client);
        var serverKeys = AssertExporter(server);
        Assert.Equal(clientKeys, serverKeys);
        AssertSrtp(client, server);

        Assert.True(PeerOutput.OpenSsl.TryParseCipher(client.Output, out var clientSuite), client.Tail());
        Assert.True(PeerOutput.OpenSsl.TryParseCipher(server.Output, out var serverSuite), server.Tail());
        Assert.Equal(clientSuite, serverSuite);

        // s_client exits on stdin EOF once the handshake is done (PEERS.md).
        client.CloseStdin();
        Assert.Equal(0, await client.WaitForExitAsync(Step));
    }

    [PeerFact(Peers.GnuTlsServ, Peers.GnuTlsCli, Peers.StdBuf)]
    public async Task GnuTls_client_and_server_complete_a_dtls_srtp_handshake_and_echo_application_data_rfc5764_4_1()
    {
        Peers.EnsureAvailable(Peers.GnuTlsServ, Peers.GnuTlsCli, Peers.StdBuf);
        var port = UdpPorts.GetFree();
        await using var server = PeerProcess.Start(PeerCommands.GnuTlsServer(port, CertFixtures.RsaChain, Srtp), output.WriteLine);
        await server.WaitForAsync(PeerOutput.Lines.GnuTlsServerReady, Step);

        await using var client = PeerProcess.Start(
            PeerCommands.GnuTlsClient(port, CertFixtures.Ecdsa, Srtp, priority: PeerCommands.GnuTlsPriority("AES-256-GCM")),
            output.WriteLine);
        await client.WaitForAsync(PeerOutput.Lines.GnuTlsClientHandshakeDone, Step);
        AssertExporter(client);
        Assert.True(PeerOutput.GnuTls.TryParseSrtpProfile(client.Output, out var profile), client.Tail());
        Assert.Equal(Srtp, profile);
        Assert.True(PeerOutput.GnuTls.TryParseCipher(client.Output, out var suite), client.Tail());
        Assert.Equal(CipherSuite.EcdheRsaWithAes256GcmSha384, suite);

        // gnutls-serv prints no exporter for DTLS, so the server's keys are proven by an application-data round trip.
        await client.WriteLineAsync("airlift-ping-1");
        await server.WaitForAsync(@"^received\[[0-9a-f]{16}\]: airlift-ping-1$", Step);
        await client.WaitForAsync("^airlift-ping-1$", Step);
    }

    [PeerFact(Peers.OpenSsl, Peers.GnuTlsCli)]
    public async Task GnuTls_client_and_OpenSsl_server_export_equal_srtp_keying_material_rfc5705_4()
    {
        Peers.EnsureAvailable(Peers.OpenSsl, Peers.GnuTlsCli);
        var port = UdpPorts.GetFree();
        await using var server = PeerProcess.Start(
            PeerCommands.OpenSslServer(port, CertFixtures.RsaSingle, Srtp, cipher: "ECDHE-RSA-AES128-GCM-SHA256"),
            output.WriteLine);
        await server.WaitForAsync(PeerOutput.Lines.OpenSslServerReady, Step);

        await using var client = PeerProcess.Start(PeerCommands.GnuTlsClient(port, CertFixtures.Ecdsa, Srtp), output.WriteLine);
        await client.WaitForAsync(PeerOutput.Lines.GnuTlsExporter, Step);
        await server.WaitForAsync(PeerOutput.Lines.OpenSslExporter, Step);

        Assert.Equal(AssertExporter(client), AssertExporter(server));
        AssertSrtp(client, server);
        Assert.True(PeerOutput.TryParseCipher(client.Output, out var clientSuite), client.Tail());
        Assert.True(PeerOutput.TryParseCipher(server.Output, out var serverSuite), server.Tail());
        Assert.Equal(CipherSuite.EcdheRsaWithAes128GcmSha256, clientSuite);
        Assert.Equal(clientSuite, serverSuite);
    }

    [PeerFact(Peers.OpenSsl, Peers.GnuTlsServ, Peers.StdBuf)]
    public async Task OpenSsl_client_and_GnuTls_server_agree_on_chacha20_and_srtp_and_echo_data_rfc5764_4_1()
    {
        Peers.EnsureAvailable(Peers.OpenSsl, Peers.GnuTlsServ, Peers.StdBuf);
        var port = UdpPorts.GetFree();
        await using var server = PeerProcess.Start(
            PeerCommands.GnuTlsServer(port, CertFixtures.Ecdsa, Srtp, priority: PeerCommands.GnuTlsPriority("CHACHA20-POLY1305")),
            output.WriteLine);
        await server.WaitForAsync(PeerOutput.Lines.GnuTlsServerReady, Step);

        await using var client = PeerProcess.Start(PeerCommands.OpenSslClient(port, CertFixtures.RsaSingle, Srtp), output.WriteLine);
        await client.WaitForAsync(PeerOutput.Lines.OpenSslExporter, Step);
        AssertExporter(client);
        Assert.True(PeerOutput.OpenSsl.TryParseSrtpProfile(client.Output, out var profile), client.Tail());
        Assert.Equal(Srtp, profile);
        Assert.True(PeerOutput.OpenSsl.TryParseCipher(client.Output, out var suite), client.Tail());
        Assert.Equal(CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256, suite);

        await client.WriteLineAsync("airlift-ping-2");
        await server.WaitForAsync(@"^received\[[0-9a-f]{16}\]: airlift-ping-2$", Step);
        await client.WaitForAsync("^airlift-ping-2$", Step);
    }

    private static byte[] AssertExporter(PeerProcess peer)
    {
        Assert.True(PeerOutput.TryParseExporter(peer.Output, out var keys), $"{peer.Name} printed no exporter:\n{peer.Tail()}");
        Assert.Equal(SrtpKeyingMaterialLength, keys.Length);
        return keys;
    }

    private static void AssertSrtp(PeerProcess client, PeerProcess server)
    {
        Assert.True(PeerOutput.TryParseSrtpProfile(client.Output, out var c), client.Tail());
        Assert.True(PeerOutput.TryParseSrtpProfile(server.Output, out var s), server.Tail());
        Assert.Equal(Srtp, c);
        Assert.Equal(Srtp, s);
    }
}

/// <summary>The harness itself: process lifetime, waits, and the output parsers on captured peer output.</summary>
public sealed class PeerHarnessTests
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(30);

    // Captured from OpenSSL 3.0.19 s_client (excerpt).
    private const string OpenSslClientSample = """
        New, TLSv1.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384
        Server public key is 2048 bit
        SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80
        SSL-Session:
            Protocol  : DTLSv1.2
            Cipher    : ECDHE-RSA-AES256-GCM-SHA384
        Keying material exporter:
            Label: 'EXTRACTOR-dtls_srtp'
            Length: 60 bytes
            Keying material: EB37CE8B2C3C26F57BEDD99A73CAE61A837702D54AC409D0E281230D6935D61FF096F2A067D68A9276A979891F9CAECAA074398EEE270FCE8CE05A20
        ---
        DONE
        """;

    // Captured from OpenSSL 3.0.19 s_server (excerpt).
    private const string OpenSslServerSample = """
        Shared groups: x25519:secp256r1:x448:secp521r1:secp384r1
        CIPHER is ECDHE-RSA-AES128-GCM-SHA256
        SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80
        Secure Renegotiation IS supported
        Keying material exporter:
            Label: 'EXTRACTOR-dtls_srtp'
            Length: 60 bytes
            Keying material: CFDFABEFD4518B7600A913D583B4D7BCA71FF2E1E202F848F5EB676242BF7BE4F632561EAC647B01E88D4985C9870D346061FFF51DB72EAD42132DC0
        """;

    // Captured from GnuTLS 3.7.9 gnutls-cli --udp (excerpt).
    private const string GnuTlsClientSample = """
        - Successfully sent 1 certificate(s) to server.
        - Description: (DTLS1.2-X.509)-(ECDHE-SECP256R1)-(RSA-SHA256)-(AES-128-GCM)
        - Session ID: 01:DF:F4:AF:31:04:5C:6B:01:FF:A4:53:A5:B1:AE:16:6A:9C:DD:2A:48:2D:26:6F:39:4C:3B:5F:06:AC:13:7D
        - Options: extended master secret, safe renegotiation,
        - SRTP profile: SRTP_AES128_CM_HMAC_SHA1_80
        - Key material: cfdfabefd4518b7600a913d583b4d7bca71ff2e1e202f848f5eb676242bf7be4f632561eac647b01e88d4985c9870d346061fff51db72ead42132dc0
        - Handshake was completed
        """;

    [Fact]
    public void OpenSsl_client_output_parses_to_suite_profile_and_60_byte_exporter()
    {
        Assert.True(PeerOutput.OpenSsl.TryParseExporter(OpenSslClientSample, out var keys));
        Assert.Equal(60, keys.Length);
        Assert.Equal(0xEB, keys[0]);
        Assert.Equal(0x20, keys[^1]);
        Assert.True(PeerOutput.OpenSsl.TryParseCipher(OpenSslClientSample, out var suite));
        Assert.Equal(CipherSuite.EcdheRsaWithAes256GcmSha384, suite);
        Assert.True(PeerOutput.OpenSsl.TryParseSrtpProfile(OpenSslClientSample, out var profile));
        Assert.Equal(SrtpProtectionProfile.Aes128CmHmacSha1_80, profile);
    }

    [Fact]
    public void OpenSsl_server_and_GnuTls_client_outputs_of_one_handshake_parse_to_the_same_exporter_and_suite()
    {
        Assert.True(PeerOutput.TryParseExporter(OpenSslServerSample, out var serverKeys));
        Assert.True(PeerOutput.TryParseExporter(GnuTlsClientSample, out var clientKeys));
        Assert.Equal(60, clientKeys.Length);
        Assert.Equal(serverKeys, clientKeys);
        Assert.True(PeerOutput.TryParseCipher(OpenSslServerSample, out var s));
        Assert.True(PeerOutput.TryParseCipher(GnuTlsClientSample, out var c));
        Assert.Equal(CipherSuite.EcdheRsaWithAes128GcmSha256, s);
        Assert.Equal(s, c);
        Assert.True(PeerOutput.TryParseSrtpProfile(OpenSslServerSample, out var sp));
        Assert.True(PeerOutput.TryParseSrtpProfile(GnuTlsClientSample, out var cp));
        Assert.Equal(sp, cp);
    }

    [Theory]
    [InlineData("(DTLS1.2-X.509)-(ECDHE-SECP256R1)-(ECDSA-SECP256R1-SHA256)-(CHACHA20-POLY1305)", 0xCCA9)]
    [InlineData("(DTLS1.2-X.509)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)", 0xC030)]
    [InlineData("(DTLS1.2-X.509)-(ECDHE-SECP256R1)-(ECDSA-SECP256R1-SHA256)-(AES-128-GCM)", 0xC02B)]
    public void GnuTls_description_maps_key_exchange_signature_and_aead_to_the_iana_suite(string description, int expected)
    {
        Assert.True(PeerOutput.GnuTls.TryParseCipher($"- Description: {description}\n", out var suite));
        Assert.Equal(new CipherSuite((ushort)expected), suite);
    }

    [Theory]
    [InlineData("- Description: (DTLS1.2-X.509)-(ECDHE-SECP256R1)-(RSA-SHA256)-(AES-128-CBC)-(SHA1)\n")]
    [InlineData("- Description: (DTLS1.2-X.509)-(DHE-RSA)-(RSA-SHA256)-(AES-128-GCM)\n")]
    [InlineData("CIPHER is AES128-SHA\n")]
    [InlineData("    Keying material: ABC\n")]
    [InlineData("- Key material: \n")]
    [InlineData("SRTP Extension negotiated, profile=SRTP_NULL_SHA1_80\n")]
    [InlineData("")]
    public void Parsers_return_false_on_output_they_cannot_map(string text)
    {
        Assert.False(PeerOutput.TryParseExporter(text, out _));
        Assert.False(PeerOutput.TryParseCipher(text, out _));
        Assert.False(PeerOutput.TryParseSrtpProfile(text, out _));
    }

    [Fact]
    public async Task WaitFor_times_out_with_the_log_tail_and_dispose_kills_the_whole_process_tree()
    {
        int childPid;
        await using (var p = PeerProcess.Start("bash", "bash", ["-c", "sleep 300 & echo child=$!; echo ready; wait"]))
        {
            var child = await p.WaitForAsync("^child=(\\d+)$", Step);
            childPid = int.Parse(child.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            await p.WaitForAsync("^ready$", Step);
            var e = await Assert.ThrowsAsync<TimeoutException>(() => p.WaitForAsync("^never$", TimeSpan.FromMilliseconds(200)));
            Assert.Contains("ready", e.Message, StringComparison.Ordinal);
            Assert.Contains("/^never$/", e.Message, StringComparison.Ordinal);
            Assert.True(Directory.Exists($"/proc/{childPid}"));
        }

        // Killing is asynchronous in the kernel: poll /proc a bounded number of times.
        for (var i = 0; i < 100 && IsAlive(childPid); i++)
        {
            await Task.Delay(50);
        }

        Assert.False(IsAlive(childPid), $"sleep (pid {childPid}) outlived its PeerProcess");
    }

    [Fact]
    public async Task WaitFor_fails_fast_when_the_process_exits_without_the_line_and_stdin_reaches_the_process()
    {
        await using var p = PeerProcess.Start("bash", "bash", ["-c", "read line; echo got=$line; exit 3"]);
        await p.WriteLineAsync("hello");
        var m = await p.WaitForAsync("^got=(.*)$", Step);
        Assert.Equal("hello", m.Groups[1].Value);
        var e = await Assert.ThrowsAsync<TimeoutException>(() => p.WaitForAsync("^never$", Step));
        Assert.Contains("exited (code 3)", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, await p.WaitForExitAsync(Step));
    }

    private static bool IsAlive(int pid)
    {
        // A killed child stays a zombie until reaped; count that as gone.
        var stat = $"/proc/{pid}/stat";
        try
        {
            var text = File.ReadAllText(stat);
            var state = text[(text.LastIndexOf(')') + 2)..][0];
            return state != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
