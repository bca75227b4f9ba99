using Airlift.Dtls;
using Airlift.Srtp;
using Airlift.Srtp.Primitives;

namespace Airlift.Tests.Srtp;

/// <summary>Published test vectors: RFC 3711 appendix B.2 and B.3, RFC 7714 sections 16 and 17.</summary>
public class SrtpRfcVectorTests
{
    // RFC 7714 section 16: the RTP packet and the session keys every SRTP vector uses (the KDF is not exercised there).
    private const string Rfc7714Rtp = "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
    private const string Rfc7714Salt = "517569642070726f2071756f";
    private const string Rfc7714Key128 = "000102030405060708090a0b0c0d0e0f";
    private const string Rfc7714Key256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    private const string Rfc7714Srtp128 =
        "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce";

    private const string Rfc7714Srtp256 =
        "8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13";

    // RFC 7714 section 17: sender report of SSRC "Mars", SRTCP index 0x5d4.
    private const string Rfc7714Rtcp = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

    private const string Rfc7714Srtcp128 =
        "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4";

    private const string Rfc7714Srtcp256 =
        "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4";

    /// <summary>False in <see cref="SrtpRfcVectorPlatformCryptoTests"/>: the same vectors through the platform's AES and AesGcm.</summary>
    protected virtual bool HardwareIntrinsics => AesNi.IsSupported;

    private static byte[] H(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void Aes_cm_keystream_matches_RFC3711_B_2()
    {
        // Session salt F0F1..FCFD, SSRC 0, index 0: the counter blocks are F0F1..FCFD || block number.
        using var ctr = new AesCounterMode(H("2B7E151628AED2A6ABF7158809CF4F3C"), HardwareIntrinsics);
        var stream = new byte[0xFF02 * 16];
        ctr.Apply(H("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), stream);

        Assert.Equal(H("E03EAD0935C95E80E166B16DD92B4EB4"), stream[..16]);
        Assert.Equal(H("D23513162B02D0F72A43A2FE4A5F97AB"), stream[16..32]);
        Assert.Equal(H("41E95B3BB0A2E8DD477901E4FCA894C0"), stream[32..48]);
        Assert.Equal(H("EC8CDF7398607CB0F2D21675EA9EA1E4"), stream[(0xFEFF * 16)..(0xFF00 * 16)]);
        Assert.Equal(H("362B7C3C6773516318A077D7FC5073AE"), stream[(0xFF00 * 16)..(0xFF01 * 16)]);
        Assert.Equal(H("6A2CC3787889374FBEB4C81B17BA6C44"), stream[(0xFF01 * 16)..]);
    }

    [Fact]
    public void Aes_cm_iv_places_ssrc_and_index_per_RFC3711_4_1_1()
    {
        Span<byte> iv = stackalloc byte[16];
        SrtpContext.CounterIv(new byte[14], 0x01020304, 0x0000_5566_7788_99AA, iv);
        Assert.Equal(H("00000000010203045566778899AA0000"), iv.ToArray());
    }

    [Fact]
    public void Key_derivation_matches_RFC3711_B_3()
    {
        var masterKey = H("E1F97A0D3E018BE0D64FA32C06DE4139");
        var masterSalt = H("0EC675AD498AFEEBB6960B3AABE6");
        var keys = SrtpSessionKeys.Derive(SrtpProfileInfo.Aes128CmSha1_80, masterKey, masterSalt, rtcp: false);

        Assert.Equal(H("C61E7A93744F39EE10734AFE3FF7A087"), keys.EncryptionKey);
        Assert.Equal(H("30CBBC08863D8C85D49DB34A9AE1"), keys.Salt);
        Assert.Equal(H("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"), keys.AuthKey);
    }

    [Fact]
    public void Key_derivation_produces_the_full_RFC3711_B_3_auth_keystream()
    {
        // B.3 lists 94 octets of the authentication-key keystream; the first 20 are the HMAC-SHA1 key.
        var out94 = new byte[94];
        SrtpKdf.Derive(H("E1F97A0D3E018BE0D64FA32C06DE4139"), H("0EC675AD498AFEEBB6960B3AABE6"), SrtpKdf.LabelRtpAuthentication, out94);
        Assert.Equal(
            H("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCEE049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC256D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"),
            out94);
    }

    [Fact]
    public void Gcm_ivs_match_RFC7714_sections_16_and_17()
    {
        Span<byte> nonce = stackalloc byte[12];
        SrtpContext.RtpNonce(H(Rfc7714Salt), 0x5501a0b2, 0, 0xf17b, nonce);
        Assert.Equal(H("51753c6580c2726f20718414"), nonce.ToArray());
        SrtpContext.RtcpNonce(H(Rfc7714Salt), 0x4d617273, 0x5d4, nonce);
        Assert.Equal(H("517524055203726f207170bb"), nonce.ToArray());
    }

    public static TheoryData<ushort, string, string> SrtpGcmVectors => new()
    {
        { 0x0007, Rfc7714Key128, Rfc7714Srtp128 }, // RFC 7714 16.1.1
        { 0x0008, Rfc7714Key256, Rfc7714Srtp256 }, // RFC 7714 16.2.1
    };

    [Theory]
    [MemberData(nameof(SrtpGcmVectors))]
    public void Gcm_srtp_protect_matches_RFC7714_16(ushort profile, string key, string expected)
    {
        using var sender = VectorContext(new SrtpProtectionProfile(profile), key, SrtpDirection.Protect);
        var plain = H(Rfc7714Rtp);
        Assert.Equal(H(expected), SrtpTestPackets.ProtectRtp(sender, plain));
    }

    [Theory]
    [MemberData(nameof(SrtpGcmVectors))]
    public void Gcm_srtp_unprotect_matches_RFC7714_16(ushort profile, string key, string protectedHex)
    {
        using var receiver = VectorContext(new SrtpProtectionProfile(profile), key, SrtpDirection.Unprotect);
        var packet = H(protectedHex);
        Assert.Equal(SrtpStatus.Ok, receiver.UnprotectRtp(packet, out var n));
        Assert.Equal(H(Rfc7714Rtp), packet[..n]);
    }

    public static TheoryData<ushort, string, string> SrtcpGcmVectors => new()
    {
        { 0x0007, Rfc7714Key128, Rfc7714Srtcp128 }, // RFC 7714 17.1
        { 0x0008, Rfc7714Key256, Rfc7714Srtcp256 }, // RFC 7714 17.2
    };

    [Theory]
    [MemberData(nameof(SrtcpGcmVectors))]
    public void Gcm_srtcp_protect_with_E_bit_matches_RFC7714_17(ushort profile, string key, string expected)
    {
        using var sender = VectorContext(new SrtpProtectionProfile(profile), key, SrtpDirection.Protect);
        sender.SetNextRtcpIndex(0x4d617273, 0x5d4);
        Assert.Equal(H(expected), SrtpTestPackets.ProtectRtcp(sender, H(Rfc7714Rtcp)));
    }

    [Theory]
    [MemberData(nameof(SrtcpGcmVectors))]
    public void Gcm_srtcp_unprotect_matches_RFC7714_17(ushort profile, string key, string protectedHex)
    {
        using var receiver = VectorContext(new SrtpProtectionProfile(profile), key, SrtpDirection.Unprotect);
        var packet = H(protectedHex);
        Assert.Equal(SrtpStatus.Ok, receiver.UnprotectRtcp(packet, out var n));
        Assert.Equal(H(Rfc7714Rtcp), packet[..n]);
    }

    [Fact]
    public void Gcm_srtcp_authenticate_only_leaves_the_payload_clear_and_clears_the_E_bit_RFC7714_17_3()
    {
        using var sender = VectorContext(SrtpProtectionProfile.AeadAes128Gcm, Rfc7714Key128, SrtpDirection.Protect);
        using var receiver = VectorContext(SrtpProtectionProfile.AeadAes128Gcm, Rfc7714Key128, SrtpDirection.Unprotect);
        sender.SetNextRtcpIndex(0x4d617273, 0x5d4);
        var plain = H(Rfc7714Rtcp);
        var srtcp = SrtpTestPackets.ProtectRtcp(sender, plain, encrypt: false);

        Assert.Equal(plain.Length + 16 + 4, srtcp.Length);
        Assert.Equal(plain, srtcp[..plain.Length]);
        Assert.Equal(H("000005d4"), srtcp[^4..]);
        Assert.Equal(SrtpStatus.Ok, receiver.UnprotectRtcp(srtcp, out var n));
        Assert.Equal(plain, srtcp[..n]);
    }

    private SrtpContext VectorContext(SrtpProtectionProfile profile, string key, SrtpDirection direction)
    {
        Assert.True(SrtpProfileInfo.TryGet(profile, out var info));
        var keys = new SrtpSessionKeys(H(key), H(Rfc7714Salt), []);
        var context = new SrtpContext(info, direction, keys, keys, SrtpOptions.Default with { UseHardwareIntrinsics = HardwareIntrinsics });
        Assert.Equal(HardwareIntrinsics, context.UsesHardwareIntrinsics);
        return context;
    }
}

/// <summary>The RFC vectors on the platform path (<see cref="SrtpOptions.UseHardwareIntrinsics"/> false).</summary>
public sealed class SrtpRfcVectorPlatformCryptoTests : SrtpRfcVectorTests
{
    /// <inheritdoc/>
    protected override bool HardwareIntrinsics => false;
}
