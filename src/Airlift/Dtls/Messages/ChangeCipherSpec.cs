using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>ChangeCipherSpec record body (RFC 5246 7.1): the single byte <c>change_cipher_spec(1)</c>.</summary>
internal sealed class ChangeCipherSpec
{
    /// <summary>The only value the body may carry.</summary>
    public const byte Value = 1;

    /// <summary>The one value; the message carries nothing else.</summary>
    public static readonly ChangeCipherSpec Instance = new();

    private ChangeCipherSpec()
    {
    }

    /// <summary>Decodes the body; false unless it is exactly <c>01</c>.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out ChangeCipherSpec? message)
    {
        message = body.Length == 1 && body[0] == Value ? Instance : null;
        return message is not null;
    }

    /// <summary>Writes the body.</summary>
    public void Encode(ref WireWriter writer) => writer.WriteUInt8(Value);
}
