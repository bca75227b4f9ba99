using Airlift.Cli.Doctor;
using Airlift.Tests.EndToEnd;
using Airlift.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace Airlift.Tests.Doctor;

/// <summary>
/// Issue 14: the doctor's HTML reports, rendered in headless Chromium with the lab's layout check (<see cref="ReportLayout"/>):
/// no clipped or overflowing text, no empty section, no sideways scrolling at 1280 px. Screenshots stay under
/// bin/.../artifacts/report-screenshots.
/// </summary>
public sealed class DoctorReportLayoutTests(ITestOutputHelper output)
{
    [ChromiumFact]
    public async Task Doctor_reports_render_without_clipped_text_or_empty_sections()
    {
        var pages = new[] { "f4-airlift-recovers", "f1-gnutls-big-record", "openssl-good" }
            .Select(name =>
            {
                var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "captures", name + ".pcap");
                using var stream = File.OpenRead(path);
                return ("doctor-" + name, DoctorReport.RenderHtml(DoctorAnalyzer.Analyze(stream, path, new DoctorOptions())));
            })
            .ToList();

        var rendered = await ReportLayout.RenderAsync(pages, output.WriteLine);

        foreach (var r in rendered)
        {
            output.WriteLine($"{r.Name}: sections [{string.Join(", ", r.Sections)}], screenshot {r.Screenshot}");
            foreach (var p in r.Problems)
            {
                output.WriteLine($"  {p}");
            }
        }

        Assert.All(rendered, r => Assert.True(r.Problems.Count == 0, $"{r.Name}: {r.Problems.Count} layout problems, first: {r.Problems.FirstOrDefault()}"));
        Assert.All(rendered, r => Assert.Single(r.Sections));
    }
}
