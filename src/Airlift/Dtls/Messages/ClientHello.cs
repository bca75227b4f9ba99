using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;
using ExtensionCodec = Airlift.Dtls.Messages.Extensions;

namespace Airlift.Dtls.Messages;

/// <summary>
/// DTLS 1.2 ClientHello body (RFC 6347 4.2.1, RFC 5246 7.4.1.2):
/// <c>client_version(2) random(32) session_id&lt;0..32&gt; cookie&lt;0..2^8-1&gt;
/// cipher_suites&lt;2..2^16-2&gt; compression_methods&lt;1..2^8-1&gt; [extensions&lt;0..2^16-1&gt;]</c>.
/// </summary>
/// <remarks>
/// An absent extensions block decodes to an empty list, and an empty list is encoded by leaving the
/// block out, so a body ending in an explicit empty block (<c>00 00</c>) does not re-encode byte for byte.
/// </remarks>
internal sealed record ClientHello(
    ProtocolVersion ClientVersion,
    byte[] Random,
    byte[] SessionId,
    byte[] Cookie,
    List<CipherSuite> CipherSuites,
    byte[] CompressionMethods,
    List<Extension> Extensions)
{
    /// <summary>
    /// Parses client_version, random, session_id and cookie from the start of a ClientHello body,
    /// which may be only its first fragment: the server checks the stateless cookie (RFC 6347 4.2.1)
    /// before it keeps any state. The spans point into <paramref name="bodyPrefix"/>;
    /// <paramref name="prefixLength"/> is the number of bytes through the end of the cookie.
    /// </summary>
    public static bool TryReadPrefix(
        ReadOnlySpan<byte> bodyPrefix,
        out ProtocolVersion version,
        out ReadOnlySpan<byte> random,
        out ReadOnlySpan<byte> sessionId,
        out ReadOnlySpan<byte> cookie,
        out int prefixLength)
    {
        var r = new WireReader(bodyPrefix);
        if (r.TryReadUInt16(out var v)
            && r.TryReadBytes(MessageRules.RandomLength, out random)
            && r.TryReadVector8(out sessionId)
            && sessionId.Length <= MessageRules.MaxSessionIdLength
            && r.TryReadVector8(out cookie))
        {
            version = new ProtocolVersion(v);
            prefixLength = r.Position;
            return true;
        }

        version = default;
        random = default;
        sessionId = default;
        cookie = default;
        prefixLength = 0;
        return false;
    }

    /// <summary>Decodes a complete ClientHello body; false on any malformation, truncation or trailing byte.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out ClientHello? message)
    {
        message = null;
        if (!TryReadPrefix(body, out var version, out var random, out var sessionId, out var cookie, out var prefixLength))
        {
            return false;
        }

        var r = new WireReader(body[prefixLength..]);
        if (!r.TryReadVector16(out var suiteBytes)
            || !ExtensionCodec.TryReadUInt16Values(suiteBytes, 2, out var suites)
            || !r.TryReadVector8(out var compression)
            || compression.IsEmpty)
        {
            return false;
        }

        List<Extension>? extensions = [];
        if (!r.IsEmpty && (!ExtensionCodec.TryRead(ref r, out extensions) || !r.IsEmpty))
        {
            return false;
        }

        message = new ClientHello(
            version,
            random.ToArray(),
            sessionId.ToArray(),
            cookie.ToArray(),
            suites.ConvertAll(v => new CipherSuite(v)),
            compression.ToArray(),
            extensions);
        return true;
    }

    /// <summary>Writes the body.</summary>
    /// <exception cref="InvalidOperationException">A field breaks the wire rules (random length, empty lists, oversize vectors).</exception>
    public void Encode(ref WireWriter writer)
    {
        MessageRules.Require(Random.Length == MessageRules.RandomLength, "ClientHello.random must be 32 bytes.");
        MessageRules.Require(SessionId.Length <= MessageRules.MaxSessionIdLength, "ClientHello.session_id is longer than 32 bytes.");
        MessageRules.Require(Cookie.Length <= MessageRules.MaxCookieLength, "ClientHello.cookie is longer than 255 bytes.");
        MessageRules.Require(CipherSuites.Count is > 0 and <= 0x7FFF, "ClientHello.cipher_suites must hold 1..32767 suites.");
        MessageRules.Require(CompressionMethods.Length is > 0 and <= byte.MaxValue, "ClientHello.compression_methods must hold 1..255 methods.");

        writer.WriteUInt16(ClientVersion.Value);
        writer.WriteBytes(Random);
        writer.WriteVector8(SessionId);
        writer.WriteVector8(Cookie);
        var suites = writer.BeginVector16();
        foreach (var suite in CipherSuites)
        {
            writer.WriteUInt16(suite.Value);
        }

        writer.EndVector(suites);
        writer.WriteVector8(CompressionMethods);
        if (Extensions.Count > 0)
        {
            ExtensionCodec.EncodeList(ref writer, Extensions);
        }
    }
}
