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
    public void Default_run_covers_F1_to_F4_in_both_roles_with_reproductions_and_the_sweep_in_DTLS_1_2_and_1_3()
    {
        string[] common =
        [
            "F1-server", "F1-server-9000", "F1-client-9000", "F1-repro-server", "F1-repro-client",
            "F2-drop-1", "F2-drop-2", "F2-drop-5", "F2-downlink-5", "F2-downlink-10", "F2-downlink-20", "F2-repro",
            "F3-path-change", "F3-repro", "F3-path-change-client", "F3-repro-client",
            "F4-relay-1600", "F4-relay-1200", "F4-relay-1200-client", "F4-repro",
            LabRunner.SweepScenario,
        ];
        var v12 = lab.Report.Verdicts.Where(v => v.Dtls == "1.2").Select(v => v.Scenario).ToHashSet(StringComparer.Ordinal);
        var v13 = lab.Report.Verdicts.Where(v => v.Dtls == "1.3").Select(v => v.Scenario).ToHashSet(StringComparer.Ordinal);
        Assert.All([.. common, "F2-client-drop-2"], id => Assert.Contains(id, v12));
        Assert.All([.. common, "F2-ack-drop-1", "F2-ack-drop-5", "F2-server-drop-2"], id => Assert.Contains(id, v13));
        Assert.Equal(lab.Report.Verdicts.Count, v12.Count + v13.Count);
        Assert.Equal(["1.2", "1.3"], lab.Report.Settings.Dtls);
        Assert.All(lab.Report.Trials, t => Assert.Contains(t.Dtls, new[] { "1.2", "1.3" }));

        // Sweep: Airlift in each version; comparisons: the field server (1.2) and DTLS 1.3 with X25519 alone.
        Assert.Equal(4 * 10, lab.Report.Trials.Count(t => t.Scenario == LabRunner.SweepScenario && t.Dtls == "1.2"));
        Assert.Equal(4 * 10, lab.Report.Trials.Count(t => t.Scenario == LabRunner.SweepScenario && t.Dtls == "1.3"));
        Assert.Equal(4 * 10, lab.Report.Trials.Count(t => t.Scenario == LabRunner.SweepComparisonScenario && t.Dtls == "1.2"));
        Assert.Equal(4 * 10, lab.Report.Trials.Count(t => t.Pairing == LabScenarios.AirliftX25519 && t.Dtls == "1.3"));
    }

    [Fact]
    public void DTLS_1_2_only_and_1_3_only_runs_hold_only_their_version()
    {
        var only13 = LabRunner.Run(lab.Options with { Versions = [Airlift.Dtls.ProtocolVersion.Dtls13], RunSweep = false }, lab.Certificates, "airlift lab --dtls 1.3 --scenarios-only");
        Assert.All(only13.Verdicts, v => Assert.Equal("1.3", v.Dtls));
        Assert.True(only13.AllPassed, string.Join('\n', only13.Verdicts.Where(v => !v.Passed).Select(v => $"{v.Label}: {v.Reason}")));
        Assert.Equal(["1.3"], only13.Settings.Dtls);
        Assert.Equal([Airlift.Dtls.ProtocolVersion.Dtls12], LabVersions.Parse("1.2"));
        Assert.Equal([Airlift.Dtls.ProtocolVersion.Dtls12, Airlift.Dtls.ProtocolVersion.Dtls13], LabVersions.Parse("Both"));
        Assert.Null(LabVersions.Parse("1.4"));
    }

    [Fact]
    public void F2_in_DTLS_1_3_the_client_final_flight_is_released_by_the_server_ACK_and_without_waiting_for_it_the_failure_reproduces()
    {
        foreach (var id in new[] { "F2-drop-1", "F2-drop-2", "F2-drop-5", "F2-ack-drop-1", "F2-ack-drop-5", "F2-server-drop-2" })
        {
            var v = lab.Report.Verdicts.Single(x => x.Scenario == id && x.Dtls == "1.3");
            Assert.True(v.Passed, $"{id}: {v.Reason}");
        }

        Assert.Contains("the server's ACK released it", lab.Report.Verdicts.Single(v => v.Scenario == "F2-drop-2" && v.Dtls == "1.3").Reason, StringComparison.Ordinal);
        Assert.False(Single("F2-repro", "1.3").Connected);
        Assert.Contains("server waits for a Finished", lab.Report.Verdicts.Single(v => v.Scenario == "F2-repro" && v.Dtls == "1.3").Reason, StringComparison.Ordinal);
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
        Assert.Contains("server thinks it is connected", lab.Report.Verdicts.Single(v => v.Scenario == "F2-repro" && v.Dtls == "1.2").Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("F3-path-change", "F3-repro", "1.2")]
    [InlineData("F3-path-change-client", "F3-repro-client", "1.2")]
    [InlineData("F3-path-change", "F3-repro", "1.3")]
    [InlineData("F3-path-change-client", "F3-repro-client", "1.3")]
    public void F3_resend_on_path_change_connects_sooner_than_waiting_for_the_backoff(string airlift, string reproduction, string dtls)
    {
        var fixedRun = Single(airlift, dtls);
        var field = Single(reproduction, dtls);
        Assert.True(fixedRun.Connected);

        // Within three and a half RTTs of the new selection (the lab's path change at 3050 ms, RTT 100 ms).
        Assert.InRange(fixedRun.TimeToConnectMs!.Value, LabScenarios.PathChangeAt.TotalMilliseconds, LabScenarios.PathChangeAt.TotalMilliseconds + 350);
        Assert.True(field.TimeToConnectMs is null || field.TimeToConnectMs > fixedRun.TimeToConnectMs + 300, $"fixed {fixedRun.TimeToConnectMs} ms, field {field.TimeToConnectMs} ms");
    }

    [Theory]
    [InlineData("1.2")]
    [InlineData("1.3")]
    public void F4_records_are_packed_into_the_minimum_number_of_datagrams(string dtls)
    {
        foreach (var id in new[] { "F4-relay-1600", "F4-relay-1200", "F4-relay-1200-client" })
        {
            var v = lab.Report.Verdicts.Single(x => x.Scenario == id && x.Dtls == dtls);
            Assert.True(v.Passed, v.Reason);

            // "largest S->C flight: 3 datagram(s) for 3374 B, minimum 3 at 1200 B": used == minimum.
            var m = System.Text.RegularExpressions.Regex.Match(v.Reason, @"flight: (\d+) datagram\(s\) for \d+ B, minimum (\d+)");
            Assert.True(m.Success, v.Reason);
            Assert.Equal(m.Groups[2].Value, m.Groups[1].Value);
        }

        Assert.False(Single("F4-repro", dtls).Connected);
    }

    [Fact]
    public void Sweep_Airlift_connects_every_run_up_to_20_percent_loss_and_the_field_server_does_not()
    {
        var points = LabSummary.Compute(lab.Report.Trials.Where(t => t.Scenario.StartsWith("sweep", StringComparison.Ordinal)));
        Assert.Equal(2 * 4, points.Count(p => p.Pairing == "airlift->airlift"));
        Assert.All(points.Where(p => p.Pairing == "airlift->airlift" && p.LossPercent <= 20), p => Assert.Equal(p.Trials, p.Successes));
        var fieldAt20 = points.Single(p => p.Pairing == "airlift->field-server" && p.LossPercent == 20);
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
            Assert.Equal((first[i].Scenario, first[i].Dtls, first[i].Seed, first[i].Connected, first[i].TimeToConnectMs, first[i].DatagramsSent), (again.Trials[i].Scenario, again.Trials[i].Dtls, again.Trials[i].Seed, again.Trials[i].Connected, again.Trials[i].TimeToConnectMs, again.Trials[i].DatagramsSent));
        }
    }

    [Fact]
    public void The_RSA_chain_has_the_field_size()
    {
        // SCENARIOS.md F4: a 2772-byte CA-issued chain (leaf + intermediate).
        Assert.InRange(lab.Certificates.RsaChainDerBytes, 2650, 2850);
        Assert.Equal(2, lab.Certificates.RsaChain.ChainDer.Count);
    }

    private LabTrial Single(string scenario, string dtls = "1.2") => lab.Report.Trials.Single(t => t.Scenario == scenario && t.Dtls == dtls);
}
