using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using Airlift.Dtls;
using Airlift.Srtp;
using Airlift.Srtp.Primitives;
using static Airlift.Tests.Srtp.SrtpTestPackets;

namespace Airlift.Tests.Srtp;

/// <summary>Behaviour of <see cref="SrtpContext"/>: round trips, rollover, replay, truncation, tampering, SRTCP, limits.</summary>
public class SrtpContextTests
{
    private const uint Ssrc = 0x1234_5678;

    /// <summary>False in <see cref="SrtpContextPlatformCryptoTests"/>: every behaviour again on the platform's AES and AesGcm.</summary>
    protected virtual bool HardwareIntrinsics => AesNi.IsSupported;

    /// <summary>
    /// The HMAC-SHA1 path of the AES-CM profiles: libcrypto's HMAC_CTX directly here (wherever it is usable, which on the
    /// Linux test machines it must be), the platform's IncrementalHash in <see cref="SrtpContextPlatformCryptoTests"/>.
    /// </summary>
    protected virtual bool OpenSslHmac => OpenSslHmacSha1.IsSupported;

    [Fact]
    public void The_context_takes_the_path_its_options_ask_for()
    {
        var (s, r) = Pair(SrtpProtectionProfile.AeadAes128Gcm);
        using (s)
        using (r)
        {
            Assert.Equal(HardwareIntrinsics, s.UsesHardwareIntrinsics);
            Assert.Equal(HardwareIntrinsics, r.UsesHardwareIntrinsics);
            Assert.False(s.UsesOpenSslHmac); // GCM has no HMAC
        }

        var (cs, cr) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80);
        using (cs)
        using (cr)
        {
            Assert.Equal(HardwareIntrinsics, cs.UsesHardwareIntrinsics);
            Assert.Equal(OpenSslHmac, cs.UsesOpenSslHmac);
            Assert.Equal(OpenSslHmac, cr.UsesOpenSslHmac);
        }
    }

    private SrtpOptions Path(SrtpOptions? options) =>
        (options ?? SrtpOptions.Default) with { UseHardwareIntrinsics = HardwareIntrinsics, UseOpenSslHmac = OpenSslHmac };

    private (SrtpContext Sender, SrtpContext Receiver) Pair(SrtpProtectionProfile profile, SrtpOptions? options = null, ulong seed = 7) =>
        SrtpTestPackets.Pair(profile, Path(options), seed);

    [Fact]
    public void Keying_material_splits_by_role_RFC5764_4_2()
    {
        var profile = SrtpProtectionProfile.Aes128CmHmacSha1_80;
        var m = new byte[60];
        for (var i = 0; i < m.Length; i++)
        {
            m[i] = (byte)i;
        }

        var client = SrtpKeys.FromKeyingMaterial(profile, m, DtlsRole.Client);
        var server = SrtpKeys.FromKeyingMaterial(profile, m, DtlsRole.Server);

        Assert.Equal(m[..16], client.Local.Key.ToArray());
        Assert.Equal(m[32..46], client.Local.Salt.ToArray());
        Assert.Equal(m[16..32], client.Remote.Key.ToArray());
        Assert.Equal(m[46..60], client.Remote.Salt.ToArray());
        Assert.Equal(client.Local.Key.ToArray(), server.Remote.Key.ToArray());
        Assert.Equal(client.Remote.Salt.ToArray(), server.Local.Salt.ToArray());
    }

    [Theory]
    [InlineData((ushort)0x0007, 56, 16, 12)]
    [InlineData((ushort)0x0008, 88, 32, 12)]
    public void Gcm_keying_material_uses_96_bit_salts_RFC7714_12(ushort value, int total, int keyLength, int saltLength)
    {
        var profile = new SrtpProtectionProfile(value);
        var keys = SrtpKeys.FromKeyingMaterial(profile, new byte[total], DtlsRole.Client);
        Assert.Equal(keyLength, keys.Local.Key.Length);
        Assert.Equal(saltLength, keys.Remote.Salt.Length);
        Assert.Throws<ArgumentException>(() => SrtpKeys.FromKeyingMaterial(profile, new byte[total - 1], DtlsRole.Client));
    }

    [Fact]
    public void Unknown_profile_is_refused_at_creation()
    {
        Assert.False(SrtpContext.IsSupported(new SrtpProtectionProfile(0x0005)));
        Assert.Throws<ArgumentException>(() => SrtpKeys.FromKeyingMaterial(new SrtpProtectionProfile(0x0005), new byte[60], DtlsRole.Client));
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Rtp_round_trips_with_csrcs_and_header_extension_RFC3711_3_3(ushort value)
    {
        var profile = new SrtpProtectionProfile(value);
        var (sender, receiver) = Pair(profile);
        using var s = sender;
        using var r = receiver;
        ushort seq = 100;
        foreach (var (payload, csrcs, ext) in new[] { (0, 0, -1), (1, 0, -1), (160, 2, -1), (1200, 0, 2), (33, 15, 0) })
        {
            var plain = Rtp(seq++, Ssrc, payload, csrcs, ext);
            var srtp = ProtectRtp(s, plain);
            Assert.Equal(plain.Length + s.RtpTrailerLength, srtp.Length);
            var header = 12 + 4 * csrcs + (ext >= 0 ? 4 + 4 * ext : 0);
            Assert.Equal(plain[..header], srtp[..header]);
            if (payload >= 16)
            {
                Assert.NotEqual(plain[header..], srtp[header..plain.Length]);
            }

            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(srtp, out var n));
            Assert.Equal(plain, srtp[..n]);
        }

        Assert.Equal(5, r.Stats.RtpPackets);
        Assert.Equal(0, r.Stats.Dropped);
    }

    [Theory]
    [InlineData((ushort)0x0001, 10)]
    [InlineData((ushort)0x0002, 4)]
    [InlineData((ushort)0x0007, 16)]
    [InlineData((ushort)0x0008, 16)]
    public void Tag_lengths_follow_the_profile_and_srtcp_keeps_80_bits_for_sha1_32_RFC5764_4_1_2(ushort value, int rtpTag)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            Assert.Equal(rtpTag, s.RtpTrailerLength);
            Assert.Equal(4 + (value <= 2 ? 10 : 16), s.RtcpTrailerLength);
        }
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Rollover_counter_increments_across_sequence_wrap_RFC3711_3_3_1(ushort value)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            // 65530..65535, 0..5 in order: ROC moves from 0 to 1 on both sides.
            for (var i = 0; i < 12; i++)
            {
                var seq = (ushort)(65530 + i);
                var plain = Rtp(seq, Ssrc, 50);
                var srtp = ProtectRtp(s, plain);
                Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(srtp, out var n));
                Assert.Equal(plain, srtp[..n]);
            }

            Assert.True(s.TryGetRolloverCounter(Ssrc, out var sroc));
            Assert.True(r.TryGetRolloverCounter(Ssrc, out var rroc));
            Assert.Equal(1u, sroc);
            Assert.Equal(1u, rroc);
        }
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Packets_reordered_around_the_wrap_get_the_right_rollover_counter_RFC3711_appendix_A(ushort value)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            var seqs = new ushort[] { 65533, 65534, 65535, 0, 1, 2 };
            var wire = seqs.Select(q => (Plain: Rtp(q, Ssrc, 40), Srtp: Array.Empty<byte>())).ToArray();
            for (var i = 0; i < wire.Length; i++)
            {
                wire[i].Srtp = ProtectRtp(s, wire[i].Plain);
            }

            // Arrival: 65533, 0 (new ROC first), 65535 (old ROC after the wrap), 2, 65534, 1.
            foreach (var i in new[] { 0, 3, 2, 5, 1, 4 })
            {
                Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(wire[i].Srtp, out var n));
                Assert.Equal(wire[i].Plain, wire[i].Srtp[..n]);
            }

            Assert.True(r.TryGetRolloverCounter(Ssrc, out var roc));
            Assert.Equal(1u, roc);
        }
    }

    [Fact]
    public void A_packet_with_the_wrong_rollover_counter_fails_authentication_RFC3711_3_3_1()
    {
        // The ROC is authenticated (RFC 3711 4.2) though never sent: a receiver that missed 2^15+ packets cannot
        // verify, which proves the sender's ROC went into the tag.
        var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80);
        using (s)
        using (r)
        {
            var first = ProtectRtp(s, Rtp(10, Ssrc, 20));
            Assert.True(r.TryUnprotectRtp(first, out _));
            for (var q = 11; q < 11 + 65536; q += 16000)
            {
                ProtectRtp(s, Rtp((ushort)q, Ssrc, 20));
            }

            var afterWrap = ProtectRtp(s, Rtp(10, Ssrc, 20)); // seq 10 again, now with ROC 1
            Assert.Equal(SrtpStatus.Replayed, r.UnprotectRtp(afterWrap.ToArray(), out _));
            var later = ProtectRtp(s, Rtp(20000, Ssrc, 20)); // ROC 1, receiver guesses ROC 0
            Assert.Equal(SrtpStatus.AuthenticationFailed, r.UnprotectRtp(later, out _));
        }
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Replayed_packets_are_rejected_and_counted_RFC3711_3_3_2(ushort value)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            var srtp = ProtectRtp(s, Rtp(500, Ssrc, 100));
            var copy = srtp.ToArray();
            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(srtp, out _));
            Assert.Equal(SrtpStatus.Replayed, r.UnprotectRtp(copy, out var n));
            Assert.Equal(0, n);
            Assert.Equal(1, r.Stats.DroppedReplay);

            var rtcp = ProtectRtcp(s, Rtcp(Ssrc));
            var rtcpCopy = rtcp.ToArray();
            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtcp(rtcp, out _));
            Assert.Equal(SrtpStatus.Replayed, r.UnprotectRtcp(rtcpCopy, out _));
            Assert.Equal(2, r.Stats.DroppedReplay);
        }
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void A_receiver_that_saw_sequence_number_1_takes_65531_for_a_rollover_before_the_first_and_refuses_it_RFC3711_3_3_1(ushort value)
    {
        var profile = new SrtpProtectionProfile(value);
        // Found by the srtp fuzz target's long run (fuzz/crashes/srtp): its round-trip check assumed the receiver's
        // rollover counter always follows the sender's, but a receiver whose state another packet set guesses ROC - 1
        // for a jump back of more than 2^15, as libsrtp does, and there is no ROC below 0. A harness check, not a bug;
        // this pins the behaviour.
        var (first, r) = Pair(profile, SrtpOptions.Default);
        var (fresh, unused) = Pair(profile, SrtpOptions.Default);
        using (first)
        using (fresh)
        using (unused)
        using (r)
        {
            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(ProtectRtp(first, Rtp(1, Ssrc, 10)), out _));
            Assert.Equal(SrtpStatus.TooOld, r.UnprotectRtp(ProtectRtp(fresh, Rtp(65531, Ssrc, 10)), out _));

            // The fresh sender's next packet after its wrap is ROC 1; the receiver, still at ROC 0, cannot verify it.
            Assert.Equal(SrtpStatus.AuthenticationFailed, r.UnprotectRtp(ProtectRtp(fresh, Rtp(2, Ssrc, 10)), out _));
            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(ProtectRtp(first, Rtp(2, Ssrc, 10)), out _));
        }
    }

    [Fact]
    public void Packets_behind_the_replay_window_are_rejected_and_those_inside_accepted_once_RFC3711_3_3_2()
    {
        var options = new SrtpOptions { ReplayWindowSize = 128 };
        var (s, r) = Pair(SrtpProtectionProfile.AeadAes128Gcm, options);
        using (s)
        using (r)
        {
            var wire = new Dictionary<int, byte[]>();
            for (var q = 1000; q <= 1200; q++)
            {
                wire[q] = ProtectRtp(s, Rtp((ushort)q, Ssrc, 10));
            }

            Assert.True(r.TryUnprotectRtp(wire[1200], out _));
            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(wire[1200 - 127], out _));   // last slot of the window
            Assert.Equal(SrtpStatus.TooOld, r.UnprotectRtp(wire[1200 - 128], out _)); // just outside
            Assert.Equal(SrtpStatus.TooOld, r.UnprotectRtp(wire[1000], out _));
            Assert.Equal(2, r.Stats.DroppedTooOld);
        }
    }

    [Fact]
    public void Sender_refuses_to_reuse_an_index_so_keystream_is_never_reused()
    {
        var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80);
        using (s)
        using (r)
        {
            ProtectRtp(s, Rtp(7, Ssrc, 10));
            var again = WithRoom(Rtp(7, Ssrc, 10));
            Assert.Equal(SrtpStatus.Replayed, s.ProtectRtp(again, again.Length - 64, out _));
            Assert.Equal(1, s.Stats.DroppedReplay);
        }
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Truncated_packets_are_rejected_without_exceptions(ushort value)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            var srtp = ProtectRtp(s, Rtp(1, Ssrc, 0, csrcs: 1, extensionWords: 1));
            for (var len = 0; len < srtp.Length; len++)
            {
                var cut = srtp[..len];
                var st = r.UnprotectRtp(cut, out var n);
                Assert.True(st is SrtpStatus.Truncated or SrtpStatus.AuthenticationFailed, $"len {len}: {st}");
                Assert.Equal(0, n);
            }

            var srtcp = ProtectRtcp(s, Rtcp(Ssrc));
            for (var len = 0; len < srtcp.Length; len++)
            {
                var st = r.UnprotectRtcp(srtcp[..len], out _);
                Assert.True(st is SrtpStatus.Truncated or SrtpStatus.AuthenticationFailed, $"rtcp len {len}: {st}");
            }

            Assert.True(r.Stats.DroppedTruncated > 0);
            Assert.Equal(0, r.Stats.RtpPackets + r.Stats.RtcpPackets);
        }
    }

    [Fact]
    public void Header_extension_longer_than_the_packet_is_truncated_not_an_exception()
    {
        var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80);
        using (s)
        using (r)
        {
            var p = WithRoom(Rtp(1, Ssrc, 8, extensionWords: 0));
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(14), 0xFFFF);
            Assert.Equal(SrtpStatus.Truncated, s.ProtectRtp(p, 12 + 4 + 8, out _));
            var q = new byte[40];
            q[0] = 0x90;
            BinaryPrimitives.WriteUInt16BigEndian(q.AsSpan(14), 0xFFFF);
            Assert.Equal(SrtpStatus.Truncated, r.UnprotectRtp(q, out _));
        }
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Any_flipped_bit_fails_authentication_RFC3711_3_3_step_5(ushort value)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            var original = ProtectRtp(s, Rtp(42, Ssrc, 64));
            // Tag, payload, and header bytes other than SSRC/version (which route to other checks).
            foreach (var at in new[] { original.Length - 1, original.Length - s.RtpTrailerLength, 12, 30, 1, 4 })
            {
                var t = original.ToArray();
                t[at] ^= 0x01;
                Assert.Equal(SrtpStatus.AuthenticationFailed, r.UnprotectRtp(t, out _));
            }

            Assert.Equal(6, r.Stats.DroppedAuthentication);
            Assert.Equal(0, r.Stats.Ssrcs); // no state for a stream that never authenticated
            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtp(original, out _));

            var rtcp = ProtectRtcp(s, Rtcp(Ssrc));
            var bad = rtcp.ToArray();
            bad[10] ^= 0x80;
            Assert.Equal(SrtpStatus.AuthenticationFailed, r.UnprotectRtcp(bad, out _));
            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtcp(rtcp, out _));
        }
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Srtcp_index_increments_per_packet_and_the_E_bit_marks_encryption_RFC3711_3_4(ushort value)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            var aead = value >= 7;
            for (uint i = 0; i < 4; i++)
            {
                var encrypt = i % 2 == 0;
                var plain = Rtcp(Ssrc, extra: (int)i);
                var srtcp = ProtectRtcp(s, plain, encrypt);
                Assert.Equal(plain.Length + s.RtcpTrailerLength, srtcp.Length);
                var wordAt = aead ? srtcp.Length - 4 : plain.Length;
                var word = BinaryPrimitives.ReadUInt32BigEndian(srtcp.AsSpan(wordAt));
                Assert.Equal(encrypt ? 0x8000_0000u | i : i, word);
                Assert.Equal(plain[..8], srtcp[..8]);
                if (encrypt)
                {
                    Assert.NotEqual(plain[8..], srtcp[8..plain.Length]);
                }
                else
                {
                    Assert.Equal(plain, srtcp[..plain.Length]);
                }

                Assert.Equal(SrtpStatus.Ok, r.UnprotectRtcp(srtcp, out var n));
                Assert.Equal(plain, srtcp[..n]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Flipping_the_E_bit_fails_authentication_RFC3711_3_4(ushort value)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            var srtcp = ProtectRtcp(s, Rtcp(Ssrc), encrypt: false);
            var wordAt = value >= 7 ? srtcp.Length - 4 : srtcp.Length - s.RtcpTrailerLength;
            srtcp[wordAt] ^= 0x80;
            Assert.Equal(SrtpStatus.AuthenticationFailed, r.UnprotectRtcp(srtcp, out _));
        }
    }

    [Fact]
    public void Srtcp_index_exhaustion_requires_a_rekey_RFC3711_9_2()
    {
        var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80);
        using (s)
        using (r)
        {
            s.SetNextRtcpIndex(Ssrc, 0x7FFF_FFFF);
            var last = ProtectRtcp(s, Rtcp(Ssrc));
            Assert.Equal(SrtpStatus.Ok, r.UnprotectRtcp(last, out _));
            var buffer = WithRoom(Rtcp(Ssrc));
            Assert.Equal(SrtpStatus.KeyExhausted, s.ProtectRtcp(buffer, buffer.Length - 64, out _));
            Assert.Equal(1, s.Stats.DroppedKeyExhausted);
        }
    }

    [Fact]
    public void New_ssrcs_beyond_the_limit_are_counted_drops_and_forged_ones_take_no_slot()
    {
        var options = new SrtpOptions { MaxSsrcs = 2 };
        var (s, r) = Pair(SrtpProtectionProfile.AeadAes128Gcm, options);
        using (s)
        using (r)
        {
            // A forged packet of an unknown SSRC fails authentication and creates no state.
            var forged = new byte[100];
            forged[0] = 0x80;
            forged[11] = 0x99;
            Assert.Equal(SrtpStatus.AuthenticationFailed, r.UnprotectRtp(forged, out _));
            Assert.Equal(0, r.Stats.Ssrcs);

            Assert.True(r.TryUnprotectRtp(ProtectRtp(s, Rtp(1, 1, 10)), out _));
            Assert.True(r.TryUnprotectRtcp(ProtectRtcp(s, Rtcp(2)), out _));
            Assert.Equal(2, r.Stats.Ssrcs);

            var third = WithRoom(Rtp(1, 3, 10));
            Assert.Equal(SrtpStatus.SsrcLimitReached, s.ProtectRtp(third, third.Length - 64, out _));
            var local = SrtpContext.Create(SrtpProtectionProfile.AeadAes128Gcm, SrtpDirection.Protect, new byte[16], new byte[12], Path(null));
            using (local)
            {
                var other = ProtectRtp(local, Rtp(1, 3, 10));
                Assert.Equal(SrtpStatus.SsrcLimitReached, r.UnprotectRtp(other, out _));
            }

            Assert.Equal(1, s.Stats.DroppedSsrcLimit);
            Assert.Equal(1, r.Stats.DroppedSsrcLimit);
            Assert.True(r.TryUnprotectRtp(ProtectRtp(s, Rtp(2, 1, 10)), out _)); // known SSRCs still flow
        }
    }

    [Fact]
    public void Buffer_without_room_for_the_trailer_and_bad_versions_are_typed_failures()
    {
        var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80);
        using (s)
        using (r)
        {
            var p = Rtp(1, Ssrc, 20);
            var tight = new byte[p.Length + 9];
            p.CopyTo(tight, 0);
            Assert.Equal(SrtpStatus.BufferTooSmall, s.ProtectRtp(tight, p.Length, out _));
            Assert.Equal(SrtpStatus.Malformed, s.ProtectRtp(tight, tight.Length + 1, out _));
            Assert.Equal(SrtpStatus.Malformed, s.ProtectRtp(tight, -1, out _));
            var rtcp = Rtcp(Ssrc);
            Assert.Equal(SrtpStatus.BufferTooSmall, s.ProtectRtcp(rtcp, rtcp.Length, out _));

            var v1 = ProtectRtp(s, Rtp(2, Ssrc, 20));
            v1[0] = (byte)((v1[0] & 0x3F) | 0x40);
            Assert.Equal(SrtpStatus.Malformed, r.UnprotectRtp(v1, out _));
            Assert.Equal(2, s.Stats.DroppedMalformed);
            Assert.Equal(2, s.Stats.DroppedBufferTooSmall);
            Assert.Equal(1, r.Stats.DroppedMalformed);
        }
    }

    [Fact]
    public void Random_garbage_never_throws_and_is_always_dropped()
    {
        foreach (var profile in Profiles)
        {
            var (s, r) = Pair(profile);
            using (s)
            using (r)
            {
                var rng = RandomSource.Seeded(profile.Value);
                var len = new byte[1];
                for (var i = 0; i < 2000; i++)
                {
                    rng.Fill(len);
                    var g = new byte[len[0]];
                    rng.Fill(g);
                    Assert.NotEqual(SrtpStatus.Ok, r.UnprotectRtp(g, out _));
                    Assert.NotEqual(SrtpStatus.Ok, r.UnprotectRtcp(g.ToArray(), out _));
                }

                Assert.Equal(4000, r.Stats.Dropped);
            }
        }
    }

    [Fact]
    public void Using_a_context_in_the_wrong_direction_or_after_dispose_throws()
    {
        var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80);
        var buf = new byte[100];
        Assert.Throws<InvalidOperationException>(() => s.UnprotectRtp(buf, out _));
        Assert.Throws<InvalidOperationException>(() => r.ProtectRtp(buf, 20, out _));
        s.Dispose();
        r.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s.ProtectRtp(buf, 20, out _));
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SrtpOptions { ReplayWindowSize = 100 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SrtpOptions { ReplayWindowSize = 32 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SrtpOptions { MaxSsrcs = 0 }.Validate());
        new SrtpOptions { ReplayWindowSize = 1024, MaxSsrcs = 1 }.Validate();
    }

    [Theory]
    [MemberData(nameof(ProfileValues), MemberType = typeof(SrtpTestPackets))]
    public void Protect_and_unprotect_allocate_nothing_per_packet(ushort value)
    {
        var (s, r) = Pair(new SrtpProtectionProfile(value));
        using (s)
        using (r)
        {
            var plain = Rtp(0, Ssrc, 1200);
            var rtcp = Rtcp(Ssrc, extra: 10);
            var buffer = new byte[plain.Length + 64];
            var rtcpBuffer = new byte[rtcp.Length + 64];
            ushort seq = 0;

            void One()
            {
                plain.CopyTo(buffer, 0);
                BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), seq++);
                Assert.True(s.TryProtectRtp(buffer, plain.Length, out var n));
                Assert.True(r.TryUnprotectRtp(buffer.AsSpan(0, n), out _));
                rtcp.CopyTo(rtcpBuffer, 0);
                Assert.True(s.TryProtectRtcp(rtcpBuffer, rtcp.Length, out var m));
                Assert.True(r.TryUnprotectRtcp(rtcpBuffer.AsSpan(0, m), out _));
            }

            for (var i = 0; i < 200; i++)
            {
                One(); // warm up: stream state, JIT, native contexts
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 2000; i++)
            {
                One();
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(0, allocated);
            Assert.Equal(2200, r.Stats.RtpPackets);
        }
    }

    [Fact]
    public void Drops_are_reported_on_the_Airlift_Srtp_meter()
    {
        long replays = 0;
        long packets = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Airlift.Srtp")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var t in tags)
            {
                if (instrument.Name == "airlift.srtp.drops" && t.Key == "cause" && (string?)t.Value == "replayed")
                {
                    Interlocked.Add(ref replays, value);
                }

                if (instrument.Name == "airlift.srtp.packets" && t.Key == "operation" && (string?)t.Value == "unprotect_rtp")
                {
                    Interlocked.Add(ref packets, value);
                }
            }
        });
        listener.Start();

        var (s, r) = Pair(SrtpProtectionProfile.Aes128CmHmacSha1_80);
        using (s)
        using (r)
        {
            var srtp = ProtectRtp(s, Rtp(9, Ssrc, 10));
            var copy = srtp.ToArray();
            Assert.True(r.TryUnprotectRtp(srtp, out _));
            Assert.False(r.TryUnprotectRtp(copy, out _));
        }

        // Other tests may record concurrently on the same process-wide meter, hence "at least".
        Assert.True(Interlocked.Read(ref replays) >= 1);
        Assert.True(Interlocked.Read(ref packets) >= 1);
    }
}

/// <summary>
/// The <see cref="SrtpContextTests"/> on the platform path (<see cref="SrtpOptions.UseHardwareIntrinsics"/> and
/// <see cref="SrtpOptions.UseOpenSslHmac"/> false): the platform's AES, AesGcm and IncrementalHash HMAC-SHA1.
/// </summary>
public sealed class SrtpContextPlatformCryptoTests : SrtpContextTests
{
    /// <inheritdoc/>
    protected override bool HardwareIntrinsics => false;

    /// <inheritdoc/>
    protected override bool OpenSslHmac => false;
}
