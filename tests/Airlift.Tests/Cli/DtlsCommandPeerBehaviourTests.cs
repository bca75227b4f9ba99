using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Tests.Dtls;
using Airlift.Tests.Interop;
using Airlift.Tests.Net;
using Xunit.Abstractions;

namespace Airlift.Tests.Cli;

/// <summary>
/// `dtls-server` and `dtls-client` against peers that behave badly or just unusually: a client that closes right after
/// the handshake, a server that never echoes, a client that lost the server's final flight, a client without a
/// certificate. Every case ends in one clear line and an exit status, never a stack trace (issue 10, items 6 to 9).
/// </summary>
public sealed class DtlsCommandPeerBehaviourTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Run = TimeSpan.FromSeconds(60);

    private static string EcdsaFixtureFingerprint => CliContractTests.Sha256(CertFixtures.Ecdsa.CertPath).ToString();

    [PeerFact(Peers.OpenSsl)]
    public async Task Dtls_server_count_1_reports_a_client_that_closes_right_after_the_handshake_with_its_keys_openssl_s_client_stdin_closed()
    {
        Peers.EnsureAvailable(Peers.OpenSsl);
        var port = UdpPorts.GetFree();
        await using var server = AirliftCli.Start(
            output.WriteLine,
            "dtls-server", "--listen", $"127.0.0.1:{port}", "--srtp", "SRTP_AES128_CM_HMAC_SHA1_80",
            "--expect-fingerprint", EcdsaFixtureFingerprint, "--count", "1", "--json");
        await AirliftCli.WaitUntilBoundAsync(port, server);

        // openssl s_client ... </dev/null: handshake, then close_notify at once.
        await using var client = PeerProcess.Start(
            PeerCommands.OpenSslClient(port, CertFixtures.Ecdsa, SrtpProtectionProfile.Aes128CmHmacSha1_80, exporterLength: 60),
            output.WriteLine);
        client.CloseStdin();
        var serverRun = AirliftCli.Collect(server, await server.WaitForExitAsync(Run));
        await client.WaitForExitAsync(Run);

        Assert.True(serverRun.ExitCode == 0, serverRun.Log);
        var report = Assert.Single(AirliftCli.JsonObjects(serverRun.StdOut));
        Assert.Equal("connected", report.GetProperty("event").GetString());
        Assert.True(PeerOutput.TryParseExporter(client.Output, out var keys), client.Tail());
        Assert.Equal(Convert.ToHexString(keys), report.GetProperty("exporter").GetString());
        Assert.Equal(EcdsaFixtureFingerprint, report.GetProperty("peerFingerprint").GetString());
        Assert.DoesNotContain(serverRun.StdErr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [PeerFact(Peers.OpenSsl)]
    public async Task Dtls_server_reports_a_DTLS_1_0_only_client_as_ProtocolVersion_the_alert_it_sent_openssl_s_client_dtls1()
    {
        Peers.EnsureAvailable(Peers.OpenSsl);
        var port = UdpPorts.GetFree();
        await using var server = AirliftCli.Start(
            output.WriteLine,
            "dtls-server", "--listen", $"127.0.0.1:{port}", "--insecure-accept-any-certificate", "--count", "1", "--json");
        await AirliftCli.WaitUntilBoundAsync(port, server);

        // DTLS 1.0 (FEFF) only; security level 0 so OpenSSL 3 still builds the 1.0 hello.
        await using var client = PeerProcess.Start(
            "openssl s_client -dtls1",
            Peers.OpenSsl,
            ["s_client", "-dtls1", "-connect", $"127.0.0.1:{port}", "-cipher", "ALL:@SECLEVEL=0"],
            echo: output.WriteLine);
        client.CloseStdin();
        var serverRun = AirliftCli.Collect(server, await server.WaitForExitAsync(Run));
        await client.WaitForExitAsync(Run);

        Assert.True(serverRun.ExitCode == 1, serverRun.Log);
        var report = Assert.Single(AirliftCli.JsonObjects(serverRun.StdOut));
        Assert.Equal("failed", report.GetProperty("event").GetString());
        Assert.StartsWith("ProtocolVersion: client offers only DTLS 1.0", report.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("alert protocol version", client.Output, StringComparison.Ordinal); // what OpenSSL received
    }

    [Fact]
    public async Task Dtls_client_send_against_a_server_that_never_echoes_prints_one_line_and_exits_1_after_its_timeout()
    {
        var options = new DtlsOptions(TestCertificates.Ecdsa) { ClientCertificate = ClientCertificateMode.Request, AllowAnyPeerCertificate = true };
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), new DtlsUdpServerOptions(options));

        var run = await AirliftCli.RunAsync(
            Run,
            output.WriteLine,
            "dtls-client", "--connect", server.LocalEndpoint.ToString(), "--expect-fingerprint", TestCertificates.Ecdsa.GetFingerprint().ToString(),
            "--send", "anyone there?", "--timeout", "3");

        Assert.True(run.ExitCode == 1, run.Log);
        Assert.StartsWith("connected client", Assert.Single(run.StdOut, l => l.StartsWith("connected", StringComparison.Ordinal)), StringComparison.Ordinal);
        var error = Assert.Single(run.StdErr, l => l.Length > 0);
        Assert.Equal($"airlift: no echo from {server.LocalEndpoint} within 3 s", error);
    }

    [Fact]
    public async Task Dtls_server_count_1_stays_until_a_client_that_lost_the_final_flight_gets_it_on_retransmission_field_failure_F2()
    {
        var port = UdpPorts.GetFree();
        await using var server = AirliftCli.Start(
            output.WriteLine,
            "dtls-server", "--listen", $"127.0.0.1:{port}", "--cert", CertFixtures.Ecdsa.CertPath, "--key", CertFixtures.Ecdsa.KeyPath,
            "--expect-fingerprint", TestCertificates.EcdsaPeer.GetFingerprint().ToString(), "--count", "1", "--json");
        await AirliftCli.WaitUntilBoundAsync(port, server);

        var clock = Stopwatch.StartNew();
        var options = new DtlsOptions(TestCertificates.EcdsaPeer) { ExpectedPeerFingerprint = CertificateFingerprint.Parse(EcdsaFixtureFingerprint), ProtocolVersions = [ProtocolVersion.Dtls12] }; // F2 is a DTLS 1.2 flight; 1.3 acknowledges it (Dtls13HandshakeTests)
        using var client = new RawDtlsClient(new IPEndPoint(IPAddress.Loopback, port), options, () => clock.Elapsed);
        var sentFinished = false;
        client.DropOutgoing = d =>
        {
            sentFinished |= HasEpochOneRecord(d);
            return false;
        };

        // Up to our Finished (flight 5); then every datagram of the server's final flight is lost.
        Assert.True(client.RunUntil(_ => sentFinished), client.Endpoint.Trace);
        await server.WaitForAsync("\"event\":\"connected\"", Run);
        while (client.Receive(TimeSpan.FromMilliseconds(500)) is not null)
        {
        }

        // Longer than the old linger (1 s): the server must still be there for the client's retransmission.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        while (client.Receive(TimeSpan.FromMilliseconds(50)) is not null)
        {
        }

        Assert.Equal(DtlsState.Connecting, client.Endpoint.State);
        Assert.False(server.HasExited, server.Tail());
        client.Endpoint.HandleTimeout(clock.Elapsed); // our retransmission timer: flight 5 again
        Assert.True(client.Connect(), client.Endpoint.Trace);

        // Data from the client proves it has the final flight: the server echoes it and may now exit.
        client.Send("hi"u8);
        Assert.True(client.RunUntil(c => c.Events.OfType<DtlsApplicationData>().Any()), client.Endpoint.Trace);
        Assert.Equal("hi"u8.ToArray(), client.Events.OfType<DtlsApplicationData>().Single().Data);
        var serverRun = AirliftCli.Collect(server, await server.WaitForExitAsync(Run));
        Assert.True(serverRun.ExitCode == 0, serverRun.Log);
        Assert.Equal("connected", Assert.Single(AirliftCli.JsonObjects(serverRun.StdOut)).GetProperty("event").GetString());
    }

    [PeerFact(Peers.OpenSsl)]
    public async Task Dtls_server_with_expect_fingerprint_fails_a_client_that_sends_no_certificate()
    {
        Peers.EnsureAvailable(Peers.OpenSsl);
        var port = UdpPorts.GetFree();
        await using var server = AirliftCli.Start(
            output.WriteLine,
            "dtls-server", "--listen", $"127.0.0.1:{port}", "--expect-fingerprint", EcdsaFixtureFingerprint, "--count", "1", "--json");
        await AirliftCli.WaitUntilBoundAsync(port, server);

        await using var client = PeerProcess.Start(PeerCommands.OpenSslClient(port, cert: null), output.WriteLine);
        client.CloseStdin();
        var serverRun = AirliftCli.Collect(server, await server.WaitForExitAsync(Run));

        Assert.True(serverRun.ExitCode == 1, serverRun.Log);
        var report = Assert.Single(AirliftCli.JsonObjects(serverRun.StdOut));
        Assert.Equal("failed", report.GetProperty("event").GetString());
        Assert.Contains("BadCertificate", report.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dtls-client", "--connect", "server")]
    [InlineData("dtls-server", "--listen", "client")]
    public async Task Dtls_commands_without_a_fingerprint_or_the_explicit_insecure_opt_out_refuse_to_start_naming_both(string command, string address, string peer)
    {
        var run = await AirliftCli.RunAsync(Run, output.WriteLine, command, address, $"127.0.0.1:{UdpPorts.GetFree()}");

        Assert.True(run.ExitCode == 2, run.Log);
        var error = Assert.Single(run.StdErr, l => l.Length > 0);
        Assert.StartsWith("airlift: give --expect-fingerprint", error, StringComparison.Ordinal);
        Assert.Contains($"the {peer}'s certificate", error, StringComparison.Ordinal);
        Assert.Contains("--insecure-accept-any-certificate", error, StringComparison.Ordinal);
    }

    /// <summary>True when the datagram carries a record of epoch 1 (our Finished, the last message of flight 5).</summary>
    private static bool HasEpochOneRecord(ReadOnlySpan<byte> datagram)
    {
        while (datagram.Length >= 13)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(datagram[3..]) == 1)
            {
                return true;
            }

            var length = 13 + BinaryPrimitives.ReadUInt16BigEndian(datagram[11..]);
            if (length > datagram.Length)
            {
                return false;
            }

            datagram = datagram[length..];
        }

        return false;
    }
}
