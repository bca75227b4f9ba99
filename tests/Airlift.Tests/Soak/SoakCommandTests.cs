using System.Text.Json;
using Airlift.Tests.Cli;
using Xunit.Abstractions;

namespace Airlift.Tests.Soak;

/// <summary><c>airlift soak</c> as a process: a small loss-free soak with its real server process passes and writes its report; bad arguments exit 2.</summary>
public class SoakCommandTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Twenty_clean_handshakes_against_a_server_process_pass_every_criterion_and_write_the_report()
    {
        var dir = Path.Combine(Path.GetTempPath(), "airlift-soak-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Loss-free and every client closes: nothing may be left on the server after the idle second.
            var run = await AirliftCli.RunAsync(
                Limit, output.WriteLine, "soak", "--handshakes", "20", "--concurrency", "4", "--loss", "0", "--vanish", "0", "--abandon", "0", "--warmup", "4", "--idle-s", "1", "--out", dir);

            Assert.True(run.ExitCode == 0, run.Log);
            Assert.Contains(run.StdOut, l => l.StartsWith("soak: passed", StringComparison.Ordinal));
            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "soak.json")));
            var root = doc.RootElement;
            Assert.True(root.GetProperty("passed").GetBoolean());
            var summary = root.GetProperty("summary");
            Assert.Equal(20, summary.GetProperty("total").GetInt32());
            Assert.Equal(20, summary.GetProperty("connected").GetInt32());
            Assert.Equal(20, summary.GetProperty("echoed").GetInt32());
            Assert.Equal(4, root.GetProperty("warmupConnected").GetInt32());

            // The server is another process that reported itself, including the forced samples the verdict rests on.
            var tags = root.GetProperty("timeline").EnumerateArray().Select(p => p.TryGetProperty("tag", out var t) ? t.GetString() : null).ToList();
            Assert.Contains("baseline", tags);
            Assert.Contains("after-idle", tags);
            var last = root.GetProperty("timeline").EnumerateArray().Last().GetProperty("counters");
            Assert.Equal(0, last.GetProperty("live").GetInt64());
            Assert.Equal(24, last.GetProperty("connected").GetInt64());
            Assert.Equal(0, root.GetProperty("serverExitCode").GetInt32());
            Assert.True(File.Exists(Path.Combine(dir, "soak.md")));
            Assert.True(File.Exists(Path.Combine(dir, "soak.svg")));
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
    [InlineData("--handshakes", "0")]
    [InlineData("--loss", "100")]
    [InlineData("--cert", "dsa")]
    [InlineData("--vanish", "101")]
    [InlineData("--server-role", "true")]
    public async Task Bad_soak_arguments_exit_2_with_one_line(string option, string value)
    {
        var run = await AirliftCli.RunAsync(Limit, output.WriteLine, "soak", option, value, "--out", Path.Combine(Path.GetTempPath(), "airlift-soak-unused"));

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.StdErr);
        Assert.StartsWith("airlift: ", line, StringComparison.Ordinal);
        Assert.Empty(run.StdOut);
    }
}
