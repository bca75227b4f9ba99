using System.Diagnostics;

namespace Airlift.Cli;

/// <summary>
/// This executable started again as a child in a server role (<c>airlift soak --server-role</c>,
/// <c>airlift storm --server-role</c>), so that the child's CPU time and memory are its own; the parent talks to it over
/// stdin (one command per line) and reads its stdout and stderr.
/// </summary>
internal static class ChildRole
{
    /// <summary>
    /// Starts <c>airlift COMMAND --server-role ARGS</c> with this process's own executable (or <c>dotnet airlift.dll</c>
    /// when run that way), stdin, stdout and stderr redirected; throws <see cref="CliException"/> naming
    /// <paramref name="what"/> when it cannot start.
    /// </summary>
    public static Process Start(string command, IEnumerable<string> roleArguments, string what)
    {
        var self = Environment.ProcessPath ?? throw new CliException($"cannot find this executable to start the {what}");
        var psi = new ProcessStartInfo(self)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            // Running as "dotnet airlift.dll": the child is "dotnet airlift.dll COMMAND --server-role ...".
            psi.ArgumentList.Add(typeof(ChildRole).Assembly.Location);
        }

        psi.ArgumentList.Add(command);
        psi.ArgumentList.Add("--server-role");
        foreach (var a in roleArguments)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new CliException($"cannot start the {what} ({self}): {e.Message}");
        }

        return process;
    }

    /// <summary>Writes one command line to the child's stdin; false when the child is gone.</summary>
    public static async Task<bool> TrySendAsync(Process process, string line)
    {
        try
        {
            if (process.HasExited)
            {
                return false;
            }

            await process.StandardInput.WriteLineAsync(line).ConfigureAwait(false);
            await process.StandardInput.FlushAsync().ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }
}
