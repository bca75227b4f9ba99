namespace Airlift.Dtls.Messages;

/// <summary>Fixed sizes shared by several messages, and the check encoders use on their own fields.</summary>
internal static class MessageRules
{
    /// <summary>Length of ClientHello/ServerHello random (RFC 5246 7.4.1.2).</summary>
    public const int RandomLength = 32;

    /// <summary>Longest session_id (RFC 5246 7.4.1.2: <c>opaque SessionID&lt;0..32&gt;</c>).</summary>
    public const int MaxSessionIdLength = 32;

    /// <summary>Longest DTLS cookie (RFC 6347 4.2.1: <c>opaque cookie&lt;0..2^8-1&gt;</c>).</summary>
    public const int MaxCookieLength = 255;

    /// <summary>verify_data length of every TLS 1.2 suite Airlift uses (RFC 5246 7.4.9).</summary>
    public const int VerifyDataLength = 12;

    /// <summary>
    /// Encoders write what the local endpoint built, so a field that breaks the wire rules is a bug in
    /// the caller, reported by an exception; decoders never throw.
    /// </summary>
    public static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
