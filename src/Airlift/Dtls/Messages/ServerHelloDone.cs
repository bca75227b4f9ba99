using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>ServerHelloDone (RFC 5246 7.4.5): an empty body.</summary>
internal sealed class ServerHelloDone
{
    /// <summary>The one value; the message carries nothing.</summary>
    public static readonly ServerHelloDone Instance = new();

    private ServerHelloDone()
    {
    }

    /// <summary>Decodes the body; false on any byte.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out ServerHelloDone? message)
    {
        message = body.IsEmpty ? Instance : null;
        return message is not null;
    }

    /// <summary>Writes nothing: the body is empty. Present so every message has the same shape.</summary>
    public void Encode(ref WireWriter writer)
    {
    }
}
