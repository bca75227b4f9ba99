using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Airlift.Cli;
using Airlift.Cli.Storm;
using Airlift.Dtls;
using Airlift.Tests.Cli;
using Xunit.Abstractions;

namespace Airlift.Tests.Storm;

/// <summary><c>airlift storm</c> against real loopback servers: every handshake has one outcome, failures carry their reason.</summary>
public class StormRunTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Fifty_clients_against_an_in_process_server_through_a_seeded_lossy_proxy_all_connect_and_the_counts_add_up()
    {
        var settings = new StormSettings
        {
            Mode = StormServerMode.SelfInProcess,
            Connections = 50,
            ProxyLossPercent = 5,
            Seed = 7,
            Versions = [ProtocolVersion.Dtls12],
            DtlsText = "1.2",
        };
        settings.Validate();

        var report = await new StormRunner(settings, output.WriteLine).RunAsync(CancellationToken.None).WaitAsync(Limit);

        Assert.True(report.AllConnected, string.Join('\n', StormReportText.Lines(report)));
        Assert.True(report.CountsAddUp);
        Assert.Equal(50, report.Connected);
        Assert.Equal(50, report.StartedHandshakes);
        Assert.Equal(0, report.Failed);
        Assert.Empty(report.FailuresByReason);
        Assert.Equal(50, report.Versions["DTLS 1.2"]);
        Assert.Equal(50, report.HeldAtEnd);
        Assert.Equal(50, report.ServerSessions);
        var c = Assert.IsType<StormPercentiles>(report.ConnectMs);
        Assert.True(c.P50 <= c.P90 && c.P90 <= c.P99 && c.P99 <= c.Max);
        Assert.True(c.Max <= (report.DrainSeconds * 1000) + 1, $"a handshake took {c.Max} ms in a storm that drained in {report.DrainSeconds} s");

        // The proxy saw the clients and, at 5 % loss each way with this seed, dropped some of their datagrams.
        var proxy = Assert.IsAssignableFrom<IReadOnlyDictionary<string, long>>(report.Proxy);
        Assert.Equal(50, proxy["clientsAccepted"]);
        Assert.True(proxy["sentToUpstream"] < proxy["receivedFromClients"], "5 % loss dropped nothing");
        Assert.True(report.Retransmissions > 0);
    }

    [Fact]
    public async Task A_ramp_slower_than_the_handshakes_still_holds_every_connection_to_the_end()
    {
        // At 10/s (two seconds of starts) the first clients connect long before the last one starts; their slots are not needed by anyone.
        var settings = new StormSettings { Mode = StormServerMode.SelfInProcess, Connections = 20, Rate = 10, Versions = [ProtocolVersion.Dtls12], DtlsText = "1.2" };
        settings.Validate();

        var report = await new StormRunner(settings, output.WriteLine).RunAsync(CancellationToken.None).WaitAsync(Limit);

        Assert.True(report.AllConnected, string.Join('\n', StormReportText.Lines(report)));
        Assert.Equal(20, report.HeldAtEnd);
        Assert.Equal(20, report.ServerSessions);
    }

    [Fact]
    public async Task A_total_above_the_connections_reuses_slots_and_holds_only_the_last_clients()
    {
        var settings = new StormSettings { Mode = StormServerMode.SelfInProcess, Connections = 8, Total = 30, Versions = [ProtocolVersion.Dtls13], DtlsText = "1.3", Groups = [NamedGroup.X25519] };
        settings.Validate();

        var report = await new StormRunner(settings, output.WriteLine).RunAsync(CancellationToken.None).WaitAsync(Limit);

        Assert.True(report.AllConnected, string.Join('\n', StormReportText.Lines(report)));
        Assert.True(report.CountsAddUp);
        Assert.Equal(30, report.Connected);
        Assert.Equal(30, report.Versions["DTLS 1.3"]);
        Assert.Equal(30, report.StartedHandshakes);

        // Only the clients that connected after the last start still hold a connection; the others closed and made room.
        Assert.InRange(report.HeldAtEnd, 1, 8);
    }

    [Fact]
    public async Task Without_a_server_the_storm_stops_after_the_first_timeouts_and_attributes_them_to_the_unreachable_port()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var settings = new StormSettings
        {
            Mode = StormServerMode.Target,
            Target = new IPEndPoint(IPAddress.Loopback, port),
            Insecure = true,
            Connections = 20,
            Total = 1000,
            Timeout = TimeSpan.FromSeconds(2),
            Versions = [ProtocolVersion.Dtls12],
            DtlsText = "1.2",
        };
        settings.Validate();
        var notices = new List<string>();

        var report = await new StormRunner(settings, line => { notices.Add(line); output.WriteLine(line); }).RunAsync(CancellationToken.None).WaitAsync(Limit);

        Assert.False(report.AllConnected);
        Assert.True(report.CountsAddUp, $"{report.Connected}+{report.Failed}+{report.Unfinished}+{report.NotStarted} != {report.Total}");
        Assert.Equal(0, report.Connected);
        Assert.True(report.Failed >= 1);
        Assert.True(report.NotStarted >= 980, "the storm went on after the first timeouts");
        Assert.Contains(report.FailuresByReason.Keys, k => k.StartsWith("timeout: port unreachable", StringComparison.Ordinal));
        Assert.True(report.PortUnreachable > 0);
        Assert.Contains("does not answer", report.Aborted, StringComparison.Ordinal);
        Assert.Contains(notices, l => l.Contains("nothing listens there", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Storm_self_as_a_process_measures_its_child_server_and_writes_json_and_html()
    {
        var dir = Path.Combine(Path.GetTempPath(), "airlift-storm-" + Guid.NewGuid().ToString("N"));
        try
        {
            var json = Path.Combine(dir, "storm.json");
            var html = Path.Combine(dir, "storm.html");
            var run = await AirliftCli.RunAsync(Limit, output.WriteLine, "storm", "--self", "--connections", "20", "--dtls", "1.2", "--json", json, "--html", html);

            Assert.True(run.ExitCode == 0, run.Log);
            Assert.Contains(run.StdOut, l => l.StartsWith("storm: 20/20 connected, 0 failed", StringComparison.Ordinal));
            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var root = doc.RootElement;
            Assert.Equal(20, root.GetProperty("connected").GetInt32());
            var server = root.GetProperty("serverProcess");
            Assert.Equal(20, server.GetProperty("sessionsHeld").GetInt32());
            Assert.Equal(20, root.GetProperty("serverSessions").GetInt32());
            Assert.True(server.GetProperty("cpuSeconds").GetDouble() > 0);
            Assert.True(server.GetProperty("heldRssBytes").GetInt64() > 0);
            Assert.True(root.GetProperty("connectMs").GetProperty("p99").GetDouble() > 0);
            var page = await File.ReadAllTextAsync(html);
            Assert.Contains("<svg", page, StringComparison.Ordinal);
            Assert.DoesNotContain("<script", page, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Ctrl_C_prints_and_writes_the_partial_report_and_exits_130()
    {
        var dir = Path.Combine(Path.GetTempPath(), "airlift-storm-" + Guid.NewGuid().ToString("N"));
        try
        {
            var json = Path.Combine(dir, "storm.json");

            // 400 handshakes at 20/s take 20 s: the interrupt comes long before the end.
            await using var storm = AirliftCli.StartInterruptible(output.WriteLine, "storm", "--self-in-process", "--connections", "400", "--rate", "20", "--dtls", "1.2", "--json", json);
            await storm.WaitForAsync(@"^storm +2s:", Limit);
            using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", storm.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            var code = await storm.WaitForExitAsync(Limit);
            var run = AirliftCli.Collect(storm, code);

            Assert.True(code == 130, run.Log);
            Assert.Contains(run.StdOut, l => l.StartsWith("storm: INTERRUPTED (partial) ", StringComparison.Ordinal));
            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
            var root = doc.RootElement;
            Assert.True(root.GetProperty("interrupted").GetBoolean());
            Assert.True(root.GetProperty("countsAddUp").GetBoolean());
            Assert.True(root.GetProperty("notStarted").GetInt32() > 0);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Theory]
    [InlineData("storm")]
    [InlineData("storm --target 127.0.0.1:4444")]
    [InlineData("storm --self --target 127.0.0.1:4444")]
    [InlineData("storm --self --connections 0")]
    [InlineData("storm --self --group x448")]
    [InlineData("storm --self --insecure")]
    public async Task Bad_arguments_exit_2_with_one_line(string args)
    {
        var run = await AirliftCli.RunAsync(Limit, output.WriteLine, args.Split(' '));

        Assert.Equal(2, run.ExitCode);
        Assert.Single(run.StdErr);
        Assert.StartsWith("airlift: ", run.StdErr[0], StringComparison.Ordinal);
    }
}
