using System.Buffers;
using System.Security.Cryptography;
using Airlift.Codec;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.Handshake;

/// <summary>
/// The handshake messages as hashed for Finished, CertificateVerify and the extended master secret, kept as bytes in one
/// pooled buffer (a few KB, grown by renting a larger one) and hashed on demand. Bytes rather than a running hash because
/// DTLS 1.2 needs them whole: the client signs, and the server verifies, CertificateVerify over the messages themselves
/// (RFC 5246 7.4.8) with the signature scheme's hash, which need not be the PRF hash. The buffer is cleared and returned
/// when the handshake completes or the endpoint is released.
/// </summary>
internal sealed class Transcript
{
    private const int InitialSize = 2048;

    private byte[]? _buffer;
    private int _length;

    /// <summary>Appends the message as it enters the handshake hash: the DTLS header as if sent in one fragment
    /// (fragment_offset 0, fragment_length = length), then the body (RFC 6347 4.2.6).</summary>
    public void Add(HandshakeMessage message)
    {
        var body = message.Body;
        var destination = Reserve(HandshakeHeader.Size + body.Length);
        var w = new WireWriter(destination);
        new HandshakeHeader(message.Type, body.Length, message.MessageSeq, 0, body.Length).Write(ref w);
        w.WriteBytes(body);
    }

    /// <summary>Forgets everything (the ClientHello and HelloVerifyRequest of a cookie exchange are not hashed, RFC 6347 4.2.6).</summary>
    public void Reset()
    {
        Written.Clear();
        _length = 0;
    }

    public byte[] Hash(HashAlgorithmName hash) => hash.Name switch
    {
        "SHA384" => SHA384.HashData(Bytes),
        _ => SHA256.HashData(Bytes),
    };

    public ReadOnlySpan<byte> Bytes => Written;

    private Span<byte> Written => _buffer is null ? [] : _buffer.AsSpan(0, _length);

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
