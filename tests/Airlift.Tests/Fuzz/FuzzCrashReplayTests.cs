using Airlift.Dtls;
using Airlift.Fuzz;

namespace Airlift.Tests.Fuzz;

/// <summary>
/// The fuzzing regression suite: every crash afl++ ever found (fuzz/crashes/TARGET/*) is replayed through the same target
/// code the harness runs, and must no longer escape as an exception; every seed of every target must run clean too.
/// </summary>
public class FuzzCrashReplayTests
{
    private static readonly string FuzzRoot = FindFuzzRoot();

    [Fact]
    public void Every_saved_crash_no_longer_reproduces()
    {
        var crashes = Path.Combine(FuzzRoot, "crashes");
        var failures = new List<string>();
        var replayed = 0;
        foreach (var dir in Directory.GetDirectories(crashes).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            var target = FuzzTargets.Find(name);
            Assert.True(target is not null, $"fuzz/crashes/{name} names no fuzz target");
            failures.AddRange(ReplayAll(target!, Directory.GetFiles(dir)));
            replayed += Directory.GetFiles(dir).Length;
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {replayed} saved crashes still reproduce:\n{string.Join("\n\n", failures)}");
    }

    [Fact]
    public void Every_seed_of_every_target_runs_clean()
    {
        var failures = new List<string>();
        foreach (var target in FuzzTargets.All)
        {
            var dir = Path.Combine(FuzzRoot, "corpus", target.Name);
            Assert.True(Directory.Exists(dir) && Directory.GetFiles(dir).Length > 0, $"fuzz/corpus/{target.Name} is missing or empty (fuzz/run.sh corpus)");
            failures.AddRange(ReplayAll(target, Directory.GetFiles(dir)));
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void Replay_reports_an_exception_that_escapes_a_target()
    {
        var throwing = new FuzzTarget("throws", [], "test", input => throw new InvalidOperationException($"boom {input.Length}"));
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, [1, 2, 3]);
            var failure = Assert.Single(ReplayAll(throwing, [file]));
            Assert.Contains("boom 3", failure, StringComparison.Ordinal);
            Assert.Null(FuzzReplay.Run(FuzzTargets.Find("rfc4571")!, [0, 0, 0, 2, 0, 0]));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData(DtlsRole.Client)]
    [InlineData(DtlsRole.Server)]
    public void The_live_handshake_seeds_reach_connected_on_both_sides(DtlsRole role)
    {
        var target = role == DtlsRole.Client ? "dtls-client" : "dtls-server";
        foreach (var variant in new[] { "00", "04", "08", "10", "20", "30", "40", "80" })
        {
            var input = File.ReadAllBytes(Path.Combine(FuzzRoot, "corpus", target, $"live-v{variant}"));
            var (endpoint, peer) = DtlsTargets.RunAndReport(input, role);
            Assert.True(endpoint && peer, $"{target} live-v{variant}: endpoint connected {endpoint}, peer connected {peer}");
        }
    }

    [Fact]
    public void Fuzz_script_steps_round_trip_and_clamp_lengths()
    {
        var input = FuzzScript.Build(0x42, [FuzzScript.Step(1, [9, 8]), FuzzScript.Step(2, [])]);
        var script = new FuzzScript([.. input, 7, 0xFF, 0xFF, 5]);
        Assert.Equal(0x42, script.Header);
        Assert.True(script.TryNext(out var c, out var p));
        Assert.Equal(1, c);
        Assert.Equal(new byte[] { 9, 8 }, p.ToArray());
        Assert.True(script.TryNext(out c, out p));
        Assert.Equal((2, 0), (c, p.Length));
        Assert.True(script.TryNext(out c, out p));
        Assert.Equal(7, c);
        Assert.Equal(new byte[] { 5 }, p.ToArray()); // a length past the end takes what is left
        Assert.False(script.TryNext(out _, out _));
    }

    private static List<string> ReplayAll(FuzzTarget target, IEnumerable<string> files)
    {
        var failures = new List<string>();
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            if (FuzzReplay.Run(target, File.ReadAllBytes(file)) is { } e)
            {
                failures.Add($"{target.Name} {Path.GetFileName(file)} (fuzz/run.sh replay {target.Name} {file}):\n{e}");
            }
        }

        return failures;
    }

    private static string FindFuzzRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Airlift.slnx")))
            {
                return Path.Combine(dir.FullName, "fuzz");
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Airlift.slnx) above " + AppContext.BaseDirectory);
    }
}
