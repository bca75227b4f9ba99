using System.Globalization;

namespace Airlift.Cli.Lab;

/// <summary>One scenario's line in the console, Markdown and HTML tables: its verdict and its trials summarised.</summary>
/// <param name="Verdict">The verdict.</param>
/// <param name="Trials">Runs of the scenario.</param>
/// <param name="Connected">Runs that connected.</param>
/// <param name="P50Ms">Median time to connect over connected runs.</param>
/// <param name="MeanDatagrams">Mean datagrams sent per run.</param>
/// <param name="Largest">Largest datagram over all runs.</param>
/// <param name="MeanRetransmissions">Mean retransmissions per run.</param>
/// <param name="EffectiveMin">Smallest effective maximum datagram at the end of a run.</param>
/// <param name="EffectiveMax">Largest effective maximum datagram at the end of a run.</param>
internal sealed record ScenarioRow(LabVerdict Verdict, int Trials, int Connected, double? P50Ms, double MeanDatagrams, int Largest, double MeanRetransmissions, int? EffectiveMin, int? EffectiveMax)
{
    /// <summary>"1200 B", or "576-1200 B" when runs ended at different limits, or "-".</summary>
    public string Effective => EffectiveMin == EffectiveMax ? ReportFormat.Bytes(EffectiveMax) : $"{EffectiveMin}-{ReportFormat.Bytes(EffectiveMax)}";

    /// <summary>"connected", "not connected", or "k/n connected".</summary>
    public string Result => Trials switch
    {
        0 => "no runs",
        1 => Connected == 1 ? "connected" : "not connected",
        _ => $"{Connected}/{Trials} connected",
    };

    /// <summary>Median time to connect, or "-".</summary>
    public string Time => ReportFormat.Ms(P50Ms) + (Trials > 1 && P50Ms is not null ? " (p50)" : string.Empty);

    /// <summary>"PASS" or "FAIL".</summary>
    public string Mark => Verdict.Passed ? "PASS" : "FAIL";

    /// <summary>"1.3", or "-" when the report did not record the version.</summary>
    public string Dtls => Verdict.Dtls ?? "-";

    /// <summary>One row per verdict, in verdict order, over the trials with the verdict's scenario id and DTLS version.</summary>
    public static IReadOnlyList<ScenarioRow> Build(LabReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var byScenario = report.Trials.ToLookup(t => (t.Scenario, t.Dtls));
        return report.Verdicts.Select(v =>
        {
            var trials = byScenario[(v.Scenario, v.Dtls)].ToList();
            var times = LabSummary.TimesWithFailuresLast(trials);
            return new ScenarioRow(
                v,
                trials.Count,
                trials.Count(t => t.Connected),
                LabSummary.Percentile(times, 0.5),
                trials.Count == 0 ? 0 : trials.Average(t => (double)t.DatagramsSent),
                trials.Count == 0 ? 0 : trials.Max(t => t.LargestDatagram),
                trials.Count == 0 ? 0 : trials.Average(t => (double)t.Retransmissions),
                trials.Where(t => t.EffectiveMaxDatagram is not null).Select(t => t.EffectiveMaxDatagram).Min(),
                trials.Where(t => t.EffectiveMaxDatagram is not null).Select(t => t.EffectiveMaxDatagram).Max());
        }).ToList();
    }
}

/// <summary>Number formatting shared by the writers (invariant culture).</summary>
internal static class ReportFormat
{
    /// <summary>What the percentile columns mean, printed under every table that has them.</summary>
    public const string PercentileNote = "p50/p90/p99: the time by which that share of all trials had connected (a trial that did not connect counts as never); \"-\": fewer than that share connected within the deadline.";

    /// <summary>"123 ms", "4.56 s", or "-".</summary>
    public static string Ms(double? ms) => ms switch
    {
        null => "-",
        >= 10_000 => (ms.Value / 1000).ToString("0.0", CultureInfo.InvariantCulture) + " s",
        >= 1000 => (ms.Value / 1000).ToString("0.00", CultureInfo.InvariantCulture) + " s",
        _ => ms.Value.ToString("0", CultureInfo.InvariantCulture) + " ms",
    };

    /// <summary>A mean with at most one decimal ("12", "12.5").</summary>
    public static string Mean(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>A percentage ("97.5%").</summary>
    public static string Percent(double fraction) => (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    /// <summary>A loss level ("10%").</summary>
    public static string Loss(double percent) => percent.ToString("0.##", CultureInfo.InvariantCulture) + "%";

    /// <summary>Bytes or "-".</summary>
    public static string Bytes(int? bytes) => bytes is null ? "-" : bytes.Value.ToString(CultureInfo.InvariantCulture) + " B";
}
