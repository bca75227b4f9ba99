using System.Buffers;
using System.Security.Cryptography;
using Airlift.Dtls.Handshake;

namespace Airlift.Dtls.V13;

/// <summary>
/// The DTLS 1.3 handshake transcript (RFC 9147 5.2): every message in TLS 1.3 form, <c>type(1) length(3) body</c>, without
/// DTLS's message_seq and fragment fields; after a HelloRetryRequest the first ClientHello is replaced by the synthetic
/// message_hash (RFC 8446 4.4.1). The bytes live in one pooled buffer (grown by renting a larger one), hashed one-shot on
/// demand; the buffer is cleared and returned by <see cref="Release"/>.
/// </summary>
internal sealed class Transcript13
{
    private const int InitialSize = 2048;

    private byte[]? _buffer;
    private int _length;

    public void Add(HandshakeMessage message) => Add(message.Type.Value, message.Body);

    public void Add(byte type, ReadOnlySpan<byte> body)
    {
        var destination = Reserve(4 + body.Length);
        destination[0] = type;
        destination[1] = (byte)(body.Length >> 16);
        destination[2] = (byte)(body.Length >> 8);
        destination[3] = (byte)body.Length;
        body.CopyTo(destination[4..]);
    }

    public byte[] Hash(HashAlgorithmName hash)
    {
        var bytes = _buffer is null ? ReadOnlySpan<byte>.Empty : _buffer.AsSpan(0, _length);
        return hash.Name switch
        {
            "SHA384" => SHA384.HashData(bytes),
            "SHA256" => SHA256.HashData(bytes),
            "SHA512" => SHA512.HashData(bytes),
            _ => HashIncrementally(hash, bytes),
        };
    }

    private static byte[] HashIncrementally(HashAlgorithmName hash, ReadOnlySpan<byte> bytes)
    {
        using var h = IncrementalHash.CreateHash(hash);
        h.AppendData(bytes);
        return h.GetHashAndReset();
    }

    /// <summary>Replaces everything so far (the first ClientHello) with <c>message_hash</c> of it.</summary>
    public void ReplaceWithMessageHash(HashAlgorithmName hash)
    {
        var clientHello1 = Hash(hash);
        Clear();
        Add(Wire13.MessageHash.Value, clientHello1);
    }

    /// <summary>Starts over from a message_hash carried in a cookie (the stateless HelloRetryRequest).</summary>
    public void StartFromMessageHash(ReadOnlySpan<byte> clientHello1Hash)
    {
        Clear();
        Add(Wire13.MessageHash.Value, clientHello1Hash);
    }

    /// <summary>Clears the bytes and returns the buffer to the pool; the transcript is empty afterwards.</summary>
    public void Release()
    {
        if (_buffer is { } buffer)
        {
            buffer.AsSpan(0, _length).Clear();
            _buffer = null;
            _length = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Clear()
    {
        if (_buffer is { } buffer)
        {
            buffer.AsSpan(0, _length).Clear();
        }

        _length = 0;
    }

    private Span<byte> Reserve(int count)
    {
        var needed = _length + count;
        if (_buffer is null || _buffer.Length < needed)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer is null ? InitialSize : _buffer.Length * 2));
            if (_buffer is { } old)
            {
                old.AsSpan(0, _length).CopyTo(larger);
                old.AsSpan(0, _length).Clear();
                ArrayPool<byte>.Shared.Return(old);
            }

            _buffer = larger;
        }

        var span = _buffer.AsSpan(_length, count);
        _length = needed;
        return span;
    }
}
