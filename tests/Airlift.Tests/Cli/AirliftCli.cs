using System.Text.Json;
using Airlift.Tests.Interop;

namespace Airlift.Tests.Cli;

/// <summary>The result of one finished CLI run.</summary>
internal sealed record CliRun(int ExitCode, IReadOnlyList<string> StdOut, IReadOnlyList<string> StdErr, string Log);

/// <summary>
/// Runs the built CLI (airlift.dll, copied next to the test assembly by the project reference) as a child process:
/// Console redirection inside the test process would race between parallel tests.
/// </summary>
internal static class AirliftCli
{
    /// <summary>Path of airlift.dll next to the test assembly.</summary>
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "airlift.dll");

    /// <summary>The dotnet host running the tests (dotnet test sets DOTNET_HOST_PATH), else "dotnet" from PATH.</summary>
    public static string Host { get; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    /// <summary>Starts "airlift ARGS"; the caller waits on its lines and disposes it (which kills it if still running).</summary>
    public static PeerProcess Start(Action<string>? echo, params string[] args) =>
        PeerProcess.Start("airlift " + (args.Length > 0 ? args[0] : ""), Host, [Dll, .. args], NoTelemetry, echo);

    /// <summary>
    /// As <see cref="Start"/>, with SIGINT at its default disposition in the child (coreutils' <c>env --default-signal</c>
    /// execs the command, so the process id is the command's): a test run started from a shell in the background
    /// (<c>cmd &amp;</c>) ignores SIGINT, every child inherits that, and .NET then rightly never sees a Ctrl-C.
    /// </summary>
    public static PeerProcess StartInterruptible(Action<string>? echo, params string[] args) =>
        PeerProcess.Start("airlift " + (args.Length > 0 ? args[0] : ""), "env", ["--default-signal=INT", Host, Dll, .. args], NoTelemetry, echo);

    /// <summary>Runs "airlift ARGS" to completion (killed and reported after <paramref name="timeout"/>).</summary>
    public static async Task<CliRun> RunAsync(TimeSpan timeout, Action<string>? echo, params string[] args)
    {
        await using var p = Start(echo, args);
        p.CloseStdin();
        var code = await p.WaitForExitAsync(timeout);
        return Collect(p, code);
    }

    /// <summary>Splits a finished (or running) process's log into stdout and stderr lines.</summary>
    public static CliRun Collect(PeerProcess p, int exitCode)
    {
        var lines = p.Lines;
        return new CliRun(
            exitCode,
            lines.Where(l => !l.IsStdErr).Select(l => l.Text).ToArray(),
            lines.Where(l => l.IsStdErr).Select(l => l.Text).ToArray(),
            p.Tail(200));
    }

    /// <summary>Every stdout line that is a JSON object, parsed (the caller disposes nothing: the elements are cloned).</summary>
    public static IReadOnlyList<JsonElement> JsonObjects(IEnumerable<string> stdout)
    {
        var list = new List<JsonElement>();
        foreach (var line in stdout)
        {
            if (line.StartsWith('{'))
            {
                using var doc = JsonDocument.Parse(line);
                list.Add(doc.RootElement.Clone());
            }
        }

        return list;
    }

    /// <summary>
    /// In --json mode the server prints nothing until a handshake, so readiness is read from the kernel's socket table
    /// (/proc/net/udp lists 0100007F:PORT once bound). Probing by binding the port ourselves could steal it from the
    /// server. Without /proc the client's ClientHello retransmissions cover the start-up. Bounded: 400 polls.
    /// </summary>
    public static async Task WaitUntilBoundAsync(int port, PeerProcess server)
    {
        const string table = "/proc/net/udp";
        if (!File.Exists(table))
        {
            return;
        }

        var local = $" 0100007F:{port:X4} ";
        for (var i = 0; i < 400; i++)
        {
            Assert.False(server.HasExited, $"the server exited early:\n{server.Tail()}");
            if ((await File.ReadAllTextAsync(table)).Contains(local, StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"the server did not bind 127.0.0.1:{port} within 20 s:\n{server.Tail()}");
    }

    private static readonly Dictionary<string, string> NoTelemetry = new(StringComparer.Ordinal)
    {
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
    };
}
