using Airlift.NetEm;
using Airlift.NetEm.Simulation;

namespace Airlift.Tests.Scenarios;

/// <summary>Wire checks made with the separate small parser in Airlift.NetEm (DtlsDatagramInspector), not with the engine's own code.</summary>
internal static class WireAssertions
{
    /// <summary>
    /// Every datagram holds whole records (none spans datagrams). Within one burst (datagrams sent at the same instant in
    /// one direction), every datagram but the last is full: the room left could not have carried even a 1-byte fragment
    /// of the next record, so nothing was sent in an extra datagram that could have shared one.
    /// </summary>
    public static void AssertPackedAndNeverSpanning(IReadOnlyList<WireDatagram> wire, LinkDirection direction, int maxDatagram)
    {
        var mine = wire.Where(w => w.Direction == direction).ToList();
        Assert.NotEmpty(mine);
        for (var i = 0; i < mine.Count; i++)
        {
            var records = DtlsDatagramInspector.Inspect(mine[i].Datagram, out var wellFormed);
            Assert.True(wellFormed, $"datagram {i} ({mine[i].Datagram.Length} bytes) does not consist of whole records");
            Assert.True(mine[i].Datagram.Length <= maxDatagram);
            Assert.NotEmpty(records);
            var nextInBurst = i + 1 < mine.Count && mine[i + 1].SentAt == mine[i].SentAt ? mine[i + 1] : null;
            if (nextInBurst is null)
            {
                continue;
            }

            var next = DtlsDatagramInspector.Inspect(nextInBurst.Datagram, out _)[0];
            // DTLS 1.3 (RFC 9147 4): its own unified header, the inner content type and a 16-byte tag; DTLS 1.2: a 13-byte
            // header and, encrypted, an 8-byte explicit nonce and a 16-byte tag.
            var smallestUsefulRecord = next.IsChangeCipherSpec
                ? next.Length
                : next.IsUnifiedHeader
                    ? next.HeaderLength + 1 + 16 + 12 + 1
                    : 13 + (next.IsEncrypted ? 24 : 0) + 12 + 1;
            var room = maxDatagram - mine[i].Datagram.Length;
            Assert.True(room < smallestUsefulRecord, $"datagram {i} left {room} bytes unused while a {smallestUsefulRecord}-byte record could follow");
        }
    }
}
