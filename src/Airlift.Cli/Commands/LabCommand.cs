using System.CommandLine;

namespace Airlift.Cli.Commands;

internal static class LabCommand
{
    public static Command Create()
    {
        var command = new Command("lab", "Reproduce the field failures of SCENARIOS.md in virtual time and show Airlift passing them.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("airlift lab: not built yet");
            return 1;
        });
        return command;
    }
}
