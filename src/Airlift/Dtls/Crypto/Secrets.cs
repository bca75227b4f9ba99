using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>Zeroing of secrets that may not exist yet (a handshake released before it derived them).</summary>
internal static class Secrets
{
    /// <summary>Overwrites <paramref name="secret"/> with zeros; nothing when it is null.</summary>
    public static void Zero(byte[]? secret)
    {
        if (secret is not null)
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }
}
