using Airlift.Cli.Lab;
using Airlift.NetEm;

namespace Airlift.Tests.Lab;

/// <summary>The lab's default run, in process: every field failure of SCENARIOS.md passes with Airlift and reproduces without the fix.</summary>
public class LabScenarioTests(LabFixture lab) : IClassFixture<LabFixture>
{
    [Fact]
    public void Every_default_scenario_passes_and_the_run_exits_0()
    {
        var failed = lab.Report.Verdicts.Where(v => !v.Passed).Select(v => $"{v.Scenario}: {v.Reason}").ToList();
        Assert.True(failed.Count == 0, string.Join('\n', failed));
        Assert.True(lab.Report.AllPassed);
    }

    [Fact]
    public void Default_run_covers_F1_to_F4_in_both_roles_with_reproductions_and_the_sweep()
    {
        var ids = lab.Report.Verdicts.Select(v => v.Scenario).ToHashSet(StringComparer.Ordinal);
        string[] expected =
        [
            "F1-server", "F1-server-9000", "F1-client-9000", "F1-repro-server", "F1-repro-client",
            "F2-drop-1", "F2-drop-2", "F2-drop-5", "F2-client-drop-2", "F2-downlink-5", "F2-downlink-10", "F2-downlink-20", "F2-repro",
            "F3-path-change", "F3-repro", "F3-path-change-client", "F3-repro-client",
            "F4-relay-1600", "F4-relay-1200", "F4-relay-1200-client", "F4-repro",
            LabRunner.SweepScenario,
        ];
        Assert.All(expected, id => Assert.Contains(id, ids));
        Assert.Equal(4 * 10, lab.Report.Trials.Count(t => t.Scenario == LabRunner.SweepScenario));
        Assert.Equal(4 * 10, lab.Report.Trials.Count(t => t.Scenario == LabRunner.SweepComparisonScenario));
    }

    [Fact]
    public void F1_Airlift_never_sends_a_datagram_over_its_configured_size_but_the_field_stack_does_SCENARIOS_F1()
    {
        var airlift = Single("F1-server");
        Assert.True(airlift.Connected);
        Assert.True(airlift.LargestDatagram <= 1200, $"largest {airlift.LargestDatagram}");

        // The reproduction keeps sending one ~3.3 KB datagram per flight into a path that passes 1464 bytes.
        var field = Single("F1-repro-server");
        Assert.False(field.Connected);
        Assert.True(field.LargestDatagram > NetEmPresets.PathMtu1492UdpPayload);
        Assert.True(field.EffectiveMaxDatagram > NetEmPresets.PathMtu1492UdpPayload, "the field stack never lowers its datagram size");

        var fallback = Single("F1-server-9000");
        Assert.True(fallback.Connected);
        Assert.True(fallback.EffectiveMaxDatagram <= 1200);
    }

    [Fact]
    public void F2_field_stack_reproduction_fails_and_Airlift_with_the_same_drop_connects_RFC6347_4_2_4()
    {
        Assert.False(Single("F2-repro").Connected);
        Assert.True(Single("F2-drop-1").Connected);
        Assert.Contains("server thinks it is connected", lab.Report.Verdicts.Single(v => v.Scenario == "F2-repro").Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("F3-path-change", "F3-repro")]
    [InlineData("F3-path-change-client", "F3-repro-client")]
    public void F3_resend_on_path_change_connects_sooner_than_waiting_for_the_backoff(string airlift, string reproduction)
    {
        var fixedRun = Single(airlift);
        var field = Single(reproduction);
        Assert.True(fixedRun.Connected);

        // Within three and a half RTTs of the new selection (the lab's path change at 3050 ms, RTT 100 ms).
        Assert.InRange(fixedRun.TimeToConnectMs!.Value, LabScenarios.PathChangeAt.TotalMilliseconds, LabScenarios.PathChangeAt.TotalMilliseconds + 350);
        Assert.True(field.TimeToConnectMs is null || field.TimeToConnectMs > fixedRun.TimeToConnectMs + 300, $"fixed {fixedRun.TimeToConnectMs} ms, field {field.TimeToConnectMs} ms");
    }

    [Fact]
    public void F4_records_are_packed_into_the_minimum_number_of_datagrams()
    {
        foreach (var id in new[] { "F4-relay-1600", "F4-relay-1200", "F4-relay-1200-client" })
        {
            var v = lab.Report.Verdicts.Single(x => x.Scenario == id);
            Assert.True(v.Passed, v.Reason);

            // "largest S->C flight: 3 datagram(s) for 3374 B, minimum 3 at 1200 B": used == minimum.
            var m = System.Text.RegularExpressions.Regex.Match(v.Reason, @"flight: (\d+) datagram\(s\) for \d+ B, minimum (\d+)");
            Assert.True(m.Success, v.Reason);
            Assert.Equal(m.Groups[2].Value, m.Groups[1].Value);
        }

        Assert.False(Single("F4-repro").Connected);
    }

    [Fact]
    public void Sweep_Airlift_connects_every_run_up_to_20_percent_loss_and_the_field_server_does_not()
    {
        var points = LabSummary.Compute(lab.Report.Trials.Where(t => t.Scenario.StartsWith("sweep", StringComparison.Ordinal)));
        Assert.All(points.Where(p => p.Pairing == "airlift->airlift" && p.LossPercent <= 20), p => Assert.Equal(p.Trials, p.Successes));
        var fieldAt20 = points.Single(p => p.Pairing != "airlift->airlift" && p.LossPercent == 20);
        Assert.True(fieldAt20.Successes < fieldAt20.Trials, "the comparison pairing (no final-flight retention) loses some runs at 20% loss");
    }

    [Fact]
    public void Same_seed_gives_the_same_outcomes()
    {
        var again = LabRunner.Run(lab.Options with { RunSweep = false }, lab.Certificates, "again");
        var first = lab.Report.Trials.Where(t => !t.Scenario.StartsWith("sweep", StringComparison.Ordinal)).ToList();
        Assert.Equal(first.Count, again.Trials.Count);
        for (var i = 0; i < first.Count; i++)
        {
            Assert.Equal((first[i].Scenario, first[i].Seed, first[i].Connected, first[i].TimeToConnectMs), (again.Trials[i].Scenario, again.Trials[i].Seed, again.Trials[i].Connected, again.Trials[i].TimeToConnectMs));
        }
    }

    [Fact]
    public void The_RSA_chain_has_the_field_size()
    {
        // SCENARIOS.md F4: a 2772-byte CA-issued chain (leaf + intermediate).
        Assert.InRange(lab.Certificates.RsaChainDerBytes, 2650, 2850);
        Assert.Equal(2, lab.Certificates.RsaChain.ChainDer.Count);
    }

    private LabTrial Single(string scenario) => lab.Report.Trials.Single(t => t.Scenario == scenario);
}
