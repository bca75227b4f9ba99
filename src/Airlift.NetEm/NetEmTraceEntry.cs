using System.Globalization;

namespace Airlift.NetEm;

/// <summary>One line of the emulator's trace, for ladder diagrams and failure reports.</summary>
/// <param name="Index">0-based index of the datagram in its direction.</param>
/// <param name="SentAt">Time it was sent.</param>
/// <param name="Direction">Direction.</param>
/// <param name="Size">UDP payload size in bytes.</param>
/// <param name="Fate">What happened to it.</param>
/// <param name="DeliverAt">When it is delivered, or null when dropped.</param>
/// <param name="DuplicateDeliverAt">When its duplicate is delivered, or null when not duplicated (or the copy did not fit the queue).</param>
/// <param name="Reordered">True when it was held back by the reorder delay.</param>
/// <param name="Description">Short description of the content, e.g. "CH(0..1175/1413)", "SH CERT(0..80/384)", "CCS FIN", "STUN".</param>
public sealed record NetEmTraceEntry(
    long Index,
    TimeSpan SentAt,
    LinkDirection Direction,
    int Size,
    NetEmFate Fate,
    TimeSpan? DeliverAt,
    TimeSpan? DuplicateDeliverAt,
    bool Reordered,
    string Description)
{
    /// <summary>One ladder line, e.g. <c>   12.000 ms  C->S #3  1200 B  CH(0..1175/1413)  -> 32.000 ms</c>.</summary>
    public override string ToString()
    {
        var arrow = Direction == LinkDirection.ClientToServer ? "C->S" : "S->C";
        var outcome = Fate switch
        {
            NetEmFate.Forwarded => "-> " + Ms(DeliverAt!.Value)
                + (Reordered ? " (reordered)" : string.Empty)
                + (DuplicateDeliverAt is { } dup ? " +dup " + Ms(dup) : string.Empty),
            _ => "x " + Fate,
        };
        return string.Create(CultureInfo.InvariantCulture, $"{Ms(SentAt),12}  {arrow} #{Index}  {Size,5} B  {Description}  {outcome}");
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture) + " ms";
}
