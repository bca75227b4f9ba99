using System.Globalization;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;

namespace Airlift.Cli.Lab;

/// <summary>
/// F4's packing rule checked on the captured wire with the separate inspector (not the engine's own code): every
/// datagram holds whole records, and within a burst (datagrams one side sent at the same instant) every datagram but
/// the last is full, meaning the room left could not have carried even a 1-byte fragment of the next record.
/// </summary>
internal static class Packing
{
    // Smallest useful handshake record: record header + handshake header + 1 byte (+ explicit nonce and tag when encrypted).
    private const int PlainFragmentOverhead = DtlsDatagramInspector.RecordHeaderLength + DtlsDatagramInspector.HandshakeHeaderLength + 1;
    private const int AeadOverhead = 24;
    private const int Tls13TagLength = 16;

    /// <summary>Null when both directions are packed and no record spans datagrams; otherwise the first problem.</summary>
    public static string? Check(SimulationResult result, int maxDatagram)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Wire.Count == 0)
        {
            return "no wire capture (CaptureWire was off)";
        }

        foreach (var direction in new[] { LinkDirection.ClientToServer, LinkDirection.ServerToClient })
        {
            var mine = result.Wire.Where(w => w.Direction == direction).ToList();
            for (var i = 0; i < mine.Count; i++)
            {
                var records = DtlsDatagramInspector.Inspect(mine[i].Datagram, out var wellFormed);
                if (!wellFormed || records.Count == 0)
                {
                    return $"{Arrow(direction)} datagram {i} ({mine[i].Datagram.Length} B) does not consist of whole records";
                }

                if (i + 1 >= mine.Count || mine[i + 1].SentAt != mine[i].SentAt)
                {
                    continue;
                }

                var next = DtlsDatagramInspector.Inspect(mine[i + 1].Datagram, out _);
                if (next.Count == 0)
                {
                    continue;
                }

                // A DTLS 1.3 record (RFC 9147 4): its unified header, the inner content type and a 16-byte tag.
                var smallest = next[0].IsChangeCipherSpec
                    ? next[0].Length
                    : next[0].IsUnifiedHeader
                        ? next[0].HeaderLength + 1 + Tls13TagLength + DtlsDatagramInspector.HandshakeHeaderLength + 1
                        : PlainFragmentOverhead + (next[0].IsEncrypted ? AeadOverhead : 0);
                var room = maxDatagram - mine[i].Datagram.Length;
                if (room >= smallest)
                {
                    return $"{Arrow(direction)} datagram {i} left {room} B unused while a {smallest} B record could have followed";
                }
            }
        }

        return null;
    }

    /// <summary>The largest burst in one direction: datagrams used against the minimum its bytes need, e.g. "S->C flight: 3 datagrams (minimum 3) for 3321 B".</summary>
    public static string Summary(SimulationResult result, LinkDirection direction, int maxDatagram)
    {
        ArgumentNullException.ThrowIfNull(result);
        var (count, bytes) = LargestBurst(result, direction);
        var minimum = (bytes + maxDatagram - 1) / maxDatagram;
        return string.Create(CultureInfo.InvariantCulture, $"largest {Arrow(direction)} flight: {count} datagram(s) for {bytes} B, minimum {minimum} at {maxDatagram} B");
    }

    /// <summary>Datagram count and total bytes of the burst with the most bytes in <paramref name="direction"/>.</summary>
    public static (int Datagrams, int Bytes) LargestBurst(SimulationResult result, LinkDirection direction)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Wire
            .Where(w => w.Direction == direction)
            .GroupBy(w => w.SentAt)
            .Select(g => (Datagrams: g.Count(), Bytes: g.Sum(w => w.Datagram.Length)))
            .DefaultIfEmpty((Datagrams: 0, Bytes: 0))
            .MaxBy(b => b.Bytes);
    }

    private static string Arrow(LinkDirection direction) => direction == LinkDirection.ClientToServer ? "C->S" : "S->C";
}
