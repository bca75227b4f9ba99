namespace Airlift.Cli.Lab;

/// <summary>Writes lab.json, lab.md and lab.html for a report into one directory.</summary>
internal static class ReportFiles
{
    /// <summary>Creates <paramref name="directory"/> if needed and writes the three files; returns their paths.</summary>
    /// <exception cref="IOException">The directory or a file cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to write there.</exception>
    public static IReadOnlyList<string> Write(LabReport report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, "lab.json");
        var md = Path.Combine(directory, "lab.md");
        var html = Path.Combine(directory, "lab.html");
        using (var stream = File.Create(json))
        {
            ReportJson.Write(report, stream);
        }

        File.WriteAllText(md, ReportMarkdown.Render(report));
        File.WriteAllText(html, ReportHtml.Render(report));
        return [json, md, html];
    }
}
