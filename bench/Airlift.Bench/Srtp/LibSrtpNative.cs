using System.Reflection;
using System.Runtime.InteropServices;
using Airlift.Dtls;

namespace Airlift.Bench.Srtp;

/// <summary>Which libsrtp build a <see cref="LibSrtpNative"/> session runs on.</summary>
internal enum LibSrtpBuild
{
    /// <summary>Debian's libsrtp2-1 (libsrtp2.so.1), built on NSS.</summary>
    DebianNss,

    /// <summary>libsrtp 2.5.0 built on OpenSSL 3 by build-libsrtp-openssl.sh, found through AIRLIFT_LIBSRTP_OPENSSL.</summary>
    OpenSsl,
}

/// <summary>
/// P/Invoke to libsrtp 2.x for side-by-side numbers: Debian's libsrtp2-1 (NSS backend) and, when
/// <c>AIRLIFT_LIBSRTP_OPENSSL</c> names it, libsrtp 2.5.0 built on OpenSSL 3 (<c>build-libsrtp-openssl.sh</c>), the
/// anchor issue #13 names. srtp_policy_t as laid out in include/srtp.h of the 2.x series on LP64. Mirrors
/// tests/Airlift.Tests/Srtp/LibSrtp.cs (the bench cannot reference tests).
/// </summary>
internal sealed class LibSrtpNative : IDisposable
{
    private const string DebianLibrary = "libsrtp2.so.1";
    private const string OpenSslLibrary = "libsrtp2-openssl.so.1";
    private const string OpenSslVariable = "AIRLIFT_LIBSRTP_OPENSSL";

    private static readonly Lazy<int> DebianInit = new(Debian.srtp_init);
    private static readonly Lazy<int> OpenSslInit = new(() =>
    {
        NativeLibrary.SetDllImportResolver(typeof(LibSrtpNative).Assembly, Resolve);
        return OpenSsl.srtp_init();
    });

    private readonly bool _openSsl;
    private IntPtr _session;

    private LibSrtpNative(IntPtr session, bool openSsl)
    {
        _session = session;
        _openSsl = openSsl;
    }

    /// <summary>The path of the OpenSSL build, or null when <c>AIRLIFT_LIBSRTP_OPENSSL</c> is unset or names no file.</summary>
    public static string? OpenSslPath
    {
        get
        {
            var path = Environment.GetEnvironmentVariable(OpenSslVariable);
            return string.IsNullOrEmpty(path) || !File.Exists(path) ? null : path;
        }
    }

    public static LibSrtpNative Create(SrtpProtectionProfile profile, bool outbound, ReadOnlySpan<byte> key, ReadOnlySpan<byte> salt, LibSrtpBuild build = LibSrtpBuild.DebianNss)
    {
        var openSsl = build == LibSrtpBuild.OpenSsl;
        if (openSsl && OpenSslPath is null)
        {
            throw new InvalidOperationException($"{OpenSslVariable} must name libsrtp2.so.1 built on OpenSSL (bench/Airlift.Bench/Srtp/build-libsrtp-openssl.sh)");
        }

        if ((openSsl ? OpenSslInit.Value : DebianInit.Value) != 0)
        {
            throw new InvalidOperationException("srtp_init failed");
        }

        var policy = default(Policy);
        policy.SsrcType = outbound ? 3 : 2; // ssrc_any_outbound : ssrc_any_inbound
        var rc = openSsl
            ? OpenSsl.srtp_crypto_policy_set_from_profile_for_rtp(ref policy.Rtp, profile.Value) | OpenSsl.srtp_crypto_policy_set_from_profile_for_rtcp(ref policy.Rtcp, profile.Value)
            : Debian.srtp_crypto_policy_set_from_profile_for_rtp(ref policy.Rtp, profile.Value) | Debian.srtp_crypto_policy_set_from_profile_for_rtcp(ref policy.Rtcp, profile.Value);
        if (rc != 0)
        {
            throw new NotSupportedException($"libsrtp lacks {profile}");
        }

        policy.WindowSize = 128;
        var master = key.ToArray().Concat(salt.ToArray()).ToArray();
        var handle = GCHandle.Alloc(master, GCHandleType.Pinned);
        try
        {
            policy.Key = handle.AddrOfPinnedObject();
            IntPtr session;
            rc = openSsl ? OpenSsl.srtp_create(out session, ref policy) : Debian.srtp_create(out session, ref policy);
            return rc == 0 ? new LibSrtpNative(session, openSsl) : throw new InvalidOperationException($"srtp_create: {rc}");
        }
        finally
        {
            handle.Free();
        }
    }

    public int Protect(byte[] buffer, ref int length) =>
        _openSsl ? OpenSsl.srtp_protect(_session, buffer, ref length) : Debian.srtp_protect(_session, buffer, ref length);

    public int Unprotect(byte[] buffer, ref int length) =>
        _openSsl ? OpenSsl.srtp_unprotect(_session, buffer, ref length) : Debian.srtp_unprotect(_session, buffer, ref length);

    public void Dispose()
    {
        if (_session != IntPtr.Zero)
        {
            _ = _openSsl ? OpenSsl.srtp_dealloc(_session) : Debian.srtp_dealloc(_session);
            _session = IntPtr.Zero;
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name == OpenSslLibrary ? NativeLibrary.Load(OpenSslPath!) : IntPtr.Zero;

    [StructLayout(LayoutKind.Sequential)]
    private struct CryptoPolicy
    {
        public int CipherType;
        public int CipherKeyLength;
        public int AuthType;
        public int AuthKeyLength;
        public int AuthTagLength;
        public int SecurityServices;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Policy
    {
        public int SsrcType;
        public uint SsrcValue;
        public CryptoPolicy Rtp;
        public CryptoPolicy Rtcp;
        public IntPtr Key;
        public IntPtr Keys;
        public nuint NumMasterKeys;
        public IntPtr DeprecatedEkt;
        public nuint WindowSize;
        public int AllowRepeatTx;
        public IntPtr EncryptedExtensionHeaders;
        public int EncryptedExtensionHeaderCount;
        public IntPtr Next;
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
    private static class Debian
    {
        [DllImport(DebianLibrary)]
        public static extern int srtp_init();

        [DllImport(DebianLibrary)]
        public static extern int srtp_crypto_policy_set_from_profile_for_rtp(ref CryptoPolicy policy, int profile);

        [DllImport(DebianLibrary)]
        public static extern int srtp_crypto_policy_set_from_profile_for_rtcp(ref CryptoPolicy policy, int profile);

        [DllImport(DebianLibrary)]
        public static extern int srtp_create(out IntPtr session, ref Policy policy);

        [DllImport(DebianLibrary)]
        public static extern int srtp_dealloc(IntPtr session);

        [DllImport(DebianLibrary)]
        public static extern int srtp_protect(IntPtr session, byte[] packet, ref int length);

        [DllImport(DebianLibrary)]
        public static extern int srtp_unprotect(IntPtr session, byte[] packet, ref int length);
    }

    private static class OpenSsl
    {
        [DllImport(OpenSslLibrary)]
        public static extern int srtp_init();

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_crypto_policy_set_from_profile_for_rtp(ref CryptoPolicy policy, int profile);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_crypto_policy_set_from_profile_for_rtcp(ref CryptoPolicy policy, int profile);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_create(out IntPtr session, ref Policy policy);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_dealloc(IntPtr session);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_protect(IntPtr session, byte[] packet, ref int length);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_unprotect(IntPtr session, byte[] packet, ref int length);
    }
#pragma warning restore SYSLIB1054
}
