using System.Net;
using System.Text.Json;
using Airlift.Cli.Doctor;
using Airlift.Tests.Cli;
using Xunit;
using static Airlift.Tests.Doctor.CaptureBytes;
using static Airlift.Tests.Doctor.SyntheticDtls;

namespace Airlift.Tests.Doctor;

/// <summary><c>airlift doctor --session N</c> filters every output: the terminal report, --json and the --out files.</summary>
public sealed class DoctorSessionFilterTests
{
    private static readonly IPEndPoint S = Ep("203.0.113.5:4444");
    private static readonly IPEndPoint C1 = Ep("198.51.100.7:50000");
    private static readonly IPEndPoint C2 = Ep("198.51.100.8:50002");

    /// <summary>Session 1 completes cleanly; session 2 (a second client, later) is answered with a fatal alert.</summary>
    private static Timeline TwoSessions() => new Timeline()
        .Send(0, C1, S, ClientHello())
        .Send(10, S, C1, HelloVerifyRequest())
        .Send(20, C1, S, ClientHello(1, 32, 1))
        .Send(30, S, C1, ServerFlight(900, 1))
        .Send(45, C1, S, ClientFinal(2))
        .Send(55, S, C1, ServerFinal(6))
        .Send(60, C1, S, AppData())
        .Send(100, C2, S, ClientHello())
        .Send(110, S, C2, Alert(2, 40));

    [Fact]
    public void Json_html_and_text_show_only_the_chosen_session()
    {
        var r = TwoSessions().Analyze();
        Assert.Equal(2, r.Sessions.Count);

        using var json = JsonDocument.Parse(DoctorReport.RenderJson(r, 1));
        var sessions = json.RootElement.GetProperty("sessions");
        Assert.Equal(1, sessions.GetArrayLength());
        Assert.Equal(1, sessions[0].GetProperty("id").GetInt32());
        Assert.Equal(2, json.RootElement.GetProperty("sessionCount").GetInt32());
        Assert.False(json.RootElement.GetProperty("failed").GetBoolean()); // session 2's failure is not in this report

        var html = DoctorReport.RenderHtml(r, 2);
        Assert.Contains("id=\"session-2\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"session-1\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("198.51.100.7", html, StringComparison.Ordinal);

        var text = DoctorReport.RenderText(r, 2);
        Assert.Contains("showing session 2 of 2", text, StringComparison.Ordinal);
        Assert.DoesNotContain("session 1:", text, StringComparison.Ordinal);
        Assert.Contains("session 2:", text, StringComparison.Ordinal);

        Assert.True(DoctorReport.AnyFailure(r));
        Assert.False(DoctorReport.AnyFailure(r, 1));
        Assert.True(DoctorReport.AnyFailure(r, 2));
    }

    [Fact]
    public void Without_a_filter_every_session_is_in_every_output()
    {
        var r = TwoSessions().Analyze();

        using var json = JsonDocument.Parse(DoctorReport.RenderJson(r));
        Assert.Equal(2, json.RootElement.GetProperty("sessions").GetArrayLength());
        var html = DoctorReport.RenderHtml(r);
        Assert.Contains("id=\"session-1\"", html, StringComparison.Ordinal);
        Assert.Contains("id=\"session-2\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_session_id_names_the_ids_there_are()
    {
        var r = TwoSessions().Analyze();

        Assert.Null(DoctorReport.CheckSession(r, 2));
        Assert.Equal("--session 7: no such session; the capture has session(s) 1, 2", DoctorReport.CheckSession(r, 7));
        Assert.Contains("no sessions", DoctorReport.CheckSession(new Timeline().Send(0, C1, S, [0xC0, 1, 2, 3]).Analyze(), 1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cli_filters_json_and_out_files_and_rejects_an_unknown_id_with_status_2()
    {
        // The directory name must not contain "session-2": the HTML names its input file.
        var dir = Path.Combine(Path.GetTempPath(), "doctor-filter-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var pcap = Path.Combine(dir, "two.pcap");
            await File.WriteAllBytesAsync(pcap, TwoSessions().ToPcap());
            var timeout = TimeSpan.FromMinutes(2);

            var bad = await AirliftCli.RunAsync(timeout, null, "doctor", pcap, "--session", "3");
            Assert.Equal(2, bad.ExitCode);
            Assert.Equal("airlift: --session 3: no such session; the capture has session(s) 1, 2", Assert.Single(bad.StdErr));

            var outDir = Path.Combine(dir, "out");
            var run = await AirliftCli.RunAsync(timeout, null, "doctor", pcap, "--session", "1", "--json", "--out", outDir);
            Assert.Equal(0, run.ExitCode); // session 1 completed; session 2's failure is filtered out
            using var stdout = JsonDocument.Parse(string.Join('\n', run.StdOut));
            Assert.Equal(1, stdout.RootElement.GetProperty("sessions").GetArrayLength());
            using var file = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "doctor.json")));
            Assert.Equal(1, file.RootElement.GetProperty("sessions").GetArrayLength());
            Assert.DoesNotContain("session-2", await File.ReadAllTextAsync(Path.Combine(outDir, "doctor.html")), StringComparison.Ordinal);
            Assert.DoesNotContain("session 2:", await File.ReadAllTextAsync(Path.Combine(outDir, "doctor.txt")), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
