using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Airlift.NetEm;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.Cli;

/// <summary>
/// <c>airlift proxy</c> as a process (airlift.dll from the test output folder) between a UDP echo on loopback and a client:
/// seeded traffic, and the JSON summary's counts checked against a <see cref="NetworkEmulator"/> fed the same datagrams.
/// </summary>
public class ProxyCommandTests(ITestOutputHelper output)
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "airlift.dll");

    private static readonly string Host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    private static readonly Dictionary<string, string> Env = new(StringComparer.Ordinal) { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" };

    [Fact]
    public async Task Proxy_json_summary_counts_match_the_emulator_for_the_same_seeded_traffic()
    {
        const int Count = 120;
        const ulong Seed = 7;
        using var echo = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        echo.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var echoStop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var echoTask = EchoAsync(echo, echoStop.Token);

        await using var proxy = PeerProcess.Start(
            "airlift proxy",
            Host,
            [Dll, "proxy", "--listen", "127.0.0.1:0", "--upstream", echo.LocalEndPoint!.ToString()!, "--loss-up", "20", "--max-datagram", "1000", "--seed", Seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--duration", "2", "--json"],
            Env,
            output.WriteLine);
        var ready = await proxy.WaitForAsync(@"listening on 127\.0\.0\.1:(\d+)", TimeSpan.FromSeconds(20));
        var port = int.Parse(ready.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        // Seeded sizes, some over the 1000-byte limit; the same sequence goes through an emulator to predict the fates.
        var random = new Random(42);
        var sizes = Enumerable.Range(0, Count).Select(_ => random.Next(20, 1400)).ToArray();
        var predictor = new NetworkEmulator(new NetEmOptions(
            new LinkImpairment { LossRate = 0.20, MaxDatagramSize = 1000 },
            new LinkImpairment { MaxDatagramSize = 1000 },
            [],
            Seed));
        var fates = sizes.Select(n => predictor.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[n])).ToList();
        var delivered = fates.Count(f => f == NetEmFate.Forwarded);
        Assert.True(fates.Count(f => f == NetEmFate.DroppedLoss) > 0 && fates.Count(f => f == NetEmFate.DroppedOversize) > 0, "the traffic exercises both causes");

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var target = new IPEndPoint(IPAddress.Loopback, port);
        var received = 0;
        var buffer = new byte[2048];
        for (var i = 0; i < Count; i++)
        {
            await client.SendToAsync(new byte[sizes[i]], SocketFlags.None, target);
            if (i % 20 == 19)
            {
                await Task.Delay(5); // stay far below the loopback socket buffers
            }
        }

        // Collect the echoes until they stop (bounded).
        while (received < delivered)
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), wait.Token);
                received++;
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        Assert.Equal(0, await proxy.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        var json = proxy.Lines.Where(l => !l.IsStdErr && l.Text.StartsWith('{')).Select(l => l.Text).ToList();
        Assert.Single(json);
        using var doc = JsonDocument.Parse(json[0]);
        var root = doc.RootElement;
        var up = root.GetProperty("clientToServer");
        var down = root.GetProperty("serverToClient");
        Assert.Equal("summary", root.GetProperty("event").GetString());
        Assert.Equal($"127.0.0.1:{port}", root.GetProperty("listen").GetString());
        Assert.Equal(Count, up.GetProperty("seen").GetInt64());
        Assert.Equal(fates.Count(f => f == NetEmFate.DroppedOversize), up.GetProperty("droppedOversize").GetInt64());
        Assert.Equal(fates.Count(f => f == NetEmFate.DroppedLoss), up.GetProperty("droppedLoss").GetInt64());
        Assert.Equal(delivered, up.GetProperty("delivered").GetInt64());
        Assert.Equal(sizes.Max(), up.GetProperty("largestSeen").GetInt32());
        Assert.True(up.GetProperty("largestDelivered").GetInt32() <= 1000);
        Assert.Equal(delivered, down.GetProperty("seen").GetInt64());
        Assert.Equal(0, down.GetProperty("dropped").GetInt64());
        Assert.Equal(delivered, received);
        Assert.Equal(1, root.GetProperty("clientsAccepted").GetInt64());
        echoStop.Cancel();
        await echoTask;
    }

    [Theory]
    [InlineData("--loss", "150")]
    [InlineData("--loss", "ten")]
    [InlineData("--burst", "1")]
    [InlineData("--drop-server-flight", "Bogus:2")]
    [InlineData("--drop-server-flight", "Finished:0")]
    [InlineData("--preset", "moon")]
    [InlineData("--max-datagram", "0")]
    [InlineData("--duration", "-1")]
    public async Task Bad_arguments_exit_2_with_one_line_naming_the_option(string option, string value)
    {
        var (code, stdout, stderr) = await RunAsync("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", option, value);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        var line = Assert.Single(stderr);
        Assert.StartsWith("airlift: ", line, StringComparison.Ordinal);
        Assert.Contains(option, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Non_loopback_listen_needs_allow_non_loopback_and_exits_2()
    {
        var (code, _, stderr) = await RunAsync("proxy", "--listen", "192.0.2.1:5000", "--upstream", "127.0.0.1:9");
        Assert.Equal(2, code);
        Assert.Contains("--allow-non-loopback", Assert.Single(stderr), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Loss_together_with_loss_down_is_rejected()
    {
        var (code, _, stderr) = await RunAsync("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--loss", "5", "--loss-down", "10");
        Assert.Equal(2, code);
        Assert.Contains("--loss-up/--loss-down", Assert.Single(stderr), StringComparison.Ordinal);
    }

    private async Task<(int Code, IReadOnlyList<string> StdOut, IReadOnlyList<string> StdErr)> RunAsync(params string[] args)
    {
        await using var p = PeerProcess.Start("airlift " + args[0], Host, [Dll, .. args], Env, output.WriteLine);
        p.CloseStdin();
        var code = await p.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var lines = p.Lines;
        return (code, lines.Where(l => !l.IsStdErr).Select(l => l.Text).ToList(), lines.Where(l => l.IsStdErr).Select(l => l.Text).ToList());
    }

    private static async Task EchoAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), ct);
                await socket.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), SocketFlags.None, r.RemoteEndPoint, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }
}
