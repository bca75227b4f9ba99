using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// ECDHE ServerKeyExchange body (RFC 8422 5.4, signed the TLS 1.2 way, RFC 5246 7.4.3):
/// <c>curve_type(1)=named_curve(3) namedcurve(2) point&lt;1..2^8-1&gt; SignatureAndHashAlgorithm(2)
/// signature&lt;0..2^16-1&gt;</c>. The signature covers client_random || server_random || <see cref="EncodeParams"/>.
/// </summary>
internal sealed record ServerKeyExchangeEcdhe(NamedGroup Group, byte[] PublicPoint, SignatureScheme Scheme, byte[] Signature)
{
    /// <summary>ECCurveType named_curve (RFC 8422 5.4); explicit curves are deprecated and rejected.</summary>
    public const byte NamedCurve = 3;

    /// <summary>Decodes the body; false on another curve type, an empty point, truncation or trailing bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out ServerKeyExchangeEcdhe? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadUInt8(out var curveType)
            || curveType != NamedCurve
            || !r.TryReadUInt16(out var group)
            || !r.TryReadVector8(out var point)
            || point.IsEmpty
            || !r.TryReadUInt16(out var scheme)
            || !r.TryReadVector16(out var signature)
            || !r.IsEmpty)
        {
            return false;
        }

        message = new ServerKeyExchangeEcdhe(new NamedGroup(group), point.ToArray(), new SignatureScheme(scheme), signature.ToArray());
        return true;
    }

    /// <summary>The ServerECDHParams bytes (curve_type || namedcurve || point) that the signature covers.</summary>
    /// <exception cref="InvalidOperationException">The point is empty or longer than 255 bytes.</exception>
    public byte[] EncodeParams()
    {
        var bytes = new byte[ParamsLength];
        var w = new WireWriter(bytes);
        WriteParams(ref w);
        return bytes;
    }

    /// <summary>Writes the body.</summary>
    /// <exception cref="InvalidOperationException">The point is empty or longer than 255 bytes.</exception>
    public void Encode(ref WireWriter writer)
    {
        WriteParams(ref writer);
        writer.WriteUInt16(Scheme.Value);
        writer.WriteVector16(Signature);
    }

    private int ParamsLength => 1 + 2 + 1 + PublicPoint.Length;

    private void WriteParams(ref WireWriter writer)
    {
        MessageRules.Require(PublicPoint.Length is > 0 and <= byte.MaxValue, "The ECDH public point must be 1..255 bytes.");
        writer.WriteUInt8(NamedCurve);
        writer.WriteUInt16(Group.Value);
        writer.WriteVector8(PublicPoint);
    }
}
