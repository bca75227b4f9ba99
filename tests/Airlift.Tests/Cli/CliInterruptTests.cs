using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Tests.Dtls;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM end every long-running command the same way (CliInterrupt): the command stops, writes
/// what it has, closes its sockets (a server says close_notify) and prints one line, never a stack trace. SIGINT exits
/// 130; SIGTERM keeps the command's own status (a server stopped in order: 0; a run cut short: 130). The signals are real
/// ones sent to a child process (Process.Kill would be SIGKILL).
/// </summary>
public sealed class CliInterruptTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Dtls_server_on_SIGINT_says_close_notify_to_its_client_prints_interrupted_and_exits_130()
    {
        var port = UdpPorts.GetFree();
        await using var server = AirliftCli.StartInterruptible(output.WriteLine, "dtls-server", "--listen", $"127.0.0.1:{port}", "--insecure-accept-any-certificate", "--dtls", "1.2", "--json");
        await AirliftCli.WaitUntilBoundAsync(port, server);
        var options = new DtlsOptions(TestCertificates.EcdsaPeer) { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] };
        await using var client = await DtlsUdpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), options, TimeProvider.System);
        await server.WaitForAsync("\"event\":\"connected\"", Limit);

        await SignalAsync(server, "-INT");
        var run = AirliftCli.Collect(server, await server.WaitForExitAsync(Limit));

        Assert.True(run.ExitCode == 130, run.Log);
        Assert.Equal("airlift: interrupted", Assert.Single(run.StdErr, l => l.StartsWith("airlift", StringComparison.Ordinal)));
        Assert.DoesNotContain(run.StdErr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.Equal("connected", Assert.Single(AirliftCli.JsonObjects(run.StdOut)).GetProperty("event").GetString());

        // close_notify reached the client: its receive ends (null) instead of waiting for data.
        using var bounded = new CancellationTokenSource(Limit);
        Assert.Null(await client.ReceiveAsync(bounded.Token));
    }

    [Fact]
    public async Task Proxy_on_SIGINT_prints_its_summary_and_interrupted_and_exits_130()
    {
        await using var proxy = AirliftCli.StartInterruptible(output.WriteLine, "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9");
        await proxy.WaitForAsync(@"^listening on 127\.0\.0\.1:\d+", Limit);

        await SignalAsync(proxy, "-INT");
        var run = AirliftCli.Collect(proxy, await proxy.WaitForExitAsync(Limit));

        Assert.True(run.ExitCode == 130, run.Log);
        Assert.Contains(run.StdOut, l => l.StartsWith("proxy stopped after ", StringComparison.Ordinal));
        Assert.Equal("airlift: interrupted", Assert.Single(run.StdErr, l => l.Length > 0));
    }

    [Fact]
    public async Task Serve_on_SIGTERM_stops_in_order_says_so_in_one_line_and_exits_0_as_a_service_manager_expects()
    {
        await using var serve = AirliftCli.Start(output.WriteLine, "serve", "--http", "127.0.0.1:0");
        await serve.WaitForAsync(@"^airlift serve: http://127\.0\.0\.1:\d+/", Limit);

        await SignalAsync(serve, "-TERM");
        var run = AirliftCli.Collect(serve, await serve.WaitForExitAsync(Limit));

        Assert.True(run.ExitCode == 0, run.Log);
        Assert.Equal("airlift: stopped (SIGTERM)", Assert.Single(run.StdErr, l => l.StartsWith("airlift: ", StringComparison.Ordinal)));
        Assert.DoesNotContain(run.StdErr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dtls_client_on_SIGTERM_while_its_handshake_waits_is_cut_short_and_exits_130()
    {
        // A socket that never answers: once the ClientHello arrives, the client is waiting in its handshake.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var client = AirliftCli.Start(output.WriteLine, "dtls-client", "--connect", silent.LocalEndPoint!.ToString()!, "--insecure-accept-any-certificate", "--timeout", "60");
        using (var bounded = new CancellationTokenSource(Limit))
        {
            var hello = await silent.ReceiveFromAsync(new byte[2048], SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), bounded.Token);
            Assert.True(hello.ReceivedBytes > 13, "a DTLS record");
        }

        await SignalAsync(client, "-TERM");
        var run = AirliftCli.Collect(client, await client.WaitForExitAsync(Limit));

        Assert.True(run.ExitCode == 130, run.Log);
        Assert.Contains("airlift: interrupted", run.StdErr);
        Assert.DoesNotContain(run.StdErr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    /// <summary>Sends a real signal with kill(1), as a shell's Ctrl-C or a service manager's stop would.</summary>
    private static async Task SignalAsync(PeerProcess process, string signal)
    {
        using var kill = Process.Start("kill", [signal, process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }
}
