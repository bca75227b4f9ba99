using System.CommandLine;
using System.Text.RegularExpressions;
using Airlift.Cli;

namespace Airlift.Tests.Cli;

/// <summary>
/// Usage edges of the command line (issue 12, "CLI rough edges"), parsed and run in-process through
/// <see cref="Program.Run"/> with its output and error writers captured: unknown tokens are named with the list of
/// commands and exit 2 like every other usage error, --version and `version` print the informational version, and every
/// command's help fits 100 columns.
/// </summary>
public sealed partial class CliUsageTests
{
    /// <summary>Every command path ("" for the root), depth first.</summary>
    public static TheoryData<string> CommandPaths()
    {
        var data = new TheoryData<string>();
        void Walk(Command command, string path)
        {
            data.Add(path);
            foreach (var sub in command.Subcommands)
            {
                Walk(sub, path.Length == 0 ? sub.Name : path + " " + sub.Name);
            }
        }

        Walk(Program.CreateRoot(), "");
        return data;
    }

    [Theory]
    [MemberData(nameof(CommandPaths))]
    public void Every_commands_help_fits_100_columns(string path)
    {
        var (code, output, error) = Run([.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);

        Assert.Equal(0, code);
        Assert.Empty(error);
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(lines, l => l.StartsWith("Usage:", StringComparison.Ordinal));
        var widest = lines.MaxBy(l => l.Length)!;
        Assert.True(widest.Length <= Program.HelpWidth, $"'airlift {path} --help' has a line of {widest.Length} columns:\n{widest}");
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("bogus-cmd")]
    public void An_unknown_command_or_option_is_named_with_the_list_of_commands_and_exits_2(string token)
    {
        var (code, output, error) = Run([token]);

        Assert.Equal(Program.UsageStatus, code);
        Assert.Empty(output);
        var line = Assert.Single(Lines(error));
        Assert.StartsWith($"airlift: Unrecognized command or argument '{token}'.", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command", line, StringComparison.Ordinal);
        foreach (var command in new[] { "lab", "proxy", "dtls-server", "dtls-client", "cert", "serve", "soak" })
        {
            Assert.Contains(command, line, StringComparison.Ordinal);
        }

        Assert.EndsWith("(see 'airlift --help')", line, StringComparison.Ordinal);
    }

    [Fact]
    public void No_command_lists_the_commands_and_exits_2()
    {
        var (code, _, error) = Run([]);

        Assert.Equal(Program.UsageStatus, code);
        Assert.Contains("Commands: lab, proxy, dtls-server", Assert.Single(Lines(error)), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_option_of_a_command_points_at_that_commands_help_and_exits_2()
    {
        var (code, _, error) = Run(["dtls-client", "--connect", "127.0.0.1:5999", "--bogus-flag"]);

        Assert.Equal(Program.UsageStatus, code);
        var line = Assert.Single(Lines(error));
        Assert.Contains("'--bogus-flag'", line, StringComparison.Ordinal);
        Assert.EndsWith("(see 'airlift dtls-client --help')", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Commands:", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--version")]
    [InlineData("version")]
    public void Version_prints_the_informational_version(string argument)
    {
        var (code, output, error) = Run([argument]);

        Assert.Equal(0, code);
        Assert.Empty(error);
        var line = Assert.Single(Lines(output));
        Assert.Equal(Program.InformationalVersion, line);
        Assert.Matches(SemVer(), line);
    }

    private static (int Code, string Output, string Error) Run(string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [GeneratedRegex(@"^\d+\.\d+\.\d+")]
    private static partial Regex SemVer();
}
