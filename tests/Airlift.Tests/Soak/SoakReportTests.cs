using System.Text.Json;
using System.Xml.Linq;
using Airlift.Cli.Soak;

namespace Airlift.Tests.Soak;

/// <summary>soak.md, soak.json and soak.svg of a synthetic run.</summary>
public class SoakReportTests
{
    [Fact]
    public void Markdown_states_the_command_every_criterion_with_its_measurement_and_the_outcomes()
    {
        var run = SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(idleLive: 3));
        var criteria = SoakJudge.Judge(run);

        var md = SoakReport.Markdown(run, criteria, "soak.svg");

        Assert.Contains("airlift soak --handshakes 20 --concurrency 4", md, StringComparison.Ordinal);
        Assert.Contains("## Verdict: FAILED", md, StringComparison.Ordinal);
        foreach (var c in criteria)
        {
            Assert.Contains($"| {c.Name} | {c.Measured} | {c.Limit} | {(c.Passed ? "pass" : "**FAIL**")} |", md, StringComparison.Ordinal);
        }

        Assert.Contains("| connected | 18 |", md, StringComparison.Ordinal);
        Assert.Contains("| failed: Timeout | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("| abandoned mid-handshake (on purpose) | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("p50 190 ms, p90 270 ms, p99 -", md, StringComparison.Ordinal);
        Assert.Contains("| file descriptors | 97 | 97 | 101 | 97 | 97 |", md, StringComparison.Ordinal);
        Assert.Contains("| sessions live | 0 | 0 | 300 | 120 | 3 |", md, StringComparison.Ordinal);
        Assert.Contains("](soak.svg)", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_carries_the_verdict_summary_criteria_and_timeline()
    {
        var run = SoakFixtures.CleanRun();
        var criteria = SoakJudge.Judge(run);

        using var doc = JsonDocument.Parse(SoakReport.Json(run, criteria));
        var root = doc.RootElement;

        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.Equal(18, root.GetProperty("summary").GetProperty("connected").GetInt32());
        Assert.Equal(6, root.GetProperty("criteria").GetArrayLength());
        Assert.Equal(run.Timeline.Count, root.GetProperty("timeline").GetArrayLength());
        var failure = Assert.Single(root.GetProperty("failures").EnumerateArray());
        Assert.Equal("Timeout", failure.GetProperty("reason").GetString());
        Assert.Equal("failed", failure.GetProperty("outcome").GetString());
    }

    [Fact]
    public void The_timeline_chart_is_well_formed_svg_with_a_line_per_series_and_the_phase_marks()
    {
        var svg = XDocument.Parse(SoakChart.Timeline(SoakFixtures.CleanRun()));
        XNamespace ns = "http://www.w3.org/2000/svg";

        var texts = svg.Descendants(ns + "text").Select(t => t.Value).ToList();
        foreach (var label in new[] { "Server memory", "Server file descriptors and threads", "Sessions", "RSS", "managed heap", "file descriptors", "server sessions live", "handshakes", "idle" })
        {
            Assert.Contains(label, texts);
        }

        // RSS, RssAnon, GC committed, managed heap; descriptors, threads; sessions, clients in flight.
        Assert.Equal(8, svg.Descendants(ns + "polyline").Count());
    }
}
