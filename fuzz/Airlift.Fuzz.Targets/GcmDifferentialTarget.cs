using System.Buffers.Binary;
using System.Security.Cryptography;
using Airlift.Srtp;
using Airlift.Srtp.Primitives;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>gcm-differential</c>: Airlift's managed AES-NI + PCLMULQDQ primitives against the platform (OpenSSL), byte
/// for byte. Input: a header byte, the key (16 bytes, or 32 when header bit 0 is set; zero-padded when the input is short),
/// a 12-byte nonce (16-byte counter block in mode 2), one AAD length byte, the AAD, and the rest is the message (at most
/// 65535 bytes). Header bits 1-2 pick the mode: 0 GCM seal and open on both sides (separate and in-place buffers);
/// 1 the same, then one flipped bit in ciphertext, tag or AAD (header bits 3-7 pick where) must fail on both; 2 AES-CTR
/// (inc32) against ECB of the counter blocks; 3 the message as an RTP packet protected by two <see cref="SrtpContext"/>s,
/// one per path, for the profile in header bits 3-4 (equal output, equal status), then unprotected on the other path.
/// Any difference throws. Does nothing on a CPU without AES-NI/PCLMULQDQ.
/// </summary>
internal static class GcmDifferentialTarget
{
    private const int MaxMessage = 65535;

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty || !AesNi.IsSupported)
        {
            return;
        }

        var header = input[0];
        input = input[1..];
        var key = Take(ref input, (header & 1) != 0 ? 32 : 16);
        var mode = (header >> 1) & 3;
        if (mode == 2)
        {
            Ctr(key, Take(ref input, 16), input.Length > MaxMessage ? input[..MaxMessage] : input);
            return;
        }

        var nonce = Take(ref input, 12);
        var aadLength = input.IsEmpty ? 0 : input[0];
        input = input.IsEmpty ? input : input[1..];
        var aad = Take(ref input, Math.Min(aadLength, input.Length));
        var message = (input.Length > MaxMessage ? input[..MaxMessage] : input).ToArray();
        if (mode == 3)
        {
            Srtp(header, message);
            return;
        }

        using var managed = new AesNiGcm(key);
        using var platform = new AesGcm(key, 16);
        var mc = new byte[message.Length];
        var mt = new byte[16];
        var pc = new byte[message.Length];
        var pt = new byte[16];
        managed.Encrypt(nonce, message, mc, mt, aad);
        platform.Encrypt(nonce, message, pc, pt, aad);
        Same(pc, mc, "GCM ciphertext");
        Same(pt, mt, "GCM tag");

        var inPlace = (byte[])message.Clone();
        var it = new byte[16];
        managed.Encrypt(nonce, inPlace, inPlace, it, aad);
        Same(pc, inPlace, "GCM in-place ciphertext");
        Same(pt, it, "GCM in-place tag");
        var opened = new byte[message.Length];
        Check(managed.TryDecrypt(nonce, pc, pt, opened, aad), "managed open of the platform's output failed");
        Same(message, opened, "GCM open");
        Check(managed.TryDecrypt(nonce, inPlace, it, inPlace, aad), "managed in-place open failed");
        Same(message, inPlace, "GCM in-place open");

        if (mode == 1)
        {
            var where = header >> 3;
            var tag = (byte[])pt.Clone();
            var ciphertext = (byte[])pc.Clone();
            var data = aad.ToArray();
            if ((where & 3) == 0 && ciphertext.Length > 0)
            {
                ciphertext[(where >> 2) * 7919 % ciphertext.Length] ^= (byte)(1 << (where & 7));
            }
            else if ((where & 3) == 1 && data.Length > 0)
            {
                data[(where >> 2) * 31 % data.Length] ^= (byte)(1 << (where & 7));
            }
            else
            {
                tag[(where >> 2) % 16] ^= (byte)(1 << (where & 7));
            }

            var output = new byte[message.Length];
            Check(!managed.TryDecrypt(nonce, ciphertext, tag, output, data), "managed open accepted a flipped bit");
            Check(Array.TrueForAll(output, b => b == 0), "managed open left output after a failure");
            var platformAccepted = true;
            try
            {
                platform.Decrypt(nonce, ciphertext, tag, new byte[message.Length], data);
            }
            catch (CryptographicException)
            {
                platformAccepted = false;
            }

            Check(!platformAccepted, "the platform accepted a flipped bit (harness error)");
        }
    }

    private static void Ctr(ReadOnlySpan<byte> key, ReadOnlySpan<byte> counter, ReadOnlySpan<byte> data)
    {
        var blocks = (data.Length + 15) / 16;
        var counters = new byte[blocks * 16];
        var c = BinaryPrimitives.ReadUInt32BigEndian(counter[12..]);
        for (var b = 0; b < blocks; b++)
        {
            counter[..12].CopyTo(counters.AsSpan(b * 16));
            BinaryPrimitives.WriteUInt32BigEndian(counters.AsSpan(b * 16 + 12), unchecked(c + (uint)b));
        }

        using var ecb = System.Security.Cryptography.Aes.Create();
        ecb.Key = key.ToArray();
        var stream = ecb.EncryptEcb(counters, PaddingMode.None);
        var expected = new byte[data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            expected[i] = (byte)(data[i] ^ stream[i]);
        }

        using var aes = new AesNi(key);
        var actual = new byte[data.Length];
        aes.Ctr32(System.Runtime.Intrinsics.Vector128.Create(counter), data, actual);
        Same(expected, actual, "CTR");
    }

    private static void Srtp(byte header, byte[] packet)
    {
        var profile = SrtpTarget.Profiles[(header >> 3) & 3];
        var (key, salt) = SrtpTarget.Keys(profile);
        var managedOptions = new SrtpOptions { UseHardwareIntrinsics = true };
        var platformOptions = new SrtpOptions { UseHardwareIntrinsics = false };
        using var managed = SrtpContext.Create(profile, SrtpDirection.Protect, key, salt, managedOptions);
        using var platform = SrtpContext.Create(profile, SrtpDirection.Protect, key, salt, platformOptions);
        using var managedIn = SrtpContext.Create(profile, SrtpDirection.Unprotect, key, salt, managedOptions);
        using var platformIn = SrtpContext.Create(profile, SrtpDirection.Unprotect, key, salt, platformOptions);
        var rtcp = (header & 0x20) != 0;
        var a = new byte[packet.Length + 64];
        var b = new byte[packet.Length + 64];
        packet.CopyTo(a, 0);
        packet.CopyTo(b, 0);
        var sa = rtcp ? managed.ProtectRtcp(a, packet.Length, out var na) : managed.ProtectRtp(a, packet.Length, out na);
        var sb = rtcp ? platform.ProtectRtcp(b, packet.Length, out var nb) : platform.ProtectRtp(b, packet.Length, out nb);
        Check(sa == sb && na == nb, $"protect status {sa}/{sb}, length {na}/{nb}");
        if (sa != SrtpStatus.Ok)
        {
            return;
        }

        Same(b.AsSpan(0, nb).ToArray(), a.AsSpan(0, na).ToArray(), "SRTP protect");

        // Each side opens the other's packet.
        var ua = rtcp ? platformIn.UnprotectRtcp(a.AsSpan(0, na), out var pa) : platformIn.UnprotectRtp(a.AsSpan(0, na), out pa);
        var ub = rtcp ? managedIn.UnprotectRtcp(b.AsSpan(0, nb), out var pb) : managedIn.UnprotectRtp(b.AsSpan(0, nb), out pb);
        Check(ua == SrtpStatus.Ok && ub == SrtpStatus.Ok, $"unprotect {ua}/{ub}");
        Same(packet, a.AsSpan(0, pa).ToArray(), "SRTP unprotect (platform)");
        Same(packet, b.AsSpan(0, pb).ToArray(), "SRTP unprotect (managed)");
    }

    private static byte[] Take(ref ReadOnlySpan<byte> input, int count)
    {
        var result = new byte[count];
        var n = Math.Min(count, input.Length);
        input[..n].CopyTo(result);
        input = input[n..];
        return result;
    }

    private static void Same(byte[] expected, byte[] actual, string what) =>
        Check(expected.AsSpan().SequenceEqual(actual), $"{what} differs between the platform and the managed path");

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
