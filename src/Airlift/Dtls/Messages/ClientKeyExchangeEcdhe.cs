using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// ECDHE ClientKeyExchange body (RFC 8422 5.7): <c>ClientECDiffieHellmanPublic: point ecdh_Yc&lt;1..2^8-1&gt;</c>.
/// </summary>
internal sealed record ClientKeyExchangeEcdhe(byte[] PublicPoint)
{
    /// <summary>Decodes the body; false on an empty point, truncation or trailing bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out ClientKeyExchangeEcdhe? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadVector8(out var point) || point.IsEmpty || !r.IsEmpty)
        {
            return false;
        }

        message = new ClientKeyExchangeEcdhe(point.ToArray());
        return true;
    }

    /// <summary>Writes the body.</summary>
    /// <exception cref="InvalidOperationException">The point is empty or longer than 255 bytes.</exception>
    public void Encode(ref WireWriter writer)
    {
        MessageRules.Require(PublicPoint.Length is > 0 and <= byte.MaxValue, "The ECDH public point must be 1..255 bytes.");
        writer.WriteVector8(PublicPoint);
    }
}
