using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Airlift.Srtp.Primitives;

/// <summary>
/// HMAC-SHA1 for one key through libcrypto's <c>HMAC_CTX</c> (OpenSSL 3, the library the platform's own crypto already
/// loads on Linux). The key is set once: OpenSSL keeps the SHA-1 states after the inner and outer pads, and each
/// <see cref="TryCompute"/> re-initialises with a NULL key, which copies the inner-pad state back instead of hashing the
/// key again (what libsrtp does with <c>EVP_MAC_init(ctx, NULL, 0, NULL)</c>), then one update and the final, written into
/// the caller's span. Three P/Invoke calls of blittable arguments per MAC and no managed allocation; the platform's
/// <see cref="IncrementalHash"/> over the same OpenSSL costs roughly twice as much per packet at RTP sizes (its fixed
/// per-call cost, docs/benchmarks.md). SHA-1 itself is always OpenSSL's; nothing here hashes. The native context (and
/// with it the pad states) is freed, and cleansed by OpenSSL, on <see cref="Dispose"/>. Not thread-safe, like the SRTP
/// context that owns it.
/// </summary>
internal sealed class OpenSslHmacSha1 : IDisposable
{
    /// <summary>Bytes of an HMAC-SHA1 output.</summary>
    public const int MacLength = 20;

    private const string Library = "libcrypto.so.3";

    private static readonly Lazy<bool> Usable = new(Probe);

    private readonly SafeHmacCtxHandle _ctx;

    private OpenSslHmacSha1(SafeHmacCtxHandle ctx)
    {
        _ctx = ctx;
    }

    /// <summary>
    /// True on Linux when libcrypto.so.3 loads, exports the HMAC_CTX functions and computes RFC 2202's HMAC-SHA1 test
    /// case 2 correctly (checked once per process). Says nothing about the AppContext switch (see <see cref="SrtpOpenSslHmac"/>).
    /// </summary>
    public static bool IsSupported => Usable.Value;

    /// <summary>A context keyed with <paramref name="key"/> (any length), or null when OpenSSL is unusable or refuses.</summary>
    public static OpenSslHmacSha1? TryCreate(ReadOnlySpan<byte> key)
    {
        if (!IsSupported)
        {
            return null;
        }

        return CreateCore(key);
    }

    /// <summary>
    /// HMAC-SHA1 of <paramref name="data"/> into <c>mac[..20]</c>. False only when OpenSSL reports a failure (an internal
    /// allocation failed); the output is then unspecified.
    /// </summary>
    public bool TryCompute(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        if (mac.Length < MacLength)
        {
            throw new ArgumentException($"the MAC needs {MacLength} bytes", nameof(mac));
        }

        // One reference for the three calls rather than one per call (each SafeHandle argument costs an AddRef/Release
        // pair): a Dispose racing with a computation (already a misuse: not thread-safe) cannot free the context under it.
        var added = false;
        try
        {
            _ctx.DangerousAddRef(ref added);
            var ctx = _ctx.DangerousGetHandle();

            // A zero-length span may have a null reference; OpenSSL accepts NULL with a zero length for data.
            if (HMAC_Init_ex(ctx, IntPtr.Zero, 0, IntPtr.Zero, IntPtr.Zero) == 1
                && HMAC_Update(ctx, ref MemoryMarshal.GetReference(data), (nuint)data.Length) == 1
                && HMAC_Final(ctx, ref MemoryMarshal.GetReference(mac), out var written) == 1
                && written == MacLength)
            {
                return true;
            }

            // The platform's crypto reads the same thread-local error queue: leave nothing behind in it.
            ERR_clear_error();
            return false;
        }
        finally
        {
            if (added)
            {
                _ctx.DangerousRelease();
            }
        }
    }

    /// <summary>Frees the native context; OpenSSL cleanses the pad states and the digest contexts as it frees them.</summary>
    public void Dispose() => _ctx.Dispose();

    private static OpenSslHmacSha1? CreateCore(ReadOnlySpan<byte> key)
    {
        var raw = HMAC_CTX_new();
        if (raw == IntPtr.Zero)
        {
            ERR_clear_error();
            return null;
        }

        var ctx = new SafeHmacCtxHandle(raw);

        // HMAC_Init_ex treats a NULL key as "keep the current key", so an empty key needs a real (if unread) address.
        Span<byte> empty = stackalloc byte[1];
        ref var first = ref key.IsEmpty ? ref empty[0] : ref MemoryMarshal.GetReference(key);
        if (HMAC_Init_ex(ctx.DangerousGetHandle(), ref first, key.Length, EVP_sha1(), IntPtr.Zero) != 1)
        {
            ERR_clear_error();
            ctx.Dispose();
            return null;
        }

        return new OpenSslHmacSha1(ctx);
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            // RFC 2202 section 3, test case 2: key "Jefe", data "what do ya want for nothing?". Twice, so the keyed
            // re-initialisation (NULL key) is checked too.
            using var mac = CreateCore("Jefe"u8);
            if (mac is null)
            {
                return false;
            }

            ReadOnlySpan<byte> expected = [0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79];
            Span<byte> output = stackalloc byte[MacLength];
            for (var i = 0; i < 2; i++)
            {
                output.Clear();
                if (!mac.TryCompute("what do ya want for nothing?"u8, output) || !output.SequenceEqual(expected))
                {
                    return false;
                }
            }

            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return false;
        }
    }

    private sealed class SafeHmacCtxHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public SafeHmacCtxHandle(IntPtr handle)
            : base(ownsHandle: true)
        {
            SetHandle(handle);
        }

        protected override bool ReleaseHandle()
        {
            HMAC_CTX_free(handle);
            return true;
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
    // Every argument is blittable (IntPtr, int, nuint, byref byte), so the marshalling stub only pins; no copies.
    [DllImport(Library)]
    private static extern IntPtr HMAC_CTX_new();

    [DllImport(Library)]
    private static extern void HMAC_CTX_free(IntPtr ctx);

    [DllImport(Library)]
    private static extern IntPtr EVP_sha1();

    [DllImport(Library)]
    private static extern int HMAC_Init_ex(IntPtr ctx, ref byte key, int length, IntPtr md, IntPtr engine);

    [DllImport(Library)]
    private static extern int HMAC_Init_ex(IntPtr ctx, IntPtr key, int length, IntPtr md, IntPtr engine);

    [DllImport(Library)]
    private static extern int HMAC_Update(IntPtr ctx, ref byte data, nuint length);

    [DllImport(Library)]
    private static extern int HMAC_Final(IntPtr ctx, ref byte mac, out uint length);

    [DllImport(Library)]
    private static extern void ERR_clear_error();
#pragma warning restore SYSLIB1054
}
