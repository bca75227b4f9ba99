using System.Globalization;
using System.Text;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;

namespace Airlift.Cli.Lab;

/// <summary>
/// Draws one run's flight ladder as text: the network's per-datagram trace (which datagram carried which records, what
/// the path did to it and why) merged by time with the client's and server's timelines (flights sent, timers fired,
/// fallbacks, connected).
/// </summary>
internal static class LabLadder
{
    /// <summary>Marker on lines where a retransmission timer fired.</summary>
    public const string TimerMark = "TIMER";

    /// <summary>Marker on datagrams the path dropped.</summary>
    public const string LostMark = "LOST";

    /// <summary>Renders the ladder of <paramref name="result"/> under <paramref name="title"/>.</summary>
    public static string Render(SimulationResult result, string title)
    {
        ArgumentNullException.ThrowIfNull(result);
        var lines = new List<(double Ms, int Kind, int Order, string Text)>();
        var order = 0;
        foreach (var (text, side) in new[] { (result.ClientTrace, "client"), (result.ServerTrace, "server") })
        {
            foreach (var raw in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (TryParseTimeline(raw, out var ms, out var message))
                {
                    var timer = message.Contains("timeout #", StringComparison.Ordinal) || message.Contains("timed out", StringComparison.Ordinal);
                    var lane = side == "client" ? "client  |" : "        | server";
                    lines.Add((ms, 0, order++, $"{lane}  {(timer ? TimerMark + " " : string.Empty)}{message}"));
                }
            }
        }

        foreach (var e in result.Ladder)
        {
            var arrow = (e.Direction, e.Fate == NetEmFate.Forwarded) switch
            {
                (LinkDirection.ClientToServer, true) => "C ----> S",
                (LinkDirection.ClientToServer, false) => "C --x   S",
                (_, true) => "C <---- S",
                _ => "C   x-- S",
            };
            var outcome = e.Fate == NetEmFate.Forwarded
                ? $"arrives {Ms(e.DeliverAt!.Value.TotalMilliseconds)}{(e.Reordered ? " (reordered)" : string.Empty)}{(e.DuplicateDeliverAt is { } d ? $" + duplicate {Ms(d.TotalMilliseconds)}" : string.Empty)}"
                : $"{LostMark}: {Why(e.Fate)}";
            lines.Add((e.SentAt.TotalMilliseconds, 1, order++, string.Create(CultureInfo.InvariantCulture, $"{arrow}  #{e.Index,-3} {e.Size,5} B  {e.Description,-34}  {outcome}")));
        }

        var sb = new StringBuilder();
        sb.Append("ladder: ").AppendLine(title);
        sb.AppendLine("     time  who      what (C = client, S = server; datagrams show their records: CH ClientHello, SH ServerHello, CERT, SKE, CR, SHD, CKE, CV, CCS, FIN)");
        foreach (var line in lines.OrderBy(l => l.Ms).ThenBy(l => l.Kind).ThenBy(l => l.Order))
        {
            sb.Append(Ms(line.Ms).PadLeft(10)).Append("  ").AppendLine(line.Text);
        }

        if (result.Network.TraceEntriesOmitted > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"({result.Network.TraceEntriesOmitted} later datagrams not traced)");
        }

        var s2c = result.Network.ServerToClient;
        var c2s = result.Network.ClientToServer;
        sb.AppendLine(result.Connected
            ? $"result: connected in {Ms(result.TimeToConnect!.Value.TotalMilliseconds)}"
            : $"result: not connected ({LabRunner.Error(result)})");
        sb.AppendLine(CultureInfo.InvariantCulture, $"datagrams: C->S {c2s.Seen} sent, {c2s.Dropped} lost; S->C {s2c.Seen} sent, {s2c.Dropped} lost; largest {result.LargestDatagram} B; {result.Retransmissions} retransmission(s)");
        return sb.ToString();
    }

    /// <summary>Why the path dropped a datagram, in words.</summary>
    public static string Why(NetEmFate fate) => fate switch
    {
        NetEmFate.DroppedLoss => "random loss",
        NetEmFate.DroppedBurst => "burst loss",
        NetEmFate.DroppedOversize => "larger than the path passes",
        NetEmFate.DroppedBlackhole => "one-way path (black hole)",
        NetEmFate.DroppedScripted => "scripted drop",
        NetEmFate.DroppedQueueFull => "queue full",
        _ => fate.ToString(),
    };

    // Engine timeline lines look like "   123.4 ms  client: sent flight 1 [...]".
    private static bool TryParseTimeline(string line, out double ms, out string message)
    {
        ms = 0;
        message = string.Empty;
        var unit = line.IndexOf(" ms", StringComparison.Ordinal);
        var colon = line.IndexOf(": ", StringComparison.Ordinal);
        if (unit <= 0 || colon <= unit || !double.TryParse(line.AsSpan(0, unit), NumberStyles.Float, CultureInfo.InvariantCulture, out ms))
        {
            return false;
        }

        message = line[(colon + 2)..];
        return true;
    }

    private static string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms";
}
