using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;

namespace Airlift.Tests.Dtls.Crypto;

// Known answers from RFC 8448 section 3 ("Simple 1-RTT Handshake"), TLS 1.3 with TLS_AES_128_GCM_SHA256 and the
// "tls13 " label prefix. The handshake messages are the RFC's bytes; the test hashes them itself and checks the
// transcript hashes the RFC prints, so a transcription slip cannot pass unnoticed.
public class Tls13KeyScheduleTests
{
    private static readonly HashAlgorithmName Sha256 = HashAlgorithmName.SHA256;

    private static readonly byte[] ClientHello = X("""
        01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99 12 ec 18 a2 ef 62 83
        02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b 00 09 00 00 06 73 65 72 76 65 72 ff 01
        00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 23 00 00 00 33 00
        26 00 24 00 1d 00 20 99 38 1d e5 60 e4 bd 43 d2 3d 8e 43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69
        1e 52 9a af 2c 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01
        05 01 06 01 02 01 04 02 05 02 06 02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01
        """);

    private static readonly byte[] ServerHello = X("""
        02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a c5 cb 14 34 da c1 55 77 2e
        d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88 76 11 20 95 fe 66 76 2b db f7 c6 72 e1
        56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f 00 2b 00 02 03 04
        """);

    private static readonly byte[] EncryptedExtensions = X("""
        08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 1c 00 02
        40 01 00 00 00 00
        """);

    private static readonly byte[] Certificate = X("""
        0b 00 01 b9 00 00 01 b5 00 01 b0 30 82 01 ac 30 82 01 15 a0 03 02 01 02 02 01 02 30 0d 06 09 2a 86 48
        86 f7 0d 01 01 0b 05 00 30 0e 31 0c 30 0a 06 03 55 04 03 13 03 72 73 61 30 1e 17 0d 31 36 30 37 33 30
        30 31 32 33 35 39 5a 17 0d 32 36 30 37 33 30 30 31 32 33 35 39 5a 30 0e 31 0c 30 0a 06 03 55 04 03 13
        03 72 73 61 30 81 9f 30 0d 06 09 2a 86 48 86 f7 0d 01 01 01 05 00 03 81 8d 00 30 81 89 02 81 81 00 b4
        bb 49 8f 82 79 30 3d 98 08 36 39 9b 36 c6 98 8c 0c 68 de 55 e1 bd b8 26 d3 90 1a 24 61 ea fd 2d e4 9a
        91 d0 15 ab bc 9a 95 13 7a ce 6c 1a f1 9e aa 6a f9 8c 7c ed 43 12 09 98 e1 87 a8 0e e0 cc b0 52 4b 1b
        01 8c 3e 0b 63 26 4d 44 9a 6d 38 e2 2a 5f da 43 08 46 74 80 30 53 0e f0 46 1c 8c a9 d9 ef bf ae 8e a6
        d1 d0 3e 2b d1 93 ef f0 ab 9a 80 02 c4 74 28 a6 d3 5a 8d 88 d7 9f 7f 1e 3f 02 03 01 00 01 a3 1a 30 18
        30 09 06 03 55 1d 13 04 02 30 00 30 0b 06 03 55 1d 0f 04 04 03 02 05 a0 30 0d 06 09 2a 86 48 86 f7 0d
        01 01 0b 05 00 03 81 81 00 85 aa d2 a0 e5 b9 27 6b 90 8c 65 f7 3a 72 67 17 06 18 a5 4c 5f 8a 7b 33 7d
        2d f7 a5 94 36 54 17 f2 ea e8 f8 a5 8c 8f 81 72 f9 31 9c f3 6b 7f d6 c5 5b 80 f2 1a 03 01 51 56 72 60
        96 fd 33 5e 5e 67 f2 db f1 02 70 2e 60 8c ca e6 be c1 fc 63 a4 2a 99 be 5c 3e b7 10 7c 3c 54 e9 b9 eb
        2b d5 20 3b 1c 3b 84 e0 a8 b2 f7 59 40 9b a3 ea c9 d9 1d 40 2d cc 0c c8 f8 96 12 29 ac 91 87 b4 2b 4d
        e1 00 00
        """);

    private static readonly byte[] CertificateVerify = X("""
        0f 00 00 84 08 04 00 80 5a 74 7c 5d 88 fa 9b d2 e5 5a b0 85 a6 10 15 b7 21 1f 82 4c d4 84 14 5a b3 ff
        52 f1 fd a8 47 7b 0b 7a bc 90 db 78 e2 d3 3a 5c 14 1a 07 86 53 fa 6b ef 78 0c 5e a2 48 ee aa a7 85 c4
        f3 94 ca b6 d3 0b be 8d 48 59 ee 51 1f 60 29 57 b1 54 11 ac 02 76 71 45 9e 46 44 5c 9e a5 8c 18 1e 81
        8e 95 b8 c3 fb 0b f3 27 84 09 d3 be 15 2a 3d a5 04 3e 06 3d da 65 cd f5 ae a2 0d 53 df ac d4 2f 74 f3
        """);

    private static readonly byte[] EcdheSharedSecret = X("8b d4 05 4f b5 5b 9d 63 fd fb ac f9 f0 4b 9f 0d 35 e6 d6 3f 53 75 63 ef d4 62 72 90 0f 89 49 2d");
    private static readonly byte[] HelloHash = X("86 0c 06 ed c0 78 58 ee 8e 78 f0 e7 42 8c 58 ed d6 b4 3f 2c a3 e6 e9 5f 02 ed 06 3c f0 e1 ca d8");
    private static readonly byte[] ServerFinishedHash = X("96 08 10 2a 0f 1c cc 6d b6 25 0b 7b 7e 41 7b 1a 00 0e aa da 3d aa e4 77 7a 76 86 c9 ff 83 df 13");
    private static readonly byte[] ClientHandshakeSecret = X("b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21");
    private static readonly byte[] ServerHandshakeSecret = X("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
    private static readonly byte[] ClientApplicationSecret = X("9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5");
    private static readonly byte[] ServerApplicationSecret = X("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43");
    private static readonly byte[] ExporterMasterSecret = X("fe 22 f8 81 17 6e da 18 eb 8f 44 52 9e 67 92 c5 0c 9a 3f 89 45 2f 68 d8 ae 31 1b 43 09 d3 cf 50");

    private static Tls13CipherSuiteInfo Aes128 => Suite(CipherSuite.Tls13Aes128GcmSha256);

    [Fact]
    public void Rfc8448_transcript_hashes_match_the_printed_values()
    {
        Assert.Equal(196, ClientHello.Length);
        Assert.Equal(90, ServerHello.Length);
        Assert.Equal(40, EncryptedExtensions.Length);
        Assert.Equal(445, Certificate.Length);
        Assert.Equal(136, CertificateVerify.Length);
        Assert.Equal(HelloHash, SHA256.HashData([.. ClientHello, .. ServerHello]));
        Assert.Equal(ServerFinishedHash, SHA256.HashData([.. ClientHello, .. ServerHello, .. EncryptedExtensions, .. Certificate, .. CertificateVerify, .. ServerFinishedMessage()]));
    }

    [Fact]
    public void Rfc8448_early_handshake_and_master_secrets_rfc8446_section7_1()
    {
        var early = Tls13KeySchedule.EarlySecret(Sha256);
        Assert.Equal(X("33 ad 0a 1c 60 7e c0 3b 09 e6 cd 98 93 68 0c e2 10 ad f3 00 aa 1f 26 60 e1 b2 2e 10 f1 70 f9 2a"), early);
        var empty = Tls13KeySchedule.TranscriptHashOfEmpty(Sha256);
        Assert.Equal(X("e3 b0 c4 42 98 fc 1c 14 9a fb f4 c8 99 6f b9 24 27 ae 41 e4 64 9b 93 4c a4 95 99 1b 78 52 b8 55"), empty);
        var derived = Tls13KeySchedule.DeriveSecret(Sha256, early, "derived", empty, Tls13KeySchedule.TlsLabelPrefix);
        Assert.Equal(X("6f 26 15 a1 08 c7 02 c5 67 8f 54 fc 9d ba b6 97 16 c0 76 18 9c 48 25 0c eb ea c3 57 6c 36 11 ba"), derived);
        var handshake = Tls13KeySchedule.Extract(Sha256, derived, EcdheSharedSecret);
        Assert.Equal(X("1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01 04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac"), handshake);
        var derivedForMaster = Tls13KeySchedule.DeriveSecret(Sha256, handshake, "derived", empty, Tls13KeySchedule.TlsLabelPrefix);
        Assert.Equal(X("43 de 77 e0 c7 77 13 85 9a 94 4d b9 db 25 90 b5 31 90 a6 5b 3e e2 e4 f1 2d d7 a0 bb 7c e2 54 b4"), derivedForMaster);
        var master = Tls13KeySchedule.Extract(Sha256, derivedForMaster, new byte[32]);
        Assert.Equal(X("18 df 06 84 3d 13 a0 8b f2 a4 49 84 4c 5f 8a 47 80 01 bc 4d 4c 62 79 84 d5 a4 1d a8 d0 40 29 19"), master);
    }

    [Fact]
    public void Rfc8448_traffic_secrets_through_the_schedule_api()
    {
        using var schedule = new Tls13KeySchedule(Sha256, Tls13KeySchedule.TlsLabelPrefix);
        Assert.Equal(32, schedule.HashLength);
        schedule.SetSharedSecret(EcdheSharedSecret);

        var (clientHs, serverHs) = schedule.HandshakeTrafficSecrets(HelloHash);
        Assert.Equal(ClientHandshakeSecret, clientHs);
        Assert.Equal(ServerHandshakeSecret, serverHs);

        var (clientAp, serverAp, exporter) = schedule.ApplicationTrafficSecrets(ServerFinishedHash);
        Assert.Equal(ClientApplicationSecret, clientAp);
        Assert.Equal(ServerApplicationSecret, serverAp);
        Assert.Equal(ExporterMasterSecret, exporter);

        // The handshake secret is gone after the application secrets.
        Assert.Throws<InvalidOperationException>(() => schedule.HandshakeTrafficSecrets(HelloHash));
        Assert.Throws<InvalidOperationException>(() => schedule.ApplicationTrafficSecrets(ServerFinishedHash));
    }

    [Fact]
    public void Rfc8448_traffic_keys_and_ivs_rfc8446_section7_3()
    {
        using var schedule = new Tls13KeySchedule(Sha256, Tls13KeySchedule.TlsLabelPrefix);
        using (var serverHs = schedule.DeriveTrafficKeys(Aes128, ServerHandshakeSecret))
        {
            Assert.Equal(X("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"), serverHs.Key);
            Assert.Equal(X("5d 31 3e b2 67 12 76 ee 13 00 0b 30"), serverHs.Iv);
            Assert.Equal(16, serverHs.SnKey.Length);
        }

        using (var clientHs = schedule.DeriveTrafficKeys(Aes128, ClientHandshakeSecret))
        {
            Assert.Equal(X("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01"), clientHs.Key);
            Assert.Equal(X("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f"), clientHs.Iv);
        }

        using (var serverAp = schedule.DeriveTrafficKeys(Aes128, ServerApplicationSecret))
        {
            Assert.Equal(X("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56"), serverAp.Key);
            Assert.Equal(X("cf 78 2b 88 dd 83 54 9a ad f1 e9 84"), serverAp.Iv);
        }

        var clientAp = schedule.DeriveTrafficKeys(Aes128, ClientApplicationSecret);
        Assert.Equal(X("17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51"), clientAp.Key);
        Assert.Equal(X("5b 78 92 3d ee 08 57 90 33 e5 23 d9"), clientAp.Iv);

        // sn = HKDF-Expand-Label(secret, "sn", "", key_length) (RFC 9147 4.2.3).
        Assert.Equal(Tls13KeySchedule.ExpandLabel(Sha256, ClientApplicationSecret, "sn", [], 16, Tls13KeySchedule.TlsLabelPrefix), clientAp.SnKey);
        clientAp.Dispose();
        Assert.All(new[] { clientAp.Key, clientAp.Iv, clientAp.SnKey }, k => Assert.All(k, b => Assert.Equal(0, b)));
    }

    [Fact]
    public void Rfc8448_server_and_client_finished_rfc8446_section4_4_4()
    {
        using var schedule = new Tls13KeySchedule(Sha256, Tls13KeySchedule.TlsLabelPrefix);
        var beforeServerFinished = SHA256.HashData([.. ClientHello, .. ServerHello, .. EncryptedExtensions, .. Certificate, .. CertificateVerify]);
        Assert.Equal(
            X("00 8d 3b 66 f8 16 ea 55 9f 96 b5 37 e8 85 c3 1f c0 68 bf 49 2c 65 2f 01 f2 88 a1 d8 cd c1 9f c8"),
            Tls13KeySchedule.ExpandLabel(Sha256, ServerHandshakeSecret, "finished", [], 32, Tls13KeySchedule.TlsLabelPrefix));
        Assert.Equal(ServerFinishedMessage()[4..], schedule.FinishedVerifyData(ServerHandshakeSecret, beforeServerFinished));
        Assert.Equal(
            X("a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03 9e c1 76 94 fa c6 e9 85 27 b6 42 f2 ed d5 ce 61"),
            schedule.FinishedVerifyData(ClientHandshakeSecret, ServerFinishedHash));
    }

    [Fact]
    public void Dtls13_prefix_gives_different_secrets_built_from_the_dtls13_hkdf_label_rfc9147_section5_9()
    {
        using var tls = new Tls13KeySchedule(Sha256, Tls13KeySchedule.TlsLabelPrefix);
        using var dtls = new Tls13KeySchedule(Sha256);
        Assert.Equal("dtls13", dtls.LabelPrefix);
        tls.SetSharedSecret(EcdheSharedSecret);
        dtls.SetSharedSecret(EcdheSharedSecret);
        var (tlsClient, _) = tls.HandshakeTrafficSecrets(HelloHash);
        var (dtlsClient, dtlsServer) = dtls.HandshakeTrafficSecrets(HelloHash);
        Assert.NotEqual(tlsClient, dtlsClient);

        // The same derivation by hand, HkdfLabel = 00 20 || 0e "dtls13c hs traffic" || 20 hash, over the DTLS chain.
        var early = HKDF.Extract(Sha256, new byte[32], []);
        var derived = HKDF.Expand(Sha256, early, 32, Label("derived", SHA256.HashData([])));
        var handshake = HKDF.Extract(Sha256, EcdheSharedSecret, derived);
        Assert.Equal(HKDF.Expand(Sha256, handshake, 32, Label("c hs traffic", HelloHash)), dtlsClient);
        Assert.Equal(HKDF.Expand(Sha256, handshake, 32, Label("s hs traffic", HelloHash)), dtlsServer);

        static byte[] Label(string label, byte[] context)
        {
            var full = System.Text.Encoding.ASCII.GetBytes("dtls13" + label);
            return [0x00, 0x20, (byte)full.Length, .. full, (byte)context.Length, .. context];
        }
    }

    [Fact]
    public void Sha384_suite_keys_have_the_suite_lengths()
    {
        var suite = Suite(CipherSuite.Tls13Aes256GcmSha384);
        using var schedule = new Tls13KeySchedule(HashAlgorithmName.SHA384);
        Assert.Equal(48, schedule.HashLength);
        schedule.SetSharedSecret(new byte[48]);
        var (client, server) = schedule.HandshakeTrafficSecrets(new byte[48]);
        Assert.Equal(48, client.Length);
        Assert.NotEqual(client, server);
        using var keys = schedule.DeriveTrafficKeys(suite, client);
        Assert.Equal(32, keys.Key.Length);
        Assert.Equal(12, keys.Iv.Length);
        Assert.Equal(32, keys.SnKey.Length);
        Assert.Equal(48, schedule.FinishedVerifyData(client, new byte[48]).Length);

        // A SHA-256 suite cannot take keys from a SHA-384 schedule, and transcript hashes must have the hash length.
        Assert.Throws<ArgumentException>(() => schedule.DeriveTrafficKeys(Aes128, client));
        Assert.Throws<ArgumentException>(() => schedule.HandshakeTrafficSecrets(new byte[32]));
    }

    [Fact]
    public void Key_update_is_expand_label_traffic_upd_rfc8446_section7_2()
    {
        using var schedule = new Tls13KeySchedule(Sha256);
        var next = schedule.NextTrafficSecret(ClientApplicationSecret);
        Assert.Equal(Tls13KeySchedule.ExpandLabel(Sha256, ClientApplicationSecret, "traffic upd", [], 32, "dtls13"), next);
        Assert.NotEqual(next, schedule.NextTrafficSecret(next));
    }

    [Fact]
    public void Exporter_is_derive_secret_then_expand_label_exporter_with_the_context_hash_rfc8446_section7_5()
    {
        const string label = "EXTRACTOR-dtls_srtp";
        var output = new byte[60];
        Tls13KeySchedule.Export(Sha256, ExporterMasterSecret, label, [], output, Tls13KeySchedule.DtlsLabelPrefix);

        var secret = Tls13KeySchedule.ExpandLabel(Sha256, ExporterMasterSecret, label, SHA256.HashData([]), 32, "dtls13");
        Assert.Equal(Tls13KeySchedule.ExpandLabel(Sha256, secret, "exporter", SHA256.HashData([]), 60, "dtls13"), output);

        // A non-empty context is hashed; the TLS prefix gives other bytes.
        var withContext = new byte[60];
        Tls13KeySchedule.Export(Sha256, ExporterMasterSecret, label, [1, 2, 3], withContext, "dtls13");
        Assert.NotEqual(output, withContext);
        var tls = new byte[60];
        Tls13KeySchedule.Export(Sha256, ExporterMasterSecret, label, [], tls, Tls13KeySchedule.TlsLabelPrefix);
        Assert.NotEqual(output, tls);
    }

    [Fact]
    public void Message_hash_is_type_254_with_a_3_byte_length_rfc8446_section4_4_1()
    {
        var ch1Hash = SHA256.HashData(ClientHello);
        var message = Tls13KeySchedule.MessageHash(Sha256, ch1Hash);
        Assert.Equal([254, 0, 0, 32, .. ch1Hash], message);
        Assert.Equal(52, Tls13KeySchedule.MessageHash(HashAlgorithmName.SHA384, new byte[48]).Length);
        Assert.Throws<ArgumentException>(() => Tls13KeySchedule.MessageHash(Sha256, new byte[48]));
    }

    [Fact]
    public void Misuse_is_refused_with_typed_exceptions()
    {
        Assert.Throws<ArgumentException>(() => new Tls13KeySchedule(HashAlgorithmName.SHA1));
        using var schedule = new Tls13KeySchedule(Sha256);
        Assert.Throws<InvalidOperationException>(() => schedule.HandshakeTrafficSecrets(HelloHash));
        Assert.Throws<InvalidOperationException>(() => schedule.ApplicationTrafficSecrets(HelloHash));
        schedule.SetSharedSecret(EcdheSharedSecret);
        Assert.Throws<InvalidOperationException>(() => schedule.SetSharedSecret(EcdheSharedSecret));
        Assert.Throws<ArgumentException>(() => Tls13KeySchedule.ExpandLabel(Sha256, ExporterMasterSecret, new string('a', 250), [], 32, "dtls13"));
        Assert.Throws<ArgumentException>(() => Tls13KeySchedule.ExpandLabel(Sha256, ExporterMasterSecret, "key", new byte[256], 32, "dtls13"));
        Assert.Throws<ArgumentException>(() => Tls13KeySchedule.ExpandLabel(Sha256, ExporterMasterSecret, "key", [], 255 * 32 + 1, "dtls13"));
    }

    [Fact]
    public void Tls13_suites_are_known_with_their_parameters_rfc8446_appendix_b_4()
    {
        Assert.Equal([0x1301, 0x1302, 0x1303], Tls13CipherSuiteInfo.All.Select(s => (int)s.Suite.Value));
        var chacha = Suite(CipherSuite.Tls13ChaCha20Poly1305Sha256);
        Assert.Equal((AeadAlgorithm.ChaCha20Poly1305, 32, 32), (chacha.Aead, chacha.KeyLength, chacha.HashLength));
        var aes256 = Suite(CipherSuite.Tls13Aes256GcmSha384);
        Assert.Equal((AeadAlgorithm.Aes256Gcm, 32, 48), (aes256.Aead, aes256.KeyLength, aes256.HashLength));
        Assert.Equal((AeadAlgorithm.Aes128Gcm, 16, 32), (Aes128.Aead, Aes128.KeyLength, Aes128.HashLength));
        Assert.False(Tls13CipherSuiteInfo.TryGet(CipherSuite.EcdheEcdsaWithAes128GcmSha256, out _));
        Assert.False(CipherSuiteInfo.TryGet(CipherSuite.Tls13Aes128GcmSha256, out _));
        Assert.Equal("TLS_CHACHA20_POLY1305_SHA256", CipherSuite.Tls13ChaCha20Poly1305Sha256.Name);
    }

    private static Tls13CipherSuiteInfo Suite(CipherSuite suite)
    {
        Assert.True(Tls13CipherSuiteInfo.TryGet(suite, out var info));
        return info;
    }

    private static byte[] ServerFinishedMessage() =>
        X("14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da 4a b4 2c 30 95 72 cb 7f ff ee 54 54 b7 8f 07 18");

    private static byte[] X(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));
}
