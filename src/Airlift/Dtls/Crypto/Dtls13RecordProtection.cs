using System.Buffers.Binary;
using System.Reflection;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// AEAD protection and record number encryption of one direction and epoch of DTLS 1.3 records (RFC 9147 4.2.2,
/// 4.2.3; RFC 8446 5.2, 5.3).
/// <list type="bullet">
/// <item>Nonce = IV XOR the 64-bit record sequence number left-padded to 12 bytes; the epoch is not part of it.</item>
/// <item>The caller builds the DTLSInnerPlaintext (content || type || zero padding) and the record header, which is
/// the additional data (with the sequence number bits unencrypted, RFC 9147 4.2.3).</item>
/// <item>Record number mask: AES-ECB(sn_key, sample) for the AES suites; for ChaCha20-Poly1305 the ChaCha20 block
/// function with key sn_key, counter = the first 4 sample bytes (little-endian) and nonce = the next 12, over zeros.
/// The sample is the first 16 bytes of the ciphertext.</item>
/// </list>
/// Seal, TryOpen and ComputeMask allocate nothing after construction. Not thread-safe: one instance per direction
/// and epoch. The instance keeps what it needs from the keys (the platform AEAD and mask cipher contexts, the IV as two
/// integers); the caller still zeroes or disposes the keys it passed.
/// </summary>
internal sealed class Dtls13RecordProtection : IDisposable
{
    /// <summary>Bytes of ciphertext the record number mask is computed from (RFC 9147 4.2.3).</summary>
    public const int MaskSampleLength = 16;

    [ThreadStatic]
    private static Aes? t_ecbFactory;

    private const int NonceLength = Tls13CipherSuiteInfo.IvLength;

    private readonly AesGcm? _gcm;
    private readonly ChaCha20Poly1305? _chacha;
    private readonly ICryptoTransform? _maskEcb;
    private readonly byte[]? _maskBlock;
    private readonly ChaCha20Block? _maskChaCha;

    // The 12-byte IV as two integers (big-endian): no array to allocate, and nothing to clear but two fields.
    private uint _ivHigh;
    private ulong _ivLow;
    private bool _disposed;

    private Dtls13RecordProtection(Tls13CipherSuiteInfo suite, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, byte[] snKey)
    {
        Suite = suite;
        _ivHigh = BinaryPrimitives.ReadUInt32BigEndian(iv);
        _ivLow = BinaryPrimitives.ReadUInt64BigEndian(iv[4..]);
        if (suite.Aead == AeadAlgorithm.ChaCha20Poly1305)
        {
            _chacha = new ChaCha20Poly1305(key);
            _maskChaCha = new ChaCha20Block(snKey);
        }
        else
        {
            _gcm = new AesGcm(key, Tls13CipherSuiteInfo.TagLength);

            // One AES-ECB transform per key, made straight from the key by this thread's factory (see EcbFactory).
            _maskEcb = EcbFactory.CreateEncryptor(snKey, null);

            // The sample in the first half, the mask out in the second: TransformBlock works on arrays only.
            _maskBlock = new byte[2 * MaskSampleLength];
        }
    }

    /// <summary>
    /// An AES object set to ECB without padding whose only use is <see cref="SymmetricAlgorithm.CreateEncryptor(byte[], byte[])"/>
    /// with an explicit key: each transform it makes holds its own cipher context and key schedule, and the object itself
    /// never holds a key (its Key property is never set or read). One per thread, as the platform does not promise that an
    /// algorithm object may be shared between threads; made once instead of once per epoch and direction.
    /// </summary>
    private static Aes EcbFactory
    {
        get
        {
            if (t_ecbFactory is { } factory)
            {
                return factory;
            }

            factory = Aes.Create();
            factory.Mode = CipherMode.ECB;
            factory.Padding = PaddingMode.None;
            return t_ecbFactory = factory;
        }
    }

    /// <summary>The suite of this protection.</summary>
    public Tls13CipherSuiteInfo Suite { get; }

    /// <summary>Bytes a protected record adds to the DTLSInnerPlaintext: the 16-byte tag.</summary>
    public int Overhead => Tls13CipherSuiteInfo.TagLength;

    /// <summary>Creates the protection for one direction and epoch from its traffic keys.</summary>
    /// <exception cref="ArgumentException">A key, IV or sn_key length does not match the suite.</exception>
    public static Dtls13RecordProtection Create(Tls13CipherSuiteInfo suite, Tls13TrafficKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return Create(suite, keys.Key, keys.Iv, keys.SnKey);
    }

    /// <summary>
    /// Creates the protection from the three keys as spans (<see cref="Tls13KeySchedule.CreateProtection"/> derives them
    /// on the stack). Nothing of the inputs is kept: the caller zeroes them afterwards.
    /// </summary>
    /// <exception cref="ArgumentException">A key, IV or sn_key length does not match the suite.</exception>
    public static Dtls13RecordProtection Create(Tls13CipherSuiteInfo suite, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, byte[] snKey)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(snKey);
        if (key.Length != suite.KeyLength || snKey.Length != suite.KeyLength || iv.Length != NonceLength)
        {
            throw new ArgumentException($"{suite.Suite} needs a {suite.KeyLength}-byte key and sn_key and a {NonceLength}-byte IV.", nameof(key));
        }

        return new Dtls13RecordProtection(suite, key, iv, snKey);
    }

    /// <summary>
    /// Encrypts one DTLSInnerPlaintext under the record's 64-bit sequence number, authenticating
    /// <paramref name="additionalData"/> (the record header). Writes ciphertext || tag; the destination may be the
    /// plaintext's own buffer (in place, same start) but must not overlap it otherwise.
    /// </summary>
    /// <returns>Bytes written: <c>innerPlaintext.Length + Overhead</c>.</returns>
    /// <exception cref="ArgumentException">The destination is shorter than <c>innerPlaintext.Length + Overhead</c> (a caller bug).</exception>
    public int Seal(ulong sequenceNumber, ReadOnlySpan<byte> additionalData, ReadOnlySpan<byte> innerPlaintext, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var total = innerPlaintext.Length + Overhead;
        if (destination.Length < total)
        {
            throw new ArgumentException($"The destination needs {total} bytes, has {destination.Length}.", nameof(destination));
        }

        Span<byte> nonce = stackalloc byte[NonceLength];
        Nonce(nonce, sequenceNumber);
        var ciphertext = destination[..innerPlaintext.Length];
        var tag = destination.Slice(innerPlaintext.Length, Overhead);
        if (_gcm is not null)
        {
            _gcm.Encrypt(nonce, innerPlaintext, ciphertext, tag, additionalData);
        }
        else
        {
            _chacha!.Encrypt(nonce, innerPlaintext, ciphertext, tag, additionalData);
        }

        return total;
    }

    /// <summary>
    /// Decrypts and authenticates ciphertext || tag under the record's reconstructed 64-bit sequence number. False,
    /// never throwing, when the input is shorter than the tag, the destination is too small, or authentication fails
    /// (wrong key, sequence number, header, or tampered bytes); the destination then holds no plaintext. The
    /// destination may be the ciphertext's own buffer (in place, same start).
    /// </summary>
    public bool TryOpen(ulong sequenceNumber, ReadOnlySpan<byte> additionalData, ReadOnlySpan<byte> ciphertext, Span<byte> destination, out int written)
    {
        written = 0;
        if (_disposed)
        {
            return false;
        }

        var length = ciphertext.Length - Overhead;
        if (length < 0 || destination.Length < length)
        {
            return false;
        }

        Span<byte> nonce = stackalloc byte[NonceLength];
        Nonce(nonce, sequenceNumber);
        var tag = ciphertext.Slice(length, Overhead);
        try
        {
            if (_gcm is not null)
            {
                _gcm.Decrypt(nonce, ciphertext[..length], tag, destination[..length], additionalData);
            }
            else
            {
                _chacha!.Decrypt(nonce, ciphertext[..length], tag, destination[..length], additionalData);
            }
        }
        catch (CryptographicException)
        {
            // AuthenticationTagMismatchException derives from CryptographicException; the platform has already
            // cleared the destination.
            return false;
        }

        written = length;
        return true;
    }

    /// <summary>
    /// Computes the record number mask from the first <see cref="MaskSampleLength"/> bytes of a record's ciphertext
    /// (RFC 9147 4.2.3). The caller XORs it over the sequence number bytes of the header (1 or 2 bytes) and drops
    /// records whose ciphertext is shorter than the sample.
    /// </summary>
    /// <exception cref="ArgumentException">The sample is shorter than 16 bytes or the mask longer (a caller bug).</exception>
    public void ComputeMask(ReadOnlySpan<byte> sample, Span<byte> mask)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (sample.Length < MaskSampleLength || mask.Length > MaskSampleLength)
        {
            throw new ArgumentException($"The sample is {MaskSampleLength} bytes and the mask at most {MaskSampleLength}.");
        }

        if (_maskEcb is not null)
        {
            var block = _maskBlock!;
            sample[..MaskSampleLength].CopyTo(block);
            _maskEcb.TransformBlock(block, 0, MaskSampleLength, block, MaskSampleLength);
            block.AsSpan(MaskSampleLength, mask.Length).CopyTo(mask);
        }
        else
        {
            _maskChaCha!.Block(BinaryPrimitives.ReadUInt32LittleEndian(sample), sample[4..MaskSampleLength], mask);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _gcm?.Dispose();
        _chacha?.Dispose();
        _maskEcb?.Dispose();
        _maskChaCha?.Dispose();
        if (_maskBlock is not null)
        {
            CryptographicOperations.ZeroMemory(_maskBlock);
        }

        _ivHigh = 0;
        _ivLow = 0;
    }

    private void Nonce(Span<byte> nonce, ulong sequenceNumber)
    {
        // RFC 8446 5.3, RFC 9147 4: the 64-bit record sequence number, left-padded to the IV length, XOR the IV.
        BinaryPrimitives.WriteUInt32BigEndian(nonce, _ivHigh);
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], _ivLow ^ sequenceNumber);
    }

    /// <summary>
    /// The raw ChaCha20 block function (RFC 8439 2.3) at a chosen 32-bit counter, on BouncyCastle's
    /// <see cref="ChaCha7539Engine"/>. BouncyCastle has no public way to start at an arbitrary counter (its engine
    /// always starts at 0), so this writes counter and nonce into the engine's state words 12..15 before each block.
    /// The state array is found once by reflection and checked against the engine's own keystream at type load;
    /// if a BouncyCastle release changes that, construction throws instead of computing a wrong mask.
    /// </summary>
    private sealed class ChaCha20Block : IDisposable
    {
        private const int BlockLength = 64;

        private static readonly FieldInfo? StateField = typeof(Salsa20Engine).GetField("engineState", BindingFlags.Instance | BindingFlags.NonPublic);
        private static readonly Lazy<bool> StateAccessWorks = new(SelfTest);

        private readonly FixedCounterEngine _engine = new();
        private readonly uint[] _state;
        private readonly byte[] _zeros = new byte[BlockLength];
        private readonly byte[] _block = new byte[BlockLength];

        public ChaCha20Block(byte[] key)
        {
            if (!StateAccessWorks.Value)
            {
                throw new NotSupportedException("This BouncyCastle version does not expose the ChaCha20 state the record number mask needs.");
            }

            _engine.Init(true, new ParametersWithIV(new KeyParameter(key), new byte[12]));
            _state = (uint[])StateField!.GetValue(_engine)!;
        }

        /// <summary>Writes the first <c>output.Length</c> (at most 64) bytes of the block at (counter, nonce).</summary>
        public void Block(uint counter, ReadOnlySpan<byte> nonce, Span<byte> output)
        {
            _engine.Reset();
            _state[12] = counter;
            _state[13] = BinaryPrimitives.ReadUInt32LittleEndian(nonce);
            _state[14] = BinaryPrimitives.ReadUInt32LittleEndian(nonce[4..]);
            _state[15] = BinaryPrimitives.ReadUInt32LittleEndian(nonce[8..]);

            // Exactly one block: the engine generates it at index 0 and returns to index 0.
            _engine.ProcessBytes(_zeros, _block);
            _block.AsSpan(0, output.Length).CopyTo(output);
        }

        public void Dispose()
        {
            Array.Clear(_state);
            CryptographicOperations.ZeroMemory(_block);
        }

        private static bool SelfTest()
        {
            if (StateField?.FieldType != typeof(uint[]))
            {
                return false;
            }

            // The block at counter 1 through the state words must equal the engine's own second keystream block.
            var key = new byte[32];
            var nonce = new byte[12];
            for (var i = 0; i < key.Length; i++)
            {
                key[i] = (byte)(i * 7 + 1);
            }

            nonce[3] = 0x4a;
            var reference = new ChaCha7539Engine();
            reference.Init(true, new ParametersWithIV(new KeyParameter(key), nonce));
            var stream = new byte[2 * BlockLength];
            reference.ProcessBytes(new byte[stream.Length], stream);

            var engine = new FixedCounterEngine();
            engine.Init(true, new ParametersWithIV(new KeyParameter(key), new byte[12]));
            if (StateField.GetValue(engine) is not uint[] { Length: 16 } state)
            {
                return false;
            }

            engine.Reset();
            state[12] = 1;
            state[13] = BinaryPrimitives.ReadUInt32LittleEndian(nonce);
            state[14] = BinaryPrimitives.ReadUInt32LittleEndian(nonce.AsSpan(4));
            state[15] = BinaryPrimitives.ReadUInt32LittleEndian(nonce.AsSpan(8));
            var block = new byte[BlockLength];
            engine.ProcessBytes(new byte[BlockLength], block);
            return block.AsSpan().SequenceEqual(stream.AsSpan(BlockLength));
        }
    }

    /// <summary>
    /// ChaCha7539Engine whose counter is set per block by <see cref="ChaCha20Block"/>: advancing it is pointless, and
    /// the base class would throw at counter 2^32 - 1, a value any peer can put in a sample.
    /// </summary>
    private sealed class FixedCounterEngine : ChaCha7539Engine
    {
        protected override void AdvanceCounter()
        {
        }
    }
}
