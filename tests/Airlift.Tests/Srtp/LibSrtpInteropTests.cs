using System.Buffers.Binary;
using Airlift.Dtls;
using Airlift.Srtp;
using static Airlift.Tests.Srtp.SrtpTestPackets;

namespace Airlift.Tests.Srtp;

/// <summary>
/// Cross-checks against libsrtp 2 (Debian libsrtp2-1): packets Airlift protects unprotect in libsrtp and the reverse, for
/// every profile, across a sequence-number wrap, for RTP and RTCP (including Airlift's authenticate-only SRTCP).
/// Keys come from one exporter-shaped block split per RFC 5764 4.2, so the split and the KDF are checked too.
/// </summary>
public class LibSrtpInteropTests
{
    private const uint Ssrc = 0xCAFE_F00D;

    /// <summary>
    /// The Airlift side's options: the managed AES-NI path and libcrypto's HMAC_CTX here, the platform's AES, AesGcm and
    /// IncrementalHash in <see cref="LibSrtpInteropPlatformCryptoTests"/>.
    /// </summary>
    protected virtual SrtpOptions Options => new() { UseHardwareIntrinsics = true, UseOpenSslHmac = true };

    [LibSrtpFact]
    public void Libsrtp_supports_every_airlift_profile()
    {
        LibSrtp.EnsureAvailable();
        foreach (var p in Profiles)
        {
            Assert.True(LibSrtp.Supports(p), $"{LibSrtp.Version} lacks {p}");
        }
    }

    [LibSrtpTheory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Airlift_protected_rtp_unprotects_in_libsrtp_across_the_wrap(ushort value)
    {
        LibSrtp.EnsureAvailable();
        var profile = new SrtpProtectionProfile(value);
        var material = Material(profile, 11);
        var client = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
        using var airlift = client.CreateProtectContext(Options);
        using var lib = LibSrtp.Create(profile, outbound: false, client.Local.Key.Span, client.Local.Salt.Span);

        var i = 0;
        foreach (var seq in Sequence())
        {
            var plain = Rtp(seq, Ssrc, PayloadLength(i), csrcs: i % 3, extensionWords: i % 4 == 0 ? 1 : -1);
            var srtp = WithRoom(ProtectRtp(airlift, plain), 0);
            var len = srtp.Length;
            Assert.Equal(0, lib.Unprotect(srtp, ref len));
            Assert.Equal(plain, srtp[..len]);
            i++;
        }
    }

    [LibSrtpTheory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Libsrtp_protected_rtp_unprotects_in_airlift_across_the_wrap(ushort value)
    {
        LibSrtp.EnsureAvailable();
        var profile = new SrtpProtectionProfile(value);
        var material = Material(profile, 12);
        var server = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Server);
        var client = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
        using var lib = LibSrtp.Create(profile, outbound: true, server.Local.Key.Span, server.Local.Salt.Span);
        using var airlift = client.CreateUnprotectContext(Options);

        var i = 0;
        foreach (var seq in Sequence())
        {
            var plain = Rtp(seq, Ssrc, PayloadLength(i), csrcs: i % 2, extensionWords: i % 5 == 0 ? 3 : -1);
            var buffer = WithRoom(plain);
            var len = plain.Length;
            Assert.Equal(0, lib.Protect(buffer, ref len));
            Assert.Equal(SrtpStatus.Ok, airlift.UnprotectRtp(buffer.AsSpan(0, len), out var n));
            Assert.Equal(plain, buffer[..n]);
            i++;
        }

        Assert.True(airlift.TryGetRolloverCounter(Ssrc, out var roc));
        Assert.Equal(1u, roc);
    }

    [LibSrtpTheory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Srtcp_interoperates_both_ways_and_gcm_authenticate_only_RFC7714_9(ushort value)
    {
        LibSrtp.EnsureAvailable();
        var profile = new SrtpProtectionProfile(value);
        var material = Material(profile, 13);
        var client = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
        var server = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Server);
        using var airliftOut = client.CreateProtectContext(Options);
        using var libIn = LibSrtp.Create(profile, outbound: false, server.Remote.Key.Span, server.Remote.Salt.Span);
        using var libOut = LibSrtp.Create(profile, outbound: true, server.Local.Key.Span, server.Local.Salt.Span);
        using var airliftIn = client.CreateUnprotectContext(Options);

        for (var i = 0; i < 20; i++)
        {
            var plain = Rtcp(Ssrc, extra: i, seed: (ulong)i);
            // libsrtp 2.x refuses E=0 on its AES-CM path when its policy encrypts (srtp_err_status_cant_check), though
            // RFC 3711 3.4 allows it; its GCM path accepts it. So authenticate-only packets are cross-checked for GCM only.
            var encrypt = value <= 2 || i % 3 != 2;
            var srtcp = WithRoom(ProtectRtcp(airliftOut, plain, encrypt), 0);
            var len = srtcp.Length;
            Assert.Equal(0, libIn.UnprotectRtcp(srtcp, ref len));
            Assert.Equal(plain, srtcp[..len]);

            var buffer = WithRoom(plain);
            len = plain.Length;
            Assert.Equal(0, libOut.ProtectRtcp(buffer, ref len));
            Assert.True(BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(value >= 7 ? len - 4 : plain.Length)) >= 0x8000_0000u);
            Assert.Equal(SrtpStatus.Ok, airliftIn.UnprotectRtcp(buffer.AsSpan(0, len), out var n));
            Assert.Equal(plain, buffer[..n]);
        }
    }

    [LibSrtpTheory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Tampered_airlift_packets_fail_in_libsrtp_and_tampered_libsrtp_packets_fail_in_airlift(ushort value)
    {
        LibSrtp.EnsureAvailable();
        var profile = new SrtpProtectionProfile(value);
        var material = Material(profile, 14);
        var client = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
        using var airliftOut = client.CreateProtectContext(Options);
        using var libIn = LibSrtp.Create(profile, outbound: false, client.Local.Key.Span, client.Local.Salt.Span);
        var srtp = WithRoom(ProtectRtp(airliftOut, Rtp(77, Ssrc, 100)), 0);
        srtp[^1] ^= 1;
        var len = srtp.Length;
        Assert.NotEqual(0, libIn.Unprotect(srtp, ref len));

        using var libOut = LibSrtp.Create(profile, outbound: true, client.Remote.Key.Span, client.Remote.Salt.Span);
        using var airliftIn = client.CreateUnprotectContext(Options);
        var plain = Rtp(78, Ssrc, 100);
        var buffer = WithRoom(plain);
        len = plain.Length;
        Assert.Equal(0, libOut.Protect(buffer, ref len));
        buffer[20] ^= 1;
        Assert.Equal(SrtpStatus.AuthenticationFailed, airliftIn.UnprotectRtp(buffer.AsSpan(0, len), out _));
    }

    /// <summary>65500 up to the wrap and on to 300, with a few sends out of order (each index still sent once).</summary>
    private static IEnumerable<ushort> Sequence()
    {
        var seqs = new List<ushort>();
        for (var s = 65500; s < 65536 + 300; s += 3)
        {
            seqs.Add((ushort)s);
        }

        for (var k = 5; k + 1 < seqs.Count; k += 17)
        {
            (seqs[k], seqs[k + 1]) = (seqs[k + 1], seqs[k]);
        }

        return seqs;
    }

    private static int PayloadLength(int i) => i % 7 == 0 ? 1200 : 17 * (i % 50);
}

/// <summary>The libsrtp interop tests with Airlift on the platform path (<see cref="SrtpOptions.UseHardwareIntrinsics"/> and <see cref="SrtpOptions.UseOpenSslHmac"/> false).</summary>
public sealed class LibSrtpInteropPlatformCryptoTests : LibSrtpInteropTests
{
    /// <inheritdoc/>
    protected override SrtpOptions Options => new() { UseHardwareIntrinsics = false, UseOpenSslHmac = false };
}
