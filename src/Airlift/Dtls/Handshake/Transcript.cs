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
    private readonly PooledBytes _bytes = new(2048);

    /// <summary>Appends the message as it enters the handshake hash: the DTLS header as if sent in one fragment
    /// (fragment_offset 0, fragment_length = length), then the body (RFC 6347 4.2.6).</summary>
    public void Add(HandshakeMessage message)
    {
        var body = message.Body;
        var w = new WireWriter(_bytes.Append(HandshakeHeader.Size + body.Length));
        new HandshakeHeader(message.Type, body.Length, message.MessageSeq, 0, body.Length).Write(ref w);
        w.WriteBytes(body);
    }

    /// <summary>Forgets everything (the ClientHello and HelloVerifyRequest of a cookie exchange are not hashed, RFC 6347 4.2.6).</summary>
    public void Reset() => _bytes.Clear();

    public byte[] Hash(HashAlgorithmName hash) => hash.Name switch
    {
        "SHA384" => SHA384.HashData(Bytes),
        _ => SHA256.HashData(Bytes),
    };

    public ReadOnlySpan<byte> Bytes => _bytes.Written;

    /// <summary>Clears the bytes and returns the buffer to the pool; the transcript is empty afterwards.</summary>
    public void Release() => _bytes.Release();
}
