using Airlift.Codec;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.Handshake;

/// <summary>A complete handshake message: its type, message_seq and body (without the 12-byte header).</summary>
internal sealed record HandshakeMessage(HandshakeType Type, ushort MessageSeq, byte[] Body)
{
    /// <summary>
    /// The message as it enters the handshake hash: the DTLS header as if the message were sent as a single
    /// fragment (fragment_offset 0, fragment_length = length), then the body (RFC 6347 4.2.6).
    /// </summary>
    public byte[] ToTranscriptBytes()
    {
        var bytes = new byte[HandshakeHeader.Size + Body.Length];
        var w = new WireWriter(bytes);
        new HandshakeHeader(Type, Body.Length, MessageSeq, 0, Body.Length).Write(ref w);
        w.WriteBytes(Body);
        return bytes;
    }
}
