using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// Certificate body (RFC 5246 7.4.2): <c>ASN.1Cert certificate_list&lt;0..2^24-1&gt;</c>, each
/// <c>opaque ASN.1Cert&lt;1..2^24-1&gt;</c> (DER), sender's certificate first. An empty list is valid
/// (a client without a certificate answers a CertificateRequest with one).
/// </summary>
internal sealed record CertificateMessage(List<byte[]> Certificates)
{
    /// <summary>Decodes the body; false on truncation, an empty certificate entry, or trailing bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out CertificateMessage? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadVector24(out var list) || !r.IsEmpty)
        {
            return false;
        }

        var certificates = new List<byte[]>();
        var inner = new WireReader(list);
        while (!inner.IsEmpty)
        {
            if (!inner.TryReadVector24(out var certificate) || certificate.IsEmpty)
            {
                return false;
            }

            certificates.Add(certificate.ToArray());
        }

        message = new CertificateMessage(certificates);
        return true;
    }

    /// <summary>Writes the body.</summary>
    /// <exception cref="InvalidOperationException">A certificate is empty.</exception>
    public void Encode(ref WireWriter writer)
    {
        var list = writer.BeginVector24();
        foreach (var certificate in Certificates)
        {
            MessageRules.Require(certificate.Length > 0, "A certificate entry must not be empty.");
            writer.WriteVector24(certificate);
        }

        writer.EndVector(list);
    }
}
