using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;

namespace Airlift.Tests.Dtls.Crypto;

public class CipherSuiteInfoTests
{
    [Fact]
    public void All_lists_ecdsa_then_rsa_each_aes128_aes256_chacha()
    {
        Assert.Equal(
            new[] { 0xC02B, 0xC02C, 0xCCA9, 0xC02F, 0xC030, 0xCCA8 },
            CipherSuiteInfo.All.Select(s => (int)s.Suite.Value).ToArray());
    }

    [Fact]
    public void Gcm_suites_have_8_byte_explicit_nonce_and_chacha_none_rfc5288_rfc7905()
    {
        foreach (var s in CipherSuiteInfo.All)
        {
            var chacha = s.Aead == AeadAlgorithm.ChaCha20Poly1305;
            Assert.Equal(chacha ? 16 : 24, s.RecordOverhead);
            Assert.Equal(chacha ? 12 : 4, s.FixedIvLength);
            Assert.Equal(s.Aead == AeadAlgorithm.Aes128Gcm ? 16 : 32, s.KeyLength);
            Assert.Equal(s.Aead == AeadAlgorithm.Aes256Gcm ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256, s.PrfHash);
            Assert.Equal(s.Aead == AeadAlgorithm.Aes256Gcm ? 48 : 32, s.HashLength);
            Assert.Equal(s.Suite.Name.Contains("ECDSA", StringComparison.Ordinal) ? KeyExchangeSignature.Ecdsa : KeyExchangeSignature.Rsa, s.Signature);
        }
    }

    [Fact]
    public void TryGet_rejects_scsv_grease_and_unknown_suites()
    {
        Assert.False(CipherSuiteInfo.TryGet(CipherSuite.EmptyRenegotiationInfoScsv, out _));
        Assert.False(CipherSuiteInfo.TryGet(new CipherSuite(0x0A0A), out _));
        Assert.False(CipherSuiteInfo.TryGet(new CipherSuite(0x009C), out _));
        Assert.True(CipherSuiteInfo.TryGet(CipherSuite.EcdheRsaWithChaCha20Poly1305Sha256, out var info));
        Assert.Equal(AeadAlgorithm.ChaCha20Poly1305, info.Aead);
    }
}
