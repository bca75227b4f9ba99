using System.Text.Json;
using Airlift.Tests.Cli;
using Xunit;

namespace Airlift.Tests.Doctor;

/// <summary><c>airlift doctor</c> as a user runs it: exit statuses, one-line errors, JSON and the report files.</summary>
public sealed class DoctorCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "captures", name + ".pcap");

    [Fact]
    public async Task A_missing_file_is_one_line_and_status_2()
    {
        var run = await AirliftCli.RunAsync(Timeout, null, "doctor", Path.Combine(Path.GetTempPath(), "no-such-capture-" + Guid.NewGuid() + ".pcap"));

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.StdErr);
        Assert.StartsWith("airlift: cannot read", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_that_is_not_a_capture_names_the_problem_and_the_offset()
    {
        var path = Path.Combine(Path.GetTempPath(), "not-a-capture-" + Guid.NewGuid() + ".pcap");
        await File.WriteAllTextAsync(path, "hello, this is text");
        try
        {
            var run = await AirliftCli.RunAsync(Timeout, null, "doctor", path);

            Assert.Equal(2, run.ExitCode);
            var line = Assert.Single(run.StdErr);
            Assert.Contains("not a pcap or pcapng capture", line, StringComparison.Ordinal);
            Assert.Contains("offset 0", line, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_failed_handshake_exits_1_with_the_verdict_and_ladder_and_writes_the_reports()
    {
        var dir = Path.Combine(Path.GetTempPath(), "doctor-out-" + Guid.NewGuid());
        try
        {
            var run = await AirliftCli.RunAsync(Timeout, null, "doctor", Fixture("f1-gnutls-big-record"), "--out", dir);

            Assert.Equal(1, run.ExitCode);
            Assert.Contains(run.StdOut, l => l.Contains("FAILURE F1", StringComparison.Ordinal));
            Assert.Contains(run.StdOut, l => l.StartsWith("ladder: session 1", StringComparison.Ordinal));
            Assert.True(File.Exists(Path.Combine(dir, "doctor.html")));
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "doctor.json")));
            Assert.Equal("F1", json.RootElement.GetProperty("sessions")[0].GetProperty("verdicts")[0].GetProperty("code").GetString());
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
    public async Task A_good_handshake_exits_0_and_json_says_so()
    {
        var run = await AirliftCli.RunAsync(Timeout, null, "doctor", Fixture("openssl-good"), "--json");

        Assert.Equal(0, run.ExitCode);
        using var json = JsonDocument.Parse(string.Join('\n', run.StdOut));
        Assert.False(json.RootElement.GetProperty("failed").GetBoolean());
        Assert.Equal("completed", json.RootElement.GetProperty("sessions")[0].GetProperty("outcome").GetString());
    }
}
