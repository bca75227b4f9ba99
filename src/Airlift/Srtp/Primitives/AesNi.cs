using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace Airlift.Srtp.Primitives;

/// <summary>
/// AES-128/256 block encryption and 32-bit counter mode on the AES-NI instructions (FIPS 197; NIST SP 800-38A CTR with
/// SP 800-38D's inc32). Constant time by construction: only AESENC/AESENCLAST/AESKEYGENASSIST, XOR and shuffles, no table
/// lookups and no branch on key or data (lengths are public). Use only when <see cref="IsSupported"/>; callers hold the
/// switch (<see cref="SrtpOptions.UseHardwareIntrinsics"/>, <see cref="SrtpIntrinsics"/>). Round keys are zeroed on
/// <see cref="Dispose"/>. Not thread-safe to dispose concurrently with use; encryption itself keeps no mutable state.
/// </summary>
internal sealed class AesNi : IDisposable
{
    private const int BlockSize = 16;

    private readonly Vector128<byte>[] _roundKeys;

    public AesNi(ReadOnlySpan<byte> key)
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("AES-NI, PCLMULQDQ and SSSE3 are required");
        }

        if (key.Length == 16)
        {
            _roundKeys = new Vector128<byte>[11];
            Expand128(key, _roundKeys);
        }
        else if (key.Length == 32)
        {
            _roundKeys = new Vector128<byte>[15];
            Expand256(key, _roundKeys);
        }
        else
        {
            throw new ArgumentException("AES key must be 16 or 32 bytes", nameof(key));
        }
    }

    /// <summary>True when the CPU and runtime expose AES-NI, PCLMULQDQ and SSSE3 (the GCM and CTR code needs all three).</summary>
    public static bool IsSupported => X86Aes.IsSupported && Pclmulqdq.IsSupported && Ssse3.IsSupported;

    /// <summary>Reverses the 16 bytes of a vector (memory order to the byte-reflected order GHASH and inc32 work in).</summary>
    internal static Vector128<byte> ByteReverse => Vector128.Create((byte)15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);

    /// <summary>Encrypts one block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<byte> EncryptBlock(Vector128<byte> block)
    {
        ReadOnlySpan<Vector128<byte>> k = _roundKeys;
        block ^= k[0];
        for (var r = 1; r < k.Length - 1; r++)
        {
            block = X86Aes.Encrypt(block, k[r]);
        }

        return X86Aes.EncryptLast(block, k[^1]);
    }

    /// <summary>
    /// XORs the keystream E(counter), E(counter + 1), ... into <paramref name="input"/> and writes <paramref name="output"/>
    /// (may be the same memory; must not otherwise overlap). The counter is the last 32 bits of the block, big-endian,
    /// incremented modulo 2^32 (inc32); the first 96 bits never change.
    /// </summary>
    public void Ctr32(Vector128<byte> counterBlock, ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (output.Length < input.Length)
        {
            throw new ArgumentException("output shorter than input", nameof(output));
        }

        ReadOnlySpan<Vector128<byte>> k = _roundKeys;
        var swap = ByteReverse;

        // Byte-reversed, the big-endian counter word is the low 32-bit lane: one add per block, one shuffle back.
        var c = Ssse3.Shuffle(counterBlock, swap).AsUInt32();
        var one = Vector128.Create(1u, 0, 0, 0);
        var eight = Vector128.Create(8u, 0, 0, 0);
        ref var src = ref MemoryMarshal.GetReference(input);
        ref var dst = ref MemoryMarshal.GetReference(output);
        var len = input.Length;
        var i = 0;
        while (len - i >= 8 * BlockSize)
        {
            var k0 = k[0];
            var b0 = Ssse3.Shuffle(c.AsByte(), swap) ^ k0;
            var b1 = Ssse3.Shuffle((c + one).AsByte(), swap) ^ k0;
            var b2 = Ssse3.Shuffle((c + Vector128.Create(2u, 0, 0, 0)).AsByte(), swap) ^ k0;
            var b3 = Ssse3.Shuffle((c + Vector128.Create(3u, 0, 0, 0)).AsByte(), swap) ^ k0;
            var b4 = Ssse3.Shuffle((c + Vector128.Create(4u, 0, 0, 0)).AsByte(), swap) ^ k0;
            var b5 = Ssse3.Shuffle((c + Vector128.Create(5u, 0, 0, 0)).AsByte(), swap) ^ k0;
            var b6 = Ssse3.Shuffle((c + Vector128.Create(6u, 0, 0, 0)).AsByte(), swap) ^ k0;
            var b7 = Ssse3.Shuffle((c + Vector128.Create(7u, 0, 0, 0)).AsByte(), swap) ^ k0;
            c += eight;
            for (var r = 1; r < k.Length - 1; r++)
            {
                var kr = k[r];
                b0 = X86Aes.Encrypt(b0, kr);
                b1 = X86Aes.Encrypt(b1, kr);
                b2 = X86Aes.Encrypt(b2, kr);
                b3 = X86Aes.Encrypt(b3, kr);
                b4 = X86Aes.Encrypt(b4, kr);
                b5 = X86Aes.Encrypt(b5, kr);
                b6 = X86Aes.Encrypt(b6, kr);
                b7 = X86Aes.Encrypt(b7, kr);
            }

            var kl = k[^1];
            var o = (nuint)i;
            (X86Aes.EncryptLast(b0, kl) ^ Vector128.LoadUnsafe(ref src, o)).StoreUnsafe(ref dst, o);
            (X86Aes.EncryptLast(b1, kl) ^ Vector128.LoadUnsafe(ref src, o + 16)).StoreUnsafe(ref dst, o + 16);
            (X86Aes.EncryptLast(b2, kl) ^ Vector128.LoadUnsafe(ref src, o + 32)).StoreUnsafe(ref dst, o + 32);
            (X86Aes.EncryptLast(b3, kl) ^ Vector128.LoadUnsafe(ref src, o + 48)).StoreUnsafe(ref dst, o + 48);
            (X86Aes.EncryptLast(b4, kl) ^ Vector128.LoadUnsafe(ref src, o + 64)).StoreUnsafe(ref dst, o + 64);
            (X86Aes.EncryptLast(b5, kl) ^ Vector128.LoadUnsafe(ref src, o + 80)).StoreUnsafe(ref dst, o + 80);
            (X86Aes.EncryptLast(b6, kl) ^ Vector128.LoadUnsafe(ref src, o + 96)).StoreUnsafe(ref dst, o + 96);
            (X86Aes.EncryptLast(b7, kl) ^ Vector128.LoadUnsafe(ref src, o + 112)).StoreUnsafe(ref dst, o + 112);
            i += 8 * BlockSize;
        }

        while (len - i >= 2 * BlockSize)
        {
            var b0 = Ssse3.Shuffle(c.AsByte(), swap) ^ k[0];
            var b1 = Ssse3.Shuffle((c + one).AsByte(), swap) ^ k[0];
            c += Vector128.Create(2u, 0, 0, 0);
            for (var r = 1; r < k.Length - 1; r++)
            {
                b0 = X86Aes.Encrypt(b0, k[r]);
                b1 = X86Aes.Encrypt(b1, k[r]);
            }

            var o = (nuint)i;
            (X86Aes.EncryptLast(b0, k[^1]) ^ Vector128.LoadUnsafe(ref src, o)).StoreUnsafe(ref dst, o);
            (X86Aes.EncryptLast(b1, k[^1]) ^ Vector128.LoadUnsafe(ref src, o + 16)).StoreUnsafe(ref dst, o + 16);
            i += 2 * BlockSize;
        }

        if (len - i >= BlockSize)
        {
            var ks = EncryptBlock(Ssse3.Shuffle(c.AsByte(), swap));
            c += one;
            var o = (nuint)i;
            (ks ^ Vector128.LoadUnsafe(ref src, o)).StoreUnsafe(ref dst, o);
            i += BlockSize;
        }

        if (i < len)
        {
            // The last partial block: keystream through a stack block, XOR the remaining bytes.
            Span<byte> ks = stackalloc byte[BlockSize];
            EncryptBlock(Ssse3.Shuffle(c.AsByte(), swap)).CopyTo(ks);
            for (; i < len; i++)
            {
                output[i] = (byte)(input[i] ^ ks[i & (BlockSize - 1)]);
            }

            CryptographicOperations.ZeroMemory(ks);
        }
    }

    /// <summary>Zeroes the round keys.</summary>
    public void Dispose() => CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_roundKeys.AsSpan()));

    private static void Expand128(ReadOnlySpan<byte> key, Span<Vector128<byte>> rk)
    {
        var k = Vector128.Create(key);
        rk[0] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x01));
        rk[1] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x02));
        rk[2] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x04));
        rk[3] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x08));
        rk[4] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x10));
        rk[5] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x20));
        rk[6] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x40));
        rk[7] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x80));
        rk[8] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x1B));
        rk[9] = k;
        k = Step(k, X86Aes.KeygenAssist(k, 0x36));
        rk[10] = k;
    }

    private static void Expand256(ReadOnlySpan<byte> key, Span<Vector128<byte>> rk)
    {
        var a = Vector128.Create(key[..16]);
        var b = Vector128.Create(key[16..]);
        rk[0] = a;
        rk[1] = b;
        a = Step(a, X86Aes.KeygenAssist(b, 0x01));
        rk[2] = a;
        b = StepOdd(b, X86Aes.KeygenAssist(a, 0x00));
        rk[3] = b;
        a = Step(a, X86Aes.KeygenAssist(b, 0x02));
        rk[4] = a;
        b = StepOdd(b, X86Aes.KeygenAssist(a, 0x00));
        rk[5] = b;
        a = Step(a, X86Aes.KeygenAssist(b, 0x04));
        rk[6] = a;
        b = StepOdd(b, X86Aes.KeygenAssist(a, 0x00));
        rk[7] = b;
        a = Step(a, X86Aes.KeygenAssist(b, 0x08));
        rk[8] = a;
        b = StepOdd(b, X86Aes.KeygenAssist(a, 0x00));
        rk[9] = b;
        a = Step(a, X86Aes.KeygenAssist(b, 0x10));
        rk[10] = a;
        b = StepOdd(b, X86Aes.KeygenAssist(a, 0x00));
        rk[11] = b;
        a = Step(a, X86Aes.KeygenAssist(b, 0x20));
        rk[12] = a;
        b = StepOdd(b, X86Aes.KeygenAssist(a, 0x00));
        rk[13] = b;
        a = Step(a, X86Aes.KeygenAssist(b, 0x40));
        rk[14] = a;
    }

    // FIPS 197 5.2 as the AES-NI white paper writes it: w[i] = w[i-Nk] ^ SubWord(RotWord(w[i-1])) ^ Rcon, the running XOR
    // of the previous round key's words done with three 4-byte lane shifts.
    private static Vector128<byte> Step(Vector128<byte> key, Vector128<byte> assist) =>
        Mix(key) ^ Sse2.Shuffle(assist.AsInt32(), 0xFF).AsByte();

    // AES-256's odd round keys: SubWord without RotWord or Rcon (lane 2 of AESKEYGENASSIST).
    private static Vector128<byte> StepOdd(Vector128<byte> key, Vector128<byte> assist) =>
        Mix(key) ^ Sse2.Shuffle(assist.AsInt32(), 0xAA).AsByte();

    private static Vector128<byte> Mix(Vector128<byte> key)
    {
        key ^= Sse2.ShiftLeftLogical128BitLane(key, 4);
        key ^= Sse2.ShiftLeftLogical128BitLane(key, 4);
        key ^= Sse2.ShiftLeftLogical128BitLane(key, 4);
        return key;
    }
}
