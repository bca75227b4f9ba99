using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Airlift.Tests.Interop;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// One browser run for a whole test class: a bash script in a fresh network namespace with only loopback
/// (<c>unshare -n</c>) that starts the <c>airlift serve</c> processes and the browser driver, which prints one
/// <c>RESULT {json}</c> line per case; the script prints <c>SERVE_EXIT name code</c> per serve after SIGTERM. The run's
/// summary (every result, the expected DTLS versions, serve exits, timing) and its log go to
/// <see cref="EndToEndSupport.ArtifactDir"/> as <c>{label}-summary.json</c> and <c>{label}-run.log</c>.
/// </summary>
internal sealed partial class BrowserEchoRun
{
    public Dictionary<string, JsonElement> Results { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, int> ServerExitCodes { get; } = new(StringComparer.Ordinal);

    public string Log { get; private set; } = "";

    public string? Error { get; private set; }

    public TimeSpan Elapsed { get; private set; }

    /// <summary>A run that did not start (a missing peer); the tests fail or skip naming it.</summary>
    public static BrowserEchoRun NotStarted(string reason) => new() { Error = reason };

    /// <summary>Runs <paramref name="script"/> under <c>unshare -n</c>, bounded by <paramref name="timeout"/>.</summary>
    public static async Task<BrowserEchoRun> RunAsync(
        string label,
        string script,
        IReadOnlyDictionary<string, string> environment,
        TimeSpan timeout,
        IReadOnlyDictionary<string, object?> expectations)
    {
        var run = new BrowserEchoRun();
        var stopwatch = Stopwatch.StartNew();
        Directory.CreateDirectory(EndToEndSupport.ArtifactDir);
        var scriptPath = Path.Combine(Path.GetTempPath(), $"airlift-e2e-{label}-{Environment.ProcessId}.sh");
        await File.WriteAllTextAsync(scriptPath, script);
        try
        {
            var env = new Dictionary<string, string>(environment, StringComparer.Ordinal)
            {
                ["ECHO_OUT"] = EndToEndSupport.ArtifactDir,
                ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
                ["DOTNET_NOLOGO"] = "1",
            };
            await using var process = PeerProcess.Start(label + " e2e", "unshare", ["-n", "bash", scriptPath], env);
            try
            {
                var exit = await process.WaitForExitAsync(timeout);
                if (exit != 0)
                {
                    run.Error = $"the {label} run exited with {exit}";
                }
            }
            catch (TimeoutException ex)
            {
                run.Error = ex.Message;
            }

            foreach (var line in process.Lines.Where(l => !l.IsStdErr).Select(l => l.Text))
            {
                if (line.StartsWith("RESULT ", StringComparison.Ordinal))
                {
                    using var doc = JsonDocument.Parse(line["RESULT ".Length..]);
                    run.Results[doc.RootElement.GetProperty("name").GetString()!] = doc.RootElement.Clone();
                }
                else if (line.StartsWith("FATAL ", StringComparison.Ordinal))
                {
                    run.Error = line;
                }
                else if (ServeExitLine().Match(line) is { Success: true } m)
                {
                    run.ServerExitCodes[m.Groups[1].Value] = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
                }
            }

            run.Log = process.Tail(400);
            await File.WriteAllTextAsync(Path.Combine(EndToEndSupport.ArtifactDir, label + "-run.log"), process.Output);
        }
        finally
        {
            File.Delete(scriptPath);
            run.Elapsed = stopwatch.Elapsed;
        }

        var summary = new Dictionary<string, object?>
        {
            ["label"] = label,
            ["elapsedSeconds"] = Math.Round(run.Elapsed.TotalSeconds, 1),
            ["error"] = run.Error,
            ["expected"] = expectations,
            ["serveExitCodes"] = run.ServerExitCodes,
            ["results"] = run.Results,
        };
        await File.WriteAllTextAsync(
            Path.Combine(EndToEndSupport.ArtifactDir, label + "-summary.json"),
            JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        return run;
    }

    [GeneratedRegex(@"^SERVE_EXIT (\w+) (\d+)$")]
    private static partial Regex ServeExitLine();
}
