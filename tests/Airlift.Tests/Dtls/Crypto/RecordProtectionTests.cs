using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using static Airlift.Tests.Dtls.Crypto.CryptoTestHex;

namespace Airlift.Tests.Dtls.Crypto;

public class RecordProtectionTests
{
    private const ulong EpochSeq = (1UL << 48) | 0x0000_0102_0304UL;

    public static TheoryData<ushort> AllSuites()
    {
        var data = new TheoryData<ushort>();
        foreach (var s in CipherSuiteInfo.All)
        {
            data.Add(s.Suite.Value);
        }

        return data;
    }

    private static CipherSuiteInfo Suite(ushort value)
    {
        Assert.True(CipherSuiteInfo.TryGet(new CipherSuite(value), out var info));
        return info;
    }

    private static (RecordProtection Writer, RecordProtection Reader) Pair(CipherSuiteInfo suite)
    {
        var key = Seq(suite.KeyLength, 0x30);
        var iv = Seq(suite.FixedIvLength, 0x90);
        return (RecordProtection.Create(suite, key, iv), RecordProtection.Create(suite, key, iv));
    }

    private static byte[] Seal(RecordProtection p, ulong epochSeq, ContentType type, byte[] plaintext)
    {
        var output = new byte[plaintext.Length + p.Overhead];
        Assert.Equal(output.Length, p.Seal(epochSeq, type, ProtocolVersion.Dtls12, plaintext, output));
        return output;
    }

    [Theory]
    [MemberData(nameof(AllSuites))]
    public void Seal_then_open_round_trips_for_every_suite_rfc5246_section6_2_3_3(ushort value)
    {
        var suite = Suite(value);
        var (writer, reader) = Pair(suite);
        using var w = writer;
        using var r = reader;
        Assert.Equal(suite.RecordOverhead, w.Overhead);
        foreach (var length in new[] { 0, 1, 1200 })
        {
            var plaintext = Seq(length, 3);
            var fragment = Seal(w, EpochSeq, ContentType.ApplicationData, plaintext);
            var opened = new byte[length];
            Assert.True(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment, opened, out var written));
            Assert.Equal(length, written);
            Assert.Equal(plaintext, opened);
        }
    }

    [Theory]
    [MemberData(nameof(AllSuites))]
    public void Open_fails_on_tampered_tag_wrong_seq_wrong_type_wrong_version_or_truncation(ushort value)
    {
        var suite = Suite(value);
        var (writer, reader) = Pair(suite);
        using var w = writer;
        using var r = reader;
        var fragment = Seal(w, EpochSeq, ContentType.ApplicationData, Seq(100, 9));
        var plaintext = new byte[200];

        var tampered = (byte[])fragment.Clone();
        tampered[^1] ^= 0x01;
        Assert.False(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, tampered, plaintext, out _));

        var flippedCiphertext = (byte[])fragment.Clone();
        flippedCiphertext[suite.RecordIvLength] ^= 0x80;
        Assert.False(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, flippedCiphertext, plaintext, out _));

        Assert.False(r.TryOpen(EpochSeq + 1, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment, plaintext, out _));
        Assert.False(r.TryOpen(EpochSeq ^ (1UL << 48), ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment, plaintext, out _));
        Assert.False(r.TryOpen(EpochSeq, ContentType.Handshake, ProtocolVersion.Dtls12, fragment, plaintext, out _));
        Assert.False(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls10, fragment, plaintext, out _));
        Assert.False(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment.AsSpan(0, fragment.Length - 1), plaintext, out _));
        Assert.False(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment.AsSpan(0, suite.RecordOverhead - 1), plaintext, out _));
        Assert.False(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, [], plaintext, out var written));
        Assert.Equal(0, written);

        // The untouched fragment still opens, so each failure above was caused by its one change.
        Assert.True(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment, plaintext, out written));
        Assert.Equal(100, written);
    }

    [Fact]
    public void Open_returns_false_when_the_plaintext_buffer_is_too_small()
    {
        var (writer, reader) = Pair(CipherSuiteInfo.All[0]);
        using var w = writer;
        using var r = reader;
        var fragment = Seal(w, EpochSeq, ContentType.ApplicationData, Seq(50, 0));
        Assert.False(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment, new byte[49], out _));
    }

    [Theory]
    [InlineData((ushort)0xC02B)]
    [InlineData((ushort)0xC030)]
    public void Gcm_record_is_epoch_seq_explicit_nonce_then_raw_aes_gcm_output_rfc5288_section3(ushort value)
    {
        var suite = Suite(value);
        var key = Seq(suite.KeyLength, 0x30);
        var salt = H("a1b2c3d4");
        using var p = RecordProtection.Create(suite, key, salt);
        var plaintext = Encoding.ASCII.GetBytes("hello dtls record layer");
        var fragment = Seal(p, EpochSeq, ContentType.ApplicationData, plaintext);

        // Explicit nonce on the wire = 64-bit epoch||seq, big-endian.
        Assert.Equal(H("0001000001020304"), fragment[..8]);

        // nonce = salt || explicit nonce; additional_data = epoch||seq, type, version, length.
        var nonce = H("a1b2c3d4" + "0001000001020304");
        var aad = H("0001000001020304" + "17" + "fefd" + plaintext.Length.ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[16];
        using (var gcm = new AesGcm(key, 16))
        {
            gcm.Encrypt(nonce, plaintext, ciphertext, tag, aad);
        }

        Assert.Equal(ciphertext, fragment[8..^16]);
        Assert.Equal(tag, fragment[^16..]);
    }

    [Fact]
    public void Gcm_open_uses_the_explicit_nonce_from_the_wire_not_the_record_sequence_rfc5288_section3()
    {
        // A peer may pick any explicit nonce; only the AAD carries the record's epoch||seq.
        var suite = CipherSuiteInfo.All[0];
        var key = Seq(16, 0x30);
        var salt = H("01020304");
        var plaintext = Seq(40, 5);
        var explicitNonce = H("ffeeddccbbaa9988");
        var aad = H("0001000001020304" + "17" + "fefd" + "0028");
        var fragment = new byte[8 + 40 + 16];
        explicitNonce.CopyTo(fragment, 0);
        using (var gcm = new AesGcm(key, 16))
        {
            gcm.Encrypt(H("01020304ffeeddccbbaa9988"), plaintext, fragment.AsSpan(8, 40), fragment.AsSpan(48, 16), aad);
        }

        using var p = RecordProtection.Create(suite, key, salt);
        var opened = new byte[40];
        Assert.True(p.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment, opened, out var written));
        Assert.Equal(40, written);
        Assert.Equal(plaintext, opened);
    }

    // RFC 8439 2.8.2 AEAD_CHACHA20_POLY1305 example: key 80..9F, nonce 07000000 4041424344454647.
    private static readonly byte[] Rfc8439Key = Seq(32, 0x80);
    private static readonly byte[] Rfc8439Plaintext = Encoding.ASCII.GetBytes("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    private static readonly byte[] Rfc8439Ciphertext = H(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
        "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
        "3ff4def08e4b7a9de576d26586cec64b6116");

    [Fact]
    public void Platform_chacha20_poly1305_reproduces_rfc8439_section2_8_2_vector()
    {
        var ciphertext = new byte[Rfc8439Plaintext.Length];
        var tag = new byte[16];
        using var aead = new ChaCha20Poly1305(Rfc8439Key);
        aead.Encrypt(H("070000004041424344454647"), Rfc8439Plaintext, ciphertext, tag, H("50515253c0c1c2c3c4c5c6c7"));
        Assert.Equal(Rfc8439Ciphertext, ciphertext);
        Assert.Equal(H("1ae10b594f09e26a7e902ecbd0600691"), tag);
    }

    [Fact]
    public void Chacha_record_nonce_is_iv_xor_left_padded_epoch_seq_rfc7905_section2()
    {
        // Choose the IV so that IV XOR (0^32 || epoch||seq) equals the RFC 8439 2.8.2 nonce: the
        // keystream, hence the ciphertext, must then be exactly the RFC's. No explicit nonce is sent.
        var rfcNonce = H("070000004041424344454647");
        var iv = (byte[])rfcNonce.Clone();
        var tail = BinaryPrimitives.ReadUInt64BigEndian(iv.AsSpan(4)) ^ EpochSeq;
        BinaryPrimitives.WriteUInt64BigEndian(iv.AsSpan(4), tail);
        Assert.True(CipherSuiteInfo.TryGet(CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256, out var suite));
        using var p = RecordProtection.Create(suite, Rfc8439Key, iv);
        Assert.Equal(16, p.Overhead);
        var fragment = Seal(p, EpochSeq, ContentType.ApplicationData, Rfc8439Plaintext);
        Assert.Equal(Rfc8439Plaintext.Length + 16, fragment.Length);
        Assert.Equal(Rfc8439Ciphertext, fragment[..^16]);

        // And the tag is the platform's tag over the TLS additional_data.
        var aad = H("0001000001020304" + "17" + "fefd" + Rfc8439Plaintext.Length.ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
        var tag = new byte[16];
        using var aead = new ChaCha20Poly1305(Rfc8439Key);
        aead.Encrypt(rfcNonce, Rfc8439Plaintext, new byte[Rfc8439Plaintext.Length], tag, aad);
        Assert.Equal(tag, fragment[^16..]);
    }

    [Fact]
    public void Create_rejects_key_or_iv_of_the_wrong_length()
    {
        var suite = CipherSuiteInfo.All[0];
        Assert.Throws<ArgumentException>(() => RecordProtection.Create(suite, new byte[15], new byte[4]));
        Assert.Throws<ArgumentException>(() => RecordProtection.Create(suite, new byte[16], new byte[12]));
    }

    [Fact]
    public void Seal_rejects_an_output_buffer_without_room_for_the_overhead()
    {
        using var p = RecordProtection.Create(CipherSuiteInfo.All[0], new byte[16], new byte[4]);
        Assert.Throws<ArgumentException>(() => p.Seal(0, ContentType.ApplicationData, ProtocolVersion.Dtls12, new byte[10], new byte[33]));
    }

    [Theory]
    [MemberData(nameof(AllSuites))]
    public void Seal_and_open_allocate_nothing_per_record(ushort value)
    {
        var (writer, reader) = Pair(Suite(value));
        using var w = writer;
        using var r = reader;
        var plaintext = Seq(1200, 1);
        var fragment = new byte[1200 + w.Overhead];
        var opened = new byte[1200];
        // Warm up so JIT and first-use allocations are not counted.
        for (var i = 0; i < 3; i++)
        {
            w.Seal(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, plaintext, fragment);
            r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment, opened, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10; i++)
        {
            w.Seal(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, plaintext, fragment);
            Assert.True(r.TryOpen(EpochSeq, ContentType.ApplicationData, ProtocolVersion.Dtls12, fragment, opened, out _));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
