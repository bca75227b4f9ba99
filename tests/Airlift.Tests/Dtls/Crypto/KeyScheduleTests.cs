using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using static Airlift.Tests.Dtls.Crypto.CryptoTestHex;

namespace Airlift.Tests.Dtls.Crypto;

// Expected values were produced with `openssl kdf ... TLS1-PRF` (OpenSSL 3.0), seed = hex(label) || seed,
// from these inputs: pre-master A0..BF, master 10..3F, client random C0..CF C0..CF,
// server random 50..5F 50..5F, session/transcript hash 32 x 0x77.
public class KeyScheduleTests
{
    private static readonly byte[] PreMaster = H("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
    private static readonly byte[] Master = H("101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
    private static readonly byte[] ClientRandom = H("c0c1c2c3c4c5c6c7c8c9cacbcccdcecfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
    private static readonly byte[] ServerRandom = H("505152535455565758595a5b5c5d5e5f505152535455565758595a5b5c5d5e5f");
    private static readonly byte[] SessionHash = H("7777777777777777777777777777777777777777777777777777777777777777");

    [Fact]
    public void Master_secret_uses_client_then_server_random_rfc5246_section8_1()
    {
        var ms = KeySchedule.MasterSecret(HashAlgorithmName.SHA256, PreMaster, ClientRandom, ServerRandom);
        Assert.Equal(H("B3:BF:00:8D:3C:8D:01:43:EE:5E:2B:3D:3F:A7:9A:42:0D:C8:80:79:78:D3:1D:BD:07:66:DF:D5:ED:93:54:2B:50:C6:07:E0:38:05:AF:5A:77:0A:6E:21:3D:04:8C:0A"), ms);
    }

    [Fact]
    public void Extended_master_secret_uses_the_session_hash_rfc7627_section4()
    {
        var ems = KeySchedule.ExtendedMasterSecret(HashAlgorithmName.SHA256, PreMaster, SessionHash);
        Assert.Equal(KeySchedule.MasterSecretLength, ems.Length);
        Assert.Equal(H("D2:FE:2F:75:60:67:C1:D7:73:3A:57:32:46:DD:A0:39:9D:FF:96:C2:E1:BB:37:18:AE:A5:FC:D9:0D:70:BA:0B:06:85:D6:78:97:68:D0:20:83:3E:8D:2E:61:29:79:3F"), ems);
    }

    [Fact]
    public void Key_block_for_aes128_gcm_is_two_keys_then_two_4_byte_salts_rfc5246_section6_3()
    {
        Assert.True(CipherSuiteInfo.TryGet(CipherSuite.EcdheEcdsaWithAes128GcmSha256, out var suite));
        using var kb = KeySchedule.DeriveKeyBlock(suite, Master, ClientRandom, ServerRandom);
        var block = H("84:4E:22:84:37:FF:9A:2B:C5:DE:0C:5E:5F:B0:9C:2B:D2:DF:5B:30:F3:D4:49:E7:0D:F5:D0:41:08:0C:FA:07:93:35:05:FD:10:97:DE:39");
        Assert.Equal(block[..16], kb.ClientWriteKey);
        Assert.Equal(block[16..32], kb.ServerWriteKey);
        Assert.Equal(block[32..36], kb.ClientWriteIv);
        Assert.Equal(block[36..40], kb.ServerWriteIv);
    }

    [Fact]
    public void Key_block_for_aes256_gcm_uses_sha384_and_32_byte_keys()
    {
        Assert.True(CipherSuiteInfo.TryGet(CipherSuite.EcdheRsaWithAes256GcmSha384, out var suite));
        using var kb = KeySchedule.DeriveKeyBlock(suite, Master, ClientRandom, ServerRandom);
        var block = H("FC:4C:BB:34:3D:20:5B:0B:5B:E3:A1:77:6B:0D:7E:D6:70:8E:2E:F4:10:CC:51:36:72:6A:FB:3A:A7:DD:EB:E2:A3:C8:3F:BC:6C:89:AB:DF:B0:B7:3E:BE:7E:44:76:A8:DA:BA:34:4C:A2:17:DC:70:89:53:B6:34:C7:0C:C1:F5:75:BA:BD:BB:EC:EE:7D:66");
        Assert.Equal(block[..32], kb.ClientWriteKey);
        Assert.Equal(block[32..64], kb.ServerWriteKey);
        Assert.Equal(block[64..68], kb.ClientWriteIv);
        Assert.Equal(block[68..72], kb.ServerWriteIv);
    }

    [Fact]
    public void Key_block_for_chacha20_poly1305_has_12_byte_ivs_rfc7905_section2()
    {
        Assert.True(CipherSuiteInfo.TryGet(CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256, out var suite));
        using var kb = KeySchedule.DeriveKeyBlock(suite, Master, ClientRandom, ServerRandom);
        var block = H("84:4E:22:84:37:FF:9A:2B:C5:DE:0C:5E:5F:B0:9C:2B:D2:DF:5B:30:F3:D4:49:E7:0D:F5:D0:41:08:0C:FA:07:93:35:05:FD:10:97:DE:39:B0:63:B5:7F:4B:83:3D:3D:AF:1A:63:39:19:F0:19:64:3C:17:BC:2E:1A:B9:35:98:56:B0:C3:E4:99:C8:4D:15:B4:5E:72:87:19:FA:36:59:ED:3C:6B:D6:90:14:25:97");
        Assert.Equal(block[..32], kb.ClientWriteKey);
        Assert.Equal(block[32..64], kb.ServerWriteKey);
        Assert.Equal(block[64..76], kb.ClientWriteIv);
        Assert.Equal(block[76..88], kb.ServerWriteIv);
    }

    [Fact]
    public void Key_block_dispose_zeroes_the_keys()
    {
        var kb = KeySchedule.DeriveKeyBlock(CipherSuiteInfo.All[0], Master, ClientRandom, ServerRandom);
        kb.Dispose();
        Assert.All(new[] { kb.ClientWriteKey, kb.ServerWriteKey, kb.ClientWriteIv, kb.ServerWriteIv }, a => Assert.All(a, b => Assert.Equal(0, b)));
    }

    [Fact]
    public void Verify_data_uses_the_client_or_server_finished_label_rfc5246_section7_4_9()
    {
        Assert.Equal(H("C3:C9:45:11:E4:77:03:8F:8E:EE:87:24"), KeySchedule.VerifyData(HashAlgorithmName.SHA256, Master, fromClient: true, SessionHash));
        Assert.Equal(H("11:13:BE:50:9D:9E:38:21:9A:67:B4:A5"), KeySchedule.VerifyData(HashAlgorithmName.SHA256, Master, fromClient: false, SessionHash));
    }

    [Fact]
    public void Exporter_without_context_is_prf_over_client_and_server_random_rfc5705_section4()
    {
        var output = new byte[60];
        KeySchedule.Export(HashAlgorithmName.SHA256, Master, ClientRandom, ServerRandom, "EXTRACTOR-dtls_srtp", null, output);
        Assert.Equal(H("B4:51:3E:D7:1B:53:8B:C1:88:11:B5:AF:5E:1B:43:6C:74:50:0B:2D:4B:8A:2E:9B:24:10:27:9B:E6:88:80:94:6E:23:1F:7F:20:3A:27:A3:E3:3A:2A:1D:9D:88:FD:89:7E:26:2A:02:CE:15:BF:00:33:34:E8:68"), output);

        var viaPrf = new byte[60];
        Prf.Compute(HashAlgorithmName.SHA256, Master, "EXTRACTOR-dtls_srtp", ClientRandom.Concat(ServerRandom).ToArray(), viaPrf);
        Assert.Equal(viaPrf, output);
    }

    [Fact]
    public void Exporter_with_context_appends_uint16_length_and_context_rfc5705_section4()
    {
        var output = new byte[60];
        KeySchedule.Export(HashAlgorithmName.SHA256, Master, ClientRandom, ServerRandom, "EXTRACTOR-dtls_srtp", [0xAB, 0xCD, 0xEF], output);
        Assert.Equal(H("89:69:A9:65:7E:2E:85:9B:4A:13:CD:C3:5A:A4:A9:AD:31:AC:D2:48:AE:FC:EB:2A:D3:55:54:1C:3B:0F:E1:5B:09:B4:01:47:2D:76:68:0D:7E:10:3F:F2:83:DB:73:30:F0:5A:E8:2D:C8:1D:6A:EA:5C:8C:32:B6"), output);
    }

    [Fact]
    public void Exporter_with_empty_context_differs_from_no_context_rfc5705_section4()
    {
        var empty = new byte[60];
        KeySchedule.Export(HashAlgorithmName.SHA384, Master, ClientRandom, ServerRandom, "EXTRACTOR-dtls_srtp", [], empty);
        Assert.Equal(H("42:30:09:6B:57:3A:D7:46:FD:5E:83:6A:F4:42:68:FA:55:2A:FD:41:91:AA:4E:01:7D:05:92:8D:65:D0:52:E4:9B:A4:4C:DE:7D:B1:6D:5C:63:4F:C1:5C:0A:04:24:C2:B4:12:42:88:F7:66:C5:A3:60:51:03:C3"), empty);
        var none = new byte[60];
        KeySchedule.Export(HashAlgorithmName.SHA384, Master, ClientRandom, ServerRandom, "EXTRACTOR-dtls_srtp", null, none);
        Assert.NotEqual(empty, none);
    }

    [Fact]
    public void Randoms_of_the_wrong_length_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => KeySchedule.MasterSecret(HashAlgorithmName.SHA256, PreMaster, ClientRandom[..31], ServerRandom));
    }
}
