using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Airlift.Srtp;

/// <summary>
/// The AES-CM key derivation function of RFC 3711 4.3 with key_derivation_rate 0 (the only rate DTLS-SRTP uses,
/// RFC 5764 4.1.2), also used by the GCM profiles (RFC 7714 section 11). Runs once per context.
/// </summary>
internal static class SrtpKdf
{
    /// <summary>RFC 3711 4.3.1 labels.</summary>
    public const byte LabelRtpEncryption = 0x00;
    public const byte LabelRtpAuthentication = 0x01;
    public const byte LabelRtpSalt = 0x02;
    public const byte LabelRtcpEncryption = 0x03;
    public const byte LabelRtcpAuthentication = 0x04;
    public const byte LabelRtcpSalt = 0x05;

    /// <summary>
    /// Fills <paramref name="output"/> with the keystream for <paramref name="label"/>: x = (label || r) XOR master_salt, where
    /// r = 0 and label || r is 56 bits aligned to the low end of the 112-bit salt, so the label lands on salt octet 7; the
    /// AES-CM input block is x * 2^16. A 96-bit GCM master salt is zero-padded to 112 bits on the right, as libsrtp does.
    /// </summary>
    public static void Derive(ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt, byte label, Span<byte> output)
    {
        if (masterSalt.Length > 14)
        {
            throw new ArgumentException("master salt longer than 112 bits", nameof(masterSalt));
        }

        var blocks = (output.Length + 15) / 16;
        var counters = new byte[blocks * 16];
        for (var b = 0; b < blocks; b++)
        {
            var block = counters.AsSpan(b * 16, 16);
            masterSalt.CopyTo(block);
            block[7] ^= label;
            BinaryPrimitives.WriteUInt16BigEndian(block[14..], (ushort)b);
        }

        using var aes = Aes.Create();
        var key = masterKey.ToArray();
        aes.Key = key;
        var stream = aes.EncryptEcb(counters, PaddingMode.None);
        stream.AsSpan(0, output.Length).CopyTo(output);
        CryptographicOperations.ZeroMemory(stream);
        CryptographicOperations.ZeroMemory(key);
    }
}

/// <summary>Session keys for one of SRTP or SRTCP (RFC 3711 4.3). Auth key is empty for the AEAD profiles.</summary>
internal sealed record SrtpSessionKeys(byte[] EncryptionKey, byte[] Salt, byte[] AuthKey)
{
    public static SrtpSessionKeys Derive(SrtpProfileInfo info, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt, bool rtcp)
    {
        var enc = new byte[info.MasterKeyLength];
        var salt = new byte[info.SessionSaltLength];
        var auth = new byte[info.AuthKeyLength];
        SrtpKdf.Derive(masterKey, masterSalt, rtcp ? SrtpKdf.LabelRtcpEncryption : SrtpKdf.LabelRtpEncryption, enc);
        SrtpKdf.Derive(masterKey, masterSalt, rtcp ? SrtpKdf.LabelRtcpSalt : SrtpKdf.LabelRtpSalt, salt);
        if (auth.Length > 0)
        {
            SrtpKdf.Derive(masterKey, masterSalt, rtcp ? SrtpKdf.LabelRtcpAuthentication : SrtpKdf.LabelRtpAuthentication, auth);
        }

        return new SrtpSessionKeys(enc, salt, auth);
    }

    public void Clear()
    {
        CryptographicOperations.ZeroMemory(EncryptionKey);
        CryptographicOperations.ZeroMemory(Salt);
        CryptographicOperations.ZeroMemory(AuthKey);
    }
}
