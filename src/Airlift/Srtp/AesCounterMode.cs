using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using Airlift.Srtp.Primitives;

namespace Airlift.Srtp;

/// <summary>
/// AES in counter mode (RFC 3711 4.1.1) built from a reused ECB encryptor: counter blocks are written into a scratch
/// buffer, encrypted in batches, and XORed into the data. <see cref="SymmetricAlgorithm.EncryptEcb(ReadOnlySpan{byte}, Span{byte}, PaddingMode)"/>
/// would create a native cipher context (and a managed handle) on every call; the <see cref="ICryptoTransform"/> keeps one.
/// With <c>intrinsics</c> the keystream comes from <see cref="AesNi.Ctr32"/> instead (no native call, no scratch copies).
/// Not thread-safe.
/// </summary>
internal sealed class AesCounterMode : IDisposable
{
    /// <summary>Blocks encrypted per ECB call: 96 blocks = 1536 bytes, so an MTU-sized payload takes one call.</summary>
    public const int BatchBlocks = 96;

    private const int BlockSize = 16;

    private readonly AesNi? _managed;
    private readonly Aes? _aes;
    private readonly ICryptoTransform? _ecb;
    private readonly byte[] _counters = [];
    private readonly byte[] _keystream = [];

    public AesCounterMode(ReadOnlySpan<byte> key, bool intrinsics = false)
    {
        if (intrinsics)
        {
            _managed = new AesNi(key);
            return;
        }

        _counters = new byte[BatchBlocks * BlockSize];
        _keystream = new byte[BatchBlocks * BlockSize];
        _aes = Aes.Create();
        var k = key.ToArray();
        _aes.Key = k;
        CryptographicOperations.ZeroMemory(k);
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _ecb = _aes.CreateEncryptor();
    }

    /// <summary>
    /// XORs the keystream that starts at <paramref name="iv"/> into <paramref name="data"/>. The low 16 bits of the IV
    /// must be zero (true of every SRTP IV: salt, SSRC and index are all multiplied by 2^16), so the block counter is
    /// written there directly; payloads are at most 65535 bytes (4096 blocks), far below the 2^16 block limit.
    /// </summary>
    public void Apply(ReadOnlySpan<byte> iv, Span<byte> data)
    {
        if (_managed is not null)
        {
            // The low 16 bits of the IV are zero and a payload has fewer than 2^16 blocks, so inc32 on the last word is
            // the same as RFC 3711's 16-bit block counter.
            _managed.Ctr32(Vector128.Create(iv), data, data);
            return;
        }

        var block = 0;
        while (!data.IsEmpty)
        {
            var n = Math.Min(data.Length, _counters.Length);
            var blocks = (n + BlockSize - 1) / BlockSize;
            var counters = _counters.AsSpan(0, blocks * BlockSize);
            for (var b = 0; b < blocks; b++)
            {
                var slot = counters.Slice(b * BlockSize, BlockSize);
                iv.CopyTo(slot);
                BinaryPrimitives.WriteUInt16BigEndian(slot[14..], (ushort)(block + b));
            }

            _ecb!.TransformBlock(_counters, 0, blocks * BlockSize, _keystream, 0);
            Xor(data[..n], _keystream.AsSpan(0, n));
            data = data[n..];
            block += blocks;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Xor(Span<byte> data, ReadOnlySpan<byte> keystream)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var dv = MemoryMarshal.Cast<byte, Vector256<byte>>(data);
            var kv = MemoryMarshal.Cast<byte, Vector256<byte>>(keystream);
            for (var j = 0; j < dv.Length; j++)
            {
                dv[j] ^= kv[j];
            }

            i = dv.Length * Vector256<byte>.Count;
        }

        var dl = MemoryMarshal.Cast<byte, ulong>(data[i..]);
        var kl = MemoryMarshal.Cast<byte, ulong>(keystream[i..]);
        for (var j = 0; j < dl.Length; j++)
        {
            dl[j] ^= kl[j];
        }

        for (i += dl.Length * sizeof(ulong); i < data.Length; i++)
        {
            data[i] ^= keystream[i];
        }
    }

    public void Dispose()
    {
        _managed?.Dispose();
        _ecb?.Dispose();
        _aes?.Dispose();
        CryptographicOperations.ZeroMemory(_keystream);
    }
}
