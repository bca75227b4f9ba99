using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Rfc7748X25519 = Org.BouncyCastle.Math.EC.Rfc7748.X25519;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// The key exchange groups of both DTLS versions behind one interface: DTLS 1.2 ECDHE (RFC 8422) and the DTLS 1.3
/// key_share (RFC 8446 4.2.8). Shares and secrets on the wire:
/// <list type="bullet">
/// <item>secp256r1 / secp384r1: share = uncompressed point <c>0x04 || X || Y</c>, secret = X (RFC 8422 5.10,
/// RFC 8446 4.2.8.2, 7.4.2); the point is checked to lie on the curve.</item>
/// <item>x25519: share = the 32-byte u-coordinate (RFC 8422 5.4, RFC 8446 4.2.8.2), secret = X25519 output;
/// an all-zero output (a low-order peer point) is refused (RFC 7748 6.1, RFC 8446 7.4.2).</item>
/// <item>X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem, 0x11EC), ML-KEM first: client share = ML-KEM-768 encapsulation
/// key (1184) || X25519 public (32); server share = ML-KEM ciphertext (1088) || X25519 public (32); secret = ML-KEM
/// secret (32) || X25519 secret (32). DTLS 1.3 only.</item>
/// </list>
/// X25519 comes from libsodium where it loads, BouncyCastle otherwise (<see cref="X25519"/>; the platform has none), ML-KEM from BouncyCastle (the platform's where supported), the
/// NIST curves from the platform's <see cref="ECDiffieHellman"/>. Peer input never throws: every check is a false return.
/// </summary>
internal static class KeyExchange
{
    /// <summary>Length of an X25519 public key and secret.</summary>
    public const int X25519Length = 32;

    /// <summary>Length of the client's X25519MLKEM768 share: encapsulation key plus X25519 public key.</summary>
    public const int HybridClientShareLength = MlKem768.EncapsulationKeyLength + X25519Length;

    /// <summary>Length of the server's X25519MLKEM768 share: ciphertext plus X25519 public key.</summary>
    public const int HybridServerShareLength = MlKem768.CiphertextLength + X25519Length;

    /// <summary>Length of the X25519MLKEM768 shared secret: ML-KEM secret plus X25519 secret.</summary>
    public const int HybridSecretLength = MlKem768.SharedSecretLength + X25519Length;

    /// <summary>True for X25519MLKEM768, X25519, secp256r1 and secp384r1.</summary>
    public static bool IsSupported(NamedGroup group) =>
        group == NamedGroup.X25519MlKem768 || IsSupportedInDtls12(group);

    /// <summary>
    /// True for the groups that have a DTLS 1.2 ECDHE form (RFC 8422): X25519, secp256r1, secp384r1. The hybrid
    /// X25519MLKEM768 is a key encapsulation with asymmetric shares and exists only in (D)TLS 1.3.
    /// </summary>
    public static bool IsSupportedInDtls12(NamedGroup group) =>
        group == NamedGroup.X25519 || group == NamedGroup.Secp256r1 || group == NamedGroup.Secp384r1;

    /// <summary>Generates our ephemeral key pair (the DTLS 1.3 client; either side in DTLS 1.2).</summary>
    /// <exception cref="NotSupportedException">The group is not supported (<see cref="IsSupported"/>).</exception>
    public static KeyExchangeKeyPair Generate(NamedGroup group) => Generate(group, MlKem768.DefaultImplementation);

    /// <summary><see cref="Generate(NamedGroup)"/> with a chosen ML-KEM implementation (tests use both).</summary>
    internal static KeyExchangeKeyPair Generate(NamedGroup group, MlKemImplementation mlKem)
    {
        if (group == NamedGroup.Secp256r1)
        {
            return OpenSslPublicKey.TryGenerateEcdhP256(out var key, out var point)
                ? KeyExchangeKeyPair.FromEcdh(group, key, point, ECCurve.NamedCurves.nistP256, 32)
                : KeyExchangeKeyPair.CreateEcdh(group, ECCurve.NamedCurves.nistP256, 32);
        }

        if (group == NamedGroup.Secp384r1)
        {
            return KeyExchangeKeyPair.CreateEcdh(group, ECCurve.NamedCurves.nistP384, 48);
        }

        if (group == NamedGroup.X25519)
        {
            return KeyExchangeKeyPair.CreateX25519(NewX25519PrivateKey(), null);
        }

        if (group == NamedGroup.X25519MlKem768)
        {
            return KeyExchangeKeyPair.CreateX25519(NewX25519PrivateKey(), MlKem768.Generate(mlKem));
        }

        throw new NotSupportedException($"Key exchange group {group} is not supported.");
    }

    /// <summary>
    /// The DTLS 1.3 server side in one step: for an ECDH group, generate our key and agree with the client's share;
    /// for X25519MLKEM768, encapsulate to the client's ML-KEM key and agree with its X25519 key. False, never
    /// throwing, on any bad share (wrong length, off-curve point, low-order X25519 point, ML-KEM key failing the
    /// modulus check) and for an unsupported group.
    /// </summary>
    public static bool TryRespond(NamedGroup group, ReadOnlySpan<byte> peerShare, [NotNullWhen(true)] out byte[]? ourShare, [NotNullWhen(true)] out byte[]? sharedSecret) =>
        TryRespond(group, peerShare, MlKem768.DefaultImplementation, out ourShare, out sharedSecret);

    /// <summary><see cref="TryRespond(NamedGroup, ReadOnlySpan{byte}, out byte[], out byte[])"/> with a chosen ML-KEM implementation.</summary>
    internal static bool TryRespond(NamedGroup group, ReadOnlySpan<byte> peerShare, MlKemImplementation mlKem, [NotNullWhen(true)] out byte[]? ourShare, [NotNullWhen(true)] out byte[]? sharedSecret)
    {
        ourShare = null;
        sharedSecret = null;
        if (group == NamedGroup.X25519MlKem768)
        {
            return TryRespondHybrid(peerShare, mlKem, out ourShare, out sharedSecret);
        }

        if (!IsSupportedInDtls12(group))
        {
            return false;
        }

        using var pair = Generate(group, mlKem);
        if (!pair.TryComplete(peerShare, out sharedSecret))
        {
            return false;
        }

        ourShare = pair.PublicShare;
        return true;
    }

    /// <summary>A fresh clamped X25519 private key from the platform CSPRNG (RFC 7748 5).</summary>
    internal static byte[] NewX25519PrivateKey()
    {
        var key = new byte[X25519Length];
        RandomNumberGenerator.Fill(key);
        Rfc7748X25519.ClampPrivateKey(key);
        return key;
    }

    /// <summary>X25519 agreement; false when the output is all zeros (a low-order peer point, RFC 7748 6.1).</summary>
    internal static bool TryX25519(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublic, Span<byte> secret) =>
        X25519.TryAgree(privateKey, peerPublic, secret);

    private static bool TryRespondHybrid(ReadOnlySpan<byte> clientShare, MlKemImplementation mlKem, [NotNullWhen(true)] out byte[]? ourShare, [NotNullWhen(true)] out byte[]? sharedSecret)
    {
        ourShare = null;
        sharedSecret = null;
        if (clientShare.Length != HybridClientShareLength)
        {
            return false;
        }

        var share = new byte[HybridServerShareLength];
        var secret = new byte[HybridSecretLength];
        var x25519Private = NewX25519PrivateKey();
        try
        {
            // The X25519 half first: it is the cheaper check, and a low-order point must fail before any ML-KEM work.
            if (!TryX25519(x25519Private, clientShare[MlKem768.EncapsulationKeyLength..], secret.AsSpan(MlKem768.SharedSecretLength)))
            {
                CryptographicOperations.ZeroMemory(secret);
                return false;
            }

            if (!MlKem768.TryEncapsulate(mlKem, clientShare[..MlKem768.EncapsulationKeyLength], share.AsSpan(0, MlKem768.CiphertextLength), secret.AsSpan(0, MlKem768.SharedSecretLength)))
            {
                CryptographicOperations.ZeroMemory(secret);
                return false;
            }

            X25519.PublicKey(x25519Private, share.AsSpan(MlKem768.CiphertextLength));
            ourShare = share;
            sharedSecret = secret;
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(x25519Private);
        }
    }
}

/// <summary>
/// Our ephemeral key pair for one group (see <see cref="KeyExchange"/> for the wire forms). <see cref="Dispose"/>
/// zeroes the private key where the implementation allows it.
/// </summary>
internal sealed class KeyExchangeKeyPair : IDisposable
{
    private readonly ECDiffieHellman? _ecdh;
    private readonly ECCurve _curve;
    private readonly int _coordinateLength;
    private readonly byte[]? _x25519Private;
    private readonly MlKem768DecapsulationKey? _mlKem;
    private bool _disposed;

    private KeyExchangeKeyPair(NamedGroup group, byte[] publicShare, ECDiffieHellman? ecdh, ECCurve curve, int coordinateLength, byte[]? x25519Private, MlKem768DecapsulationKey? mlKem)
    {
        Group = group;
        PublicShare = publicShare;
        _ecdh = ecdh;
        _curve = curve;
        _coordinateLength = coordinateLength;
        _x25519Private = x25519Private;
        _mlKem = mlKem;
    }

    /// <summary>The group of this key pair.</summary>
    public NamedGroup Group { get; }

    /// <summary>Our share as sent on the wire (ServerKeyExchange / ClientKeyExchange point, or key_share entry).</summary>
    public byte[] PublicShare { get; }

    /// <summary>The ML-KEM implementation of a hybrid key pair; null for the other groups.</summary>
    internal MlKemImplementation? MlKemImplementation => _mlKem?.Implementation;

    /// <summary>
    /// Computes the shared secret from the peer's share: ECDH agreement, or for X25519MLKEM768 (as the client)
    /// ML-KEM decapsulation of the server's ciphertext plus X25519. False, never throwing, on a bad share.
    /// </summary>
    /// <exception cref="ObjectDisposedException">Called after <see cref="Dispose"/>.</exception>
    public bool TryComplete(ReadOnlySpan<byte> peerShare, [NotNullWhen(true)] out byte[]? sharedSecret)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        sharedSecret = null;
        if (_ecdh is not null)
        {
            return TryEcdh(peerShare, out sharedSecret);
        }

        if (_mlKem is null)
        {
            var secret = new byte[KeyExchange.X25519Length];
            if (!KeyExchange.TryX25519(_x25519Private!, peerShare, secret))
            {
                return false;
            }

            sharedSecret = secret;
            return true;
        }

        if (peerShare.Length != KeyExchange.HybridServerShareLength)
        {
            return false;
        }

        var hybrid = new byte[KeyExchange.HybridSecretLength];
        if (!KeyExchange.TryX25519(_x25519Private!, peerShare[MlKem768.CiphertextLength..], hybrid.AsSpan(MlKem768.SharedSecretLength)))
        {
            return false;
        }

        _mlKem.Decapsulate(peerShare[..MlKem768.CiphertextLength], hybrid.AsSpan(0, MlKem768.SharedSecretLength));
        sharedSecret = hybrid;
        return true;
    }

    /// <summary>Test hook: an X25519 key pair from a known private key (RFC 7748 6.1 and RFC 8448 vectors).</summary>
    internal static KeyExchangeKeyPair FromX25519Private(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != KeyExchange.X25519Length)
        {
            throw new ArgumentException("An X25519 private key is 32 bytes.", nameof(privateKey));
        }

        return CreateX25519(privateKey.ToArray(), null);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _ecdh?.Dispose();
        if (_x25519Private is not null)
        {
            CryptographicOperations.ZeroMemory(_x25519Private);
        }

        _mlKem?.Dispose();
    }

    internal static KeyExchangeKeyPair CreateEcdh(NamedGroup group, ECCurve curve, int coordinateLength)
    {
        var key = ECDiffieHellman.Create(curve);
        var q = key.ExportParameters(includePrivateParameters: false).Q;
        var point = new byte[1 + 2 * coordinateLength];
        point[0] = 0x04;
        q.X.AsSpan().CopyTo(point.AsSpan(1 + coordinateLength - q.X!.Length));
        q.Y.AsSpan().CopyTo(point.AsSpan(1 + 2 * coordinateLength - q.Y!.Length));
        return new KeyExchangeKeyPair(group, point, key, curve, coordinateLength, null, null);
    }

    internal static KeyExchangeKeyPair FromEcdh(NamedGroup group, ECDiffieHellman key, byte[] point, ECCurve curve, int coordinateLength) =>
        new(group, point, key, curve, coordinateLength, null, null);

    internal static KeyExchangeKeyPair CreateX25519(byte[] privateKey, MlKem768DecapsulationKey? mlKem)
    {
        var x25519Public = new byte[KeyExchange.X25519Length];
        X25519.PublicKey(privateKey, x25519Public);
        if (mlKem is null)
        {
            return new KeyExchangeKeyPair(NamedGroup.X25519, x25519Public, null, default, 0, privateKey, null);
        }

        byte[] share = [.. mlKem.EncapsulationKey, .. x25519Public];
        return new KeyExchangeKeyPair(NamedGroup.X25519MlKem768, share, null, default, 0, privateKey, mlKem);
    }

    private bool TryEcdh(ReadOnlySpan<byte> peerPoint, [NotNullWhen(true)] out byte[]? sharedSecret)
    {
        sharedSecret = null;
        var n = _coordinateLength;
        if (peerPoint.Length != 1 + 2 * n || peerPoint[0] != 0x04)
        {
            return false;
        }

        var error = "";
        if (n == 32 && OpenSslPublicKey.TryImportEcdhP256(peerPoint, out var fast, out error))
        {
            using (fast)
            {
                try
                {
                    sharedSecret = _ecdh!.DeriveRawSecretAgreement(fast);
                    return true;
                }
                catch (CryptographicException)
                {
                    return false;
                }
            }
        }

        if (error.Length > 0 && n == 32)
        {
            return false;
        }

        var parameters = new ECParameters
        {
            Curve = _curve,
            Q = new ECPoint { X = peerPoint.Slice(1, n).ToArray(), Y = peerPoint.Slice(1 + n, n).ToArray() },
        };
        try
        {
            // Import validates that the point lies on the curve (and is not the identity), the check RFC 8422 5.10
            // and RFC 8446 4.2.8.2 require before the multiplication.
            using var peer = ECDiffieHellman.Create(parameters);
            using var peerPublic = peer.PublicKey;
            sharedSecret = _ecdh!.DeriveRawSecretAgreement(peerPublic);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
