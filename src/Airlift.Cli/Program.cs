using System.CommandLine;
using Airlift.Cli.Commands;

namespace Airlift.Cli;

internal static class Program
{
    /// <summary>Exit status of an unexpected error (a bug): sysexits' EX_SOFTWARE.</summary>
    public const int InternalErrorStatus = 70;

    /// <summary>Exit status after Ctrl+C / SIGINT ended a command that was not done.</summary>
    public const int InterruptedStatus = 130;

    public static int Main(string[] args)
    {
        var verbose = args.Contains("--verbose") || args.Contains("-v");

        // Last line of defence for exceptions on background threads (they would end the process with a stack trace and 134).
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            ReportInternalError(e.ExceptionObject as Exception, verbose);
            Environment.Exit(InternalErrorStatus);
        };

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
        };

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, status 2: scripts and other tools depend on this contract.
            Console.Error.WriteLine($"airlift: {parse.Errors[0].Message} (see 'airlift {string.Join(' ', args.Take(1))} --help')");
            return 2;
        }

        // Exit statuses: 0 done, 1 a peer or handshake failed, 2 bad arguments or unreadable files, 70 an internal error,
        // 130 interrupted. Every one of them is one line on stderr, never a stack trace (unless --verbose).
        try
        {
            // The default handler would catch CliException itself, print a stack trace and return 1.
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (CliException ex)
        {
            Console.Error.WriteLine($"airlift: {ex.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("airlift: interrupted");
            return InterruptedStatus;
        }
        catch (Exception ex)
        {
            ReportInternalError(ex, verbose);
            return InternalErrorStatus;
        }
    }

    private static void ReportInternalError(Exception? ex, bool verbose)
    {
        var what = ex is null ? "unknown error" : $"{ex.GetType().Name}: {FirstLine(ex.Message)}";
        Console.Error.WriteLine($"airlift: internal error: {what}{(verbose ? "" : " (run with --verbose for details)")}");
        if (verbose && ex is not null)
        {
            Console.Error.WriteLine(ex);
        }

        Console.Error.Flush();
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}
