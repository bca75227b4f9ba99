using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// AEAD protection of one direction of DTLS 1.2 records (RFC 5246 6.2.3.3, RFC 6347 4.1.2.1).
/// <list type="bullet">
/// <item>additional_data = epoch||seq (8) + type (1) + version (2) + plaintext length (2).</item>
/// <item>AES-GCM (RFC 5288 3): nonce = 4-byte implicit salt || 8-byte explicit nonce; the explicit
/// nonce is sent in front of the ciphertext, and Airlift writes the record's 64-bit epoch||seq there,
/// which is unique per key by construction.</item>
/// <item>ChaCha20-Poly1305 (RFC 7905 2): nonce = 12-byte IV XOR epoch||seq left-padded to 12 bytes; no
/// explicit nonce on the wire.</item>
/// </list>
/// Seal and TryOpen allocate nothing on the success path. Not thread-safe: one instance per direction.
/// </summary>
internal sealed class RecordProtection : IDisposable
{
    private const int NonceLength = 12;
    private const int AadLength = 13;

    private readonly AesGcm? _gcm;
    private readonly ChaCha20Poly1305? _chacha;
    private readonly byte[] _iv;
    private readonly int _recordIvLength;
    private readonly int _tagLength;

    private RecordProtection(AesGcm? gcm, ChaCha20Poly1305? chacha, byte[] iv, int recordIvLength, int tagLength)
    {
        _gcm = gcm;
        _chacha = chacha;
        _iv = iv;
        _recordIvLength = recordIvLength;
        _tagLength = tagLength;
    }

    /// <summary>Bytes added to each record: explicit nonce plus tag (24 for GCM, 16 for ChaCha20-Poly1305).</summary>
    public int Overhead => _recordIvLength + _tagLength;

    /// <summary>Creates the protection for one direction from its write key and write IV.</summary>
    /// <exception cref="ArgumentException">The key or IV length does not match the suite.</exception>
    public static RecordProtection Create(CipherSuiteInfo suite, ReadOnlySpan<byte> key, ReadOnlySpan<byte> fixedIv)
    {
        ArgumentNullException.ThrowIfNull(suite);
        if (key.Length != suite.KeyLength)
        {
            throw new ArgumentException($"{suite.Suite} needs a {suite.KeyLength}-byte key, got {key.Length}.", nameof(key));
        }

        if (fixedIv.Length != suite.FixedIvLength)
        {
            throw new ArgumentException($"{suite.Suite} needs a {suite.FixedIvLength}-byte IV, got {fixedIv.Length}.", nameof(fixedIv));
        }

        return suite.Aead == AeadAlgorithm.ChaCha20Poly1305
            ? new RecordProtection(null, new ChaCha20Poly1305(key), fixedIv.ToArray(), suite.RecordIvLength, suite.TagLength)
            : new RecordProtection(new AesGcm(key, suite.TagLength), null, fixedIv.ToArray(), suite.RecordIvLength, suite.TagLength);
    }

    /// <summary>
    /// Encrypts one record. Writes explicit_nonce || ciphertext || tag into <paramref name="output"/>,
    /// which must hold <c>plaintext.Length + Overhead</c> bytes and must not overlap the plaintext.
    /// </summary>
    /// <param name="epochSeq"><c>((ulong)epoch &lt;&lt; 48) | seq48</c> of the record.</param>
    /// <param name="type">Record content type.</param>
    /// <param name="version">Record version.</param>
    /// <param name="plaintext">At most 65535 bytes (the AAD length field).</param>
    /// <param name="output">Destination of the record fragment.</param>
    /// <returns>Bytes written.</returns>
    public int Seal(ulong epochSeq, ContentType type, ProtocolVersion version, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        if (plaintext.Length > ushort.MaxValue)
        {
            throw new ArgumentException("A record plaintext is at most 65535 bytes.", nameof(plaintext));
        }

        var total = plaintext.Length + _recordIvLength + _tagLength;
        if (output.Length < total)
        {
            throw new ArgumentException($"Output needs {total} bytes, has {output.Length}.", nameof(output));
        }

        Span<byte> aad = stackalloc byte[AadLength];
        WriteAad(aad, epochSeq, type, version, plaintext.Length);
        Span<byte> nonce = stackalloc byte[NonceLength];
        var ciphertext = output.Slice(_recordIvLength, plaintext.Length);
        var tag = output.Slice(_recordIvLength + plaintext.Length, _tagLength);
        if (_gcm is not null)
        {
            BinaryPrimitives.WriteUInt64BigEndian(output, epochSeq);
            _iv.CopyTo(nonce);
            BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], epochSeq);
            _gcm.Encrypt(nonce, plaintext, ciphertext, tag, aad);
        }
        else
        {
            ChaChaNonce(nonce, epochSeq);
            _chacha!.Encrypt(nonce, plaintext, ciphertext, tag, aad);
        }

        return total;
    }

    /// <summary>
    /// Decrypts and authenticates one record fragment (explicit_nonce || ciphertext || tag). Returns
    /// false, without throwing, when the fragment is too short, <paramref name="plaintext"/> is too small,
    /// or authentication fails (wrong key, sequence number, type, version or tampered bytes).
    /// </summary>
    public bool TryOpen(ulong epochSeq, ContentType type, ProtocolVersion version, ReadOnlySpan<byte> fragment, Span<byte> plaintext, out int written)
    {
        written = 0;
        var length = fragment.Length - _recordIvLength - _tagLength;
        if (length < 0 || length > ushort.MaxValue || plaintext.Length < length)
        {
            return false;
        }

        Span<byte> aad = stackalloc byte[AadLength];
        WriteAad(aad, epochSeq, type, version, length);
        Span<byte> nonce = stackalloc byte[NonceLength];
        var ciphertext = fragment.Slice(_recordIvLength, length);
        var tag = fragment.Slice(_recordIvLength + length, _tagLength);
        var destination = plaintext[..length];
        try
        {
            if (_gcm is not null)
            {
                // RFC 5288 3: the nonce uses the explicit nonce as received, whatever the sender chose.
                _iv.CopyTo(nonce);
                fragment[..8].CopyTo(nonce[4..]);
                _gcm.Decrypt(nonce, ciphertext, tag, destination, aad);
            }
            else
            {
                ChaChaNonce(nonce, epochSeq);
                _chacha!.Decrypt(nonce, ciphertext, tag, destination, aad);
            }
        }
        catch (CryptographicException)
        {
            // AuthenticationTagMismatchException derives from CryptographicException; the platform has
            // already cleared the destination.
            return false;
        }

        written = length;
        return true;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _gcm?.Dispose();
        _chacha?.Dispose();
        CryptographicOperations.ZeroMemory(_iv);
    }

    private static void WriteAad(Span<byte> aad, ulong epochSeq, ContentType type, ProtocolVersion version, int length)
    {
        BinaryPrimitives.WriteUInt64BigEndian(aad, epochSeq);
        aad[8] = type.Value;
        BinaryPrimitives.WriteUInt16BigEndian(aad[9..], version.Value);
        BinaryPrimitives.WriteUInt16BigEndian(aad[11..], (ushort)length);
    }

    private void ChaChaNonce(Span<byte> nonce, ulong epochSeq)
    {
        // RFC 7905 2: the 64-bit sequence number (DTLS: epoch||seq) is left-padded with four zero bytes
        // and XORed with the 12-byte IV.
        _iv.CopyTo(nonce);
        var tail = nonce[4..];
        BinaryPrimitives.WriteUInt64BigEndian(tail, BinaryPrimitives.ReadUInt64BigEndian(tail) ^ epochSeq);
    }
}
