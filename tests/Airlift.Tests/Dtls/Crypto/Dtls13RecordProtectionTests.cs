using System.Buffers.Binary;
using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using static Airlift.Tests.Dtls.Crypto.CryptoTestHex;

namespace Airlift.Tests.Dtls.Crypto;

public class Dtls13RecordProtectionTests
{
    public static TheoryData<ushort> Suites => new() { 0x1301, 0x1302, 0x1303 };

    [Theory]
    [MemberData(nameof(Suites))]
    public void Seal_then_open_round_trips_for_each_suite_rfc9147_section4(ushort value)
    {
        var (suite, keys) = Keys(value, 1);
        using var sender = Dtls13RecordProtection.Create(suite, keys);
        using var receiver = Dtls13RecordProtection.Create(suite, keys);
        Assert.Equal(16, sender.Overhead);

        var header = H("2c 00 05 00 26"); // unified header: C=0 S=1 L=1 epoch 0, seq 0x0005, length
        byte[] inner = [.. "hello dtls 1.3"u8, 23, 0, 0]; // content || type || padding
        var record = new byte[inner.Length + sender.Overhead];
        Assert.Equal(record.Length, sender.Seal(5, header, inner, record));
        Assert.NotEqual(inner, record[..inner.Length]);

        var plain = new byte[inner.Length];
        Assert.True(receiver.TryOpen(5, header, record, plain, out var written));
        Assert.Equal(inner.Length, written);
        Assert.Equal(inner, plain);

        // In place, as the record layer will use it.
        var buffer = (byte[])record.Clone();
        Assert.True(receiver.TryOpen(5, header, buffer, buffer, out written));
        Assert.Equal(inner, buffer[..written]);

        // An empty inner plaintext is only the tag.
        Assert.Equal(16, sender.Seal(6, header, [], record));
        Assert.True(receiver.TryOpen(6, header, record.AsSpan(0, 16), plain, out written));
        Assert.Equal(0, written);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Tampered_tag_ciphertext_header_or_sequence_number_fails_without_throwing(ushort value)
    {
        var (suite, keys) = Keys(value, 2);
        using var protection = Dtls13RecordProtection.Create(suite, keys);
        var header = H("2c 00 07 00 30");
        var inner = Seq(32, 0x40);
        var record = new byte[inner.Length + 16];
        protection.Seal(7, header, inner, record);
        var plain = new byte[inner.Length];

        var badTag = (byte[])record.Clone();
        badTag[^1] ^= 1;
        Assert.False(protection.TryOpen(7, header, badTag, plain, out var written));
        Assert.Equal(0, written);

        var badBody = (byte[])record.Clone();
        badBody[3] ^= 0x80;
        Assert.False(protection.TryOpen(7, header, badBody, plain, out _));

        var badHeader = (byte[])header.Clone();
        badHeader[2] ^= 1;
        Assert.False(protection.TryOpen(7, badHeader, record, plain, out _));

        Assert.False(protection.TryOpen(8, header, record, plain, out _));
        Assert.False(protection.TryOpen(7 | (1UL << 48), header, record, plain, out _));
        Assert.False(protection.TryOpen(7, header, record.AsSpan(0, 15), plain, out _));
        Assert.False(protection.TryOpen(7, header, [], plain, out _));
        Assert.False(protection.TryOpen(7, header, record, plain.AsSpan(0, 31), out _));

        // Another epoch's keys cannot open it.
        var (_, otherKeys) = Keys(value, 3);
        using var other = Dtls13RecordProtection.Create(suite, otherKeys);
        Assert.False(other.TryOpen(7, header, record, plain, out _));

        Assert.True(protection.TryOpen(7, header, record, plain, out written));
        Assert.Equal(32, written);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Nonce_is_the_iv_xor_the_64_bit_sequence_number_without_the_epoch_rfc8446_section5_3(ushort value)
    {
        var (suite, keys) = Keys(value, 4);
        using var protection = Dtls13RecordProtection.Create(suite, keys);
        const ulong seq = 0x0102030405060708;
        var header = H("2f 01 02 00 24");
        var inner = Seq(20, 1);
        var sealedRecord = new byte[36];
        protection.Seal(seq, header, inner, sealedRecord);

        var nonce = (byte[])keys.Iv.Clone();
        BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(4), BinaryPrimitives.ReadUInt64BigEndian(nonce.AsSpan(4)) ^ seq);
        var expected = new byte[36];
        if (suite.Aead == AeadAlgorithm.ChaCha20Poly1305)
        {
            using var chacha = new ChaCha20Poly1305(keys.Key);
            chacha.Encrypt(nonce, inner, expected.AsSpan(0, 20), expected.AsSpan(20), header);
        }
        else
        {
            using var gcm = new AesGcm(keys.Key, 16);
            gcm.Encrypt(nonce, inner, expected.AsSpan(0, 20), expected.AsSpan(20), header);
        }

        Assert.Equal(expected, sealedRecord);
    }

    [Theory]
    [InlineData((ushort)0x1301)]
    [InlineData((ushort)0x1302)]
    public void Aes_mask_is_aes_ecb_of_the_sample_under_sn_key_rfc9147_section4_2_3(ushort value)
    {
        var (suite, keys) = Keys(value, 5);
        using var protection = Dtls13RecordProtection.Create(suite, keys);
        using var aes = Aes.Create();
        aes.Key = keys.SnKey;
        for (byte start = 0; start < 4; start++)
        {
            var ciphertext = Seq(40, (byte)(start * 50));
            var expected = aes.EncryptEcb(ciphertext.AsSpan(0, 16), PaddingMode.None);
            var mask = new byte[16];
            protection.ComputeMask(ciphertext, mask);
            Assert.Equal(expected, mask);

            var twoBytes = new byte[2];
            protection.ComputeMask(ciphertext.AsSpan(0, 16), twoBytes);
            Assert.Equal(expected[..2], twoBytes);
        }
    }

    [Fact]
    public void ChaCha_mask_is_the_rfc8439_section2_4_2_keystream_for_its_key_counter_and_nonce()
    {
        // Key 00..1f, counter 1 (little-endian in the first four sample bytes), nonce 00 00 00 00 00 00 00 4a 00 00 00 00.
        using var protection = ChaChaWithSnKey(Seq(32, 0));
        var mask = new byte[16];
        protection.ComputeMask(H("01000000 000000000000004a00000000"), mask);
        Assert.Equal(H("224f51f3401bd9e12fde276fb8631ded"), mask);
    }

    [Fact]
    public void ChaCha_mask_matches_independent_chacha20_at_any_counter()
    {
        var snKey = Seq(32, 0x90);
        using var protection = ChaChaWithSnKey(snKey);
        var nonce = H("0a0b0c0d0e0f101112131415");

        // Counter 1 = the keystream the platform's ChaCha20-Poly1305 encrypts with (RFC 8439 2.8).
        using var aead = new ChaCha20Poly1305(snKey);
        var counter1 = new byte[16];
        aead.Encrypt(nonce, new byte[16], counter1, new byte[16]);
        Assert.Equal(counter1, Mask(protection, 1, nonce));

        // Counters 0..5 against BouncyCastle's engine streamed from counter 0.
        var engine = new ChaCha7539Engine();
        engine.Init(true, new ParametersWithIV(new KeyParameter(snKey), nonce));
        var stream = new byte[6 * 64];
        engine.ProcessBytes(new byte[stream.Length], stream);
        for (uint counter = 0; counter < 6; counter++)
        {
            Assert.Equal(stream.AsSpan((int)counter * 64, 16).ToArray(), Mask(protection, counter, nonce));
        }

        // The counter is peer-chosen: 2^32 - 1 must work (the engine itself would refuse to advance past it), and
        // each mask depends only on its sample, not on earlier calls.
        var last = Mask(protection, uint.MaxValue, nonce);
        Assert.NotEqual(Mask(protection, uint.MaxValue - 1, nonce), last);
        Assert.Equal(last, Mask(protection, uint.MaxValue, nonce));
        Assert.Equal(counter1, Mask(protection, 1, nonce));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Seal_open_and_mask_allocate_nothing_after_construction(ushort value)
    {
        var (suite, keys) = Keys(value, 6);
        using var protection = Dtls13RecordProtection.Create(suite, keys);
        var header = H("2c 00 09 04 10");
        var inner = Seq(1024, 3);
        var record = new byte[inner.Length + 16];
        var plain = new byte[inner.Length];
        var mask = new byte[2];

        void Round(ulong seq)
        {
            protection.Seal(seq, header, inner, record);
            protection.ComputeMask(record, mask);
            Assert.True(protection.TryOpen(seq, header, record, plain, out _));
        }

        for (ulong i = 0; i < 50; i++)
        {
            Round(i);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (ulong i = 50; i < 1050; i++)
        {
            Round(i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Create_refuses_keys_of_the_wrong_length_and_mask_refuses_a_short_sample()
    {
        var (suite, keys) = Keys(0x1301, 7);
        Assert.Throws<ArgumentException>(() => Dtls13RecordProtection.Create(suite, keys with { Key = new byte[32] }));
        Assert.Throws<ArgumentException>(() => Dtls13RecordProtection.Create(suite, keys with { Iv = new byte[8] }));
        Assert.Throws<ArgumentException>(() => Dtls13RecordProtection.Create(suite, keys with { SnKey = new byte[32] }));
        using var protection = Dtls13RecordProtection.Create(suite, keys);
        Assert.Throws<ArgumentException>(() => protection.ComputeMask(new byte[15], new byte[2]));
        Assert.Throws<ArgumentException>(() => protection.ComputeMask(new byte[16], new byte[17]));
        Assert.Throws<ArgumentException>(() => protection.Seal(0, [], new byte[10], new byte[25]));
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Protection_made_straight_from_the_traffic_secret_equals_the_one_made_from_derived_keys_rfc8446_section7_3(ushort value)
    {
        // Tls13KeySchedule.CreateProtection derives key, iv and sn_key on the stack; the records and masks must be the same
        // bytes as with the keys derived as arrays (DeriveTrafficKeys), both ways.
        Assert.True(Tls13CipherSuiteInfo.TryGet(new CipherSuite(value), out var suite));
        var secret = Seq(suite.HashLength, 9);
        using var schedule = new Tls13KeySchedule(suite.Hash);
        using var keys = schedule.DeriveTrafficKeys(suite, secret);
        using var fromKeys = Dtls13RecordProtection.Create(suite, keys);
        using var fromSecret = schedule.CreateProtection(suite, secret);

        var header = H("2c 00 05 00 26");
        byte[] inner = [.. "same record either way"u8, 23];
        var a = new byte[inner.Length + 16];
        var b = new byte[inner.Length + 16];
        fromKeys.Seal(0x1234_5678_9abc, header, inner, a);
        fromSecret.Seal(0x1234_5678_9abc, header, inner, b);
        Assert.Equal(a, b);
        var plain = new byte[inner.Length];
        Assert.True(fromSecret.TryOpen(0x1234_5678_9abc, header, a, plain, out _));
        Assert.Equal(inner, plain);

        var maskA = new byte[2];
        var maskB = new byte[2];
        fromKeys.ComputeMask(a.AsSpan(0, 16), maskA);
        fromSecret.ComputeMask(a.AsSpan(0, 16), maskB);
        Assert.Equal(maskA, maskB);

        Assert.Throws<ArgumentException>(() => Dtls13RecordProtection.Create(suite, keys.Key, keys.Iv.AsSpan(0, 8), keys.SnKey));
    }

    private static byte[] Mask(Dtls13RecordProtection protection, uint counter, byte[] nonce)
    {
        var sample = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(sample, counter);
        nonce.CopyTo(sample, 4);
        var mask = new byte[16];
        protection.ComputeMask(sample, mask);
        return mask;
    }

    private static Dtls13RecordProtection ChaChaWithSnKey(byte[] snKey)
    {
        Assert.True(Tls13CipherSuiteInfo.TryGet(CipherSuite.Tls13ChaCha20Poly1305Sha256, out var suite));
        return Dtls13RecordProtection.Create(suite, new Tls13TrafficKeys(Seq(32, 0x20), Seq(12, 0x60), snKey));
    }

    private static (Tls13CipherSuiteInfo Suite, Tls13TrafficKeys Keys) Keys(ushort value, byte seed)
    {
        Assert.True(Tls13CipherSuiteInfo.TryGet(new CipherSuite(value), out var suite));
        using var schedule = new Tls13KeySchedule(suite.Hash);
        return (suite, schedule.DeriveTrafficKeys(suite, Seq(suite.HashLength, seed)));
    }
}
