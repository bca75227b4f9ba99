using System.Text.Json;
using Airlift.Cli;
using Airlift.Cli.Commands;
using Airlift.Tests.Interop;
using Xunit.Abstractions;

namespace Airlift.Tests.Lab;

/// <summary><c>airlift lab</c> as a process: --json prints one document and writes the files; bad arguments exit 2.</summary>
public class LabCommandTests(ITestOutputHelper output)
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "airlift.dll");

    private static readonly string Host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    [Fact]
    public async Task Lab_scenarios_only_json_prints_one_passing_document_and_writes_the_reports()
    {
        var dir = Path.Combine(Path.GetTempPath(), "airlift-lab-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, _) = await RunAsync("lab", "--scenarios-only", "--json", "--out", dir);
            Assert.Equal(0, code);
            using var doc = JsonDocument.Parse(string.Join('\n', stdout));
            Assert.Equal(1, doc.RootElement.GetProperty("schemaVersion").GetInt32());
            Assert.True(doc.RootElement.GetProperty("passed").GetBoolean());
            Assert.True(File.Exists(Path.Combine(dir, "lab.json")));
            Assert.True(File.Exists(Path.Combine(dir, "lab.md")));
            Assert.True(File.Exists(Path.Combine(dir, "lab.html")));

            // --report re-renders the files of that run elsewhere without running anything.
            var again = Path.Combine(dir, "again");
            var (code2, stdout2, _) = await RunAsync("lab", "--report", Path.Combine(dir, "lab.json"), "--json", "--out", again);
            Assert.Equal(0, code2);
            using var doc2 = JsonDocument.Parse(string.Join('\n', stdout2));
            Assert.Equal(doc.RootElement.GetProperty("verdicts").GetRawText(), doc2.RootElement.GetProperty("verdicts").GetRawText());
            Assert.True(File.Exists(Path.Combine(again, "lab.md")));
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
    [InlineData("--trials", "0")]
    [InlineData("--loss", "0,200")]
    [InlineData("--mtu", "100")]
    [InlineData("--cert", "dsa")]
    [InlineData("--ladder", "F9-nope")]
    [InlineData("--peers", "nosuchpeer")]
    [InlineData("--report", "/nonexistent/lab.json")]
    [InlineData("--parallel", "4")]
    public async Task Bad_lab_arguments_exit_2_with_one_line(string option, string value)
    {
        var (code, stdout, stderr) = await RunAsync("lab", option, value, "--out", Path.Combine(Path.GetTempPath(), "airlift-lab-unused"));
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains(option, Assert.Single(stderr), StringComparison.Ordinal);
    }

    [Fact]
    public void Loss_levels_are_percentages_without_duplicates()
    {
        Assert.Equal([0, 10, 20.5], LabCommand.ParseLoss("0, 10,20.5%,10"));
        Assert.Throws<CliException>(() => LabCommand.ParseLoss("-1"));
        Assert.Throws<CliException>(() => LabCommand.ParseLoss(","));
    }

    private async Task<(int Code, IReadOnlyList<string> StdOut, IReadOnlyList<string> StdErr)> RunAsync(params string[] args)
    {
        await using var p = PeerProcess.Start("airlift " + args[0], Host, [Dll, .. args], new Dictionary<string, string>(StringComparer.Ordinal) { ["DOTNET_NOLOGO"] = "1" }, output.WriteLine);
        p.CloseStdin();
        var code = await p.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var lines = p.Lines;
        return (code, lines.Where(l => !l.IsStdErr).Select(l => l.Text).ToList(), lines.Where(l => l.IsStdErr).Select(l => l.Text).ToList());
    }
}
