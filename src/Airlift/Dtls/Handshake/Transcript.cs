using System.Security.Cryptography;

namespace Airlift.Dtls.Handshake;

/// <summary>
/// The handshake messages as hashed for Finished, CertificateVerify and the extended master secret. The hash
/// function is only known after ServerHello, so the bytes are kept (a few KB) and hashed on demand; the buffer is
/// released when the handshake completes.
/// </summary>
internal sealed class Transcript
{
    private MemoryStream _bytes = new();

    public void Add(HandshakeMessage message) => _bytes.Write(message.ToTranscriptBytes());

    /// <summary>Forgets everything (the ClientHello and HelloVerifyRequest of a cookie exchange are not hashed, RFC 6347 4.2.6).</summary>
    public void Reset() => _bytes = new MemoryStream();

    public byte[] Hash(HashAlgorithmName hash)
    {
        _bytes.TryGetBuffer(out var segment);
        return hash.Name switch
        {
            "SHA384" => SHA384.HashData(segment),
            _ => SHA256.HashData(segment),
        };
    }

    public ReadOnlySpan<byte> Bytes
    {
        get
        {
            _bytes.TryGetBuffer(out var segment);
            return segment;
        }
    }

    public void Release() => _bytes = new MemoryStream(0);
}
