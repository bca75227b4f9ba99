using System.Security.Cryptography;
using Airlift.Dtls.Handshake;

namespace Airlift.Dtls.V13;

/// <summary>
/// The DTLS 1.3 handshake transcript (RFC 9147 5.2): every message in TLS 1.3 form, <c>type(1) length(3) body</c>, without
/// DTLS's message_seq and fragment fields; after a HelloRetryRequest the first ClientHello is replaced by the synthetic
/// message_hash (RFC 8446 4.4.1).
/// </summary>
internal sealed class Transcript13
{
    private MemoryStream _bytes = new();

    public void Add(HandshakeMessage message) => Add(message.Type.Value, message.Body);

    public void Add(byte type, ReadOnlySpan<byte> body)
    {
        Span<byte> header = [type, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length];
        _bytes.Write(header);
        _bytes.Write(body);
    }

    public byte[] Hash(HashAlgorithmName hash)
    {
        using var h = IncrementalHash.CreateHash(hash);
        h.AppendData(_bytes.GetBuffer(), 0, (int)_bytes.Length);
        return h.GetHashAndReset();
    }

    /// <summary>Replaces everything so far (the first ClientHello) with <c>message_hash</c> of it.</summary>
    public void ReplaceWithMessageHash(HashAlgorithmName hash)
    {
        var clientHello1 = Hash(hash);
        _bytes = new MemoryStream();
        Add(Wire13.MessageHash.Value, clientHello1);
    }

    /// <summary>Starts over from a message_hash carried in a cookie (the stateless HelloRetryRequest).</summary>
    public void StartFromMessageHash(ReadOnlySpan<byte> clientHello1Hash)
    {
        _bytes = new MemoryStream();
        Add(Wire13.MessageHash.Value, clientHello1Hash);
    }

    public void Release() => _bytes = new MemoryStream(0);
}
