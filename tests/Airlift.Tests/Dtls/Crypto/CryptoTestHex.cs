namespace Airlift.Tests.Dtls.Crypto;

internal static class CryptoTestHex
{
    /// <summary>Parses hex written plain, with spaces, or with colons (the openssl kdf output form).</summary>
    public static byte[] H(string hex) => Convert.FromHexString(hex.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal));

    /// <summary>Deterministic filler: start, start+1, ... (mod 256).</summary>
    public static byte[] Seq(int length, byte start)
    {
        var b = new byte[length];
        for (var i = 0; i < length; i++)
        {
            b[i] = (byte)(start + i);
        }

        return b;
    }
}
