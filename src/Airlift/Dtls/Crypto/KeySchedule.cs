using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>TLS 1.2 secret derivations on top of <see cref="Prf"/>.</summary>
internal static class KeySchedule
{
    /// <summary>Length of the master secret (RFC 5246 8.1).</summary>
    public const int MasterSecretLength = 48;

    /// <summary>Length of Finished.verify_data for every Airlift suite (RFC 5246 7.4.9).</summary>
    public const int VerifyDataLength = 12;

    /// <summary>Random length in ClientHello/ServerHello (RFC 5246 7.4.1.2).</summary>
    public const int RandomLength = 32;

    /// <summary>
    /// RFC 7627 4: <c>PRF(pre_master_secret, "extended master secret", session_hash)[0..47]</c>, where
    /// session_hash is the PRF hash of the handshake messages up to and including ClientKeyExchange.
    /// </summary>
    public static byte[] ExtendedMasterSecret(HashAlgorithmName prfHash, ReadOnlySpan<byte> preMasterSecret, ReadOnlySpan<byte> sessionHash)
    {
        var master = new byte[MasterSecretLength];
        Prf.Compute(prfHash, preMasterSecret, "extended master secret", sessionHash, master);
        return master;
    }

    /// <summary>RFC 5246 8.1: <c>PRF(pre_master_secret, "master secret", ClientHello.random + ServerHello.random)[0..47]</c>.</summary>
    public static byte[] MasterSecret(HashAlgorithmName prfHash, ReadOnlySpan<byte> preMasterSecret, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom)
    {
        Span<byte> seed = stackalloc byte[2 * RandomLength];
        Concat(clientRandom, serverRandom, seed);
        var master = new byte[MasterSecretLength];
        Prf.Compute(prfHash, preMasterSecret, "master secret", seed, master);
        return master;
    }

    /// <summary>
    /// RFC 5246 6.3: <c>key_block = PRF(master_secret, "key expansion", server_random + client_random)</c>,
    /// cut into client_write_key, server_write_key, client_write_IV, server_write_IV. AEAD suites have no
    /// MAC keys (mac_key_length = 0).
    /// </summary>
    public static KeyBlock DeriveKeyBlock(CipherSuiteInfo suite, ReadOnlySpan<byte> masterSecret, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom)
    {
        ArgumentNullException.ThrowIfNull(suite);
        Span<byte> seed = stackalloc byte[2 * RandomLength];
        Concat(serverRandom, clientRandom, seed);
        var k = suite.KeyLength;
        var iv = suite.FixedIvLength;
        Span<byte> block = stackalloc byte[2 * (32 + 12)];
        block = block[..(2 * (k + iv))];
        try
        {
            Prf.Compute(suite.PrfHash, masterSecret, "key expansion", seed, block);
            return new KeyBlock(
                block[..k].ToArray(),
                block[k..(2 * k)].ToArray(),
                block[(2 * k)..(2 * k + iv)].ToArray(),
                block[(2 * k + iv)..].ToArray());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(block);
        }
    }

    /// <summary>
    /// RFC 5246 7.4.9: <c>PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]</c> with
    /// finished_label "client finished" or "server finished".
    /// </summary>
    public static byte[] VerifyData(HashAlgorithmName prfHash, ReadOnlySpan<byte> masterSecret, bool fromClient, ReadOnlySpan<byte> transcriptHash)
    {
        var verifyData = new byte[VerifyDataLength];
        Prf.Compute(prfHash, masterSecret, fromClient ? "client finished" : "server finished", transcriptHash, verifyData);
        return verifyData;
    }

    /// <summary>
    /// RFC 5705 4 keying material exporter: <c>PRF(master_secret, label, client_random + server_random
    /// [+ context_value_length (uint16) + context_value])</c>. A null context omits the length too; an
    /// empty context is encoded as a zero length, which gives a different output (RFC 5705 4).
    /// </summary>
    public static void Export(HashAlgorithmName prfHash, ReadOnlySpan<byte> masterSecret, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom, string label, byte[]? context, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(label);
        if (context is not null && context.Length > ushort.MaxValue)
        {
            throw new ArgumentException("Exporter context is limited to 65535 bytes (RFC 5705 4).", nameof(context));
        }

        var seed = new byte[2 * RandomLength + (context is null ? 0 : 2 + context.Length)];
        Concat(clientRandom, serverRandom, seed);
        if (context is not null)
        {
            seed[2 * RandomLength] = (byte)(context.Length >> 8);
            seed[2 * RandomLength + 1] = (byte)context.Length;
            context.CopyTo(seed, 2 * RandomLength + 2);
        }

        Prf.Compute(prfHash, masterSecret, label, seed, output);
    }

    private static void Concat(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> destination)
    {
        if (first.Length != RandomLength || second.Length != RandomLength)
        {
            throw new ArgumentException($"Hello randoms are {RandomLength} bytes.");
        }

        first.CopyTo(destination);
        second.CopyTo(destination[RandomLength..]);
    }
}

/// <summary>
/// The traffic keys cut from the key block (RFC 5246 6.3). For GCM the IVs are the 4-byte implicit
/// salts (RFC 5288 3); for ChaCha20-Poly1305 they are the 12-byte IVs (RFC 7905 2).
/// <see cref="Dispose"/> zeroes every array.
/// </summary>
internal sealed class KeyBlock : IDisposable
{
    public KeyBlock(byte[] clientWriteKey, byte[] serverWriteKey, byte[] clientWriteIv, byte[] serverWriteIv)
    {
        ClientWriteKey = clientWriteKey;
        ServerWriteKey = serverWriteKey;
        ClientWriteIv = clientWriteIv;
        ServerWriteIv = serverWriteIv;
    }

    /// <summary>client_write_key.</summary>
    public byte[] ClientWriteKey { get; }

    /// <summary>server_write_key.</summary>
    public byte[] ServerWriteKey { get; }

    /// <summary>client_write_IV.</summary>
    public byte[] ClientWriteIv { get; }

    /// <summary>server_write_IV.</summary>
    public byte[] ServerWriteIv { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(ClientWriteKey);
        CryptographicOperations.ZeroMemory(ServerWriteKey);
        CryptographicOperations.ZeroMemory(ClientWriteIv);
        CryptographicOperations.ZeroMemory(ServerWriteIv);
    }
}
