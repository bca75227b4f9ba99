using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;
using ExtensionCodec = Airlift.Dtls.Messages.Extensions;

namespace Airlift.Dtls.Messages;

/// <summary>
/// TLS 1.2 CertificateRequest body (RFC 5246 7.4.4): <c>ClientCertificateType certificate_types&lt;1..2^8-1&gt;
/// SignatureAndHashAlgorithm supported_signature_algorithms&lt;2..2^16-2&gt;
/// DistinguishedName certificate_authorities&lt;0..2^16-1&gt;</c>. The authorities are kept as the raw
/// vector content: WebRTC peers use self-signed certificates and send none.
/// </summary>
internal sealed record CertificateRequest(byte[] CertificateTypes, List<SignatureScheme> SignatureSchemes, byte[] CertificateAuthorities)
{
    /// <summary>ClientCertificateType rsa_sign (1).</summary>
    public const byte RsaSign = 1;

    /// <summary>ClientCertificateType ecdsa_sign (64), RFC 8422 5.5.</summary>
    public const byte EcdsaSign = 64;

    /// <summary>Decodes the body; false on empty type or scheme lists, an odd scheme list, truncation or trailing bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out CertificateRequest? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadVector8(out var types)
            || types.IsEmpty
            || !r.TryReadVector16(out var schemeBytes)
            || !ExtensionCodec.TryReadUInt16Values(schemeBytes, 2, out var schemes)
            || !r.TryReadVector16(out var authorities)
            || !r.IsEmpty)
        {
            return false;
        }

        message = new CertificateRequest(types.ToArray(), schemes.ConvertAll(v => new SignatureScheme(v)), authorities.ToArray());
        return true;
    }

    /// <summary>Writes the body.</summary>
    /// <exception cref="InvalidOperationException">The type or scheme list is empty.</exception>
    public void Encode(ref WireWriter writer)
    {
        MessageRules.Require(CertificateTypes.Length is > 0 and <= byte.MaxValue, "CertificateRequest.certificate_types must hold 1..255 types.");
        MessageRules.Require(SignatureSchemes.Count is > 0 and <= 0x7FFF, "CertificateRequest.supported_signature_algorithms must not be empty.");
        writer.WriteVector8(CertificateTypes);
        ExtensionCodec.WriteSchemes(ref writer, SignatureSchemes);
        writer.WriteVector16(CertificateAuthorities);
    }
}
