using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// Finished body (RFC 5246 7.4.9): <c>verify_data[12]</c> for every TLS 1.2 suite Airlift uses.
/// Compare it with <c>CryptographicOperations.FixedTimeEquals</c>, never with sequence equality.
/// </summary>
internal sealed record Finished(byte[] VerifyData)
{
    /// <summary>Decodes the body; false unless it is exactly 12 bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out Finished? message)
    {
        message = body.Length == MessageRules.VerifyDataLength ? new Finished(body.ToArray()) : null;
        return message is not null;
    }

    /// <summary>Writes the body.</summary>
    /// <exception cref="InvalidOperationException">verify_data is not 12 bytes.</exception>
    public void Encode(ref WireWriter writer)
    {
        MessageRules.Require(VerifyData.Length == MessageRules.VerifyDataLength, "Finished.verify_data must be 12 bytes.");
        writer.WriteBytes(VerifyData);
    }
}
