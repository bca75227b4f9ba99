using Airlift.Dtls;

namespace Airlift.Tests.Dtls.Messages;

/// <summary>IANA names of the wire values, as users type them on the command line.</summary>
public class WireNameTests
{
    [Theory]
    [InlineData("SRTP_AES128_CM_HMAC_SHA1_80", 0x0001)]
    [InlineData("SRTP_AES128_CM_SHA1_80", 0x0001)] // OpenSSL's spelling (-use_srtp)
    [InlineData("srtp_aes128_cm_sha1_32", 0x0002)]
    [InlineData("SRTP_AEAD_AES_128_GCM", 0x0007)]
    [InlineData("SRTP_AEAD_AES_256_GCM", 0x0008)]
    public void Srtp_profiles_parse_by_IANA_name_or_OpenSSL_spelling(string name, ushort value)
    {
        Assert.True(SrtpProtectionProfile.TryParse(name, out var profile));
        Assert.Equal(new SrtpProtectionProfile(value), profile);
    }

    [Theory]
    [InlineData("SRTP_NULL_SHA1_80")]
    [InlineData("AES128_CM_SHA1_80")]
    [InlineData("")]
    public void Unknown_srtp_profile_names_do_not_parse(string name) => Assert.False(SrtpProtectionProfile.TryParse(name, out _));

    [Theory]
    [InlineData("TLS_AES_128_GCM_SHA256", 0x1301)]
    [InlineData("tls_aes_256_gcm_sha384", 0x1302)]
    [InlineData("TLS_CHACHA20_POLY1305_SHA256", 0x1303)]
    [InlineData("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xC02B)]
    public void Cipher_suites_of_both_versions_parse_by_IANA_name(string name, ushort value)
    {
        Assert.True(CipherSuite.TryParse(name, out var suite));
        Assert.Equal(new CipherSuite(value), suite);
    }
}
