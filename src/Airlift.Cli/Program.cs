namespace Airlift.Cli;

internal static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("airlift: not built yet");
        return args.Length == 0 ? 1 : 2;
    }
}
