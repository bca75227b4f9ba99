using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;
using ExtensionCodec = Airlift.Dtls.Messages.Extensions;

namespace Airlift.Dtls.Messages;

/// <summary>
/// ServerHello body (RFC 5246 7.4.1.3): <c>server_version(2) random(32) session_id&lt;0..32&gt;
/// cipher_suite(2) compression_method(1) [extensions&lt;0..2^16-1&gt;]</c>.
/// </summary>
/// <remarks>
/// As with <see cref="ClientHello"/>, an absent block decodes to an empty list and an empty list is
/// encoded by leaving the block out.
/// </remarks>
internal sealed record ServerHello(
    ProtocolVersion ServerVersion,
    byte[] Random,
    byte[] SessionId,
    CipherSuite CipherSuite,
    byte CompressionMethod,
    List<Extension> Extensions)
{
    /// <summary>Decodes the body; false on any malformation, truncation or trailing byte.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out ServerHello? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadUInt16(out var version)
            || !r.TryReadBytes(MessageRules.RandomLength, out var random)
            || !r.TryReadVector8(out var sessionId)
            || sessionId.Length > MessageRules.MaxSessionIdLength
            || !r.TryReadUInt16(out var suite)
            || !r.TryReadUInt8(out var compression))
        {
            return false;
        }

        List<Extension>? extensions = [];
        if (!r.IsEmpty && (!ExtensionCodec.TryRead(ref r, out extensions) || !r.IsEmpty))
        {
            return false;
        }

        message = new ServerHello(
            new ProtocolVersion(version),
            random.ToArray(),
            sessionId.ToArray(),
            new CipherSuite(suite),
            compression,
            extensions);
        return true;
    }

    /// <summary>Writes the body.</summary>
    /// <exception cref="InvalidOperationException">The random is not 32 bytes or the session id is longer than 32.</exception>
    public void Encode(ref WireWriter writer)
    {
        MessageRules.Require(Random.Length == MessageRules.RandomLength, "ServerHello.random must be 32 bytes.");
        MessageRules.Require(SessionId.Length <= MessageRules.MaxSessionIdLength, "ServerHello.session_id is longer than 32 bytes.");
        writer.WriteUInt16(ServerVersion.Value);
        writer.WriteBytes(Random);
        writer.WriteVector8(SessionId);
        writer.WriteUInt16(CipherSuite.Value);
        writer.WriteUInt8(CompressionMethod);
        if (Extensions.Count > 0)
        {
            ExtensionCodec.EncodeList(ref writer, Extensions);
        }
    }
}
