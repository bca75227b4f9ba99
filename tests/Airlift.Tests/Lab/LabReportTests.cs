using System.Text.Json;
using System.Text.RegularExpressions;
using Airlift.Cli.Lab;
using Airlift.Dtls;

namespace Airlift.Tests.Lab;

/// <summary>The report writers (JSON with a schema checked here, Markdown, HTML with inline SVG) and the ladder.</summary>
public class LabReportTests(LabFixture lab) : IClassFixture<LabFixture>
{
    private enum J
    {
        String,
        Number,
        Integer,
        Bool,
        Array,
        Object,
        NullableString,
        NullableNumber,
        NullableInteger,
    }

    // The lab.json schema, version 1: every field required, with its type.
    private static readonly Dictionary<string, J> Root = new()
    {
        ["schemaVersion"] = J.Integer,
        ["command"] = J.String,
        ["started"] = J.String,
        ["elapsedMs"] = J.NullableNumber,
        ["passed"] = J.Bool,
        ["settings"] = J.Object,
        ["verdicts"] = J.Array,
        ["summaries"] = J.Array,
        ["trials"] = J.Array,
    };

    private static readonly Dictionary<string, J> Settings = new()
    {
        ["trials"] = J.Integer,
        ["lossPercents"] = J.Array,
        ["rttMs"] = J.Integer,
        ["maxDatagram"] = J.Integer,
        ["certificate"] = J.String,
        ["deadlineSeconds"] = J.Number,
        ["seed"] = J.Integer,
        ["dtls"] = J.Array,
    };

    private static readonly Dictionary<string, J> Verdict = new()
    {
        ["scenario"] = J.String,
        ["dtls"] = J.NullableString,
        ["title"] = J.String,
        ["path"] = J.String,
        ["expectation"] = J.String,
        ["passed"] = J.Bool,
        ["reason"] = J.String,
    };

    private static readonly Dictionary<string, J> Summary = new()
    {
        ["scenario"] = J.String,
        ["dtls"] = J.NullableString,
        ["pairing"] = J.String,
        ["loss"] = J.Number,
        ["trials"] = J.Integer,
        ["successes"] = J.Integer,
        ["successRate"] = J.Number,
        ["p50Ms"] = J.NullableNumber,
        ["p90Ms"] = J.NullableNumber,
        ["p99Ms"] = J.NullableNumber,
        ["meanDatagrams"] = J.Number,
        ["meanRetransmissions"] = J.Number,
        ["largest"] = J.Integer,
    };

    private static readonly Dictionary<string, J> Trial = new()
    {
        ["scenario"] = J.String,
        ["dtls"] = J.NullableString,
        ["pairing"] = J.String,
        ["loss"] = J.Number,
        ["seed"] = J.Integer,
        ["connected"] = J.Bool,
        ["timeToConnectMs"] = J.NullableNumber,
        ["datagrams"] = J.Integer,
        ["largest"] = J.Integer,
        ["retransmissions"] = J.Integer,
        ["effectiveMaxDatagram"] = J.NullableInteger,
        ["error"] = J.NullableString,
    };

    [Fact]
    public void Lab_json_validates_against_schema_version_1_with_every_trial()
    {
        using var doc = JsonDocument.Parse(ReportJson.ToJson(lab.Report));
        var errors = new List<string>();
        var root = doc.RootElement;
        Check(root, Root, "$", errors);
        Assert.Empty(errors);
        Assert.Equal(LabReport.SchemaVersion, root.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(1, LabReport.SchemaVersion);
        Check(root.GetProperty("settings"), Settings, "$.settings", errors);
        foreach (var (name, schema) in new[] { ("verdicts", Verdict), ("summaries", Summary), ("trials", Trial) })
        {
            var i = 0;
            foreach (var item in root.GetProperty(name).EnumerateArray())
            {
                Check(item, schema, $"$.{name}[{i++}]", errors);
            }
        }

        Assert.Empty(errors);
        Assert.Equal(lab.Report.Trials.Count, root.GetProperty("trials").GetArrayLength());
        Assert.Equal(lab.Report.Verdicts.Count, root.GetProperty("verdicts").GetArrayLength());
        Assert.True(root.GetProperty("passed").GetBoolean());

        // A failed trial carries its error, a connected one its time.
        var trials = root.GetProperty("trials").EnumerateArray().ToList();
        Assert.Contains(trials, t => !t.GetProperty("connected").GetBoolean() && t.GetProperty("error").GetString()!.Length > 0);
        Assert.All(trials.Where(t => t.GetProperty("connected").GetBoolean()), t => Assert.Equal(JsonValueKind.Number, t.GetProperty("timeToConnectMs").ValueKind));
    }

    [Fact]
    public void Schema_check_rejects_a_missing_field_and_a_wrong_type()
    {
        using var doc = JsonDocument.Parse("""{"scenario":"x","dtls":null,"pairing":3,"loss":1,"seed":1,"connected":true,"timeToConnectMs":null,"datagrams":1,"largest":1,"retransmissions":0,"error":null}""");
        var errors = new List<string>();
        Check(doc.RootElement, Trial, "$", errors);
        Assert.Contains(errors, e => e.Contains("pairing", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("effectiveMaxDatagram", StringComparison.Ordinal));
    }

    [Fact]
    public void Markdown_has_every_section_and_a_row_per_verdict()
    {
        var md = ReportMarkdown.Render(FakeReport());
        var at = -1;
        foreach (var section in ReportMarkdown.Sections)
        {
            var next = md.IndexOf(section, StringComparison.Ordinal);
            Assert.True(next > at, $"section '{section}' missing or out of order");
            at = next;
        }

        Assert.Contains("| PASS | F1-server: F1 title |", md, StringComparison.Ordinal);
        Assert.Contains("| FAIL | F2-downlink-20: F2 title |", md, StringComparison.Ordinal);
        Assert.Contains("| airlift->airlift | 10% | 1/2 | 50% |", md, StringComparison.Ordinal);
        Assert.Contains("boom", md, StringComparison.Ordinal);
        Assert.Contains("**FAIL**", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Html_is_self_contained_with_three_svg_charts_with_axes_labels_and_legend()
    {
        var html = ReportHtml.Render(FakeReport());
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("<style>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("src=", html, StringComparison.OrdinalIgnoreCase);

        var svgs = Regex.Matches(html, "<svg .*?</svg>", RegexOptions.Singleline);
        Assert.Equal(3, svgs.Count);
        var success = svgs[0].Value;
        var time = svgs[1].Value;
        var datagrams = svgs[2].Value;
        Assert.Contains("Connected within 10 s vs loss", success, StringComparison.Ordinal);
        Assert.Contains("Time to connect vs loss", time, StringComparison.Ordinal);
        Assert.Contains("Datagrams per handshake vs loss", datagrams, StringComparison.Ordinal);
        Assert.Contains("datagrams sent, both sides (mean)", datagrams, StringComparison.Ordinal);
        Assert.Contains("line: median (p50); whisker: up to p90", time, StringComparison.Ordinal);
        foreach (var svg in new[] { success, time, datagrams })
        {
            Assert.Contains("random loss, both directions (%)", svg, StringComparison.Ordinal); // x axis label
            Assert.Contains("<polyline", svg, StringComparison.Ordinal);
            Assert.Contains("<circle", svg, StringComparison.Ordinal);
            Assert.Contains("airlift-&gt;airlift", svg, StringComparison.Ordinal); // legend
            Assert.Contains("airlift-&gt;field-server", svg, StringComparison.Ordinal);
            Assert.True(Regex.Matches(svg, "<line ").Count >= 4, "axes, grid and ticks");
        }

        Assert.Contains("runs connected (%)", success, StringComparison.Ordinal);
        Assert.Contains("time to connect (ms)", time, StringComparison.Ordinal);
        Assert.Contains("stroke-dasharray", time, StringComparison.Ordinal); // the second pairing is dashed
        Assert.Contains(">100%<", success, StringComparison.Ordinal); // y tick

        // Scenario table and the failed run, escaped.
        Assert.Contains("F2-downlink-20", html, StringComparison.Ordinal);
        Assert.Contains("&lt;boom&gt;", html, StringComparison.Ordinal);
        Assert.Contains("class=\"banner fail\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void A_real_peer_report_without_verdicts_still_gets_its_tables_and_charts()
    {
        LabTrial[] trials =
        [
            new("peers", "airlift-client->openssl-server", 0, 1, true, 12.5, 6, 1200, 0, 1200, null),
            new("peers", "openssl-client->airlift-server", 0, 2, false, null, 9, 1200, 3, 1200, "timeout"),
        ];
        var report = new LabReport("airlift lab --peers openssl --loss 0", DateTimeOffset.UnixEpoch, trials, [], new LabSettings(1, [0], 100, 1200, "ecdsa", 10, 1));
        var md = ReportMarkdown.Render(report);
        Assert.Contains("| airlift-client->openssl-server | 0% | 1/1 | 100% |", md, StringComparison.Ordinal);
        Assert.Contains("| openssl-client->airlift-server | 0% | 0/1 | 0% |", md, StringComparison.Ordinal);
        Assert.Equal(3, Regex.Matches(ReportHtml.Render(report), "<svg ").Count);
    }

    [Fact]
    public void A_multi_peer_report_gets_one_chart_pair_per_peer_each_with_the_airlift_reference_line()
    {
        var trials = new List<LabTrial>();
        foreach (var pairing in new[] { "airlift-client->airlift-server", "pion-client->airlift-server", "airlift-client->pion-server", "pion-client->pion-server", "openssl-client->airlift-server", "airlift-client->openssl-server" })
        {
            trials.Add(new("peers", pairing, 0, 1, true, 300, 10, 1200, 0, 1200, null));
            trials.Add(new("peers", pairing, 20, 2, true, 900, 20, 1200, 2, 1200, null));
        }

        var report = new LabReport("airlift lab --peers airlift,pion,openssl", DateTimeOffset.UnixEpoch, trials, [], new LabSettings(1, [0, 20], 100, 1200, "rsa-chain", 10, 1));
        var groups = ReportCharts.PeerGroups(ReportCharts.Curves(report));

        Assert.Equal(["pion", "openssl"], groups.Select(g => g.Peer));
        Assert.All(groups, g => Assert.Equal(ReportCharts.ReferenceLabel, g.Curves[0].Label));
        Assert.Equal(4, groups[0].Curves.Count);
        Assert.Equal(3, groups[1].Curves.Count);
        Assert.Equal(
            ["charts/success.svg", "charts/time.svg", "charts/datagrams.svg", "charts/success-pion.svg", "charts/time-pion.svg", "charts/success-openssl.svg", "charts/time-openssl.svg"],
            ReportCharts.Files(report).Select(f => f.Path));
        Assert.Equal(7, Regex.Matches(ReportHtml.Render(report), "<svg ").Count);
    }

    [Fact]
    public void Summary_says_who_connected_how_often_at_which_loss_and_names_the_fastest_and_slowest_pairing()
    {
        var sentences = ReportSummary.Sentences(ReportModels.PeersOnly());

        Assert.StartsWith("11 pairings, 440 runs: ", sentences[0], StringComparison.Ordinal);
        Assert.Contains(sentences, s => s.StartsWith("Runs connected by loss: 100% at 0%, ", StringComparison.Ordinal));
        Assert.Contains(sentences, s => s.StartsWith("At 30% loss the most reliable pairing is ", StringComparison.Ordinal));
        Assert.Contains("Fastest at 0% loss: airlift-client->airlift-server (median 150 ms); slowest: mbedtls-client->airlift-server", string.Join('\n', sentences), StringComparison.Ordinal);
        Assert.DoesNotContain(sentences, s => s.Contains("scenario", StringComparison.Ordinal));
    }

    [Fact]
    public void A_peers_only_report_has_no_scenario_section_and_no_vacuous_pass_count()
    {
        var report = ReportModels.PeersOnly();
        var html = ReportHtml.Render(report);
        var md = ReportMarkdown.Render(report);

        Assert.DoesNotContain("0/0", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"scenarios\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("class=\"banner", html, StringComparison.Ordinal);
        Assert.DoesNotContain(ReportMarkdown.Sections[1], md, StringComparison.Ordinal);
        Assert.DoesNotContain("0/0", md, StringComparison.Ordinal);
        Assert.Contains("Fastest at 0% loss", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Twenty_series_get_distinct_colour_and_dash_and_a_pairing_keeps_its_style_in_every_chart()
    {
        var styles = Enumerable.Range(0, ReportCharts.DistinctStyles).Select(ReportCharts.Style).ToList();
        Assert.Equal(ReportCharts.DistinctStyles, styles.Distinct().Count());
        Assert.Equal(10, styles.Take(10).Select(s => s.Color).Distinct().Count());

        // pion-client->pion-server is drawn in the all-pairings charts and in pion's own: the same stroke and dash in each.
        var html = ReportHtml.Render(ReportModels.PeersOnly());
        var strokes = Regex.Matches(html, "<polyline fill=\"none\" stroke=\"(?<c>[^\"]+)\" stroke-width=\"2\"(?<d>[^>]*?) data-series=\"pion-client-&gt;pion-server\"")
            .Select(m => m.Groups["c"].Value + m.Groups["d"].Value).ToList();
        Assert.True(strokes.Count >= 4, $"{strokes.Count} lines");
        Assert.Single(strokes.Distinct());
    }

    [Fact]
    public void Percentiles_count_failed_trials_as_never_so_a_flaky_pairing_cannot_look_fast()
    {
        // 10 trials: 8 connect in 100..800 ms, 2 fail. p50 is the 5th fastest; p90 falls on a failure, so there is none.
        var trials = Enumerable.Range(1, 10).Select(i => new LabTrial("peers", "a-client->b-server", 20, (ulong)i, i <= 8, i <= 8 ? i * 100.0 : null, 10, 1200, 0, 1200, i <= 8 ? null : "timeout")).ToList();
        var summary = Assert.Single(LabSummary.Compute(trials));
        Assert.Equal(8, summary.Successes);
        Assert.Equal(500, summary.P50Ms);
        Assert.Null(summary.P90Ms);
        Assert.Null(summary.P99Ms);

        // All connected: the usual nearest rank.
        var all = trials.Select(t => t with { Connected = true, TimeToConnectMs = t.Seed * 100.0 }).ToList();
        Assert.Equal(900, Assert.Single(LabSummary.Compute(all)).P90Ms);
    }

    [Fact]
    public void A_written_report_reads_back_to_the_same_document_and_bad_files_are_a_format_error()
    {
        var original = FakeReport() with { Elapsed = TimeSpan.FromMilliseconds(1234.5) };
        var json = ReportJson.ToJson(original);
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        var read = ReportJson.Read(stream);

        Assert.Equal(json, ReportJson.ToJson(read));
        Assert.Equal(original.Trials, read.Trials);
        Assert.Equal(original.Verdicts, read.Verdicts);

        using var wrongVersion = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json.Replace("\"schemaVersion\": 1", "\"schemaVersion\": 99", StringComparison.Ordinal)));
        Assert.Contains("schemaVersion 99", Assert.Throws<FormatException>(() => ReportJson.Read(wrongVersion)).Message, StringComparison.Ordinal);
        using var notJson = new MemoryStream([(byte)'{', (byte)'x']);
        Assert.Throws<FormatException>(() => ReportJson.Read(notJson));
        using var missing = new MemoryStream(System.Text.Encoding.UTF8.GetBytes("{\"schemaVersion\": 1}"));
        Assert.Throws<FormatException>(() => ReportJson.Read(missing));
    }

    [Fact]
    public void Chart_axis_maximum_rounds_up_to_1_2_5_steps()
    {
        Assert.Equal(1, ReportCharts.NiceCeiling(0));
        Assert.Equal(500, ReportCharts.NiceCeiling(420));
        Assert.Equal(2000, ReportCharts.NiceCeiling(1001));
        Assert.Equal(1000, ReportCharts.NiceCeiling(1000));
    }

    [Fact]
    public void Ladder_shows_the_lost_final_flight_and_the_client_timer_that_recovers_it()
    {
        var (_, run) = Assert.Single(LabRunner.RunOne(lab.Options with { Versions = [ProtocolVersion.Dtls12] }, lab.Certificates, "F2-drop-1"));
        var text = LabLadder.Render(run, "F2-drop-1");
        Assert.Matches(@"C   x-- S .*CCS FIN .*LOST: scripted drop", text);
        Assert.Matches(@"client  \|  TIMER resent \(timeout #1", text);
        Assert.Matches(@"C <---- S .*CCS FIN .*arrives", text);
        Assert.Contains("result: connected", text, StringComparison.Ordinal);

        // Lines are in time order.
        var times = Regex.Matches(text, @"^\s*(\d+\.\d) ms", RegexOptions.Multiline).Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(times.Count > 10);
        Assert.Equal(times.Order(), times);
    }

    [Fact]
    public void Ladder_of_the_F1_reproduction_shows_oversize_datagrams_vanishing()
    {
        var (_, run) = Assert.Single(LabRunner.RunOne(lab.Options with { Versions = [ProtocolVersion.Dtls12] }, lab.Certificates, "F1-repro-server"));
        var text = LabLadder.Render(run, "F1-repro-server");
        Assert.Matches(@"C   x-- S .* 3\d\d\d B .*LOST: larger than the path passes", text);
        Assert.Contains(LabLadder.TimerMark, text, StringComparison.Ordinal);
        Assert.Contains("result: not connected", text, StringComparison.Ordinal);
        Assert.Empty(LabRunner.RunOne(lab.Options, lab.Certificates, "no-such-scenario"));
    }

    [Fact]
    public void Versions_are_a_column_and_part_of_the_key_so_one_scenario_id_has_a_row_per_version()
    {
        LabTrial T(string dtls, double? ms) => new("F1-server", "airlift->airlift", 0, 1, ms is not null, ms, 6, 1200, 0, 1200, ms is null ? "x" : null) { Dtls = dtls };
        LabTrial S(string dtls, double loss, double ms, long datagrams) => new("sweep", "airlift->airlift", loss, 1, true, ms, datagrams, 1200, 0, 1200, null) { Dtls = dtls };
        LabTrial[] trials = [T("1.2", 200), T("1.3", null), S("1.2", 0, 200, 6), S("1.2", 10, 300, 9), S("1.3", 0, 150, 8), S("1.3", 10, 250, 11)];
        LabVerdict[] verdicts =
        [
            new("F1-server", "F1 title", "path", "connects", true, "connected") { Dtls = "1.2" },
            new("F1-server", "F1 title", "path", "connects", false, "did not connect") { Dtls = "1.3" },
        ];
        var report = new LabReport("airlift lab", DateTimeOffset.UnixEpoch, trials, verdicts, new LabSettings(1, [0, 10], 100, 1200, "ecdsa", 10, 1) { Dtls = ["1.2", "1.3"] });

        var rows = ScenarioRow.Build(report);
        Assert.Equal([("1.2", 1), ("1.3", 0)], rows.Select(r => (r.Dtls, r.Connected)));
        Assert.Equal("F1-server (DTLS 1.3)", verdicts[1].Label);
        Assert.Equal(["airlift->airlift DTLS 1.2", "airlift->airlift DTLS 1.3"], ReportCharts.Curves(report).Select(c => c.Label));
        var md = ReportMarkdown.Render(report);
        Assert.Contains("| PASS | F1-server: F1 title | 1.2 |", md, StringComparison.Ordinal);
        Assert.Contains("| FAIL | F1-server: F1 title | 1.3 |", md, StringComparison.Ordinal);
        Assert.Contains("| airlift->airlift DTLS 1.3 | 10% | 1/1 | 100% | 250 ms |", md, StringComparison.Ordinal);
        Assert.Contains("| F1-server | 1.3 | airlift->airlift |", md, StringComparison.Ordinal);

        // The version survives lab.json, and a document without it (older reports) still reads.
        using var ms = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(ReportJson.ToJson(report)));
        var back = ReportJson.Read(ms);
        Assert.Equal(["1.2", "1.3"], back.Settings.Dtls);
        Assert.Equal(["1.2", "1.3"], back.Verdicts.Select(v => v.Dtls));
        Assert.Equal(trials.Select(t => t.Dtls), back.Trials.Select(t => t.Dtls));
        var node = System.Text.Json.Nodes.JsonNode.Parse(ReportJson.ToJson(report))!;
        node["settings"]!.AsObject().Remove("dtls");
        foreach (var list in new[] { "verdicts", "summaries", "trials" })
        {
            foreach (var item in node[list]!.AsArray())
            {
                item!.AsObject().Remove("dtls");
            }
        }

        var old = node.ToJsonString();
        Assert.DoesNotContain("dtls", old, StringComparison.Ordinal);
        using var oldStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(old));
        var oldReport = ReportJson.Read(oldStream);
        Assert.All(oldReport.Trials, t => Assert.Null(t.Dtls));
        Assert.Empty(oldReport.Settings.Dtls);
    }

    [Fact]
    public void Report_files_are_written_to_the_output_directory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "airlift-lab-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var files = ReportFiles.Write(FakeReport(), dir);
            Assert.Equal(["lab.json", "lab.md", "lab.html", "success.svg", "time.svg", "datagrams.svg"], files.Select(Path.GetFileName));
            Assert.Contains("![connected within the deadline vs loss, every pairing](charts/success.svg)", File.ReadAllText(files[1]), StringComparison.Ordinal);
            Assert.All(files, f => Assert.True(new FileInfo(f).Length > 100));
            using var doc = JsonDocument.Parse(File.ReadAllText(files[0]));
            Assert.Equal(8, doc.RootElement.GetProperty("trials").GetArrayLength());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static LabReport FakeReport()
    {
        LabTrial T(string scenario, string pairing, double loss, ulong seed, double? ms, string? error = null) =>
            new(scenario, pairing, loss, seed, ms is not null, ms, 6 + (long)seed, 1200, (int)seed, 1200, error);
        LabTrial[] trials =
        [
            T("F1-server", "airlift->airlift", 0, 1, 200),
            T("F2-downlink-20", "airlift->airlift", 20, 1, null, "<boom>"),
            T("sweep", "airlift->airlift", 0, 1, 200),
            T("sweep", "airlift->airlift", 10, 1, 350),
            T("sweep", "airlift->airlift", 10, 2, null, "not connected by the deadline"),
            T("sweep-comparison", "airlift->field-server", 0, 1, 200),
            T("sweep-comparison", "airlift->field-server", 10, 1, 900),
            T("sweep-comparison", "airlift->field-server", 10, 2, 1300),
        ];
        var verdicts = new[]
        {
            new LabVerdict("F1-server", "F1 title", "drops > 1464", "connects", true, "connected in 200 ms"),
            new LabVerdict("F2-downlink-20", "F2 title", "20% S->C", "connects", false, "0/1 connected"),
        };
        return new LabReport("airlift lab --test", new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), trials, verdicts, new LabSettings(2, [0, 10], 100, 1200, "rsa-chain", 10, 1));
    }

    private static void Check(JsonElement obj, Dictionary<string, J> schema, string where, List<string> errors)
    {
        if (obj.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{where}: not an object");
            return;
        }

        foreach (var (name, type) in schema)
        {
            if (!obj.TryGetProperty(name, out var v))
            {
                errors.Add($"{where}.{name}: missing");
                continue;
            }

            var ok = type switch
            {
                J.String => v.ValueKind == JsonValueKind.String,
                J.Number => v.ValueKind == JsonValueKind.Number,
                J.Integer => v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out _),
                J.Bool => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
                J.Array => v.ValueKind == JsonValueKind.Array,
                J.Object => v.ValueKind == JsonValueKind.Object,
                J.NullableString => v.ValueKind is JsonValueKind.String or JsonValueKind.Null,
                J.NullableNumber => v.ValueKind is JsonValueKind.Number or JsonValueKind.Null,
                J.NullableInteger => v.ValueKind == JsonValueKind.Null || (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _)),
                _ => false,
            };
            if (!ok)
            {
                errors.Add($"{where}.{name}: expected {type}, got {v.ValueKind}");
            }
        }
    }
}
