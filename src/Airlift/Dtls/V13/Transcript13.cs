using System.Security.Cryptography;
using Airlift.Dtls.Handshake;

namespace Airlift.Dtls.V13;

/// <summary>
/// The DTLS 1.3 handshake transcript (RFC 9147 5.2): every message in TLS 1.3 form, <c>type(1) length(3) body</c>, without
/// DTLS's message_seq and fragment fields; after a HelloRetryRequest the first ClientHello is replaced by the synthetic
/// message_hash (RFC 8446 4.4.1). The bytes live in one pooled buffer (<see cref="PooledBytes"/>), hashed one-shot on
/// demand into the caller's span; the buffer is cleared and returned by <see cref="Release"/>.
/// </summary>
internal sealed class Transcript13
{
    /// <summary>Bytes of the longest transcript hash (SHA-384): a stack buffer of this size holds any.</summary>
    public const int MaxHashLength = 48;

    private readonly PooledBytes _bytes = new(2048);

    public void Add(HandshakeMessage message) => Add(message.Type.Value, message.Body);

    public void Add(byte type, ReadOnlySpan<byte> body)
    {
        var destination = _bytes.Append(4 + body.Length);
        destination[0] = type;
        destination[1] = (byte)(body.Length >> 16);
        destination[2] = (byte)(body.Length >> 8);
        destination[3] = (byte)body.Length;
        body.CopyTo(destination[4..]);
    }

    /// <summary>The transcript hash as a new array (the stateless listener puts it in its cookie).</summary>
    public byte[] Hash(HashAlgorithmName hash)
    {
        Span<byte> digest = stackalloc byte[MaxHashLength];
        return Hash(hash, digest).ToArray();
    }

    /// <summary>Hashes the transcript into <paramref name="destination"/> (at least the hash's length; <see cref="MaxHashLength"/> fits all) and returns the hash.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than the hash.</exception>
    public ReadOnlySpan<byte> Hash(HashAlgorithmName hash, Span<byte> destination)
    {
        var written = CryptographicOperations.HashData(hash, _bytes.Written, destination);
        return destination[..written];
    }

    /// <summary>Replaces everything so far (the first ClientHello) with <c>message_hash</c> of it.</summary>
    public void ReplaceWithMessageHash(HashAlgorithmName hash)
    {
        Span<byte> digest = stackalloc byte[MaxHashLength];
        var clientHello1 = Hash(hash, digest);
        _bytes.Clear();
        Add(Wire13.MessageHash.Value, clientHello1);
    }

    /// <summary>Starts over from a message_hash carried in a cookie (the stateless HelloRetryRequest).</summary>
    public void StartFromMessageHash(ReadOnlySpan<byte> clientHello1Hash)
    {
        _bytes.Clear();
        Add(Wire13.MessageHash.Value, clientHello1Hash);
    }

    /// <summary>Clears the bytes and returns the buffer to the pool; the transcript is empty afterwards.</summary>
    public void Release() => _bytes.Release();
}
