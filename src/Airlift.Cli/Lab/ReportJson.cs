using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Airlift.Cli.Lab;

/// <summary>
/// Writes a <see cref="LabReport"/> as one JSON document (<c>lab.json</c>, and stdout with <c>--json</c>).
/// </summary>
/// <remarks>
/// Layout (schemaVersion 1): <c>schemaVersion</c> (int), <c>command</c> (string), <c>started</c> (ISO 8601 string),
/// <c>elapsedMs</c> (number or null), <c>passed</c> (bool), <c>settings</c> {trials, lossPercents[], rttMs, maxDatagram,
/// certificate, deadlineSeconds, seed}, <c>verdicts</c>[] {scenario, title, path, expectation, passed, reason},
/// <c>summaries</c>[] {scenario, pairing, loss, trials, successes, successRate, p50Ms, p90Ms, p99Ms, meanDatagrams,
/// meanRetransmissions, largest}, <c>trials</c>[] {scenario, pairing, loss, seed, connected, timeToConnectMs, datagrams,
/// largest, retransmissions, effectiveMaxDatagram, error}. Loss is in percent; nullable fields are always present.
/// Added without a version bump (readers treat them as optional): <c>settings.dtls</c> (array of "1.2"/"1.3"), and
/// <c>dtls</c> ("1.2", "1.3" or null) on verdicts, summaries and trials; a scenario id is unique per DTLS version.
/// </remarks>
internal static class ReportJson
{
    /// <summary>Writes the report to <paramref name="stream"/> (UTF-8).</summary>
    public static void Write(LabReport report, Stream stream, bool indented = true)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(stream);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", LabReport.SchemaVersion);
        w.WriteString("command", report.Command);
        w.WriteString("started", report.Started.ToString("O", CultureInfo.InvariantCulture));
        Number(w, "elapsedMs", report.Elapsed is { } e ? Math.Round(e.TotalMilliseconds, 1) : null);
        w.WriteBoolean("passed", report.AllPassed);

        var s = report.Settings;
        w.WriteStartObject("settings");
        w.WriteNumber("trials", s.Trials);
        w.WriteStartArray("lossPercents");
        foreach (var l in s.LossPercents)
        {
            w.WriteNumberValue(l);
        }

        w.WriteEndArray();
        w.WriteNumber("rttMs", s.RttMs);
        w.WriteNumber("maxDatagram", s.MaxDatagram);
        w.WriteString("certificate", s.Certificate);
        w.WriteNumber("deadlineSeconds", s.DeadlineSeconds);
        w.WriteNumber("seed", s.Seed);
        w.WriteStartArray("dtls");
        foreach (var d in s.Dtls)
        {
            w.WriteStringValue(d);
        }

        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartArray("verdicts");
        foreach (var v in report.Verdicts)
        {
            w.WriteStartObject();
            w.WriteString("scenario", v.Scenario);
            Text(w, "dtls", v.Dtls);
            w.WriteString("title", v.Title);
            w.WriteString("path", v.Path);
            w.WriteString("expectation", v.Expectation);
            w.WriteBoolean("passed", v.Passed);
            w.WriteString("reason", v.Reason);
            w.WriteEndObject();
        }

        w.WriteEndArray();

        w.WriteStartArray("summaries");
        foreach (var p in LabSummary.Compute(report.Trials))
        {
            w.WriteStartObject();
            w.WriteString("scenario", p.Scenario);
            Text(w, "dtls", p.Dtls);
            w.WriteString("pairing", p.Pairing);
            w.WriteNumber("loss", p.LossPercent);
            w.WriteNumber("trials", p.Trials);
            w.WriteNumber("successes", p.Successes);
            w.WriteNumber("successRate", Math.Round(p.SuccessRate, 4));
            Number(w, "p50Ms", p.P50Ms);
            Number(w, "p90Ms", p.P90Ms);
            Number(w, "p99Ms", p.P99Ms);
            w.WriteNumber("meanDatagrams", Math.Round(p.MeanDatagrams, 2));
            w.WriteNumber("meanRetransmissions", Math.Round(p.MeanRetransmissions, 2));
            w.WriteNumber("largest", p.LargestDatagram);
            w.WriteEndObject();
        }

        w.WriteEndArray();

        w.WriteStartArray("trials");
        foreach (var t in report.Trials)
        {
            w.WriteStartObject();
            w.WriteString("scenario", t.Scenario);
            Text(w, "dtls", t.Dtls);
            w.WriteString("pairing", t.Pairing);
            w.WriteNumber("loss", t.LossPercent);
            w.WriteNumber("seed", t.Seed);
            w.WriteBoolean("connected", t.Connected);
            Number(w, "timeToConnectMs", t.TimeToConnectMs);
            w.WriteNumber("datagrams", t.DatagramsSent);
            w.WriteNumber("largest", t.LargestDatagram);
            w.WriteNumber("retransmissions", t.Retransmissions);
            if (t.EffectiveMaxDatagram is { } m)
            {
                w.WriteNumber("effectiveMaxDatagram", m);
            }
            else
            {
                w.WriteNull("effectiveMaxDatagram");
            }

            if (t.Error is { } err)
            {
                w.WriteString("error", err);
            }
            else
            {
                w.WriteNull("error");
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>
    /// Reads a document written by <see cref="Write"/> back into a report (summaries are recomputed from the trials, so an
    /// old run is re-rendered with the current report code).
    /// </summary>
    /// <exception cref="FormatException">Not a lab.json of a schema version this build reads, or a field is missing or of the wrong type.</exception>
    public static LabReport Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            using var doc = JsonDocument.Parse(stream);
            var root = doc.RootElement;
            var version = root.GetProperty("schemaVersion").GetInt32();
            if (version != LabReport.SchemaVersion)
            {
                throw new FormatException($"schemaVersion {version} is not {LabReport.SchemaVersion}, the version this build reads");
            }

            var s = root.GetProperty("settings");
            var settings = new LabSettings(
                s.GetProperty("trials").GetInt32(),
                s.GetProperty("lossPercents").EnumerateArray().Select(e => e.GetDouble()).ToList(),
                s.GetProperty("rttMs").GetInt32(),
                s.GetProperty("maxDatagram").GetInt32(),
                s.GetProperty("certificate").GetString()!,
                s.GetProperty("deadlineSeconds").GetDouble(),
                s.GetProperty("seed").GetUInt64())
            {
                Dtls = s.TryGetProperty("dtls", out var versions) && versions.ValueKind == JsonValueKind.Array ? [.. versions.EnumerateArray().Select(e => e.GetString()!)] : [],
            };
            var verdicts = root.GetProperty("verdicts").EnumerateArray().Select(v => new LabVerdict(
                v.GetProperty("scenario").GetString()!,
                v.GetProperty("title").GetString()!,
                v.GetProperty("path").GetString()!,
                v.GetProperty("expectation").GetString()!,
                v.GetProperty("passed").GetBoolean(),
                v.GetProperty("reason").GetString()!)
            { Dtls = OptionalText(v, "dtls") }).ToList();
            var trials = root.GetProperty("trials").EnumerateArray().Select(t => new LabTrial(
                t.GetProperty("scenario").GetString()!,
                t.GetProperty("pairing").GetString()!,
                t.GetProperty("loss").GetDouble(),
                t.GetProperty("seed").GetUInt64(),
                t.GetProperty("connected").GetBoolean(),
                NullableNumber(t.GetProperty("timeToConnectMs")),
                t.GetProperty("datagrams").GetInt64(),
                t.GetProperty("largest").GetInt32(),
                t.GetProperty("retransmissions").GetInt32(),
                t.GetProperty("effectiveMaxDatagram") is { ValueKind: JsonValueKind.Number } m ? m.GetInt32() : null,
                t.GetProperty("error").GetString())
            { Dtls = OptionalText(t, "dtls") }).ToList();
            var elapsed = NullableNumber(root.GetProperty("elapsedMs"));
            return new LabReport(
                root.GetProperty("command").GetString()!,
                DateTimeOffset.Parse(root.GetProperty("started").GetString()!, CultureInfo.InvariantCulture),
                trials,
                verdicts,
                settings)
            {
                Elapsed = elapsed is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
            };
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new FormatException($"not a lab.json report: {ex.Message}", ex);
        }
    }

    /// <summary>The document as a string.</summary>
    public static string ToJson(LabReport report, bool indented = true)
    {
        using var ms = new MemoryStream();
        Write(report, ms, indented);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static double? NullableNumber(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : null;

    // Fields added after schemaVersion 1 was published: absent in older documents.
    private static string? OptionalText(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static void Text(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
