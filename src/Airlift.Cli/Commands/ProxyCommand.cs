using System.CommandLine;

namespace Airlift.Cli.Commands;

internal static class ProxyCommand
{
    public static Command Create()
    {
        var command = new Command("proxy", "A UDP proxy that puts seeded network impairments between a DTLS client and server on loopback.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("airlift proxy: not built yet");
            return 1;
        });
        return command;
    }
}
