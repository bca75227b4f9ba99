using Airlift.Cli;
using Airlift.Cli.Soak;

namespace Airlift.Tests.Soak;

/// <summary>The soak's judgement on synthetic runs: each criterion passes on a clean run and fails on the one fault it is for.</summary>
public class SoakJudgeTests
{
    [Fact]
    public void A_clean_run_passes_every_criterion_and_states_what_it_measured()
    {
        var criteria = SoakJudge.Judge(SoakFixtures.CleanRun());

        Assert.Equal(6, criteria.Count);
        Assert.All(criteria, c => Assert.True(c.Passed, $"{c.Name}: {c.Measured}"));
        var stuck = criteria.Single(c => c.Name == SoakJudge.StuckName);
        Assert.Contains("0 stuck", stuck.Measured, StringComparison.Ordinal);
        Assert.Contains("Timeout 1", stuck.Measured, StringComparison.Ordinal);
        Assert.Contains("abandoned on purpose 1", stuck.Measured, StringComparison.Ordinal);
        Assert.Contains("baseline 1.0 MB, peak 40.0 MB, after idle 1.5 MB (+0.5 MB", criteria.Single(c => c.Name == SoakJudge.HeapName).Measured, StringComparison.Ordinal);
        Assert.Contains("baseline 97, peak 101, after idle 97", criteria.Single(c => c.Name == SoakJudge.FdName).Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stuck_handshake_fails_the_deadline_criterion()
    {
        var handshakes = SoakFixtures.Handshakes();
        handshakes[3] = handshakes[3] with { Outcome = SoakOutcome.Stuck, Reason = "no outcome 12 s after the first ClientHello (state Connecting)", Ms = 12_000 };

        var criterion = SoakJudge.Judge(SoakFixtures.CleanRun(handshakes)).Single(c => c.Name == SoakJudge.StuckName);

        Assert.False(criterion.Passed);
        Assert.StartsWith("1 stuck", criterion.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void An_outcome_after_the_deadline_plus_grace_or_a_missing_handshake_fails_the_deadline_criterion()
    {
        var late = SoakFixtures.Handshakes();
        late[18] = late[18] with { Ms = 12_500 };
        var missing = SoakFixtures.Handshakes().Take(19).ToList();

        Assert.False(SoakJudge.Judge(SoakFixtures.CleanRun(late)).Single(c => c.Name == SoakJudge.StuckName).Passed);
        Assert.False(SoakJudge.Judge(SoakFixtures.CleanRun(missing)).Single(c => c.Name == SoakJudge.StuckName).Passed);
    }

    public static TheoryData<string> ExceptionFaults() =>
    [
        "server-unhandled", "server-unobserved", "server-internal-error", "server-loop-ended", "server-exit-status", "client-unobserved", "client-endpoint-exception",
    ];

    [Theory]
    [MemberData(nameof(ExceptionFaults))]
    public void Any_exception_in_either_process_fails_the_exception_criterion(string fault)
    {
        var clean = SoakFixtures.CleanRun();
        var none = new SoakExceptionCounts(0, 0, [], new Dictionary<string, long>());
        var run = fault switch
        {
            "server-unhandled" => clean with { ServerFatal = ["unhandled: System.InvalidOperationException: boom at Airlift.X"] },
            "server-unobserved" => clean with { ServerExceptions = none with { Unobserved = 1 } },
            "server-internal-error" => clean with { Timeline = [.. clean.Timeline.Take(6), SoakFixtures.Point(61, "idle", SoakRunner.AfterIdle, SoakFixtures.Process(forced: true), SoakFixtures.Counters(internalErrors: 1))] },
            "server-loop-ended" => clean with { Timeline = [.. clean.Timeline, SoakFixtures.Point(62, "end", null, SoakFixtures.Process(), SoakFixtures.Counters(loopEnded: true))] },
            "server-exit-status" => clean with { ServerExitCode = -1 },
            "client-unobserved" => clean with { ClientExceptions = none with { Unobserved = 2 } },
            "client-endpoint-exception" => clean with { Handshakes = [.. clean.Handshakes.Take(19), clean.Handshakes[19] with { Outcome = SoakOutcome.Failed, Reason = "exception: CryptographicException: bad key" }] },
            _ => throw new ArgumentOutOfRangeException(nameof(fault)),
        };

        var criterion = SoakJudge.Judge(run).Single(c => c.Name == SoakJudge.ExceptionsName);

        Assert.False(criterion.Passed, fault);
    }

    [Fact]
    public void Managed_heap_above_baseline_plus_tolerance_after_idle_fails()
    {
        // Baseline 1 MB, tolerance 4 MB: 4.9 MB after idle passes, 5.1 MB fails.
        Assert.True(SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(idleManagedMb: 4.9))).Single(c => c.Name == SoakJudge.HeapName).Passed);
        Assert.False(SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(idleManagedMb: 5.1))).Single(c => c.Name == SoakJudge.HeapName).Passed);
    }

    [Fact]
    public void Rss_above_baseline_plus_tolerance_after_idle_fails()
    {
        // Baseline 62 MB, tolerance 48 MB.
        Assert.True(SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(idleRssMb: 109))).Single(c => c.Name == SoakJudge.RssName).Passed);
        Assert.False(SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(idleRssMb: 111))).Single(c => c.Name == SoakJudge.RssName).Passed);
    }

    [Fact]
    public void Rss_climbing_through_the_second_half_of_the_handshakes_fails_even_if_it_drops_after_idle()
    {
        // First half peaks at 110 MB; the second half may reach 110 + 48/3 = 126 MB.
        var level = SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(secondHalfRssMb: 125))).Single(c => c.Name == SoakJudge.RssName);
        var climbing = SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(secondHalfRssMb: 127))).Single(c => c.Name == SoakJudge.RssName);

        Assert.True(level.Passed, level.Measured);
        Assert.False(climbing.Passed, climbing.Measured);
        Assert.Contains("highest in the first half of the handshakes 110.0 MB, in the second half 127.0 MB (+17.0 MB)", climbing.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void With_a_trimmed_last_sample_the_rss_criterion_states_the_native_memory_outside_the_gc()
    {
        var timeline = SoakFixtures.Timeline();
        var idle = timeline[^1];
        timeline[^1] = idle with { Server = idle.Server with { RssAnonTrimmedBytes = 10L * 1048576 } };

        var criterion = SoakJudge.Judge(SoakFixtures.CleanRun(timeline: timeline)).Single(c => c.Name == SoakJudge.RssName);

        // Baseline RssAnon 12.4 MB (0.2 x 62) - GC committed 4 MB; after idle 10 MB trimmed - 4 MB.
        Assert.Contains("native memory outside the GC (RssAnon - GC committed) 8.4 MB at the baseline, 6.0 MB after idle and malloc_trim", criterion.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void File_descriptors_above_baseline_plus_slack_after_idle_fail()
    {
        Assert.True(SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(idleFds: 99))).Single(c => c.Name == SoakJudge.FdName).Passed);
        Assert.False(SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(idleFds: 100))).Single(c => c.Name == SoakJudge.FdName).Passed);
    }

    [Fact]
    public void A_session_left_after_idle_fails_the_drain_criterion()
    {
        var criterion = SoakJudge.Judge(SoakFixtures.CleanRun(timeline: SoakFixtures.Timeline(idleLive: 1))).Single(c => c.Name == SoakJudge.SessionsName);

        Assert.False(criterion.Passed);
        Assert.StartsWith("1 live after idle (peak 300", criterion.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_an_after_idle_sample_every_server_criterion_fails()
    {
        var run = SoakFixtures.CleanRun(timeline: [.. SoakFixtures.Timeline().Where(p => p.Tag != SoakRunner.AfterIdle)]);

        var criteria = SoakJudge.Judge(run);

        Assert.All(criteria.Where(c => c.Name is SoakJudge.HeapName or SoakJudge.RssName or SoakJudge.FdName or SoakJudge.SessionsName), c => Assert.False(c.Passed));
    }

    [Fact]
    public void Percentiles_skip_abandoned_clients_and_count_failures_as_never()
    {
        // 19 judged (18 connected at 100..270 ms, 1 failed); p50 = 10th = 190 ms, p90 = 18th = 270 ms, p99 = 19th = the failure.
        var summary = SoakSummary.Of(SoakFixtures.Handshakes(), TimeSpan.FromSeconds(17));

        Assert.Equal((20, 18, 1, 1, 0), (summary.Total, summary.Connected, summary.Failed, summary.Abandoned, summary.Stuck));
        Assert.Equal(190, summary.P50Ms);
        Assert.Equal(270, summary.P90Ms);
        Assert.Null(summary.P99Ms);
        Assert.Equal(10_001, summary.MaxOutcomeMs);
        Assert.Equal(18, summary.Echoed);
    }

    [Fact]
    public void A_failure_on_a_port_an_earlier_client_left_within_the_proxy_window_is_attributed_to_the_reuse()
    {
        var handshakes = SoakFixtures.Handshakes();

        // Client 18 failed on the port client 2 left at 2.5 s; 18 started at 18 s: 15.5 s later, inside a 17 s window.
        handshakes[18] = handshakes[18] with { LocalPort = handshakes[2].LocalPort };

        var inside = SoakSummary.Of(handshakes, TimeSpan.FromSeconds(17));
        var outside = SoakSummary.Of(handshakes, TimeSpan.FromSeconds(15));

        Assert.Equal(1, inside.FailedOnReusedPort);
        Assert.Equal(1, inside.FailedByReason["Timeout (client port reused)"]);
        Assert.Equal(0, outside.FailedOnReusedPort);
        Assert.Equal(1, outside.FailedByReason["Timeout"]);
    }

    [Fact]
    public void The_client_mix_is_a_function_of_seed_and_index_with_the_asked_shares()
    {
        var settings = new SoakSettings { Seed = 3, VanishPercent = 20, AbandonPercent = 5 };
        var modes = Enumerable.Range(0, 10_000).Select(settings.ModeOf).ToList();

        Assert.Equal(modes, Enumerable.Range(0, 10_000).Select(settings.ModeOf));
        Assert.InRange(modes.Count(m => m == SoakClientMode.Abandon), 400, 600);
        Assert.InRange(modes.Count(m => m == SoakClientMode.Vanish), 1800, 2200);
        Assert.NotEqual(modes, Enumerable.Range(0, 10_000).Select((settings with { Seed = 4 }).ModeOf));
        Assert.All(Enumerable.Range(0, 1000).Select((settings with { VanishPercent = 0, AbandonPercent = 0 }).ModeOf), m => Assert.Equal(SoakClientMode.Close, m));
    }

    [Theory]
    [InlineData(0, 64)]
    [InlineData(100, 0)]
    [InlineData(100, 5000)]
    public void Settings_out_of_range_are_a_user_error(int handshakes, int concurrency)
    {
        var settings = new SoakSettings { Handshakes = handshakes, Concurrency = concurrency };

        Assert.Throws<CliException>(settings.Validate);
    }

    [Fact]
    public void Proc_status_fields_are_read_in_bytes()
    {
        const string status = "Name:\tairlift\nVmRSS:\t   81234 kB\nRssAnon:\t   20480 kB\nRssFile:\t   60000 kB\nThreads:\t17\n";

        var (rss, anon, threads) = ProcessProbe.ParseStatus(status);

        Assert.Equal(81234L * 1024, rss);
        Assert.Equal(20480L * 1024, anon);
        Assert.Equal(17, threads);
    }
}
