using System.Text.RegularExpressions;

namespace Airlift.Tests.Docs;

/// <summary>
/// The README shows the programs in samples/ verbatim: each <c>&lt;!-- sample: PATH --&gt;</c> marker is followed by a
/// fenced code block that must equal the file at PATH, byte for byte (line endings aside). scripts/test.sh builds and
/// runs the samples, so what the README shows compiles and works.
/// </summary>
public sealed partial class ReadmeSamplesTests
{
    [GeneratedRegex(@"<!-- sample: (?<path>[^ ]+) -->\n```[a-z]*\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex SampleBlock();

    [Fact]
    public void Readme_code_blocks_marked_as_samples_equal_the_sample_files()
    {
        var root = RepoRoot();
        var readme = Read(Path.Combine(root, "README.md"));
        var blocks = SampleBlock().Matches(readme);
        Assert.NotEmpty(blocks);
        foreach (Match block in blocks)
        {
            var path = block.Groups["path"].Value;
            var file = Path.Combine(root, path);
            Assert.True(File.Exists(file), $"README names {path}, which does not exist");
            var expected = Read(file);
            Assert.True(expected == block.Groups["code"].Value,
                $"README's block for {path} differs from the file: copy the file into README.md (first difference at line {FirstDifferentLine(expected, block.Groups["code"].Value)})");
        }
    }

    [Fact]
    public void Every_sample_program_is_shown_in_the_readme()
    {
        var root = RepoRoot();
        var readme = Read(Path.Combine(root, "README.md"));
        var shown = SampleBlock().Matches(readme).Select(m => m.Groups["path"].Value).ToHashSet(StringComparer.Ordinal);
        foreach (var program in Directory.GetFiles(Path.Combine(root, "samples"), "Program.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, program).Replace('\\', '/');
            Assert.Contains(relative, shown);
        }
    }

    [Fact]
    public void Every_sample_project_is_in_the_solution()
    {
        var root = RepoRoot();
        var solution = File.ReadAllText(Path.Combine(root, "Airlift.slnx"));
        foreach (var project in Directory.GetFiles(Path.Combine(root, "samples"), "*.csproj", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, project).Replace('\\', '/');
            Assert.Contains($"\"{relative}\"", solution, StringComparison.Ordinal);
        }
    }

    /// <summary>A sample the README shows in full stays short enough to read in one go.</summary>
    public const int MaxSampleLines = 99;

    [Fact]
    public void Every_sample_program_is_under_100_lines()
    {
        var root = RepoRoot();
        foreach (var program in Directory.GetFiles(Path.Combine(root, "samples"), "Program.cs", SearchOption.AllDirectories))
        {
            var lines = Read(program).TrimEnd('\n').Split('\n').Length;
            Assert.True(lines <= MaxSampleLines, $"{Path.GetRelativePath(root, program)} has {lines} lines; the README shows it verbatim, keep it under 100");
        }
    }

    private static string Read(string path) => File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);

    private static int FirstDifferentLine(string a, string b)
    {
        var la = a.Split('\n');
        var lb = b.Split('\n');
        for (var i = 0; i < Math.Min(la.Length, lb.Length); i++)
        {
            if (la[i] != lb[i])
            {
                return i + 1;
            }
        }

        return Math.Min(la.Length, lb.Length) + 1;
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Airlift.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Airlift.slnx) above " + AppContext.BaseDirectory);
    }
}
