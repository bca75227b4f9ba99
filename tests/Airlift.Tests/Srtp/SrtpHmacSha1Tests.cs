using System.Security.Cryptography;
using System.Text;
using Airlift.Dtls;
using Airlift.Srtp;
using Airlift.Srtp.Primitives;
using static Airlift.Tests.Srtp.SrtpTestPackets;

namespace Airlift.Tests.Srtp;

/// <summary>
/// The two HMAC-SHA1 paths of the AES-CM profiles (libcrypto's HMAC_CTX directly, the platform's IncrementalHash): each
/// bit-exact with <see cref="HMACSHA1"/> and RFC 2202, keyed once and reused, and whole SRTP/SRTCP protection identical
/// on both. The SRTP behaviours themselves run on both paths in <see cref="SrtpContextTests"/> and its platform subclass.
/// </summary>
public sealed class SrtpHmacSha1Tests
{
    public static TheoryData<bool> Paths() => new() { true, false };

    // RFC 2202 section 3: the seven HMAC-SHA1 test cases (key, data, digest).
    public static TheoryData<string, string, string> Rfc2202() => new()
    {
        { string.Concat(Enumerable.Repeat("0b", 20)), Hex("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00" },
        { Hex("Jefe"), Hex("what do ya want for nothing?"), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
        { string.Concat(Enumerable.Repeat("aa", 20)), string.Concat(Enumerable.Repeat("dd", 50)), "125d7342b9ac11cd91a39af48aa17b4f63f175d3" },
        { "0102030405060708090a0b0c0d0e0f10111213141516171819", string.Concat(Enumerable.Repeat("cd", 50)), "4c9007f4026250c6bc8414f9bf50c86c2d7235da" },
        { string.Concat(Enumerable.Repeat("0c", 20)), Hex("Test With Truncation"), "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04" },
        { string.Concat(Enumerable.Repeat("aa", 80)), Hex("Test Using Larger Than Block-Size Key - Hash Key First"), "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
        { string.Concat(Enumerable.Repeat("aa", 80)), Hex("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"), "e8e99d0f45237d786d6bbaa7965c7808bbff1a91" },
    };

    [Fact]
    public void The_openssl_hmac_is_usable_on_linux()
    {
        // The fallback must not hide a broken binding on the machines the fast path is for.
        Assert.Equal(OperatingSystem.IsLinux(), OpenSslHmacSha1.IsSupported);
        using var mac = new SrtpHmacSha1(new byte[20], openSsl: true);
        Assert.Equal(OperatingSystem.IsLinux(), mac.UsesOpenSsl);
    }

    [Theory]
    [MemberData(nameof(Rfc2202))]
    public void Openssl_hmac_matches_RFC2202_test_cases(string key, string data, string digest) =>
        Rfc2202Case(openSsl: true, key, data, digest);

    [Theory]
    [MemberData(nameof(Rfc2202))]
    public void Platform_hmac_matches_RFC2202_test_cases(string key, string data, string digest) =>
        Rfc2202Case(openSsl: false, key, data, digest);

    [Theory]
    [MemberData(nameof(Paths))]
    public void Random_keys_and_lengths_match_HMACSHA1_with_the_key_set_once(bool openSsl)
    {
        var random = new Random(2202);
        var mac = new byte[20];
        for (var round = 0; round < 150; round++)
        {
            // Key lengths around the 64-byte SHA-1 block (shorter keys are padded, longer ones hashed first), 0 included.
            var key = new byte[random.Next(0, 140)];
            random.NextBytes(key);
            using var hmac = new SrtpHmacSha1(key, openSsl);
            Assert.Equal(openSsl && OpenSslHmacSha1.IsSupported, hmac.UsesOpenSsl);
            for (var use = 0; use < 4; use++)
            {
                var data = new byte[use == 0 ? 0 : random.Next(0, 2100)];
                random.NextBytes(data);
                Array.Clear(mac);
                Assert.True(hmac.TryCompute(data, mac));
                Assert.Equal(HMACSHA1.HashData(key, data), mac);
            }
        }
    }

    [Theory]
    [InlineData((ushort)0x0001)]
    [InlineData((ushort)0x0002)]
    public void Both_hmac_paths_protect_to_the_same_bytes_and_unprotect_each_other(ushort value)
    {
        var profile = new SrtpProtectionProfile(value);
        var material = Material(profile, 41);
        var keys = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
        var native = new SrtpOptions { UseOpenSslHmac = true };
        var platform = new SrtpOptions { UseOpenSslHmac = false };
        using var nativeSender = keys.CreateProtectContext(native);
        using var platformSender = keys.CreateProtectContext(platform);
        var peer = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Server);
        using var nativeReceiver = peer.CreateUnprotectContext(native);
        using var platformReceiver = peer.CreateUnprotectContext(platform);
        Assert.Equal(OpenSslHmacSha1.IsSupported, nativeSender.UsesOpenSslHmac);
        Assert.Equal(OpenSslHmacSha1.IsSupported, nativeReceiver.UsesOpenSslHmac);
        Assert.False(platformSender.UsesOpenSslHmac);
        Assert.False(platformReceiver.UsesOpenSslHmac);

        for (var i = 0; i < 40; i++)
        {
            var rtp = Rtp((ushort)(65500 + i), 0x5151_0000, i * 31 % 1300, csrcs: i % 3, seed: (ulong)i);
            var a = ProtectRtp(nativeSender, rtp);
            var b = ProtectRtp(platformSender, rtp);
            Assert.Equal(b, a);
            Assert.Equal(SrtpStatus.Ok, platformReceiver.UnprotectRtp(a, out var n));
            Assert.Equal(rtp, a[..n]);
            Assert.Equal(SrtpStatus.Ok, nativeReceiver.UnprotectRtp(b, out n));
            Assert.Equal(rtp, b[..n]);

            var rtcp = Rtcp(0x5151_0000, extra: i * 7, seed: (ulong)i);
            var c = ProtectRtcp(nativeSender, rtcp, encrypt: i % 2 == 0);
            var d = ProtectRtcp(platformSender, rtcp, encrypt: i % 2 == 0);
            Assert.Equal(d, c);
            Assert.Equal(SrtpStatus.Ok, platformReceiver.UnprotectRtcp(c, out n));
            Assert.Equal(rtcp, c[..n]);
            Assert.Equal(SrtpStatus.Ok, nativeReceiver.UnprotectRtcp(d, out n));
            Assert.Equal(rtcp, d[..n]);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_forged_tag_is_rejected_and_the_next_genuine_packet_still_verifies(bool openSsl)
    {
        // The keyed context is re-initialised per packet: a failed verification must not leave state behind.
        var options = new SrtpOptions { UseOpenSslHmac = openSsl };
        var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80, options);
        using (s)
        using (r)
        {
            Assert.Equal(openSsl && OpenSslHmacSha1.IsSupported, r.UsesOpenSslHmac);
            for (ushort seq = 1; seq <= 20; seq++)
            {
                var srtp = ProtectRtp(s, Rtp(seq, 0x7777, 200));
                var forged = srtp.ToArray();
                forged[forged.Length - 1 - (seq % 10)] ^= (byte)(1 << (seq % 8));
                Assert.Equal(SrtpStatus.AuthenticationFailed, r.UnprotectRtp(forged, out _));
                Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(srtp, out _));
            }

            Assert.Equal(20, r.Stats.RtpPackets);
        }
    }

    [Fact]
    public void Use_openssl_hmac_false_takes_the_platform_path()
    {
        using var context = SrtpContext.Create(SrtpProtectionProfile.Aes128CmHmacSha1_32, SrtpDirection.Protect, new byte[16], new byte[14], new SrtpOptions { UseOpenSslHmac = false });
        Assert.False(context.UsesOpenSslHmac);
        using var fast = SrtpContext.Create(SrtpProtectionProfile.Aes128CmHmacSha1_32, SrtpDirection.Protect, new byte[16], new byte[14]);
        Assert.Equal(OpenSslHmacSha1.IsSupported, fast.UsesOpenSslHmac);
    }

    [Fact]
    public void The_openssl_path_allocates_nothing_per_mac()
    {
        using var hmac = new SrtpHmacSha1(new byte[20], openSsl: true);
        var data = new byte[1216];
        var mac = new byte[20];
        for (var i = 0; i < 100; i++)
        {
            hmac.TryCompute(data, mac);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 2000; i++)
        {
            data[i % data.Length]++;
            Assert.True(hmac.TryCompute(data, mac));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void A_disposed_openssl_hmac_throws_instead_of_touching_freed_memory()
    {
        var native = OpenSslHmacSha1.TryCreate(new byte[20]);
        Assert.Equal(OperatingSystem.IsLinux(), native is not null);
        if (native is null)
        {
            return;
        }

        native.Dispose();
        native.Dispose();
        Assert.Throws<ObjectDisposedException>(() => native.TryCompute(new byte[10], new byte[20]));
    }

    private static void Rfc2202Case(bool openSsl, string key, string data, string digest)
    {
        var k = Convert.FromHexString(key);
        var d = Convert.FromHexString(data);
        Assert.Equal(digest, Convert.ToHexStringLower(HMACSHA1.HashData(k, d)));
        using var hmac = new SrtpHmacSha1(k, openSsl);
        Assert.Equal(openSsl && OpenSslHmacSha1.IsSupported, hmac.UsesOpenSsl);
        var mac = new byte[20];
        for (var i = 0; i < 2; i++)
        {
            Array.Clear(mac);
            Assert.True(hmac.TryCompute(d, mac));
            Assert.Equal(digest, Convert.ToHexStringLower(mac));
        }
    }

    private static string Hex(string ascii) => Convert.ToHexString(Encoding.ASCII.GetBytes(ascii));
}

/// <summary>The AppContext switch is process-wide, so its test runs alone (after the parallel collections).</summary>
[CollectionDefinition(nameof(SrtpHmacSwitchCollection), DisableParallelization = true)]
public sealed class SrtpHmacSwitchCollection;

/// <summary><see cref="SrtpOptions.DisableOpenSslHmacSwitch"/> turns the direct libcrypto HMAC off for new contexts.</summary>
[Collection(nameof(SrtpHmacSwitchCollection))]
public sealed class SrtpHmacSwitchTests
{
    [Fact]
    public void The_appcontext_switch_turns_the_openssl_hmac_off_for_new_contexts()
    {
        Assert.Equal(OpenSslHmacSha1.IsSupported, SrtpOpenSslHmac.IsAvailable);
        AppContext.SetSwitch(SrtpOptions.DisableOpenSslHmacSwitch, true);
        try
        {
            Assert.False(SrtpOpenSslHmac.IsAvailable);
            var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80, new SrtpOptions { UseOpenSslHmac = true });
            using (s)
            using (r)
            {
                Assert.False(s.UsesOpenSslHmac);
                Assert.False(r.UsesOpenSslHmac);
                var rtp = Rtp(5, 0x1111, 300);
                var srtp = ProtectRtp(s, rtp);
                Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(srtp, out var n));
                Assert.Equal(rtp, srtp[..n]);
            }
        }
        finally
        {
            AppContext.SetSwitch(SrtpOptions.DisableOpenSslHmacSwitch, false);
        }

        Assert.Equal(OpenSslHmacSha1.IsSupported, SrtpOpenSslHmac.IsAvailable);
    }
}
