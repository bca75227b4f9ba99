using System.CommandLine;
using Airlift.Cli.Commands;

namespace Airlift.Cli;

internal static class Program
{
    public static int Main(string[] args)
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
        };

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, status 2: scripts and other tools depend on this contract.
            Console.Error.WriteLine($"airlift: {parse.Errors[0].Message} (see 'airlift {string.Join(' ', args.Take(1))} --help')");
            return 2;
        }

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
    }
}
