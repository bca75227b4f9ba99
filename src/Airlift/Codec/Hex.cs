namespace Airlift.Codec;

/// <summary>Small helpers for the colon-separated and plain hex forms used in fingerprints and logs.</summary>
internal static class Hex
{
    /// <summary>Upper-case hex with colons between bytes: <c>AB:CD:...</c> (RFC 8122 fingerprint form).</summary>
    public static string ToColonHex(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return string.Empty;
        }

        return string.Create(bytes.Length * 3 - 1, bytes.ToArray(), static (dst, src) =>
        {
            const string digits = "0123456789ABCDEF";
            for (var i = 0; i < src.Length; i++)
            {
                if (i > 0)
                {
                    dst[i * 3 - 1] = ':';
                }

                dst[i * 3] = digits[src[i] >> 4];
                dst[i * 3 + 1] = digits[src[i] & 0xF];
            }
        });
    }
}
