using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// A faster import of a peer's EC public key on Linux, where the platform crypto is OpenSSL 3: the SubjectPublicKeyInfo
/// is read here (curve and point) and the point decoded by OpenSSL's <c>EC_KEY_oct2key</c> (which checks that it lies on the named curve) and
/// handed to the platform as an <see cref="ECDsaOpenSsl"/> / <see cref="ECDiffieHellmanOpenSsl"/> over that key. The
/// platform's own import (<c>ImportSubjectPublicKeyInfo</c>, <c>ECDiffieHellman.Create(ECParameters)</c>) runs
/// <c>EC_KEY_check_key</c>, which adds a full scalar multiplication by the group order: about 100 us per import on this
/// machine kind, the largest single cost of a WebRTC server handshake after the signature check. For the prime curves
/// used here (cofactor 1) the on-curve check is the complete validation (SEC 1 3.2.2.1; NIST SP 800-56A 5.6.2.3.4), so
/// nothing is skipped: the point must decode, lie on the curve, and not be the point at infinity (refused before
/// OpenSSL sees it). ECDH keys are validated again by OpenSSL when they are used to derive (EVP_PKEY_derive_set_peer).
/// Used only when the platform runs on the same OpenSSL 3 this binds to (the version numbers match); otherwise, or with
/// the <c>Airlift.Dtls.DisableOpenSslKeyImport</c> AppContext switch, callers take the platform import.
/// </summary>
internal static class OpenSslPublicKey
{
    private const string Library = "libcrypto.so.3";

    private static readonly Lazy<bool> Usable = new(Probe);

    /// <summary>True when the fast import is in use (Linux, the platform on OpenSSL 3, not switched off).</summary>
    public static bool Enabled => !(AppContext.TryGetSwitch("Airlift.Dtls.DisableOpenSslKeyImport", out var off) && off) && Usable.Value;

    /// <summary>
    /// Imports an EC SubjectPublicKeyInfo as a verification key. False with an empty <paramref name="error"/> when the
    /// fast path is not available (use the platform import); false with a reason when the key is invalid.
    /// </summary>
    public static bool TryImportEcdsa(ReadOnlySpan<byte> spki, [NotNullWhen(true)] out ECDsa? key, out string error)
    {
        key = null;
        error = "";
        if (!Enabled || !OperatingSystem.IsLinux())
        {
            return false;
        }

        if (!TryDecode(spki, out var handle, out error))
        {
            return false;
        }

        using (handle)
        {
            key = new ECDsaOpenSsl(handle);
            return true;
        }
    }

    /// <summary>Imports an uncompressed point on P-256 (<c>04 || X || Y</c>) as an ECDH peer key; same contract.</summary>
    public static bool TryImportEcdhP256(ReadOnlySpan<byte> point, [NotNullWhen(true)] out ECDiffieHellmanPublicKey? key, out string error)
    {
        key = null;
        error = "";
        if (!Enabled || !OperatingSystem.IsLinux())
        {
            return false;
        }

        if (point.Length != 65 || point[0] != 0x04)
        {
            error = "not an uncompressed P-256 point";
            return false;
        }

        // SubjectPublicKeyInfo { AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, BIT STRING point } (RFC 5480 2).
        ReadOnlySpan<byte> prefix = [0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00];
        Span<byte> spki = stackalloc byte[prefix.Length + 65];
        prefix.CopyTo(spki);
        point.CopyTo(spki[prefix.Length..]);
        if (!TryDecode(spki, out var handle, out error))
        {
            return false;
        }

        using (handle)
        using (var ecdh = new ECDiffieHellmanOpenSsl(handle))
        {
            key = ecdh.PublicKey;
            return true;
        }
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static bool TryDecode(ReadOnlySpan<byte> spki, [NotNullWhen(true)] out SafeEvpPKeyHandle? handle, out string error)
    {
        handle = null;
        if (!TryReadEcPoint(spki, out var nid, out var point))
        {
            error = "the EC key is malformed, on an unknown curve, or the point at infinity";
            return false;
        }

        // EC_KEY_oct2key decodes the point and refuses one that is not on the curve (EC_POINT_oct2point ->
        // EC_POINT_set_affine_coordinates, which checks); the key then goes into an EVP_PKEY the platform can use.
        // The legacy EC_KEY calls avoid OpenSSL 3.0's decoder framework (d2i_PUBKEY), which costs ~100 us per key here.
        var ecKey = EC_KEY_new_by_curve_name(nid);
        if (ecKey == IntPtr.Zero)
        {
            ERR_clear_error();
            error = "";
            return false;
        }

        var bytes = point.ToArray();
        var pkey = IntPtr.Zero;
        try
        {
            if (EC_KEY_oct2key(ecKey, bytes, bytes.Length, IntPtr.Zero) != 1)
            {
                ERR_clear_error();
                error = "OpenSSL refused the EC point (not on the curve or malformed)";
                return false;
            }

            pkey = EVP_PKEY_new();
            if (pkey == IntPtr.Zero || EVP_PKEY_set1_EC_KEY(pkey, ecKey) != 1)
            {
                ERR_clear_error();
                if (pkey != IntPtr.Zero)
                {
                    EVP_PKEY_free(pkey);
                }

                error = "";
                return false;
            }
        }
        finally
        {
            EC_KEY_free(ecKey);
        }

        handle = new SafeEvpPKeyHandle(pkey, ownsHandle: true);
        error = "";
        return true;
    }

    /// <summary>
    /// SubjectPublicKeyInfo { AlgorithmIdentifier { id-ecPublicKey, namedCurve OID }, BIT STRING point } (RFC 5480 2):
    /// the curve as an OpenSSL NID (P-256 or P-384) and a compressed or uncompressed point (never 00, the point at
    /// infinity), no trailing bytes.
    /// </summary>
    private static bool TryReadEcPoint(ReadOnlySpan<byte> spki, out int nid, out ReadOnlySpan<byte> point)
    {
        nid = 0;
        point = default;
        const System.Formats.Asn1.AsnEncodingRules Der = System.Formats.Asn1.AsnEncodingRules.DER;
        try
        {
            System.Formats.Asn1.AsnDecoder.ReadSequence(spki, Der, out var offset, out var length, out var consumed);
            if (consumed != spki.Length)
            {
                return false;
            }

            var inner = spki.Slice(offset, length);
            System.Formats.Asn1.AsnDecoder.ReadSequence(inner, Der, out var algorithmOffset, out var algorithmLength, out var algorithmConsumed);
            var algorithm = inner.Slice(algorithmOffset, algorithmLength);
            var oid = System.Formats.Asn1.AsnDecoder.ReadObjectIdentifier(algorithm, Der, out var oidLength);
            var curve = System.Formats.Asn1.AsnDecoder.ReadObjectIdentifier(algorithm[oidLength..], Der, out var curveLength);
            if (oid != "1.2.840.10045.2.1" || oidLength + curveLength != algorithm.Length)
            {
                return false;
            }

            var coordinate = curve switch
            {
                "1.2.840.10045.3.1.7" => 32,
                "1.3.132.0.34" => 48,
                _ => 0,
            };
            nid = coordinate == 32 ? 415 : 715; // NID_X9_62_prime256v1, NID_secp384r1
            if (coordinate == 0
                || !System.Formats.Asn1.AsnDecoder.TryReadPrimitiveBitString(inner[algorithmConsumed..], Der, out var unused, out point, out var bitsConsumed)
                || algorithmConsumed + bitsConsumed != inner.Length
                || unused != 0)
            {
                return false;
            }

            return (point.Length == 1 + 2 * coordinate && point[0] == 0x04)
                || (point.Length == 1 + coordinate && point[0] is 0x02 or 0x03);
        }
        catch (System.Formats.Asn1.AsnContentException)
        {
            return false;
        }
    }

    /// <summary>
    /// A fresh P-256 key pair for ECDH from OpenSSL's <c>EC_KEY_generate_key</c> (OpenSSL's DRBG), wrapped for the
    /// platform, and its uncompressed point. The platform's <c>ECDiffieHellman.Create(curve)</c> plus the point export
    /// costs about 100 us here against about 20; the key is the same kind of object afterwards. False when the fast path
    /// is not available (use the platform).
    /// </summary>
    public static bool TryGenerateEcdhP256([NotNullWhen(true)] out ECDiffieHellman? key, [NotNullWhen(true)] out byte[]? point)
    {
        key = null;
        point = null;
        if (!Enabled || !OperatingSystem.IsLinux())
        {
            return false;
        }

        var ecKey = EC_KEY_new_by_curve_name(415);
        if (ecKey == IntPtr.Zero)
        {
            ERR_clear_error();
            return false;
        }

        var pkey = IntPtr.Zero;
        try
        {
            var encoded = new byte[65];
            if (EC_KEY_generate_key(ecKey) != 1 || EC_KEY_key2buf(ecKey, PointConversionUncompressed, out var buffer, IntPtr.Zero) != 65)
            {
                ERR_clear_error();
                return false;
            }

            Marshal.Copy(buffer, encoded, 0, 65);
            CRYPTO_free(buffer, IntPtr.Zero, 0);
            pkey = EVP_PKEY_new();
            if (pkey == IntPtr.Zero || EVP_PKEY_set1_EC_KEY(pkey, ecKey) != 1)
            {
                ERR_clear_error();
                return false;
            }

            using var handle = new SafeEvpPKeyHandle(pkey, ownsHandle: true);
            pkey = IntPtr.Zero;
            key = new ECDiffieHellmanOpenSsl(handle);
            point = encoded;
            return true;
        }
        finally
        {
            if (pkey != IntPtr.Zero)
            {
                EVP_PKEY_free(pkey);
            }

            EC_KEY_free(ecKey); // the EVP_PKEY holds its own reference
        }
    }

    private const int PointConversionUncompressed = 4;

    /// <summary>Bench hook: the decode alone, freed.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    internal static bool DecodeOnly(ReadOnlySpan<byte> spki)
    {
        if (!TryDecode(spki, out var handle, out _))
        {
            return false;
        }

        handle.Dispose();
        return true;
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            // The platform must be running on this very library (same version), or its handles would not be ours.
            var platform = SafeEvpPKeyHandle.OpenSslVersion;
            return platform >= 0x30000000 && (long)OpenSSL_version_num() == platform;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or PlatformNotSupportedException or TypeInitializationException)
        {
            return false;
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
    [DllImport(Library)]
    private static extern IntPtr EC_KEY_new_by_curve_name(int nid);

    [DllImport(Library)]
    private static extern void EC_KEY_free(IntPtr key);

    [DllImport(Library)]
    private static extern int EC_KEY_oct2key(IntPtr key, byte[] buffer, nint length, IntPtr context);

    [DllImport(Library)]
    private static extern int EC_KEY_generate_key(IntPtr key);

    [DllImport(Library)]
    private static extern nint EC_KEY_key2buf(IntPtr key, int form, out IntPtr buffer, IntPtr context);

    [DllImport(Library)]
    private static extern void CRYPTO_free(IntPtr pointer, IntPtr file, int line);

    [DllImport(Library)]
    private static extern IntPtr EVP_PKEY_new();

    [DllImport(Library)]
    private static extern int EVP_PKEY_set1_EC_KEY(IntPtr pkey, IntPtr key);

    [DllImport(Library)]
    private static extern void EVP_PKEY_free(IntPtr pkey);

    [DllImport(Library)]
    private static extern ulong OpenSSL_version_num();

    [DllImport(Library)]
    private static extern void ERR_clear_error();
#pragma warning restore SYSLIB1054
}
