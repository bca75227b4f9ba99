namespace Airlift.Cli.Lab;

/// <summary>Writes lab.json, lab.md, lab.html and the charts (charts/*.svg, which lab.md shows) for a report into one directory.</summary>
internal static class ReportFiles
{
    /// <summary>Creates <paramref name="directory"/> if needed and writes the files; returns their paths.</summary>
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
        var written = new List<string> { json, md, html };
        foreach (var (path, _, render) in ReportCharts.Files(report))
        {
            var file = Path.Combine(directory, path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, render());
            written.Add(file);
        }

        return written;
    }
}
