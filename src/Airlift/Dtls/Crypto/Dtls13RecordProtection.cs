using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>TEMPORARY lead stub until h/crypto lands its version.</summary>
internal sealed class Dtls13RecordProtection : IDisposable
{
    public const int MaskSampleLength = 16;
    private readonly AesGcm? _gcm;
    private readonly ChaCha20Poly1305? _chacha;
    private readonly byte[] _iv;
    private readonly Aes? _ecb;
    private readonly byte[] _snKey;

    private Dtls13RecordProtection(Tls13CipherSuiteInfo suite, Tls13TrafficKeys keys)
    {
        _iv = (byte[])keys.Iv.Clone();
        _snKey = (byte[])keys.SnKey.Clone();
        if (suite.Aead == AeadAlgorithm.ChaCha20Poly1305)
        {
            _chacha = new ChaCha20Poly1305(keys.Key);
        }
        else
        {
            _gcm = new AesGcm(keys.Key, 16);
            _ecb = Aes.Create();
            _ecb.Key = _snKey;
        }
    }

    public int Overhead => 16;

    public static Dtls13RecordProtection Create(Tls13CipherSuiteInfo suite, Tls13TrafficKeys keys) => new(suite, keys);

    private void Nonce(ulong seq, Span<byte> nonce)
    {
        _iv.CopyTo(nonce);
        Span<byte> s = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(s, seq);
        for (var i = 0; i < 8; i++)
        {
            nonce[4 + i] ^= s[i];
        }
    }

    public int Seal(ulong sequenceNumber, ReadOnlySpan<byte> additionalData, ReadOnlySpan<byte> innerPlaintext, Span<byte> destination)
    {
        Span<byte> nonce = stackalloc byte[12];
        Nonce(sequenceNumber, nonce);
        var ct = destination[..innerPlaintext.Length];
        var tag = destination.Slice(innerPlaintext.Length, 16);
        if (_gcm is not null)
        {
            _gcm.Encrypt(nonce, innerPlaintext, ct, tag, additionalData);
        }
        else
        {
            _chacha!.Encrypt(nonce, innerPlaintext, ct, tag, additionalData);
        }

        return innerPlaintext.Length + 16;
    }

    public bool TryOpen(ulong sequenceNumber, ReadOnlySpan<byte> additionalData, ReadOnlySpan<byte> ciphertext, Span<byte> destination, out int written)
    {
        written = 0;
        if (ciphertext.Length < 16)
        {
            return false;
        }

        Span<byte> nonce = stackalloc byte[12];
        Nonce(sequenceNumber, nonce);
        var n = ciphertext.Length - 16;
        try
        {
            if (_gcm is not null)
            {
                _gcm.Decrypt(nonce, ciphertext[..n], ciphertext[n..], destination[..n], additionalData);
            }
            else
            {
                _chacha!.Decrypt(nonce, ciphertext[..n], ciphertext[n..], destination[..n], additionalData);
            }
        }
        catch (CryptographicException)
        {
            return false;
        }

        written = n;
        return true;
    }

    public void ComputeMask(ReadOnlySpan<byte> sample, Span<byte> mask)
    {
        Span<byte> block = stackalloc byte[16];
        if (_ecb is not null)
        {
            _ecb.EncryptEcb(sample[..16], block, PaddingMode.None);
        }
        else
        {
            var engine = new Org.BouncyCastle.Crypto.Engines.ChaCha7539Engine();
            var counter = BinaryPrimitives.ReadUInt32LittleEndian(sample);
            engine.Init(true, new Org.BouncyCastle.Crypto.Parameters.ParametersWithIV(new Org.BouncyCastle.Crypto.Parameters.KeyParameter(_snKey), sample.Slice(4, 12).ToArray()));
            var skip = new byte[64];
            for (uint i = 0; i < counter && i < 4; i++)
            {
                engine.ProcessBytes(skip, 0, 64, skip, 0);
            }

            var zeros = new byte[16];
            engine.ProcessBytes(zeros, 0, 16, zeros, 0);
            zeros.CopyTo(block);
        }

        block[..mask.Length].CopyTo(mask);
    }

    public void Dispose()
    {
        _gcm?.Dispose();
        _chacha?.Dispose();
        _ecb?.Dispose();
        CryptographicOperations.ZeroMemory(_snKey);
    }
}
