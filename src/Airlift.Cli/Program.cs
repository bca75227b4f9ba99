using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
using Airlift.Cli.Commands;

namespace Airlift.Cli;

internal static class Program
{
    /// <summary>Exit status of bad arguments (a usage error) or unreadable files.</summary>
    public const int UsageStatus = 2;

    /// <summary>Exit status of an unexpected error (a bug): sysexits' EX_SOFTWARE.</summary>
    public const int InternalErrorStatus = 70;

    /// <summary>Exit status after Ctrl+C / SIGINT ended a command (or SIGTERM cut short a run that was not done).</summary>
    public const int InterruptedStatus = 130;

    /// <summary>Widest line of every command's --help (a 100-column terminal shows it unwrapped).</summary>
    public const int HelpWidth = 100;

    public static int Main(string[] args)
    {
        var verbose = args.Contains("--verbose") || args.Contains("-v");

        // Last line of defence for exceptions on background threads (they would end the process with a stack trace and 134).
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            ReportInternalError(e.ExceptionObject as Exception, verbose, Console.Error);
            Environment.Exit(InternalErrorStatus);
        };

        return Run(args, Console.Out, Console.Error, verbose);
    }

    /// <summary>The command tree: one line per command.</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("airlift: a DTLS transport for WebRTC servers that completes its handshake on hostile paths.")
        {
            LabCommand.Create(),
            ProxyCommand.Create(),
            DtlsServerCommand.Create(),
            DtlsClientCommand.Create(),
            CertCommand.Create(),
            ServeCommand.Create(),
            SoakCommand.Create(),
            DoctorCommand.Create(),
            StormCommand.Create(),
            VersionCommand(),
        };

        // Help wraps at 100 columns, or the terminal's width when narrower (redirected: 100).
        var width = HelpWidth;
        try
        {
            if (!Console.IsOutputRedirected && Console.WindowWidth is > 20 and < HelpWidth)
            {
                width = Console.WindowWidth;
            }
        }
        catch (IOException)
        {
            // No console: keep 100.
        }

        foreach (var help in root.Options.OfType<HelpOption>())
        {
            help.Action = new HelpAction { MaxWidth = width };
        }

        // The built-in --version reads the entry assembly, which is not airlift's when the commands run in-process (tests).
        foreach (var version in root.Options.OfType<VersionOption>())
        {
            version.Action = new PrintVersion();
        }

        return root;
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/>. Exit statuses: 0 done, 1 a peer or handshake failed, 2 bad arguments or
    /// unreadable files, 70 an internal error, 130 interrupted. Every one of them is one line on <paramref name="error"/>,
    /// never a stack trace (unless <paramref name="verbose"/>). Help and --version go to <paramref name="output"/>.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, bool verbose = false)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var root = CreateRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, status 2: scripts and other tools depend on this contract.
            error.WriteLine($"airlift: {UsageError(parse)}");
            return UsageStatus;
        }

        // Ctrl-C and SIGTERM are ours, for every command alike: the action's token is cancelled and the command ends
        // its own way (partial report, sockets closed); System.CommandLine's handler would end a slow one after 2 s.
        using var interrupt = new CliInterrupt();
        try
        {
            // The default handler would catch CliException itself, print a stack trace and return 1.
            var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null, Output = output, Error = error };
            var status = parse.InvokeAsync(configuration, interrupt.Token).GetAwaiter().GetResult();
            return interrupt.Terminated ? Stopped(error, status) : interrupt.Requested ? Interrupted(error, status) : status;
        }
        catch (CliException ex)
        {
            error.WriteLine($"airlift: {ex.Message}");
            return UsageStatus;
        }
        catch (OperationCanceledException)
        {
            return Interrupted(error, 0);
        }
        catch (Exception ex)
        {
            ReportInternalError(ex, verbose, error);
            return InternalErrorStatus;
        }
    }

    /// <summary>
    /// The end of an interrupted command: one line, status 130. A command that returned 130 itself has already said what
    /// it left undone (storm's partial report, soak's "no report written").
    /// </summary>
    private static int Interrupted(TextWriter error, int status)
    {
        if (status != InterruptedStatus)
        {
            error.WriteLine("airlift: interrupted");
        }

        error.Flush();
        return InterruptedStatus;
    }

    /// <summary>
    /// The end of a command SIGTERM stopped: one line, and the command's own status (a server that stopped in order says 0,
    /// as the .NET host does; a run it cut short says 130 itself).
    /// </summary>
    private static int Stopped(TextWriter error, int status)
    {
        error.WriteLine("airlift: stopped (SIGTERM)");
        error.Flush();
        return status;
    }

    /// <summary>
    /// The one-line usage error: the token that was not understood when there is one (System.CommandLine lists "Required
    /// command was not provided" first), the commands when no command was recognised, and where help is.
    /// </summary>
    private static string UsageError(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var message = parse.UnmatchedTokens.Count > 0
            ? $"Unrecognized command or argument '{parse.UnmatchedTokens[0]}'."
            : parse.Errors[0].Message;
        if (command is RootCommand)
        {
            message += $" Commands: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}.";
        }

        return $"{message} (see '{CommandPath(parse.CommandResult)} --help')";
    }

    private static string CommandPath(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new List<string>();
        for (var r = result; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(r.Command is RootCommand ? "airlift" : r.Command.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>The informational version: the package version and the commit it was built from (as --version prints it).</summary>
    public static string InformationalVersion =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Program).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    private static Command VersionCommand()
    {
        var command = new Command("version", "Print the version (the same as --version).");
        command.Action = new PrintVersion();
        return command;
    }

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(InformationalVersion);
            return 0;
        }
    }

    private static void ReportInternalError(Exception? ex, bool verbose, TextWriter error)
    {
        var what = ex is null ? "unknown error" : $"{ex.GetType().Name}: {FirstLine(ex.Message)}";
        error.WriteLine($"airlift: internal error: {what}{(verbose ? "" : " (run with --verbose for details)")}");
        if (verbose && ex is not null)
        {
            error.WriteLine(ex);
        }

        error.Flush();
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}
