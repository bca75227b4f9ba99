namespace Airlift.Ice.Stun;

/// <summary>
/// CRC-32 as in ISO/IEC 13239 / ITU-T V.42 (reflected polynomial 0xEDB88320, initial and final
/// xor 0xFFFFFFFF), which STUN's FINGERPRINT uses (RFC 8489 14.7). The platform has no CRC-32 in
/// the base library, so this is the classic byte-at-a-time table version.
/// </summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc ^ 0xFFFFFFFFu;
    }
}
