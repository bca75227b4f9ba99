using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Rfc7748X25519 = Org.BouncyCastle.Math.EC.Rfc7748.X25519;

namespace Airlift.Dtls.Crypto;

/// <summary>Which implementation computes X25519.</summary>
internal enum X25519Implementation
{
    /// <summary>BouncyCastle's managed <c>Rfc7748.X25519</c>: always available, the fallback.</summary>
    BouncyCastle,

    /// <summary>libsodium's <c>crypto_scalarmult_curve25519</c> (native, from the <c>libsodium</c> package): about 3x faster here.</summary>
    Libsodium,
}

/// <summary>
/// X25519 (RFC 7748) for the key exchange: libsodium where its native library loads and works (checked once against the
/// RFC 7748 6.1 vector), BouncyCastle otherwise or when the <c>Airlift.Dtls.DisableLibsodium</c> AppContext switch (or the
/// <c>AIRLIFT_DISABLE_LIBSODIUM=1</c> environment variable) is set. Both clamp the scalar, ignore the top bit of the
/// u-coordinate, and an all-zero output (a low-order peer point) is a false return whatever the backend says.
/// </summary>
internal static class X25519
{
    /// <summary>Length of a key, a u-coordinate and an output.</summary>
    public const int Length = 32;

    private static readonly Lazy<bool> LibsodiumWorks = new(ProbeLibsodium);

    /// <summary>The implementation the overloads without one use.</summary>
    public static X25519Implementation Default =>
        !SwitchedOff() && LibsodiumWorks.Value ? X25519Implementation.Libsodium : X25519Implementation.BouncyCastle;

    /// <summary>True when libsodium loaded and passed its self-test (tests compare the backends).</summary>
    public static bool LibsodiumAvailable => LibsodiumWorks.Value;

    /// <summary>Our public u-coordinate for a (clamped) private key.</summary>
    public static void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey) => PublicKey(Default, privateKey, publicKey);

    /// <summary><see cref="PublicKey(ReadOnlySpan{byte}, Span{byte})"/> with a chosen implementation.</summary>
    public static void PublicKey(X25519Implementation implementation, ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        if (privateKey.Length != Length || publicKey.Length != Length)
        {
            throw new ArgumentException("X25519 keys are 32 bytes.");
        }

        if (implementation == X25519Implementation.Libsodium
            && Native.crypto_scalarmult_curve25519_base(ref MemoryMarshal.GetReference(publicKey), in MemoryMarshal.GetReference(privateKey)) == 0)
        {
            return;
        }

        Rfc7748X25519.ScalarMultBase(privateKey, publicKey);
    }

    /// <summary>The agreement; false for a peer value of the wrong length or an all-zero output (RFC 7748 6.1, RFC 8446 7.4.2).</summary>
    public static bool TryAgree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublic, Span<byte> secret) =>
        TryAgree(Default, privateKey, peerPublic, secret);

    /// <summary><see cref="TryAgree(ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{byte})"/> with a chosen implementation.</summary>
    public static bool TryAgree(X25519Implementation implementation, ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublic, Span<byte> secret)
    {
        if (peerPublic.Length != Length || privateKey.Length != Length || secret.Length < Length)
        {
            return false;
        }

        var output = secret[..Length];
        bool ok;
        if (implementation == X25519Implementation.Libsodium)
        {
            // libsodium returns -1 for an all-zero output and for the known small-order inputs; both are refusals.
            ok = Native.crypto_scalarmult_curve25519(ref MemoryMarshal.GetReference(output), in MemoryMarshal.GetReference(privateKey), in MemoryMarshal.GetReference(peerPublic)) == 0;
        }
        else
        {
            ok = Rfc7748X25519.CalculateAgreement(privateKey, peerPublic, output);
        }

        // Our own all-zero check too, constant-time, so the refusal does not depend on the backend's version.
        Span<byte> zero = stackalloc byte[Length];
        zero.Clear();
        if (!ok || CryptographicOperations.FixedTimeEquals(output, zero))
        {
            CryptographicOperations.ZeroMemory(output);
            return false;
        }

        return true;
    }

    private static bool SwitchedOff() =>
        (AppContext.TryGetSwitch("Airlift.Dtls.DisableLibsodium", out var off) && off)
        || Environment.GetEnvironmentVariable("AIRLIFT_DISABLE_LIBSODIUM") == "1";

    private static bool ProbeLibsodium()
    {
        try
        {
            if (Native.sodium_init() < 0)
            {
                return false;
            }

            // RFC 7748 6.1: Alice's private key to her public key, then her agreement with Bob's public key.
            ReadOnlySpan<byte> alice = [0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a];
            ReadOnlySpan<byte> bobPublic = [0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61, 0xc2, 0xec, 0xe4, 0x35, 0x37, 0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78, 0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f];
            ReadOnlySpan<byte> shared = [0x4a, 0x5d, 0x9d, 0x5b, 0xa4, 0xce, 0x2d, 0xe1, 0x72, 0x8e, 0x3b, 0xf4, 0x80, 0x35, 0x0f, 0x25, 0xe0, 0x7e, 0x21, 0xc9, 0x47, 0xd1, 0x9e, 0x33, 0x76, 0xf0, 0x9b, 0x3c, 0x1e, 0x16, 0x17, 0x42];
            Span<byte> ours = stackalloc byte[Length];
            Span<byte> theirs = stackalloc byte[Length];
            Rfc7748X25519.ScalarMultBase(alice, theirs);
            if (Native.crypto_scalarmult_curve25519_base(ref MemoryMarshal.GetReference(ours), in MemoryMarshal.GetReference(alice)) != 0 || !ours.SequenceEqual(theirs))
            {
                return false;
            }

            return Native.crypto_scalarmult_curve25519(ref MemoryMarshal.GetReference(ours), in MemoryMarshal.GetReference(alice), in MemoryMarshal.GetReference(bobPublic)) == 0
                && ours.SequenceEqual(shared);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return false;
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
#pragma warning disable CA5392 // the library comes from the package's runtimes folder or the system's default search path
    private static class Native
    {
        private const string Library = "libsodium";

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int sodium_init();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int crypto_scalarmult_curve25519(ref byte q, in byte n, in byte p);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int crypto_scalarmult_curve25519_base(ref byte q, in byte n);
    }
#pragma warning restore CA5392
#pragma warning restore SYSLIB1054
}
