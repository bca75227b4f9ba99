using System.Net;
using System.Text;
using Airlift.Dtls;
using Airlift.Net;
using Xunit.Abstractions;
using static Airlift.Tests.Interop.InteropSupport;

namespace Airlift.Tests.Interop;

/// <summary>
/// Airlift's DTLS 1.2 engine and UDP driver against real peers (OpenSSL 3 s_server/s_client, GnuTLS 3.7
/// gnutls-serv/gnutls-cli), Airlift in each role. Each nested class is one peer x role, so xunit runs the four matrices
/// (and the failure cases) in parallel; inside a class every suite Airlift implements runs once, each with one of the
/// SRTP profiles the peer supports taken round-robin, so every profile runs at least twice per peer and role.
/// Each case forces the suite and the profile on both sides and checks: connected on both sides (RFC 6347 4.2),
/// the negotiated suite and profile (RFC 5764 4.1.2), equal EXTRACTOR-dtls_srtp keying material (RFC 5764 4.2,
/// RFC 5705 4) or, against gnutls-serv (which prints none), an echo round trip, and the peer certificate seen.
/// </summary>
public static class DtlsInteropTests
{
    private static readonly SrtpProtectionProfile Cm80 = SrtpProtectionProfile.Aes128CmHmacSha1_80;
    private static readonly SrtpProtectionProfile Cm32 = SrtpProtectionProfile.Aes128CmHmacSha1_32;
    private static readonly SrtpProtectionProfile Gcm128 = SrtpProtectionProfile.AeadAes128Gcm;
    private static readonly SrtpProtectionProfile Gcm256 = SrtpProtectionProfile.AeadAes256Gcm;

    /// <summary>Every suite once, with the three SRTP profiles OpenSSL 3 implements round-robin.</summary>
    public static TheoryData<string, string> OpenSslCases => Matrix(Cm80, Gcm128, Gcm256);

    /// <summary>Every suite once, with the AES128_CM profiles GnuTLS 3.7 implements round-robin.</summary>
    public static TheoryData<string, string> GnuTlsCases => Matrix(Cm80, Cm32);

    /// <summary>
    /// The peer printed <see cref="PeerExporterLength"/> bytes; Airlift's DtlsKeyingMaterial (profile length), its 60-byte
    /// export and its 88-byte export must be that output or its prefix (RFC 5705 4 exporter, RFC 5246 5 PRF stream).
    /// </summary>
    private static void AssertSameKeys(byte[] peerKeys, DtlsKeyingMaterial? airliftKeys, SrtpProtectionProfile profile, DtlsUdpSession session)
    {
        Assert.Equal(PeerExporterLength, peerKeys.Length);
        Assert.NotNull(airliftKeys);
        Assert.Equal(profile, airliftKeys.Profile);
        Assert.Equal(profile.KeyingMaterialLength, airliftKeys.Material.Length);
        Assert.Equal(Convert.ToHexString(peerKeys[..profile.KeyingMaterialLength]), Convert.ToHexString(airliftKeys.Material));
        Assert.Equal(
            Convert.ToHexString(peerKeys[..ClassicExporterLength]),
            Convert.ToHexString(session.ExportKeyingMaterial(PeerCommands.SrtpExporterLabel, null, ClassicExporterLength)));
        Assert.Equal(
            Convert.ToHexString(peerKeys),
            Convert.ToHexString(session.ExportKeyingMaterial(PeerCommands.SrtpExporterLabel, null, PeerExporterLength)));
    }

    private static void AssertConnected(DtlsConnected? connected, DtlsRole role, CipherSuite suite, SrtpProtectionProfile profile)
    {
        Assert.NotNull(connected);
        Assert.Equal(role, connected.Role);
        Assert.Equal(ProtocolVersion.Dtls12, connected.Version);
        Assert.Equal(suite, connected.CipherSuite);
        Assert.Equal(profile, connected.SrtpProfile);
        Assert.True(connected.ExtendedMasterSecret, "both OpenSSL 3 and GnuTLS 3.7 offer extended_master_secret (RFC 7627)");
    }

    private static void AssertPeerPrinted(PeerProcess peer, CipherSuite suite, SrtpProtectionProfile profile)
    {
        Assert.True(PeerOutput.TryParseCipher(peer.Output, out var peerSuite), $"{peer.Name} printed no suite:\n{peer.Tail()}");
        Assert.Equal(suite, peerSuite);
        Assert.True(PeerOutput.TryParseSrtpProfile(peer.Output, out var peerProfile), $"{peer.Name} printed no SRTP profile:\n{peer.Tail()}");
        Assert.Equal(profile, peerProfile);
    }

    private static byte[] PeerKeys(PeerProcess peer)
    {
        Assert.True(PeerOutput.TryParseExporter(peer.Output, out var keys), $"{peer.Name} printed no exporter:\n{peer.Tail()}");
        return keys;
    }

    private static async Task<DtlsUdpClient> ConnectAsync(int port, DtlsOptions options)
    {
        using var cts = new CancellationTokenSource(Step);
        return await DtlsUdpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), options, cancellationToken: cts.Token);
    }

    private static string Text(byte[] data) => Encoding.UTF8.GetString(data);

    /// <summary>Airlift client -> openssl s_server.</summary>
    public sealed class AirliftClientOpenSslServer(ITestOutputHelper output)
    {
        [PeerTheory(Peers.OpenSsl)]
        [MemberData(nameof(OpenSslCases), MemberType = typeof(DtlsInteropTests))]
        public async Task Airlift_client_and_openssl_s_server_negotiate_the_forced_suite_and_profile_and_export_equal_keys_rfc5764_4_2(string suiteName, string profileName)
        {
            Peers.EnsureAvailable(Peers.OpenSsl);
            var (suite, profile) = (Suite(suiteName), Profile(profileName));
            var serverCert = ServerFixture(suite);
            var port = UdpPorts.GetFree();
            await using var server = PeerProcess.Start(
                PeerCommands.OpenSslServer(port, serverCert, profile, PeerExporterLength, cipher: PeerOutput.OpenSsl.CipherName(suite)),
                output.WriteLine);
            await server.WaitForAsync(PeerOutput.Lines.OpenSslServerReady, Step);

            using var cert = Load(CertFixtures.Ecdsa);
            await using var client = await ConnectAsync(port, new DtlsOptions(cert) { CipherSuites = [suite], SrtpProfiles = [profile], ExpectedPeerFingerprint = Fingerprint(serverCert) });
            await server.WaitForAsync(PeerOutput.Lines.OpenSslExporter, Step);

            AssertConnected(client.Connection, DtlsRole.Client, suite, profile);
            AssertPeerPrinted(server, suite, profile);
            AssertSameKeys(PeerKeys(server), client.KeyingMaterial, profile, client.Session);
            Assert.Equal(Fingerprint(serverCert), client.PeerCertificate?.Sha256Fingerprint);
            Assert.Equal(serverCert.ChainPath is null ? 1 : 2, client.PeerCertificate!.ChainDer.Count);

            // Application data both ways under the negotiated record keys.
            client.Send("airlift-to-openssl\n"u8);
            await server.WaitForAsync("^airlift-to-openssl$", Step);
            await server.WriteLineAsync("openssl-to-airlift");
            Assert.Equal("openssl-to-airlift\n", Text(await ReceiveAsync(client, Step)));
        }
    }

    /// <summary>openssl s_client -> Airlift server.</summary>
    public sealed class OpenSslClientAirliftServer(ITestOutputHelper output)
    {
        [PeerTheory(Peers.OpenSsl)]
        [MemberData(nameof(OpenSslCases), MemberType = typeof(DtlsInteropTests))]
        public async Task Openssl_s_client_and_Airlift_server_negotiate_the_forced_suite_and_profile_and_export_equal_keys_rfc5764_4_2(string suiteName, string profileName)
        {
            Peers.EnsureAvailable(Peers.OpenSsl);
            var (suite, profile) = (Suite(suiteName), Profile(profileName));
            using var cert = Load(ServerFixture(suite));
            var options = new DtlsOptions(cert) { CipherSuites = [suite], SrtpProfiles = [profile], ExpectedPeerFingerprint = Fingerprint(CertFixtures.Ecdsa) };
            await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), options);
            await using var client = PeerProcess.Start(
                PeerCommands.OpenSslClient(server.LocalEndpoint.Port, CertFixtures.Ecdsa, profile, PeerExporterLength, cipher: PeerOutput.OpenSsl.CipherName(suite)),
                output.WriteLine);

            var handshake = await ReadHandshakeAsync(server.Events, Step);
            Assert.True(handshake.Failed is null, $"Airlift server failed: {handshake.Failed}\n{handshake.Session.Trace}");
            await client.WaitForAsync(PeerOutput.Lines.OpenSslExporter, Step);

            AssertConnected(handshake.Connected, DtlsRole.Server, suite, profile);
            AssertPeerPrinted(client, suite, profile);
            AssertSameKeys(PeerKeys(client), handshake.KeyingMaterial, profile, handshake.Session);
            Assert.Equal(Fingerprint(CertFixtures.Ecdsa), handshake.PeerCertificate?.Sha256Fingerprint);

            // OpenSSL offers x25519 first and Airlift prefers it too (RFC 8422 5.1.1): the exchange is X25519.
            Assert.Contains("Server Temp Key: X25519", client.Output, StringComparison.Ordinal);

            await client.WriteLineAsync("openssl-to-airlift");
            Assert.Equal("openssl-to-airlift\n", Text(await ReadApplicationDataAsync(server.Events, handshake.Session, Step)));
            handshake.Session.Send("airlift-to-openssl\n"u8);
            await client.WaitForAsync("^airlift-to-openssl$", Step);

            // On stdin EOF s_client sends close_notify and exits 0 (PEERS.md).
            client.CloseStdin();
            Assert.Equal(0, await client.WaitForExitAsync(Step));
        }
    }

    /// <summary>Airlift client -> gnutls-serv --echo.</summary>
    public sealed class AirliftClientGnuTlsServer(ITestOutputHelper output)
    {
        [PeerTheory(Peers.GnuTlsServ, Peers.StdBuf)]
        [MemberData(nameof(GnuTlsCases), MemberType = typeof(DtlsInteropTests))]
        public async Task Airlift_client_and_gnutls_serv_negotiate_the_forced_suite_and_profile_and_echo_data_rfc5764_4_1(string suiteName, string profileName)
        {
            Peers.EnsureAvailable(Peers.GnuTlsServ, Peers.StdBuf);
            var (suite, profile) = (Suite(suiteName), Profile(profileName));
            var serverCert = ServerFixture(suite);
            var port = UdpPorts.GetFree();
            await using var server = PeerProcess.Start(
                PeerCommands.GnuTlsServer(port, serverCert, profile, PeerExporterLength, priority: PeerCommands.GnuTlsPriority(GnuTlsCipher(suite))),
                output.WriteLine);
            await server.WaitForAsync(PeerOutput.Lines.GnuTlsServerReady, Step);

            using var cert = Load(CertFixtures.Ecdsa);
            await using var client = await ConnectAsync(port, new DtlsOptions(cert) { CipherSuites = [suite], SrtpProfiles = [profile], ExpectedPeerFingerprint = Fingerprint(serverCert) });

            AssertConnected(client.Connection, DtlsRole.Client, suite, profile);
            Assert.NotNull(client.KeyingMaterial);
            Assert.Equal(profile.KeyingMaterialLength, client.KeyingMaterial.Material.Length);
            Assert.Equal(Fingerprint(serverCert), client.PeerCertificate?.Sha256Fingerprint);
            Assert.Equal(serverCert.ChainPath is null ? 1 : 2, client.PeerCertificate!.ChainDer.Count);

            // gnutls-serv prints no exporter for DTLS: its keys are proven by decrypting our record and echoing it back.
            var line = $"airlift-ping-{suite.Value:x4}";
            client.Send(Encoding.UTF8.GetBytes(line + "\n"));
            await server.WaitForAsync($@"^received\[[0-9a-f]{{16}}\]: {line}$", Step);
            Assert.Equal(line + "\n", Text(await ReceiveAsync(client, Step)));
        }
    }

    /// <summary>gnutls-cli -> Airlift server.</summary>
    public sealed class GnuTlsClientAirliftServer(ITestOutputHelper output)
    {
        [PeerTheory(Peers.GnuTlsCli)]
        [MemberData(nameof(GnuTlsCases), MemberType = typeof(DtlsInteropTests))]
        public async Task Gnutls_cli_and_Airlift_server_negotiate_the_forced_suite_and_profile_and_export_equal_keys_rfc5764_4_2(string suiteName, string profileName)
        {
            Peers.EnsureAvailable(Peers.GnuTlsCli);
            var (suite, profile) = (Suite(suiteName), Profile(profileName));
            using var cert = Load(ServerFixture(suite));
            var options = new DtlsOptions(cert) { CipherSuites = [suite], SrtpProfiles = [profile], ExpectedPeerFingerprint = Fingerprint(CertFixtures.Ecdsa) };
            await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), options);
            await using var client = PeerProcess.Start(
                PeerCommands.GnuTlsClient(server.LocalEndpoint.Port, CertFixtures.Ecdsa, profile, PeerExporterLength, priority: PeerCommands.GnuTlsPriority(GnuTlsCipher(suite))),
                output.WriteLine);

            var handshake = await ReadHandshakeAsync(server.Events, Step);
            Assert.True(handshake.Failed is null, $"Airlift server failed: {handshake.Failed}\n{handshake.Session.Trace}");
            await client.WaitForAsync(PeerOutput.Lines.GnuTlsClientHandshakeDone, Step);

            AssertConnected(handshake.Connected, DtlsRole.Server, suite, profile);
            AssertPeerPrinted(client, suite, profile);
            AssertSameKeys(PeerKeys(client), handshake.KeyingMaterial, profile, handshake.Session);
            Assert.Equal(Fingerprint(CertFixtures.Ecdsa), handshake.PeerCertificate?.Sha256Fingerprint);

            // gnutls-cli offers x25519 first and Airlift prefers it too (RFC 8422 5.1.1): the exchange is X25519.
            Assert.Contains("(ECDHE-X25519)", client.Output, StringComparison.Ordinal);

            await client.WriteLineAsync("gnutls-to-airlift");
            Assert.Equal("gnutls-to-airlift", Text(await ReadApplicationDataAsync(server.Events, handshake.Session, Step)).TrimEnd('\n'));
            handshake.Session.Send("airlift-to-gnutls\n"u8);
            await client.WaitForAsync("^airlift-to-gnutls$", Step);
        }
    }

    /// <summary>Handshakes that must fail, with both sides reporting the alert.</summary>
    public sealed class Failures(ITestOutputHelper output)
    {
        [PeerFact(Peers.OpenSsl)]
        public async Task Airlift_server_requiring_a_client_certificate_fails_openssl_s_client_without_one_with_handshake_failure_rfc5246_7_4_6()
        {
            Peers.EnsureAvailable(Peers.OpenSsl);
            using var cert = Load(CertFixtures.Ecdsa);
            var options = new DtlsOptions(cert) { SrtpProfiles = [Cm80], ClientCertificate = ClientCertificateMode.Require, AllowAnyPeerCertificate = true };
            await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), options);
            await using var client = PeerProcess.Start(PeerCommands.OpenSslClient(server.LocalEndpoint.Port, cert: null, Cm80), output.WriteLine);

            var handshake = await ReadHandshakeAsync(server.Events, Step);
            Assert.Null(handshake.Connected);
            Assert.NotNull(handshake.Failed);
            Assert.Equal(AlertDescription.HandshakeFailure, handshake.Failed.Alert);
            Assert.Null(handshake.KeyingMaterial);

            // OpenSSL names the alert it received: "...sslv3 alert handshake failure...SSL alert number 40".
            // (s_client still prints its session summary and an exporter after the fatal alert: PEERS.md quirk.)
            await client.WaitForAsync("alert handshake failure|SSL alert number 40", Step);
            Assert.NotEqual(0, await client.WaitForExitAsync(Step));
        }

        [PeerFact(Peers.OpenSsl)]
        public async Task Airlift_client_expecting_another_fingerprint_rejects_openssl_s_server_with_bad_certificate_rfc8122_5()
        {
            Peers.EnsureAvailable(Peers.OpenSsl);
            var port = UdpPorts.GetFree();
            await using var server = PeerProcess.Start(PeerCommands.OpenSslServer(port, CertFixtures.RsaChain, Cm80), output.WriteLine);
            await server.WaitForAsync(PeerOutput.Lines.OpenSslServerReady, Step);

            using var cert = Load(CertFixtures.Ecdsa);
            var options = new DtlsOptions(cert) { SrtpProfiles = [Cm80], ExpectedPeerFingerprint = Fingerprint(CertFixtures.RsaSingle) };
            var failure = await Assert.ThrowsAsync<DtlsHandshakeException>(() => ConnectAsync(port, options));
            Assert.Equal(DtlsFailureReason.BadCertificate, failure.Failure.Reason);
            Assert.Equal(AlertDescription.BadCertificate, failure.Failure.Alert);

            await server.WaitForAsync("alert bad certificate|SSL alert number 42", Step);
            Assert.DoesNotContain(server.Lines, l => PeerOutput.Lines.OpenSslExporter.IsMatch(l.Text));
        }

        [PeerFact(Peers.GnuTlsCli)]
        public async Task Airlift_server_expecting_another_client_fingerprint_rejects_gnutls_cli_with_bad_certificate_rfc8122_5()
        {
            Peers.EnsureAvailable(Peers.GnuTlsCli);
            using var cert = Load(CertFixtures.Ecdsa);
            var options = new DtlsOptions(cert) { SrtpProfiles = [Cm80], ExpectedPeerFingerprint = Fingerprint(CertFixtures.RsaSingle) };
            await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), options);
            await using var client = PeerProcess.Start(PeerCommands.GnuTlsClient(server.LocalEndpoint.Port, CertFixtures.Ecdsa, Cm80), output.WriteLine);

            var handshake = await ReadHandshakeAsync(server.Events, Step);
            Assert.Null(handshake.Connected);
            Assert.NotNull(handshake.Failed);
            Assert.Equal(DtlsFailureReason.BadCertificate, handshake.Failed.Reason);
            Assert.Equal(AlertDescription.BadCertificate, handshake.Failed.Alert);

            await client.WaitForAsync(@"Received alert \[42\]|Certificate is bad", Step);
            Assert.DoesNotContain(client.Lines, l => PeerOutput.Lines.GnuTlsClientHandshakeDone.IsMatch(l.Text));
            Assert.Equal(1, await client.WaitForExitAsync(Step));
        }
    }
}
