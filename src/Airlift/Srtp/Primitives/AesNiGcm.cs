using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;

namespace Airlift.Srtp.Primitives;

/// <summary>
/// AES-GCM (NIST SP 800-38D) with a 96-bit IV, on AES-NI (<see cref="AesNi"/>) and PCLMULQDQ: the counter-mode pass
/// encrypts eight blocks at a time, GHASH multiplies eight blocks by H^8..H^1 and reduces once (the aggregated reduction
/// of Gueron and Kounavis, "Intel Carry-Less Multiplication Instruction and its Usage for Computing the GCM Mode").
/// Constant time by construction: carry-less multiplies, shifts and XORs only; the tag compare is
/// <see cref="CryptographicOperations.FixedTimeEquals"/>. Bit-exact with <see cref="AesGcm"/> (tests and the
/// <c>gcm-differential</c> fuzz target check it). H powers and round keys are zeroed on <see cref="Dispose"/>.
/// </summary>
internal sealed class AesNiGcm : IDisposable
{
    /// <summary>The tag length this class produces: 128 bits (SRTP's AEAD profiles, RFC 7714 section 14).</summary>
    public const int TagLength = 16;

    /// <summary>The IV length: 96 bits.</summary>
    public const int NonceLength = 12;

    private const int BlockSize = 16;
    private const int Aggregate = 8;

    private readonly AesNi _aes;

    // H^1 .. H^8 in the byte-reflected domain GHASH is computed in.
    private readonly Vector128<byte>[] _h = new Vector128<byte>[Aggregate];

    public AesNiGcm(ReadOnlySpan<byte> key)
    {
        _aes = new AesNi(key);
        var h = Ssse3.Shuffle(_aes.EncryptBlock(Vector128<byte>.Zero), AesNi.ByteReverse);
        _h[0] = h;
        for (var i = 1; i < _h.Length; i++)
        {
            _h[i] = Multiply(_h[i - 1], h);
        }
    }

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> (same memory or disjoint) and writes the tag.</summary>
    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        CheckArguments(nonce, plaintext.Length, ciphertext.Length, tag.Length);
        var j0 = CounterBlock(nonce, 1);
        _aes.Ctr32(CounterBlock(nonce, 2), plaintext, ciphertext);
        var full = ComputeTag(j0, associatedData, ciphertext[..plaintext.Length]);
        if (tag.Length == TagLength)
        {
            full.CopyTo(tag);
        }
        else
        {
            Span<byte> t = stackalloc byte[TagLength];
            full.CopyTo(t);
            t[..tag.Length].CopyTo(tag);
        }
    }

    /// <summary>
    /// Verifies the tag over <paramref name="associatedData"/> and <paramref name="ciphertext"/> first; only then decrypts into
    /// <paramref name="plaintext"/>. On a mismatch returns false and clears <paramref name="plaintext"/> (as
    /// <see cref="AesGcm.Decrypt(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{byte}, ReadOnlySpan{byte})"/> does), never throws.
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        CheckArguments(nonce, ciphertext.Length, plaintext.Length, tag.Length);
        var j0 = CounterBlock(nonce, 1);
        Span<byte> expected = stackalloc byte[TagLength];
        ComputeTag(j0, associatedData, ciphertext).CopyTo(expected);
        if (!CryptographicOperations.FixedTimeEquals(expected[..tag.Length], tag))
        {
            plaintext[..ciphertext.Length].Clear();
            return false;
        }

        _aes.Ctr32(CounterBlock(nonce, 2), ciphertext, plaintext);
        return true;
    }

    /// <summary>Zeroes the H powers and the round keys.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_h.AsSpan()));
        _aes.Dispose();
    }

    private static void CheckArguments(ReadOnlySpan<byte> nonce, int inputLength, int outputLength, int tagLength)
    {
        if (nonce.Length != NonceLength)
        {
            throw new ArgumentException("the nonce must be 12 bytes", nameof(nonce));
        }

        if (inputLength != outputLength)
        {
            throw new ArgumentException("input and output lengths differ");
        }

        if (tagLength < 12 || tagLength > TagLength)
        {
            throw new ArgumentException("the tag must be 12 to 16 bytes", nameof(tagLength));
        }
    }

    // IV || 32-bit big-endian counter (SP 800-38D 7.1: J0 = IV || 0^31 || 1 for a 96-bit IV).
    private static Vector128<byte> CounterBlock(ReadOnlySpan<byte> nonce, uint counter)
    {
        Span<byte> b = stackalloc byte[BlockSize];
        nonce.CopyTo(b);
        BinaryPrimitives.WriteUInt32BigEndian(b[NonceLength..], counter);
        return Vector128.Create((ReadOnlySpan<byte>)b);
    }

    private Vector128<byte> ComputeTag(Vector128<byte> j0, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext)
    {
        var y = Ghash(Vector128<byte>.Zero, associatedData);
        y = Ghash(y, ciphertext);

        // The length block [len(A)]64 || [len(C)]64 in bits, byte-reflected: len(C) is the low lane.
        var lengths = Vector128.Create((ulong)ciphertext.Length * 8, (ulong)associatedData.Length * 8).AsByte();
        y = Multiply(y ^ lengths, _h[0]);
        return _aes.EncryptBlock(j0) ^ Ssse3.Shuffle(y, AesNi.ByteReverse);
    }

    // GHASH_H over data, zero-padding the last partial block (SP 800-38D 6.4, 7.1 step 5).
    private Vector128<byte> Ghash(Vector128<byte> y, ReadOnlySpan<byte> data)
    {
        var swap = AesNi.ByteReverse;
        ReadOnlySpan<Vector128<byte>> h = _h;
        ref var src = ref MemoryMarshal.GetReference(data);
        var len = data.Length;
        var i = 0;
        while (len - i >= Aggregate * BlockSize)
        {
            var o = (nuint)i;
            var lo = Vector128<ulong>.Zero;
            var mid = Vector128<ulong>.Zero;
            var hi = Vector128<ulong>.Zero;
            MultiplyAccumulate(y ^ Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, o), swap), h[7], ref lo, ref mid, ref hi);
            MultiplyAccumulate(Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, o + 16), swap), h[6], ref lo, ref mid, ref hi);
            MultiplyAccumulate(Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, o + 32), swap), h[5], ref lo, ref mid, ref hi);
            MultiplyAccumulate(Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, o + 48), swap), h[4], ref lo, ref mid, ref hi);
            MultiplyAccumulate(Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, o + 64), swap), h[3], ref lo, ref mid, ref hi);
            MultiplyAccumulate(Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, o + 80), swap), h[2], ref lo, ref mid, ref hi);
            MultiplyAccumulate(Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, o + 96), swap), h[1], ref lo, ref mid, ref hi);
            MultiplyAccumulate(Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, o + 112), swap), h[0], ref lo, ref mid, ref hi);
            y = Reduce(lo, mid, hi);
            i += Aggregate * BlockSize;
        }

        // Fewer than eight whole blocks left: multiply them by H^n..H^1 and reduce once.
        var n = (len - i) / BlockSize;
        if (n > 0)
        {
            var lo = Vector128<ulong>.Zero;
            var mid = Vector128<ulong>.Zero;
            var hi = Vector128<ulong>.Zero;
            var x = y;
            for (var b = 0; b < n; b++)
            {
                MultiplyAccumulate(x ^ Ssse3.Shuffle(Vector128.LoadUnsafe(ref src, (nuint)(i + b * BlockSize)), swap), h[n - 1 - b], ref lo, ref mid, ref hi);
                x = Vector128<byte>.Zero;
            }

            y = Reduce(lo, mid, hi);
            i += n * BlockSize;
        }

        if (i < len)
        {
            Span<byte> last = stackalloc byte[BlockSize];
            last.Clear();
            data[i..].CopyTo(last);
            y = Multiply(y ^ Ssse3.Shuffle(Vector128.Create((ReadOnlySpan<byte>)last), swap), h[0]);
        }

        return y;
    }

    /// <summary>a * b in GF(2^128), both byte-reflected.</summary>
    internal static Vector128<byte> Multiply(Vector128<byte> a, Vector128<byte> b)
    {
        var lo = Vector128<ulong>.Zero;
        var mid = Vector128<ulong>.Zero;
        var hi = Vector128<ulong>.Zero;
        MultiplyAccumulate(a, b, ref lo, ref mid, ref hi);
        return Reduce(lo, mid, hi);
    }

    // The 256-bit carry-less product a * b, added (XOR) into lo, mid (the two cross terms) and hi.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAccumulate(Vector128<byte> a, Vector128<byte> b, ref Vector128<ulong> lo, ref Vector128<ulong> mid, ref Vector128<ulong> hi)
    {
        var x = a.AsUInt64();
        var z = b.AsUInt64();
        lo ^= Pclmulqdq.CarrylessMultiply(x, z, 0x00);
        hi ^= Pclmulqdq.CarrylessMultiply(x, z, 0x11);
        mid ^= Pclmulqdq.CarrylessMultiply(x, z, 0x10) ^ Pclmulqdq.CarrylessMultiply(x, z, 0x01);
    }

    // Folds the cross terms in, shifts the 256-bit product left one bit (the operands are bit-reflected) and reduces modulo
    // x^128 + x^7 + x^2 + x + 1 with shifts (Gueron-Kounavis, algorithm 5).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Reduce(Vector128<ulong> lo, Vector128<ulong> mid, Vector128<ulong> hi)
    {
        var t3 = (lo ^ Sse2.ShiftLeftLogical128BitLane(mid, 8)).AsUInt32();
        var t6 = (hi ^ Sse2.ShiftRightLogical128BitLane(mid, 8)).AsUInt32();

        var t7 = Sse2.ShiftRightLogical(t3, 31);
        var t8 = Sse2.ShiftRightLogical(t6, 31);
        t3 = Sse2.ShiftLeftLogical(t3, 1);
        t6 = Sse2.ShiftLeftLogical(t6, 1);
        var t9 = Sse2.ShiftRightLogical128BitLane(t7, 12);
        t8 = Sse2.ShiftLeftLogical128BitLane(t8, 4);
        t7 = Sse2.ShiftLeftLogical128BitLane(t7, 4);
        t3 |= t7;
        t6 |= t8 | t9;

        t7 = Sse2.ShiftLeftLogical(t3, 31);
        t8 = Sse2.ShiftLeftLogical(t3, 30);
        t9 = Sse2.ShiftLeftLogical(t3, 25);
        t7 ^= t8 ^ t9;
        t8 = Sse2.ShiftRightLogical128BitLane(t7, 4);
        t7 = Sse2.ShiftLeftLogical128BitLane(t7, 12);
        t3 ^= t7;

        var t2 = Sse2.ShiftRightLogical(t3, 1) ^ Sse2.ShiftRightLogical(t3, 2) ^ Sse2.ShiftRightLogical(t3, 7) ^ t8;
        t3 ^= t2;
        return (t6 ^ t3).AsByte();
    }
}
