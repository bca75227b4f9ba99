using Airlift.Cli.Lab;

namespace Airlift.Tests.Lab;

/// <summary>
/// Issue 12: the lab's console tables fit a 120-column terminal (what does not fit, the path limit per run, p99, the
/// largest datagram per sweep point, is in lab.json and lab.html), without breaking a scenario id or a pairing name.
/// </summary>
public sealed class LabConsoleTests(LabFixture lab) : IClassFixture<LabFixture>
{
    [Fact]
    public void A_full_runs_console_tables_fit_120_columns_with_every_scenario_id_and_pairing_unbroken() =>
        AssertFits(lab.Report);

    [Fact]
    public void A_real_peer_runs_console_tables_fit_120_columns_with_every_pairing_unbroken() =>
        AssertFits(ReportModels.PeersOnly());

    [Fact]
    public void A_peers_only_run_reports_runs_connected_not_a_vacuous_scenario_count()
    {
        var text = Render(ReportModels.PeersOnly());
        Assert.DoesNotContain("0/0", text, StringComparison.Ordinal);
        Assert.DoesNotContain("scenarios passed", text, StringComparison.Ordinal);
        Assert.Contains("runs connected", text, StringComparison.Ordinal);
    }

    private static void AssertFits(LabReport report)
    {
        var text = Render(report);
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var widest = lines.MaxBy(l => l.Length)!;
        Assert.True(widest.Length <= LabConsole.MaxWidth, $"a line of {widest.Length} columns:\n{widest}\n\n{text}");
        foreach (var id in report.Verdicts.Select(v => v.Scenario).Distinct())
        {
            Assert.True(lines.Any(l => l.Contains(id, StringComparison.Ordinal)), $"scenario id {id} is broken or missing:\n{text}");
        }

        foreach (var label in ReportCharts.Curves(report).Select(c => c.Label))
        {
            Assert.True(lines.Any(l => l.Contains(label, StringComparison.Ordinal)), $"pairing {label} is broken or missing:\n{text}");
        }
    }

    private static string Render(LabReport report)
    {
        using var writer = new StringWriter();
        var console = LabConsole.Create(writer, redirected: true);
        LabConsole.Print(console, report);
        return writer.ToString();
    }
}
