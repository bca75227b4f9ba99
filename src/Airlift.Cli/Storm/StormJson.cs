using System.Text.Json;
using System.Text.Json.Serialization;

namespace Airlift.Cli.Storm;

/// <summary>JSON settings of the storm: camelCase, nulls left out.</summary>
internal static class StormJson
{
    /// <summary>One object per line (the server role's stdout protocol).</summary>
    public static JsonSerializerOptions Line { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Indented, for <c>--json FILE</c>.</summary>
    public static JsonSerializerOptions Report { get; } = new(Line) { WriteIndented = true };
}
