using System.Diagnostics;
using System.Globalization;
using System.Net;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Tests.Dtls;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM end every long-running command the same way (CliInterrupt): the command stops, writes
/// what it has, closes its sockets (a server says close_notify), prints one "airlift: interrupted" line and exits 130,
/// never with a stack trace. The signals are real ones sent to a child process (Process.Kill would be SIGKILL).
/// </summary>
public sealed class CliInterruptTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Dtls_server_on_SIGINT_says_close_notify_to_its_client_prints_interrupted_and_exits_130()
    {
        var port = UdpPorts.GetFree();
        await using var server = AirliftCli.Start(output.WriteLine, "dtls-server", "--listen", $"127.0.0.1:{port}", "--insecure-accept-any-certificate", "--dtls", "1.2", "--json");
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
    public async Task Proxy_on_SIGTERM_prints_its_summary_and_interrupted_and_exits_130()
    {
        await using var proxy = AirliftCli.Start(output.WriteLine, "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9");
        await proxy.WaitForAsync(@"^listening on 127\.0\.0\.1:\d+", Limit);

        await SignalAsync(proxy, "-TERM");
        var run = AirliftCli.Collect(proxy, await proxy.WaitForExitAsync(Limit));

        Assert.True(run.ExitCode == 130, run.Log);
        Assert.Contains(run.StdOut, l => l.StartsWith("proxy stopped after ", StringComparison.Ordinal));
        Assert.Equal("airlift: interrupted", Assert.Single(run.StdErr, l => l.Length > 0));
    }

    [Fact]
    public async Task Serve_on_SIGINT_stops_its_http_and_media_sockets_prints_interrupted_and_exits_130()
    {
        await using var serve = AirliftCli.Start(output.WriteLine, "serve", "--http", "127.0.0.1:0");
        await serve.WaitForAsync(@"^airlift serve: http://127\.0\.0\.1:\d+/", Limit);

        await SignalAsync(serve, "-INT");
        var run = AirliftCli.Collect(serve, await serve.WaitForExitAsync(Limit));

        Assert.True(run.ExitCode == 130, run.Log);
        Assert.Equal("airlift: interrupted", Assert.Single(run.StdErr, l => l.StartsWith("airlift: ", StringComparison.Ordinal)));
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
