using System.Text.Json;
using System.Text.Json.Serialization;

namespace Airlift.Cli.Soak;

/// <summary>JSON settings of the soak's lines and report: camelCase, enums as names, nulls left out.</summary>
internal static class SoakJson
{
    /// <summary>One line per object (the server's stdout protocol).</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Indented, for soak.json.</summary>
    public static JsonSerializerOptions Indented { get; } = new(Options) { WriteIndented = true };
}
