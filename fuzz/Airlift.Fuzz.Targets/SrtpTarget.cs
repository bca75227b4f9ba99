using Airlift.Dtls;
using Airlift.Srtp;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>srtp</c>: SRTP and SRTCP unprotect of <see cref="SrtpContext"/> with fixed master keys. Header bits 0-1 pick
/// the profile (AES-CM-HMAC-SHA1-80, -32, AEAD-AES-128-GCM, -256-GCM); bit 2 the smallest replay window and two SSRCs.
/// Each step, by control bits 0-1: 0 unprotects the payload as SRTP, 1 as SRTCP; 2 protects the payload as RTP with the
/// matching sender and unprotects the result, 3 the same for RTCP (a round trip must give back the same bytes).
/// Checked: no exception; a plaintext length within the packet; round trips that verify and decrypt to the input, for
/// every SSRC whose receiver state only the sender made. Once a fuzzed packet authenticates for an SSRC (the seeds hold
/// real packets under these keys), the receiver's rollover counter for it follows that packet and may rightly disagree
/// with the sender's (RFC 3711 3.3.1: a receiver that saw sequence number 1 takes 65531 as a packet of the ROC before,
/// which does not exist, and refuses it as too old, while a fresh sender numbers it ROC 0); round trips on such an SSRC
/// may then fail authentication or be too old, and only those.
/// </summary>
internal static class SrtpTarget
{
    public static readonly SrtpProtectionProfile[] Profiles =
    [
        SrtpProtectionProfile.Aes128CmHmacSha1_80,
        SrtpProtectionProfile.Aes128CmHmacSha1_32,
        SrtpProtectionProfile.AeadAes128Gcm,
        SrtpProtectionProfile.AeadAes256Gcm,
    ];

    public static (byte[] Key, byte[] Salt) Keys(SrtpProtectionProfile profile)
    {
        var gcm = profile == SrtpProtectionProfile.AeadAes128Gcm || profile == SrtpProtectionProfile.AeadAes256Gcm;
        var key = new byte[profile == SrtpProtectionProfile.AeadAes256Gcm ? 32 : 16];
        var salt = new byte[gcm ? 12 : 14];
        for (var i = 0; i < key.Length; i++)
        {
            key[i] = (byte)(0x10 + i);
        }

        for (var i = 0; i < salt.Length; i++)
        {
            salt[i] = (byte)(0xA0 + i);
        }

        return (key, salt);
    }

    public static SrtpOptions Options(byte header) =>
        (header & 4) != 0 ? new SrtpOptions { ReplayWindowSize = SrtpOptions.MinReplayWindowSize, MaxSsrcs = 2 } : SrtpOptions.Default;

    public static void Run(ReadOnlySpan<byte> input)
    {
        var script = new FuzzScript(input);
        var profile = Profiles[script.Header & 3];
        var (key, salt) = Keys(profile);
        var options = Options(script.Header);
        using var receiver = SrtpContext.Create(profile, SrtpDirection.Unprotect, key, salt, options);
        using var sender = SrtpContext.Create(profile, SrtpDirection.Protect, key, salt, options);
        var buffer = new byte[70_000];
        var foreignRtpSsrcs = new HashSet<uint>();
        while (script.TryNext(out var control, out var payload))
        {
            var rtcp = (control & 1) != 0;
            payload.CopyTo(buffer);
            if ((control & 2) == 0)
            {
                var packet = buffer.AsSpan(0, payload.Length);
                var status = rtcp ? receiver.UnprotectRtcp(packet, out var plain) : receiver.UnprotectRtp(packet, out plain);
                if (status == SrtpStatus.Ok && (plain < 0 || plain > payload.Length))
                {
                    throw new FuzzFindingException($"unprotect returned {plain} bytes from a {payload.Length}-byte packet");
                }

                if (status == SrtpStatus.Ok && !rtcp)
                {
                    foreignRtpSsrcs.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(payload[8..]));
                }

                continue;
            }

            var protectStatus = rtcp
                ? sender.ProtectRtcp(buffer, payload.Length, out var protectedLength)
                : sender.ProtectRtp(buffer, payload.Length, out protectedLength);
            if (protectStatus != SrtpStatus.Ok)
            {
                continue;
            }

            var expectedTrailer = rtcp ? sender.RtcpTrailerLength : sender.RtpTrailerLength;
            if (protectedLength != payload.Length + expectedTrailer)
            {
                throw new FuzzFindingException($"protect gave {protectedLength} bytes for {payload.Length} + trailer {expectedTrailer}");
            }

            var roundTrip = buffer.AsSpan(0, protectedLength);
            var back = rtcp ? receiver.UnprotectRtcp(roundTrip, out var length) : receiver.UnprotectRtp(roundTrip, out length);
            switch (back)
            {
                case SrtpStatus.Ok:
                    if (!buffer.AsSpan(0, length).SequenceEqual(payload))
                    {
                        throw new FuzzFindingException($"{(rtcp ? "SRTCP" : "SRTP")} round trip changed the packet ({payload.Length} -> {length} bytes)");
                    }

                    break;
                case SrtpStatus.Replayed or SrtpStatus.TooOld or SrtpStatus.SsrcLimitReached:
                    break;
                case SrtpStatus.AuthenticationFailed when !rtcp && foreignRtpSsrcs.Contains(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(payload[8..])):
                    break;
                default:
                    throw new FuzzFindingException($"{(rtcp ? "SRTCP" : "SRTP")} packet protected by the sender failed to unprotect: {back}");
            }
        }
    }
}
