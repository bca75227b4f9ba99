using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Kems;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace Airlift.Dtls.Crypto;

/// <summary>Which implementation of ML-KEM-768 a key exchange uses.</summary>
internal enum MlKemImplementation
{
    /// <summary><see cref="MLKem"/> of System.Security.Cryptography; only where <see cref="MLKem.IsSupported"/> is true.</summary>
    Platform,

    /// <summary>BouncyCastle's <see cref="MLKemEncapsulator"/> / <see cref="MLKemDecapsulator"/>, available everywhere.</summary>
    BouncyCastle,
}

/// <summary>
/// ML-KEM-768 (FIPS 203) as the hybrid group X25519MLKEM768 needs it: the client's decapsulation key and the server's
/// one-shot encapsulation. The platform implementation is preferred where it exists (OpenSSL 3.5+, Windows with
/// CNG support); BouncyCastle serves elsewhere. Both check the encapsulation key as FIPS 203 7.2 requires (the
/// modulus check: every 12-bit coefficient below q = 3329, which also rejects a key of the wrong length).
/// </summary>
internal static class MlKem768
{
    /// <summary>Encapsulation (public) key length, the client's share part (FIPS 203 table 3).</summary>
    public const int EncapsulationKeyLength = 1184;

    /// <summary>Ciphertext length, the server's share part.</summary>
    public const int CiphertextLength = 1088;

    /// <summary>Shared secret length.</summary>
    public const int SharedSecretLength = 32;

    /// <summary>The implementation used when none is named: the platform's where supported, else BouncyCastle.</summary>
    public static MlKemImplementation DefaultImplementation { get; } =
        MLKem.IsSupported ? MlKemImplementation.Platform : MlKemImplementation.BouncyCastle;

    /// <summary>Generates a fresh decapsulation key.</summary>
    /// <exception cref="PlatformNotSupportedException"><see cref="MlKemImplementation.Platform"/> where the platform has no ML-KEM.</exception>
    public static MlKem768DecapsulationKey Generate(MlKemImplementation implementation) => implementation switch
    {
        MlKemImplementation.Platform => new PlatformKey(),
        _ => new BouncyCastleKey(),
    };

    /// <summary>
    /// Encapsulates to <paramref name="encapsulationKey"/>: writes the ciphertext and the shared secret. False, without
    /// throwing, when the key has the wrong length or fails the FIPS 203 modulus check.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException"><see cref="MlKemImplementation.Platform"/> where the platform has no ML-KEM.</exception>
    public static bool TryEncapsulate(MlKemImplementation implementation, ReadOnlySpan<byte> encapsulationKey, Span<byte> ciphertext, Span<byte> sharedSecret)
    {
        if (encapsulationKey.Length != EncapsulationKeyLength || ciphertext.Length != CiphertextLength || sharedSecret.Length != SharedSecretLength)
        {
            return false;
        }

        if (implementation == MlKemImplementation.Platform)
        {
            ThrowIfNoPlatform();
            try
            {
                using var key = MLKem.ImportEncapsulationKey(MLKemAlgorithm.MLKem768, encapsulationKey);
                key.Encapsulate(ciphertext, sharedSecret);
                return true;
            }
            catch (CryptographicException)
            {
                return false;
            }
        }

        MLKemPublicKeyParameters publicKey;
        try
        {
            // FromEncoding runs the FIPS 203 7.2 modulus check and throws ArgumentException when it fails.
            publicKey = MLKemPublicKeyParameters.FromEncoding(MLKemParameters.ml_kem_768, encapsulationKey.ToArray());
        }
        catch (ArgumentException)
        {
            return false;
        }

        var encapsulator = new MLKemEncapsulator(MLKemParameters.ml_kem_768);
        encapsulator.Init(new ParametersWithRandom(publicKey, new SecureRandom()));
        encapsulator.Encapsulate(ciphertext, sharedSecret);
        return true;
    }

    private static void ThrowIfNoPlatform()
    {
        if (!MLKem.IsSupported)
        {
            throw new PlatformNotSupportedException("The platform has no ML-KEM (MLKem.IsSupported is false).");
        }
    }

    private sealed class PlatformKey : MlKem768DecapsulationKey
    {
        private readonly MLKem _key;

        public PlatformKey()
        {
            ThrowIfNoPlatform();
            _key = MLKem.GenerateKey(MLKemAlgorithm.MLKem768);
            EncapsulationKey = _key.ExportEncapsulationKey();
        }

        public override byte[] EncapsulationKey { get; }

        public override MlKemImplementation Implementation => MlKemImplementation.Platform;

        public override void Decapsulate(ReadOnlySpan<byte> ciphertext, Span<byte> sharedSecret) => _key.Decapsulate(ciphertext, sharedSecret);

        public override void Dispose() => _key.Dispose();
    }

    private sealed class BouncyCastleKey : MlKem768DecapsulationKey
    {
        private MLKemPrivateKeyParameters? _key;

        public BouncyCastleKey()
        {
            var generator = new MLKemKeyPairGenerator();
            generator.Init(new MLKemKeyGenerationParameters(new SecureRandom(), MLKemParameters.ml_kem_768));
            var pair = generator.GenerateKeyPair();
            _key = (MLKemPrivateKeyParameters)pair.Private;
            EncapsulationKey = ((MLKemPublicKeyParameters)pair.Public).GetEncoded();
        }

        public override byte[] EncapsulationKey { get; }

        public override MlKemImplementation Implementation => MlKemImplementation.BouncyCastle;

        public override void Decapsulate(ReadOnlySpan<byte> ciphertext, Span<byte> sharedSecret)
        {
            ObjectDisposedException.ThrowIf(_key is null, this);
            var decapsulator = new MLKemDecapsulator(MLKemParameters.ml_kem_768);
            decapsulator.Init(_key);
            decapsulator.Decapsulate(ciphertext, sharedSecret);
        }

        // BouncyCastle's key object has no way to clear its arrays; dropping the reference is all that can be done.
        public override void Dispose() => _key = null;
    }
}

/// <summary>Our ML-KEM-768 decapsulation key (the client side of X25519MLKEM768).</summary>
internal abstract class MlKem768DecapsulationKey : IDisposable
{
    /// <summary>The encapsulation key to send, <see cref="MlKem768.EncapsulationKeyLength"/> bytes.</summary>
    public abstract byte[] EncapsulationKey { get; }

    /// <summary>The implementation behind this key.</summary>
    public abstract MlKemImplementation Implementation { get; }

    /// <summary>
    /// Decapsulates a ciphertext of exactly <see cref="MlKem768.CiphertextLength"/> bytes. A forged or corrupted
    /// ciphertext does not fail: ML-KEM's implicit rejection yields an unrelated secret, so the handshake fails later
    /// at Finished, as for any wrong key.
    /// </summary>
    public abstract void Decapsulate(ReadOnlySpan<byte> ciphertext, Span<byte> sharedSecret);

    /// <inheritdoc/>
    public abstract void Dispose();
}
