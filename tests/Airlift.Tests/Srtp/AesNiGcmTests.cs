using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using Airlift.Srtp.Primitives;

namespace Airlift.Tests.Srtp;

/// <summary>
/// The managed AES-NI + PCLMULQDQ primitives against published vectors (FIPS 197 appendix C, the GCM specification's test
/// cases as NIST SP 800-38D validation uses them) and, bit for bit, against the platform's <see cref="AesGcm"/> and AES-ECB.
/// Skipped (with the reason) only on a CPU without AES-NI/PCLMULQDQ, where the primitives are never used.
/// </summary>
public class AesNiGcmTests
{
    private static byte[] H(string hex) => Convert.FromHexString(hex);

    [IntrinsicsTheory]
    [InlineData("000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff", "69c4e0d86a7b0430d8cdb78070b4c55a")]
    [InlineData("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "00112233445566778899aabbccddeeff", "8ea2b7ca516745bfeafc49904b496089")]
    public void Block_encryption_matches_FIPS197_appendix_C(string key, string plaintext, string ciphertext)
    {
        using var aes = new AesNi(H(key));
        Assert.Equal(H(ciphertext), ToArray(aes.EncryptBlock(Vector128.Create(H(plaintext)))));
    }

    // The GCM specification's test cases 1-4 (AES-128) and 13-16 (AES-256), 96-bit IVs.
    [IntrinsicsTheory]
    [InlineData("00000000000000000000000000000000", "000000000000000000000000", "", "", "", "58e2fccefa7e3061367f1d57a4e7455a")]
    [InlineData("00000000000000000000000000000000", "000000000000000000000000", "", "00000000000000000000000000000000", "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf")]
    [InlineData(
        "feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        "4d5c2af327cd64a62cf35abd2ba6fab4")]
    [InlineData(
        "feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47")]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b")]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919")]
    [InlineData(
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        "b094dac5d93471bdec1a502270e3cc6c")]
    [InlineData(
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b")]
    public void Gcm_matches_the_GCM_specification_test_cases_on_both_paths(string key, string iv, string aad, string plaintext, string ciphertext, string tag)
    {
        var k = H(key);
        var n = H(iv);
        var a = H(aad);
        var p = H(plaintext);

        using var managed = new AesNiGcm(k);
        var c = new byte[p.Length];
        var t = new byte[16];
        managed.Encrypt(n, p, c, t, a);
        Assert.Equal(H(ciphertext), c);
        Assert.Equal(H(tag), t);
        var back = new byte[c.Length];
        Assert.True(managed.TryDecrypt(n, c, t, back, a));
        Assert.Equal(p, back);

        using var platform = new AesGcm(k, 16);
        var pc = new byte[p.Length];
        var pt = new byte[16];
        platform.Encrypt(n, p, pc, pt, a);
        Assert.Equal(H(ciphertext), pc);
        Assert.Equal(H(tag), pt);
    }

    [IntrinsicsFact]
    public void Gcm_matches_the_Wycheproof_vectors_with_96_bit_ivs_and_128_bit_tags_on_both_paths()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "vectors", "wycheproof", "aes_gcm_test_subset.json");
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var count = 0;
        var invalid = 0;
        foreach (var group in doc.RootElement.GetProperty("testGroups").EnumerateArray())
        {
            Assert.Equal(96, group.GetProperty("ivSize").GetInt32());
            Assert.Equal(128, group.GetProperty("tagSize").GetInt32());
            foreach (var test in group.GetProperty("tests").EnumerateArray())
            {
                string Hex(string name) => test.GetProperty(name).GetString()!;
                var id = test.GetProperty("tcId").GetInt32();
                var key = H(Hex("key"));
                var iv = H(Hex("iv"));
                var aad = H(Hex("aad"));
                var msg = H(Hex("msg"));
                var ct = H(Hex("ct"));
                var tag = H(Hex("tag"));
                var valid = Hex("result") == "valid";
                Assert.Equal(group.GetProperty("keySize").GetInt32(), key.Length * 8);

                using var managed = new AesNiGcm(key);
                using var platform = new AesGcm(key, 16);
                var opened = new byte[ct.Length];
                Assert.True(valid == managed.TryDecrypt(iv, ct, tag, opened, aad), $"tcId {id}: managed open");
                var platformOpened = new byte[ct.Length];
                var platformValid = true;
                try
                {
                    platform.Decrypt(iv, ct, tag, platformOpened, aad);
                }
                catch (CryptographicException)
                {
                    platformValid = false;
                }

                Assert.True(valid == platformValid, $"tcId {id}: platform open");
                if (valid)
                {
                    Assert.Equal(msg, opened);
                    var c = new byte[msg.Length];
                    var t = new byte[16];
                    managed.Encrypt(iv, msg, c, t, aad);
                    Assert.True(ct.AsSpan().SequenceEqual(c) && tag.AsSpan().SequenceEqual(t), $"tcId {id}: managed seal");
                }
                else
                {
                    invalid++;
                }

                count++;
            }
        }

        Assert.Equal(64, count);
        Assert.Equal(27, invalid);
    }

    [IntrinsicsFact]
    public void Gcm_is_bit_exact_with_the_platform_for_random_keys_ivs_aad_and_lengths()
    {
        var rng = new Random(1313);
        int[] special = [0, 1, 15, 16, 17, 31, 32, 33, 127, 128, 129, 143, 144, 160, 255, 256, 1200, 1212, 1500];
        for (var round = 0; round < 600; round++)
        {
            var key = new byte[round % 2 == 0 ? 16 : 32];
            var nonce = new byte[12];
            rng.NextBytes(key);
            rng.NextBytes(nonce);
            var length = round < special.Length * 2 ? special[round % special.Length] : rng.Next(0, 700);
            var aad = new byte[round % 7 == 0 ? 0 : rng.Next(0, 300)];
            var plaintext = new byte[length];
            rng.NextBytes(aad);
            rng.NextBytes(plaintext);

            using var managed = new AesNiGcm(key);
            using var platform = new AesGcm(key, 16);
            var mc = new byte[length];
            var mt = new byte[16];
            var pc = new byte[length];
            var pt = new byte[16];
            managed.Encrypt(nonce, plaintext, mc, mt, aad);
            platform.Encrypt(nonce, plaintext, pc, pt, aad);
            Assert.Equal(pc, mc);
            Assert.Equal(pt, mt);

            // In place, as SRTP uses it.
            var inPlace = (byte[])plaintext.Clone();
            var it = new byte[16];
            managed.Encrypt(nonce, inPlace, inPlace, it, aad);
            Assert.Equal(pc, inPlace);
            Assert.Equal(pt, it);
            Assert.True(managed.TryDecrypt(nonce, inPlace, it, inPlace, aad));
            Assert.Equal(plaintext, inPlace);

            // A flipped bit anywhere (ciphertext, tag or AAD) fails on both, and the managed output is cleared.
            var bad = (byte[])pc.Clone();
            var badTag = (byte[])pt.Clone();
            var badAad = (byte[])aad.Clone();
            var which = rng.Next(3);
            if (which == 0 && bad.Length > 0)
            {
                bad[rng.Next(bad.Length)] ^= (byte)(1 << rng.Next(8));
            }
            else if (which == 1 && badAad.Length > 0)
            {
                badAad[rng.Next(badAad.Length)] ^= (byte)(1 << rng.Next(8));
            }
            else
            {
                badTag[rng.Next(16)] ^= (byte)(1 << rng.Next(8));
            }

            var output = new byte[length];
            Array.Fill(output, (byte)0xAA);
            Assert.False(managed.TryDecrypt(nonce, bad, badTag, output, badAad));
            Assert.All(output, b => Assert.Equal(0, b));
            Assert.ThrowsAny<CryptographicException>(() => platform.Decrypt(nonce, bad, badTag, new byte[length], badAad));
        }
    }

    [IntrinsicsFact]
    public void Counter_mode_matches_ecb_of_the_counter_blocks_and_wraps_the_low_32_bits_only()
    {
        var rng = new Random(3711);
        for (var round = 0; round < 200; round++)
        {
            var key = new byte[round % 2 == 0 ? 16 : 32];
            rng.NextBytes(key);
            var counter = new byte[16];
            rng.NextBytes(counter);
            if (round % 5 == 0)
            {
                // Close to the 32-bit wrap: inc32 must not carry into byte 11.
                BinaryPrimitives.WriteUInt32BigEndian(counter.AsSpan(12), 0xFFFF_FFFF - (uint)rng.Next(0, 8));
            }

            var length = rng.Next(0, 600);
            var data = new byte[length];
            rng.NextBytes(data);

            var blocks = (length + 15) / 16;
            var counters = new byte[blocks * 16];
            var c = BinaryPrimitives.ReadUInt32BigEndian(counter.AsSpan(12));
            for (var b = 0; b < blocks; b++)
            {
                counter.AsSpan(0, 12).CopyTo(counters.AsSpan(b * 16));
                BinaryPrimitives.WriteUInt32BigEndian(counters.AsSpan(b * 16 + 12), unchecked(c + (uint)b));
            }

            using var ecb = System.Security.Cryptography.Aes.Create();
            ecb.Key = key;
            var stream = ecb.EncryptEcb(counters, PaddingMode.None);
            var expected = new byte[length];
            for (var i = 0; i < length; i++)
            {
                expected[i] = (byte)(data[i] ^ stream[i]);
            }

            using var aes = new AesNi(key);
            var actual = new byte[length];
            aes.Ctr32(Vector128.Create(counter), data, actual);
            Assert.Equal(expected, actual);
        }
    }

    [IntrinsicsFact]
    public void Dispose_zeroes_the_round_keys_and_the_hash_key_powers()
    {
        var gcm = new AesNiGcm(H("feffe9928665731c6d6a8f9467308308"));
        var h = (Vector128<byte>[])typeof(AesNiGcm).GetField("_h", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(gcm)!;
        var aes = (AesNi)typeof(AesNiGcm).GetField("_aes", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(gcm)!;
        var rk = (Vector128<byte>[])typeof(AesNi).GetField("_roundKeys", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(aes)!;
        Assert.Contains(h, v => v != Vector128<byte>.Zero);
        Assert.Contains(rk, v => v != Vector128<byte>.Zero);
        gcm.Dispose();
        Assert.All(h, v => Assert.Equal(Vector128<byte>.Zero, v));
        Assert.All(rk, v => Assert.Equal(Vector128<byte>.Zero, v));
    }

    private static byte[] ToArray(Vector128<byte> v)
    {
        var b = new byte[16];
        v.CopyTo(b);
        return b;
    }
}

/// <summary>A fact that runs only where the managed AES-NI primitives can run; skipped with the reason elsewhere.</summary>
internal sealed class IntrinsicsFactAttribute : FactAttribute
{
    public IntrinsicsFactAttribute()
    {
        if (!AesNi.IsSupported)
        {
            Skip = "requires AES-NI, PCLMULQDQ and SSSE3";
        }
    }
}

/// <summary>The theory counterpart of <see cref="IntrinsicsFactAttribute"/>.</summary>
internal sealed class IntrinsicsTheoryAttribute : TheoryAttribute
{
    public IntrinsicsTheoryAttribute()
    {
        if (!AesNi.IsSupported)
        {
            Skip = "requires AES-NI, PCLMULQDQ and SSSE3";
        }
    }
}
