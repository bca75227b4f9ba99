using System.Text.Json;
using Airlift.Tests.EndToEnd;
using Airlift.Tests.Interop;

namespace Airlift.Tests.Lab;

/// <summary>What headless Chromium found in one rendered report.</summary>
/// <param name="Name">The report's name (also its screenshot's file name).</param>
/// <param name="Problems">Layout problems, one sentence each; empty when the report reads well.</param>
/// <param name="Sections">The h2 headings, in order.</param>
/// <param name="Charts">SVG charts on the page.</param>
/// <param name="LegendItems">Legend entries over all charts.</param>
/// <param name="Screenshot">The full-page screenshot, or null when the page did not render.</param>
internal sealed record RenderedReport(string Name, IReadOnlyList<string> Problems, IReadOnlyList<string> Sections, int Charts, int LegendItems, string? Screenshot);

/// <summary>
/// The rendered-layout check for every HTML report (lab, doctor): writes each page under
/// <see cref="ArtifactDir"/>, opens it in headless Chromium through playwright-core (report-layout.js, in a network
/// namespace of its own: file:// pages need no network) and returns what the in-page checks found: text overflowing its
/// box, SVG text outside its chart, overlapping legend entries, two series drawn alike, series without a legend entry,
/// empty sections and tables, vacuous "0/0" counts, horizontal scrolling at 1280 px. Full-page screenshots stay in
/// <see cref="ArtifactDir"/> as test artifacts.
/// </summary>
internal static class ReportLayout
{
    /// <summary>Where the pages and screenshots go: beside the test assembly, under artifacts/report-screenshots.</summary>
    public static string ArtifactDir => Path.Combine(AppContext.BaseDirectory, "artifacts", "report-screenshots");

    /// <summary>Renders each (name, html) page and returns the findings in the same order; throws when the run itself failed.</summary>
    public static async Task<IReadOnlyList<RenderedReport>> RenderAsync(IReadOnlyList<(string Name, string Html)> pages, Action<string>? echo = null, int viewportWidth = 1280)
    {
        Directory.CreateDirectory(ArtifactDir);
        var files = new List<object>();
        foreach (var (name, html) in pages)
        {
            var path = Path.Combine(ArtifactDir, name + ".html");
            await File.WriteAllTextAsync(path, html);
            files.Add(new { name, path });
        }

        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PLAYWRIGHT_CORE"] = EndToEndSupport.PlaywrightCore,
            ["REPORT_FILES"] = JsonSerializer.Serialize(files),
            ["REPORT_OUT"] = ArtifactDir,
            ["REPORT_WIDTH"] = viewportWidth.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var script = Path.Combine(EndToEndSupport.RepoRoot ?? ".", "tests", "Airlift.Tests", "Lab", "report-layout.js");
        await using var process = PeerProcess.Start("report-layout", "unshare", ["-n", "node", script], env, echo);
        var exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(120));
        var results = new List<RenderedReport>();
        foreach (var line in process.Lines.Where(l => !l.IsStdErr).Select(l => l.Text))
        {
            if (line.StartsWith("FATAL ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"report-layout.js: {line}\n{process.Tail()}");
            }

            if (!line.StartsWith("RESULT ", StringComparison.Ordinal))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line["RESULT ".Length..]);
            var r = doc.RootElement;
            results.Add(new RenderedReport(
                r.GetProperty("name").GetString()!,
                r.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!).ToList(),
                r.TryGetProperty("sections", out var s) ? s.EnumerateArray().Select(x => x.GetString()!).ToList() : [],
                r.TryGetProperty("charts", out var c) ? c.GetInt32() : 0,
                r.TryGetProperty("legendItems", out var l) ? l.GetInt32() : 0,
                r.GetProperty("screenshot").GetString()));
        }

        if (exit != 0 || results.Count != pages.Count)
        {
            throw new InvalidOperationException($"report-layout.js exited {exit} with {results.Count}/{pages.Count} results:\n{process.Tail()}");
        }

        return results;
    }
}
