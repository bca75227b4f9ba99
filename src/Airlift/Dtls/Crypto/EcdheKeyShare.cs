using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// One ephemeral ECDHE key pair (RFC 8422 5.4, 5.10) on secp256r1 or secp384r1. X25519 is not offered:
/// System.Security.Cryptography has no X25519, and Airlift does not hand-write primitives.
/// </summary>
internal sealed class EcdheKeyShare : IDisposable
{
    private readonly ECDiffieHellman _key;
    private readonly ECCurve _curve;
    private readonly int _coordinateLength;

    private EcdheKeyShare(NamedGroup group, ECCurve curve, int coordinateLength)
    {
        Group = group;
        _curve = curve;
        _coordinateLength = coordinateLength;
        _key = ECDiffieHellman.Create(curve);
        var q = _key.ExportParameters(includePrivateParameters: false).Q;
        PublicPoint = new byte[1 + 2 * coordinateLength];
        PublicPoint[0] = 0x04;
        q.X.AsSpan().CopyTo(PublicPoint.AsSpan(1 + coordinateLength - q.X!.Length));
        q.Y.AsSpan().CopyTo(PublicPoint.AsSpan(1 + 2 * coordinateLength - q.Y!.Length));
    }

    /// <summary>The group of this key pair.</summary>
    public NamedGroup Group { get; }

    /// <summary>The public key as an uncompressed point, <c>0x04 || X || Y</c> (RFC 8422 5.4.1).</summary>
    public byte[] PublicPoint { get; }

    /// <summary>True for the groups this class can generate and agree on.</summary>
    public static bool IsSupported(NamedGroup group) => group == NamedGroup.Secp256r1 || group == NamedGroup.Secp384r1;

    /// <summary>Generates a fresh key pair.</summary>
    /// <exception cref="NotSupportedException">The group is not supported (<see cref="IsSupported"/>).</exception>
    public static EcdheKeyShare Generate(NamedGroup group)
    {
        if (group == NamedGroup.Secp256r1)
        {
            return new EcdheKeyShare(group, ECCurve.NamedCurves.nistP256, 32);
        }

        if (group == NamedGroup.Secp384r1)
        {
            return new EcdheKeyShare(group, ECCurve.NamedCurves.nistP384, 48);
        }

        throw new NotSupportedException($"ECDHE group {group} is not supported.");
    }

    /// <summary>
    /// Computes the premaster secret with the peer's public point: the raw X coordinate of the shared
    /// point (RFC 8422 5.10). False, without throwing, when the point has the wrong length, is not in
    /// uncompressed form, or is not on the curve.
    /// </summary>
    public bool TryDeriveSharedSecret(ReadOnlySpan<byte> peerPoint, [NotNullWhen(true)] out byte[]? sharedSecret)
    {
        sharedSecret = null;
        var n = _coordinateLength;
        if (peerPoint.Length != 1 + 2 * n || peerPoint[0] != 0x04)
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
            // Import validates that the point lies on the curve (and is not the identity), which is the
            // check RFC 8422 5.10 requires before the multiplication.
            using var peer = ECDiffieHellman.Create(parameters);
            using var peerPublic = peer.PublicKey;
            sharedSecret = _key.DeriveRawSecretAgreement(peerPublic);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _key.Dispose();
}
