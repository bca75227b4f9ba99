using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// TLS 1.2 CertificateVerify body (RFC 5246 7.4.8, digitally-signed per 4.7):
/// <c>SignatureAndHashAlgorithm(2) signature&lt;0..2^16-1&gt;</c>.
/// </summary>
internal sealed record CertificateVerify(SignatureScheme Scheme, byte[] Signature)
{
    /// <summary>Decodes the body; false on truncation or trailing bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out CertificateVerify? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadUInt16(out var scheme) || !r.TryReadVector16(out var signature) || !r.IsEmpty)
        {
            return false;
        }

        message = new CertificateVerify(new SignatureScheme(scheme), signature.ToArray());
        return true;
    }

    /// <summary>Writes the body.</summary>
    public void Encode(ref WireWriter writer)
    {
        writer.WriteUInt16(Scheme.Value);
        writer.WriteVector16(Signature);
    }
}
