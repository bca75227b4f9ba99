using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>The AEAD cipher behind a cipher suite.</summary>
internal enum AeadAlgorithm
{
    /// <summary>AES-128-GCM (RFC 5288).</summary>
    Aes128Gcm,

    /// <summary>AES-256-GCM (RFC 5288).</summary>
    Aes256Gcm,

    /// <summary>ChaCha20-Poly1305 (RFC 7905).</summary>
    ChaCha20Poly1305,
}

/// <summary>The certificate key type that signs the ServerKeyExchange of an ECDHE suite.</summary>
internal enum KeyExchangeSignature
{
    /// <summary>ECDHE_ECDSA.</summary>
    Ecdsa,

    /// <summary>ECDHE_RSA.</summary>
    Rsa,
}

/// <summary>
/// Static parameters of a cipher suite Airlift implements. Lengths are in bytes: the key and the
/// implicit (fixed) IV come from the key block (RFC 5246 6.3), the record IV is the explicit nonce
/// carried in each record (8 for GCM per RFC 5288 3, 0 for ChaCha20-Poly1305 per RFC 7905 2).
/// </summary>
internal sealed record CipherSuiteInfo(
    CipherSuite Suite,
    KeyExchangeSignature Signature,
    AeadAlgorithm Aead,
    HashAlgorithmName PrfHash,
    int KeyLength,
    int FixedIvLength,
    int RecordIvLength,
    int TagLength)
{
    private static readonly CipherSuiteInfo[] Suites =
    [
        Gcm(CipherSuite.EcdheEcdsaWithAes128GcmSha256, KeyExchangeSignature.Ecdsa, AeadAlgorithm.Aes128Gcm),
        Gcm(CipherSuite.EcdheEcdsaWithAes256GcmSha384, KeyExchangeSignature.Ecdsa, AeadAlgorithm.Aes256Gcm),
        ChaCha(CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256, KeyExchangeSignature.Ecdsa),
        Gcm(CipherSuite.EcdheRsaWithAes128GcmSha256, KeyExchangeSignature.Rsa, AeadAlgorithm.Aes128Gcm),
        Gcm(CipherSuite.EcdheRsaWithAes256GcmSha384, KeyExchangeSignature.Rsa, AeadAlgorithm.Aes256Gcm),
        ChaCha(CipherSuite.EcdheRsaWithChaCha20Poly1305Sha256, KeyExchangeSignature.Rsa),
    ];

    /// <summary>
    /// Every implemented suite in Airlift's preference order: ECDSA before RSA, and within each
    /// AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305.
    /// </summary>
    public static IReadOnlyList<CipherSuiteInfo> All { get; } = Array.AsReadOnly(Suites);

    /// <summary>Bytes a protected record adds to its plaintext: explicit nonce plus tag.</summary>
    public int RecordOverhead => RecordIvLength + TagLength;

    /// <summary>Output length of the PRF hash: 32 for SHA-256, 48 for SHA-384.</summary>
    public int HashLength => PrfHash == HashAlgorithmName.SHA384 ? 48 : 32;

    /// <summary>Looks up an implemented suite; false for unknown, GREASE or SCSV values.</summary>
    public static bool TryGet(CipherSuite suite, [NotNullWhen(true)] out CipherSuiteInfo? info)
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

    private static CipherSuiteInfo Gcm(CipherSuite suite, KeyExchangeSignature signature, AeadAlgorithm aead)
    {
        var is256 = aead == AeadAlgorithm.Aes256Gcm;
        // RFC 5288 3: 4-byte salt from the key block, 8-byte explicit nonce, 16-byte tag; the
        // AES-256 suites use SHA-384 as the PRF hash.
        return new CipherSuiteInfo(suite, signature, aead, is256 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256, is256 ? 32 : 16, 4, 8, 16);
    }

    // RFC 7905 2: 32-byte key, 12-byte IV from the key block, no explicit nonce, 16-byte tag, SHA-256 PRF.
    private static CipherSuiteInfo ChaCha(CipherSuite suite, KeyExchangeSignature signature) =>
        new(suite, signature, AeadAlgorithm.ChaCha20Poly1305, HashAlgorithmName.SHA256, 32, 12, 0, 16);
}
