using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// Static parameters of a TLS 1.3 / DTLS 1.3 cipher suite (RFC 8446 B.4): the AEAD, its key length in bytes, and the
/// hash of the key schedule. The IV is always 12 bytes and the tag 16 (RFC 8446 5.3); the record-number key has the
/// key's length (RFC 9147 4.2.3).
/// </summary>
internal sealed record Tls13CipherSuiteInfo(CipherSuite Suite, AeadAlgorithm Aead, int KeyLength, HashAlgorithmName Hash)
{
    /// <summary>Per-record nonce / IV length (RFC 8446 5.3: max(8, N_MIN) = 12 for every defined AEAD).</summary>
    public const int IvLength = 12;

    /// <summary>AEAD tag length of every TLS 1.3 suite.</summary>
    public const int TagLength = 16;

    private static readonly Tls13CipherSuiteInfo[] Suites =
    [
        new(CipherSuite.Tls13Aes128GcmSha256, AeadAlgorithm.Aes128Gcm, 16, HashAlgorithmName.SHA256),
        new(CipherSuite.Tls13Aes256GcmSha384, AeadAlgorithm.Aes256Gcm, 32, HashAlgorithmName.SHA384),
        new(CipherSuite.Tls13ChaCha20Poly1305Sha256, AeadAlgorithm.ChaCha20Poly1305, 32, HashAlgorithmName.SHA256),
    ];

    /// <summary>Every implemented TLS 1.3 suite in Airlift's preference order: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305.</summary>
    public static IReadOnlyList<Tls13CipherSuiteInfo> All { get; } = Array.AsReadOnly(Suites);

    /// <summary>Output length of <see cref="Hash"/>: 32 for SHA-256, 48 for SHA-384.</summary>
    public int HashLength => Hash == HashAlgorithmName.SHA384 ? 48 : 32;

    /// <summary>Looks up an implemented TLS 1.3 suite; false for DTLS 1.2 suites, unknown and GREASE values.</summary>
    public static bool TryGet(CipherSuite suite, [NotNullWhen(true)] out Tls13CipherSuiteInfo? info)
    {
        foreach (var s in Suites)
        {
            if (s.Suite == suite)
            {
                info = s;
                return true;
            }
        }

        info = null;
        return false;
    }
}
