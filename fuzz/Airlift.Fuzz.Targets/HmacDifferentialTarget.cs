using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Srtp;
using Airlift.Srtp.Primitives;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>hmac-differential</c>: the two HMAC-SHA1 paths of the AES-CM SRTP profiles, libcrypto's HMAC_CTX called
/// directly (<see cref="OpenSslHmacSha1"/>) and the platform's <see cref="IncrementalHash"/>, byte for byte. Header bit 1
/// picks the mode. Mode 0 (HMAC): the next byte is the key length, then the key (zero-padded when the input is short),
/// the rest is the message (at most 65535 bytes); both keyed paths and <see cref="HMACSHA1.HashData(byte[], byte[])"/>
/// must agree, on the whole message and then, with the same keyed contexts, on a prefix (header bits 2-7 pick its
/// length), so the per-packet re-initialisation is checked too. Mode 1 (SRTP): the rest is an RTP packet (header bit 3:
/// an RTCP packet; bit 4: SRTCP authenticate-only) protected with AES_CM_128_HMAC_SHA1_80 (bit 2: _32) by one
/// <see cref="SrtpContext"/> per HMAC path: equal status and bytes; then a copy with one flipped bit (bits 5-7 and the
/// length pick where) gets the same refusal on both receivers, and each receiver opens the other path's genuine packet.
/// Any difference throws. Does nothing where the OpenSSL path is unavailable.
/// </summary>
internal static class HmacDifferentialTarget
{
    private const int MaxMessage = 65535;

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty || !OpenSslHmacSha1.IsSupported)
        {
            return;
        }

        var header = input[0];
        input = input[1..];
        if ((header & 2) == 0)
        {
            Hmac(header, input);
        }
        else
        {
            Srtp(header, (input.Length > MaxMessage ? input[..MaxMessage] : input).ToArray());
        }
    }

    /// <summary>Seeds for fuzz/corpus/hmac-differential (CorpusMaker).</summary>
    public static IEnumerable<(string Name, byte[] Data)> Seeds()
    {
        foreach (var keyLength in new[] { 0, 20, 64, 65, 131 })
        {
            foreach (var length in new[] { 0, 55, 56, 64, 172, 1216 })
            {
                var data = new byte[2 + keyLength + length];
                for (var i = 0; i < data.Length; i++)
                {
                    data[i] = (byte)(i * 29 + keyLength);
                }

                data[0] = (byte)(length % 61 << 2);
                data[1] = (byte)keyLength;
                yield return ($"hmac-k{keyLength}-{length}", data);
            }
        }

        foreach (var header in new byte[] { 0x02, 0x06, 0x0A, 0x0E, 0x1A, 0x1E, 0xE2, 0xAA })
        {
            foreach (var length in new[] { 12, 13, 172, 1212 })
            {
                var data = new byte[1 + length];
                for (var i = 0; i < data.Length; i++)
                {
                    data[i] = (byte)(i * 41 + header);
                }

                data[0] = header;
                data[1] = 0x80; // version 2, no CSRCs, no extension
                data[2] = (header & 8) != 0 ? (byte)200 : (byte)111;
                yield return ($"srtp-h{header:x2}-{length}", data);
            }
        }
    }

    private static void Hmac(byte header, ReadOnlySpan<byte> input)
    {
        var keyLength = input.IsEmpty ? 0 : input[0];
        input = input.IsEmpty ? input : input[1..];
        var key = new byte[keyLength];
        var n = Math.Min(keyLength, input.Length);
        input[..n].CopyTo(key);
        var message = (input.Length - n > MaxMessage ? input.Slice(n, MaxMessage) : input[n..]).ToArray();

        using var native = new SrtpHmacSha1(key, openSsl: true);
        using var platform = new SrtpHmacSha1(key, openSsl: false);
        Check(native.UsesOpenSsl && !platform.UsesOpenSsl, "the HMAC paths were not the ones asked for");
        var prefix = message.Length == 0 ? 0 : (header >> 2) * 37 % (message.Length + 1);
        foreach (var data in new[] { message, message[..prefix], message })
        {
            var expected = HMACSHA1.HashData(key, data);
            var a = new byte[SrtpHmacSha1.MacLength];
            var b = new byte[SrtpHmacSha1.MacLength];
            Check(native.TryCompute(data, a) && platform.TryCompute(data, b), "an HMAC path reported a failure");
            Same(expected, a, "HMAC-SHA1 (OpenSSL HMAC_CTX)");
            Same(expected, b, "HMAC-SHA1 (platform IncrementalHash)");
        }
    }

    private static void Srtp(byte header, byte[] packet)
    {
        var profile = (header & 4) != 0 ? SrtpProtectionProfile.Aes128CmHmacSha1_32 : SrtpProtectionProfile.Aes128CmHmacSha1_80;
        var (key, salt) = SrtpTarget.Keys(profile);
        var nativeOptions = new SrtpOptions { UseOpenSslHmac = true };
        var platformOptions = new SrtpOptions { UseOpenSslHmac = false };
        using var native = SrtpContext.Create(profile, SrtpDirection.Protect, key, salt, nativeOptions);
        using var platform = SrtpContext.Create(profile, SrtpDirection.Protect, key, salt, platformOptions);
        using var nativeIn = SrtpContext.Create(profile, SrtpDirection.Unprotect, key, salt, nativeOptions);
        using var platformIn = SrtpContext.Create(profile, SrtpDirection.Unprotect, key, salt, platformOptions);
        Check(native.UsesOpenSslHmac && nativeIn.UsesOpenSslHmac && !platform.UsesOpenSslHmac && !platformIn.UsesOpenSslHmac, "the HMAC paths were not the ones asked for");
        var rtcp = (header & 8) != 0;
        var encrypt = (header & 0x10) == 0;
        var a = new byte[packet.Length + 64];
        var b = new byte[packet.Length + 64];
        packet.CopyTo(a, 0);
        packet.CopyTo(b, 0);
        var sa = rtcp ? native.ProtectRtcp(a, packet.Length, out var na, encrypt) : native.ProtectRtp(a, packet.Length, out na);
        var sb = rtcp ? platform.ProtectRtcp(b, packet.Length, out var nb, encrypt) : platform.ProtectRtp(b, packet.Length, out nb);
        Check(sa == sb && na == nb, $"protect status {sa}/{sb}, length {na}/{nb}");
        if (sa != SrtpStatus.Ok)
        {
            return;
        }

        Same(b.AsSpan(0, nb).ToArray(), a.AsSpan(0, na).ToArray(), "SRTP protect");

        // A flipped bit first (the receivers' state must not move), then the genuine packets, each on the other path.
        var forged = a.AsSpan(0, na).ToArray();
        var where = (header >> 5) + 8 * packet.Length;
        forged[where % forged.Length] ^= (byte)(1 << (where & 7));
        var forgedCopy = (byte[])forged.Clone();
        var fa = rtcp ? nativeIn.UnprotectRtcp(forged, out _) : nativeIn.UnprotectRtp(forged, out _);
        var fb = rtcp ? platformIn.UnprotectRtcp(forgedCopy, out _) : platformIn.UnprotectRtp(forgedCopy, out _);
        Check(fa == fb && fa != SrtpStatus.Ok, $"a flipped bit gave {fa} on the OpenSSL path, {fb} on the platform path");

        var ua = rtcp ? platformIn.UnprotectRtcp(a.AsSpan(0, na), out var pa) : platformIn.UnprotectRtp(a.AsSpan(0, na), out pa);
        var ub = rtcp ? nativeIn.UnprotectRtcp(b.AsSpan(0, nb), out var pb) : nativeIn.UnprotectRtp(b.AsSpan(0, nb), out pb);
        Check(ua == SrtpStatus.Ok && ub == SrtpStatus.Ok, $"unprotect {ua}/{ub}");
        Same(packet, a.AsSpan(0, pa).ToArray(), "SRTP unprotect (platform HMAC)");
        Same(packet, b.AsSpan(0, pb).ToArray(), "SRTP unprotect (OpenSSL HMAC)");
    }

    private static void Same(byte[] expected, byte[] actual, string what) =>
        Check(expected.AsSpan().SequenceEqual(actual), $"{what} differs");

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
