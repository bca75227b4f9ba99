using System.Diagnostics.Metrics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Airlift.Diagnostics;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Srtp;
using Airlift.Tests.Docs;
using Airlift.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Airlift.Tests.Observability;

/// <summary>
/// docs/observability.md lists every meter, instrument and log event; its two tables are generated from the code here and
/// a test fails when the file differs. Run with AIRLIFT_UPDATE_DOCS=1 to rewrite the tables in place.
/// </summary>
public sealed class ObservabilityDocTests
{
    private const string DocPath = "docs/observability.md";

    [Fact]
    public void The_instrument_table_in_docs_observability_md_matches_the_code() => CheckSection("instruments", InstrumentTable());

    [Fact]
    public void The_log_event_table_in_docs_observability_md_matches_the_code() => CheckSection("log-events", LogEventTable());

    [Fact]
    public void Every_log_event_has_a_unique_nonzero_id_and_a_layer_category()
    {
        var events = LogEvents();
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.NotEqual(0, e.Id));
        Assert.Equal(events.Count, events.Select(e => e.Id).Distinct().Count());
        Assert.All(events, e => Assert.Contains(e.Category, new[] { AirliftLogCategories.Dtls, AirliftLogCategories.Ice, AirliftLogCategories.Transport, AirliftLogCategories.Net, AirliftLogCategories.Srtp }));
    }

    [Fact]
    public void Every_instrument_of_the_library_meters_has_a_unit_and_a_description()
    {
        var instruments = Instruments();
        Assert.All(AirliftMeterNames.All, m => Assert.Contains(instruments, i => i.Meter == m));
        Assert.All(instruments.Where(i => AirliftMeterNames.All.Contains(i.Meter)), i =>
        {
            Assert.False(string.IsNullOrEmpty(i.Unit), i.Name + " has no unit");
            Assert.False(string.IsNullOrEmpty(i.Description), i.Name + " has no description");
        });
    }

    private sealed record InstrumentRow(string Meter, string Name, string Type, string? Unit, string Tags, string? Description);

    private sealed record LogEventRow(int Id, string Name, LogLevel Level, string Category, string Message);

    private static List<InstrumentRow> Instruments()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        var found = new List<Instrument>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                var meter = instrument.Meter;
                if (meter.Scope == factory)
                {
                    lock (found)
                    {
                        found.Add(instrument);
                    }
                }
            };
            listener.Start();
            _ = DtlsMetrics.For(factory);
            _ = NetMetrics.For(factory);
            _ = TransportMetrics.For(factory);
            _ = SrtpMetrics.For(factory);

        }

        var tags = DtlsMetrics.Tags.Concat(NetMetrics.Tags).Concat(TransportMetrics.Tags).Concat(SrtpMetrics.Tags).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

        // The CLI's own meter (airlift serve), static in the airlift assembly, when that class exists; its tag keys come
        // from a static Tags dictionary like the library's, when it has one.
        if (Type.GetType("Airlift.Cli.Serve.ServeMetrics, airlift") is { } serve)
        {
            using var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Scope is null && instrument.Meter.Name.StartsWith("Airlift.", StringComparison.Ordinal) && !AirliftMeterNames.All.Contains(instrument.Meter.Name))
                {
                    lock (found)
                    {
                        found.Add(instrument);
                    }
                }
            };
            RuntimeHelpers.RunClassConstructor(serve.TypeHandle);
            listener.Start();
            if (serve.GetField("Tags", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)?.GetValue(null) is IReadOnlyDictionary<string, string> serveTags)
            {
                foreach (var (instrument, keys) in serveTags)
                {
                    tags[instrument] = keys;
                }
            }
        }
        return found
            .DistinctBy(i => (i.Meter.Name, i.Name))
            .Select(i => new InstrumentRow(i.Meter.Name, i.Name, TypeName(i.GetType()), i.Unit, tags.GetValueOrDefault(i.Name, AirliftMeterNames.All.Contains(i.Meter.Name) ? "" : "see description"), i.Description))
            .OrderBy(r => r.Meter, StringComparer.Ordinal)
            .ThenBy(r => r.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static List<LogEventRow> LogEvents()
    {
        var rows = new List<LogEventRow>();
        foreach (var type in typeof(DtlsOptions).Assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            {
                if (method.GetCustomAttribute<LoggerMessageAttribute>() is not { } a)
                {
                    continue;
                }

                var category = type.GetField("Category", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)?.GetRawConstantValue() as string
                    ?? throw new InvalidOperationException($"{type.Name} declares log events but no Category constant");
                rows.Add(new LogEventRow(a.EventId, a.EventName ?? method.Name, a.Level, category, a.Message));
            }
        }

        return [.. rows.OrderBy(r => r.Id)];
    }

    private static string InstrumentTable()
    {
        var sb = new StringBuilder();
        sb.Append("| Meter | Instrument | Type | Unit | Tags | Meaning |\n");
        sb.Append("| --- | --- | --- | --- | --- | --- |\n");
        foreach (var r in Instruments())
        {
            sb.Append(CultureInfo.InvariantCulture, $"| `{r.Meter}` | `{r.Name}` | `{r.Type}` | {Code(r.Unit)} | {Codes(r.Tags)} | {Escape(r.Description)} |\n");
        }

        return sb.ToString();
    }

    private static string LogEventTable()
    {
        var sb = new StringBuilder();
        sb.Append("| Id | Name | Level | Category | Message |\n");
        sb.Append("| --- | --- | --- | --- | --- |\n");
        foreach (var r in LogEvents())
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {r.Id} | {r.Name} | {r.Level} | `{r.Category}` | `{r.Message.Replace("|", "\\|", StringComparison.Ordinal)}` |\n");
        }

        return sb.ToString();
    }

    private static string Code(string? s) => string.IsNullOrEmpty(s) ? "" : $"`{s}`";

    private static string Codes(string tags) =>
        tags is "" or "see description" ? tags : string.Join(", ", tags.Split(", ").Select(t => $"`{t}`"));

    private static string Escape(string? s) => (s ?? "").Replace("|", "\\|", StringComparison.Ordinal);

    private static string TypeName(Type t)
    {
        if (!t.IsGenericType)
        {
            return t.Name;
        }

        var name = t.Name[..t.Name.IndexOf('`', StringComparison.Ordinal)];
        var arg = t.GetGenericArguments()[0];
        var alias = arg == typeof(long) ? "long" : arg == typeof(int) ? "int" : arg == typeof(double) ? "double" : arg.Name;
        return $"{name}<{alias}>";
    }

    private static void CheckSection(string name, string generated)
    {
        var path = Path.Combine(ReadmeSamplesTests.RepoRoot(), DocPath);
        var text = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
        var begin = $"<!-- generated:{name} (ObservabilityDocTests; AIRLIFT_UPDATE_DOCS=1 rewrites it) -->\n";
        var end = $"<!-- end generated:{name} -->";
        var start = text.IndexOf(begin, StringComparison.Ordinal);
        var stop = text.IndexOf(end, StringComparison.Ordinal);
        Assert.True(start >= 0 && stop > start, $"{DocPath} lacks the markers of its generated '{name}' table: {begin.TrimEnd()} ... {end}");
        var current = text[(start + begin.Length)..stop];
        if (current == generated)
        {
            return;
        }

        if (Environment.GetEnvironmentVariable("AIRLIFT_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(path, text[..(start + begin.Length)] + generated + text[stop..]);
            return;
        }

        Assert.Fail($"{DocPath}: the '{name}' table is out of date with the code. Run the tests with AIRLIFT_UPDATE_DOCS=1 to rewrite it, or make it:\n{generated}");
    }
}
