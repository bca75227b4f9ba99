using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// HelloVerifyRequest body (RFC 6347 4.2.1): <c>server_version(2) cookie&lt;0..2^8-1&gt;</c>.
/// </summary>
internal sealed record HelloVerifyRequest(ProtocolVersion ServerVersion, byte[] Cookie)
{
    /// <summary>Decodes the body; false on truncation or trailing bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out HelloVerifyRequest? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadUInt16(out var version) || !r.TryReadVector8(out var cookie) || !r.IsEmpty)
        {
            return false;
        }

        message = new HelloVerifyRequest(new ProtocolVersion(version), cookie.ToArray());
        return true;
    }

    /// <summary>Writes the body.</summary>
    /// <exception cref="InvalidOperationException">The cookie is longer than 255 bytes.</exception>
    public void Encode(ref WireWriter writer)
    {
        MessageRules.Require(Cookie.Length <= MessageRules.MaxCookieLength, "HelloVerifyRequest.cookie is longer than 255 bytes.");
        writer.WriteUInt16(ServerVersion.Value);
        writer.WriteVector8(Cookie);
    }
}
