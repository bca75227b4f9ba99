using Airlift.Dtls;

namespace Airlift.Srtp;

/// <summary>Lengths of one SRTP protection profile (RFC 5764 4.1.2, RFC 7714 section 14).</summary>
internal sealed record SrtpProfileInfo(
    SrtpProtectionProfile Profile,
    int MasterKeyLength,
    int MasterSaltLength,
    int AuthKeyLength,
    int RtpTagLength,
    int RtcpTagLength,
    bool IsAead)
{
    /// <summary>Session salt length equals the master salt length: 14 for AES-CM (112 bits), 12 for GCM (96 bits).</summary>
    public int SessionSaltLength => MasterSaltLength;

    /// <summary>AES_CM_128_HMAC_SHA1_80: 80-bit tags on SRTP and SRTCP.</summary>
    public static readonly SrtpProfileInfo Aes128CmSha1_80 = new(SrtpProtectionProfile.Aes128CmHmacSha1_80, 16, 14, 20, 10, 10, false);

    /// <summary>AES_CM_128_HMAC_SHA1_32: 32-bit SRTP tag, but SRTCP keeps the 80-bit tag (RFC 5764 4.1.2).</summary>
    public static readonly SrtpProfileInfo Aes128CmSha1_32 = new(SrtpProtectionProfile.Aes128CmHmacSha1_32, 16, 14, 20, 4, 10, false);

    /// <summary>AEAD_AES_128_GCM: 16-octet tag (RFC 7714 section 14.2).</summary>
    public static readonly SrtpProfileInfo AeadAes128Gcm = new(SrtpProtectionProfile.AeadAes128Gcm, 16, 12, 0, 16, 16, true);

    /// <summary>AEAD_AES_256_GCM: 16-octet tag.</summary>
    public static readonly SrtpProfileInfo AeadAes256Gcm = new(SrtpProtectionProfile.AeadAes256Gcm, 32, 12, 0, 16, 16, true);

    public static bool TryGet(SrtpProtectionProfile profile, out SrtpProfileInfo info)
    {
        SrtpProfileInfo? found = profile.Value switch
        {
            0x0001 => Aes128CmSha1_80,
            0x0002 => Aes128CmSha1_32,
            0x0007 => AeadAes128Gcm,
            0x0008 => AeadAes256Gcm,
            _ => null,
        };
        info = found!;
        return found is not null;
    }
}
