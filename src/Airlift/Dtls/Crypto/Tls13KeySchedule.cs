using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// The TLS 1.3 key schedule (RFC 8446 7.1) without PSK, as DTLS 1.3 uses it (RFC 9147 5.9: every HKDF-Expand-Label
/// label starts with "dtls13" instead of "tls13 "). One instance per handshake:
/// <see cref="SetSharedSecret"/> (early and handshake secret), <see cref="HandshakeTrafficSecrets"/> (transcript hash
/// of ClientHello..ServerHello), <see cref="ApplicationTrafficSecrets"/> (transcript hash of ClientHello..server
/// Finished; the master secret lives only inside that call). Transcript hashes are over TLS-style handshake messages
/// (4-byte header: type and 3-byte length), not the 12-byte DTLS header (RFC 9147 5.2). HKDF is the platform's.
/// <see cref="Dispose"/> zeroes the secrets still held; the caller owns and zeroes the secrets it receives.
/// </summary>
internal sealed class Tls13KeySchedule : IDisposable
{
    /// <summary>The HKDF-Expand-Label prefix of DTLS 1.3 (RFC 9147 5.9).</summary>
    public const string DtlsLabelPrefix = "dtls13";

    /// <summary>The HKDF-Expand-Label prefix of TLS 1.3 (RFC 8446 7.1); the RFC 8448 vectors use it.</summary>
    public const string TlsLabelPrefix = "tls13 ";

    /// <summary>Handshake type of the synthetic message_hash message (RFC 8446 4.4.1).</summary>
    public const byte MessageHashType = 254;

    /// <summary>The longest hash (SHA-384): the size of the stack buffers of intermediate secrets.</summary>
    private const int MaxHashLength = 48;

    private byte[]? _handshakeSecret;
    private bool _applicationSecretsDerived;

    /// <summary>Creates a schedule for a suite's hash (SHA-256 or SHA-384).</summary>
    /// <exception cref="ArgumentException">Another hash, or a null/empty prefix.</exception>
    public Tls13KeySchedule(HashAlgorithmName hash, string labelPrefix = DtlsLabelPrefix)
    {
        HashLength = HashLengthOf(hash);
        ArgumentException.ThrowIfNullOrEmpty(labelPrefix);
        Hash = hash;
        LabelPrefix = labelPrefix;
    }

    /// <summary>The hash of the schedule.</summary>
    public HashAlgorithmName Hash { get; }

    /// <summary>The HKDF-Expand-Label prefix in use.</summary>
    public string LabelPrefix { get; }

    /// <summary>Hash output length in bytes (32 or 48): the length of every secret and of Finished.verify_data.</summary>
    public int HashLength { get; }

    /// <summary>
    /// Feeds the (EC)DHE shared secret: early secret = HKDF-Extract(0, 0...0) (no PSK), then
    /// handshake secret = HKDF-Extract(Derive-Secret(early, "derived", ""), ecdhe).
    /// </summary>
    /// <exception cref="InvalidOperationException">Called twice.</exception>
    public void SetSharedSecret(ReadOnlySpan<byte> ecdhe)
    {
        if (_handshakeSecret is not null || _applicationSecretsDerived)
        {
            throw new InvalidOperationException("The shared secret is already set.");
        }

        // The intermediate secrets live on the stack and are zeroed here; only the handshake secret is kept (an array,
        // zeroed by ApplicationTrafficSecrets or Dispose).
        Span<byte> early = stackalloc byte[MaxHashLength];
        Span<byte> derived = stackalloc byte[MaxHashLength];
        early = early[..HashLength];
        derived = derived[..HashLength];
        try
        {
            EarlySecret(Hash, early);
            DeriveSecretOfEmpty(early, "derived", derived);
            var handshakeSecret = new byte[HashLength];
            HKDF.Extract(Hash, ecdhe, derived, handshakeSecret);
            _handshakeSecret = handshakeSecret;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(early);
            CryptographicOperations.ZeroMemory(derived);
        }
    }

    /// <summary>client/server_handshake_traffic_secret from the transcript hash of ClientHello..ServerHello.</summary>
    /// <exception cref="InvalidOperationException">Before <see cref="SetSharedSecret"/> or after <see cref="ApplicationTrafficSecrets"/>.</exception>
    public (byte[] Client, byte[] Server) HandshakeTrafficSecrets(ReadOnlySpan<byte> transcriptHash)
    {
        var hs = RequireHandshakeSecret();
        RequireHashLength(transcriptHash);
        return (DeriveSecret(Hash, hs, "c hs traffic", transcriptHash, LabelPrefix), DeriveSecret(Hash, hs, "s hs traffic", transcriptHash, LabelPrefix));
    }

    /// <summary>
    /// client/server_application_traffic_secret_0 and exporter_master_secret from the transcript hash of
    /// ClientHello..server Finished. Derives the master secret internally and zeroes it and the handshake secret:
    /// no secret of the schedule outlives this call (Airlift has no resumption).
    /// </summary>
    /// <exception cref="InvalidOperationException">Before <see cref="SetSharedSecret"/> or called twice.</exception>
    public (byte[] Client, byte[] Server, byte[] Exporter) ApplicationTrafficSecrets(ReadOnlySpan<byte> transcriptHash)
    {
        var hs = RequireHandshakeSecret();
        RequireHashLength(transcriptHash);
        Span<byte> derived = stackalloc byte[MaxHashLength];
        Span<byte> master = stackalloc byte[MaxHashLength];
        Span<byte> zeros = stackalloc byte[MaxHashLength];
        derived = derived[..HashLength];
        master = master[..HashLength];
        zeros = zeros[..HashLength];
        zeros.Clear();
        try
        {
            DeriveSecretOfEmpty(hs, "derived", derived);
            HKDF.Extract(Hash, zeros, derived, master);
            return (
                DeriveSecret(Hash, master, "c ap traffic", transcriptHash, LabelPrefix),
                DeriveSecret(Hash, master, "s ap traffic", transcriptHash, LabelPrefix),
                DeriveSecret(Hash, master, "exp master", transcriptHash, LabelPrefix));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(derived);
            CryptographicOperations.ZeroMemory(master);
            CryptographicOperations.ZeroMemory(hs);
            _handshakeSecret = null;
            _applicationSecretsDerived = true;
        }
    }

    /// <summary>
    /// Finished.verify_data = HMAC(finished_key, transcriptHash) with finished_key =
    /// HKDF-Expand-Label(baseSecret, "finished", "", Hash.length) (RFC 8446 4.4.4). The base secret is the sender's
    /// handshake traffic secret.
    /// </summary>
    public byte[] FinishedVerifyData(ReadOnlySpan<byte> baseSecret, ReadOnlySpan<byte> transcriptHash)
    {
        var verifyData = new byte[HashLength];
        FinishedVerifyData(baseSecret, transcriptHash, verifyData);
        return verifyData;
    }

    /// <summary>
    /// <see cref="FinishedVerifyData(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/> into <paramref name="destination"/>
    /// (<see cref="HashLength"/> bytes): a received Finished is checked against a value on the stack.
    /// </summary>
    /// <exception cref="ArgumentException">A transcript hash or destination of the wrong length.</exception>
    public void FinishedVerifyData(ReadOnlySpan<byte> baseSecret, ReadOnlySpan<byte> transcriptHash, Span<byte> destination)
    {
        RequireHashLength(transcriptHash);
        if (destination.Length != HashLength)
        {
            throw new ArgumentException($"verify_data is {HashLength} bytes for {Hash.Name}.", nameof(destination));
        }

        Span<byte> finishedKey = stackalloc byte[MaxHashLength];
        finishedKey = finishedKey[..HashLength];
        ExpandLabel(Hash, baseSecret, "finished", [], finishedKey, LabelPrefix);
        try
        {
            CryptographicOperations.HmacData(Hash, finishedKey, transcriptHash, destination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(finishedKey);
        }
    }

    /// <summary>application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length) (RFC 8446 7.2).</summary>
    public byte[] NextTrafficSecret(ReadOnlySpan<byte> secret) => ExpandLabel(Hash, secret, "traffic upd", [], HashLength, LabelPrefix);

    /// <summary>
    /// The record keys of a traffic secret: key ("key", key length), iv ("iv", 12) (RFC 8446 7.3) and the record
    /// number encryption key ("sn", key length) (RFC 9147 4.2.3).
    /// </summary>
    /// <exception cref="ArgumentException">The suite's hash is not this schedule's.</exception>
    public Tls13TrafficKeys DeriveTrafficKeys(Tls13CipherSuiteInfo suite, ReadOnlySpan<byte> secret)
    {
        RequireSuite(suite);
        return new Tls13TrafficKeys(
            ExpandLabel(Hash, secret, "key", [], suite.KeyLength, LabelPrefix),
            ExpandLabel(Hash, secret, "iv", [], Tls13CipherSuiteInfo.IvLength, LabelPrefix),
            ExpandLabel(Hash, secret, "sn", [], suite.KeyLength, LabelPrefix));
    }

    /// <summary>
    /// The record protection of one direction and epoch straight from its traffic secret: the same keys as
    /// <see cref="DeriveTrafficKeys"/>, derived on the stack (the sn_key into a short-lived array the mask cipher needs) and
    /// zeroed as soon as the protection holds them.
    /// </summary>
    /// <exception cref="ArgumentException">The suite's hash is not this schedule's.</exception>
    public Dtls13RecordProtection CreateProtection(Tls13CipherSuiteInfo suite, ReadOnlySpan<byte> secret)
    {
        RequireSuite(suite);
        Span<byte> key = stackalloc byte[32];
        Span<byte> iv = stackalloc byte[Tls13CipherSuiteInfo.IvLength];
        key = key[..suite.KeyLength];
        var snKey = new byte[suite.KeyLength];
        try
        {
            ExpandLabel(Hash, secret, "key", [], key, LabelPrefix);
            ExpandLabel(Hash, secret, "iv", [], iv, LabelPrefix);
            ExpandLabel(Hash, secret, "sn", [], snKey, LabelPrefix);
            return Dtls13RecordProtection.Create(suite, key, iv, snKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(iv);
            CryptographicOperations.ZeroMemory(snKey);
        }
    }

    /// <summary>
    /// TLS-Exporter(label, context, length) (RFC 8446 7.5) =
    /// HKDF-Expand-Label(Derive-Secret(exporterSecret, label, ""), "exporter", Hash(context), length).
    /// An absent context is the empty context (DTLS-SRTP, RFC 5764 4.2, uses it so).
    /// </summary>
    /// <exception cref="ArgumentException">An unsupported hash, a label that does not fit, or an output over 255 x Hash.length.</exception>
    public static void Export(HashAlgorithmName hash, ReadOnlySpan<byte> exporterSecret, string label, ReadOnlySpan<byte> context, Span<byte> output, string labelPrefix)
    {
        var hashLength = HashLengthOf(hash);
        Span<byte> contextHash = stackalloc byte[hashLength];
        CryptographicOperations.HashData(hash, context, contextHash);
        Span<byte> emptyHash = stackalloc byte[hashLength];
        CryptographicOperations.HashData(hash, [], emptyHash);
        Span<byte> secret = stackalloc byte[hashLength];
        try
        {
            ExpandLabel(hash, exporterSecret, label, emptyHash, secret, labelPrefix);
            ExpandLabel(hash, secret, "exporter", contextHash, output, labelPrefix);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>HKDF-Expand-Label(secret, label, context, length) (RFC 8446 7.1) with the given label prefix.</summary>
    /// <exception cref="ArgumentException">An unsupported hash, a prefixed label over 255 bytes, a context over 255 bytes, or a length over 255 x Hash.length.</exception>
    public static byte[] ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> context, int length, string prefix)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var output = new byte[length];
        ExpandLabel(hash, secret, label, context, output, prefix);
        return output;
    }

    /// <summary><see cref="ExpandLabel(HashAlgorithmName, ReadOnlySpan{byte}, string, ReadOnlySpan{byte}, int, string)"/> into a caller buffer.</summary>
    public static void ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> context, Span<byte> output, string prefix)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentNullException.ThrowIfNull(prefix);
        var hashLength = HashLengthOf(hash);
        var labelLength = Encoding.ASCII.GetByteCount(prefix) + Encoding.ASCII.GetByteCount(label);
        if (labelLength > byte.MaxValue || context.Length > byte.MaxValue)
        {
            throw new ArgumentException("HkdfLabel.label and .context are at most 255 bytes each (RFC 8446 7.1).");
        }

        if (output.Length is 0 || output.Length > 255 * hashLength || output.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"HKDF-Expand yields 1..{255 * hashLength} bytes.", nameof(output));
        }

        // struct { uint16 length; opaque label<7..255> = prefix + Label; opaque context<0..255>; } HkdfLabel;
        Span<byte> info = stackalloc byte[2 + 1 + labelLength + 1 + context.Length];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)output.Length);
        info[2] = (byte)labelLength;
        var at = 3 + Encoding.ASCII.GetBytes(prefix, info[3..]);
        at += Encoding.ASCII.GetBytes(label, info[at..]);
        info[at++] = (byte)context.Length;
        context.CopyTo(info[at..]);
        HKDF.Expand(hash, secret, output, info);
    }

    /// <summary>Transcript-Hash of no messages, Hash(""): the context of the "derived" and exporter derivations.</summary>
    public static byte[] TranscriptHashOfEmpty(HashAlgorithmName hash)
    {
        _ = HashLengthOf(hash);
        return CryptographicOperations.HashData(hash, []);
    }

    /// <summary>
    /// The synthetic handshake message that replaces ClientHello1 in the transcript after a HelloRetryRequest
    /// (RFC 8446 4.4.1): <c>message_hash(254) || 00 00 Hash.length || Hash(ClientHello1)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The hash has the wrong length for <paramref name="hash"/>.</exception>
    public static byte[] MessageHash(HashAlgorithmName hash, ReadOnlySpan<byte> clientHello1Hash)
    {
        var hashLength = HashLengthOf(hash);
        if (clientHello1Hash.Length != hashLength)
        {
            throw new ArgumentException($"Hash(ClientHello1) is {hashLength} bytes for {hash.Name}.", nameof(clientHello1Hash));
        }

        var message = new byte[4 + hashLength];
        message[0] = MessageHashType;
        message[3] = (byte)hashLength;
        clientHello1Hash.CopyTo(message.AsSpan(4));
        return message;
    }

    /// <summary>Early secret without PSK: HKDF-Extract(salt = 0, IKM = Hash.length zero bytes).</summary>
    internal static byte[] EarlySecret(HashAlgorithmName hash)
    {
        var early = new byte[HashLengthOf(hash)];
        EarlySecret(hash, early);
        return early;
    }

    /// <summary><see cref="EarlySecret(HashAlgorithmName)"/> into a Hash.length destination.</summary>
    private static void EarlySecret(HashAlgorithmName hash, Span<byte> destination)
    {
        Span<byte> zeros = stackalloc byte[MaxHashLength];
        zeros = zeros[..destination.Length];
        zeros.Clear();
        HKDF.Extract(hash, zeros, [], destination);
    }

    /// <summary>Derive-Secret(secret, label, "") into a Hash.length destination: the "derived" steps of the schedule.</summary>
    private void DeriveSecretOfEmpty(ReadOnlySpan<byte> secret, string label, Span<byte> destination)
    {
        Span<byte> emptyHash = stackalloc byte[MaxHashLength];
        emptyHash = emptyHash[..HashLength];
        CryptographicOperations.HashData(Hash, [], emptyHash);
        ExpandLabel(Hash, secret, label, emptyHash, destination, LabelPrefix);
    }

    /// <summary>HKDF-Extract(salt, ikm); an empty salt is Hash.length zero bytes (RFC 5869 2.2).</summary>
    internal static byte[] Extract(HashAlgorithmName hash, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> ikm)
    {
        var prk = new byte[HashLengthOf(hash)];
        HKDF.Extract(hash, ikm, salt, prk);
        return prk;
    }

    /// <summary>Derive-Secret(secret, label, messages) = HKDF-Expand-Label(secret, label, Transcript-Hash(messages), Hash.length).</summary>
    internal static byte[] DeriveSecret(HashAlgorithmName hash, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> transcriptHash, string prefix) =>
        ExpandLabel(hash, secret, label, transcriptHash, HashLengthOf(hash), prefix);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_handshakeSecret is not null)
        {
            CryptographicOperations.ZeroMemory(_handshakeSecret);
            _handshakeSecret = null;
        }
    }

    private void RequireSuite(Tls13CipherSuiteInfo suite)
    {
        ArgumentNullException.ThrowIfNull(suite);
        if (suite.Hash != Hash)
        {
            throw new ArgumentException($"{suite.Suite} uses {suite.Hash.Name}, the schedule {Hash.Name}.", nameof(suite));
        }
    }

    private static int HashLengthOf(HashAlgorithmName hash) =>
        hash == HashAlgorithmName.SHA256 ? 32
        : hash == HashAlgorithmName.SHA384 ? 48
        : throw new ArgumentException($"TLS 1.3 suites use SHA-256 or SHA-384, not {hash.Name}.", nameof(hash));

    private byte[] RequireHandshakeSecret() =>
        _handshakeSecret ?? throw new InvalidOperationException(_applicationSecretsDerived
            ? "The application traffic secrets were already derived; the handshake secret is gone."
            : "SetSharedSecret must come first.");

    private void RequireHashLength(ReadOnlySpan<byte> transcriptHash)
    {
        if (transcriptHash.Length != HashLength)
        {
            throw new ArgumentException($"A transcript hash is {HashLength} bytes for {Hash.Name}.", nameof(transcriptHash));
        }
    }
}

/// <summary>
/// The record keys of one traffic secret and direction (RFC 8446 7.3, RFC 9147 4.2.3): AEAD key, 12-byte IV and the
/// record number encryption key. <see cref="Dispose"/> zeroes all three.
/// </summary>
internal sealed record Tls13TrafficKeys(byte[] Key, byte[] Iv, byte[] SnKey) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(Key);
        CryptographicOperations.ZeroMemory(Iv);
        CryptographicOperations.ZeroMemory(SnKey);
    }
}
