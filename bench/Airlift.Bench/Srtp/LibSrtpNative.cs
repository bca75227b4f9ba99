using System.Reflection;
using System.Runtime.InteropServices;
using Airlift.Dtls;
using Airlift.LibSrtpInterop;

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
/// anchor issue #13 names. The structures and the Debian library's calls come from tests/Airlift.Tests/Srtp/LibSrtpApi.cs
/// (linked into this project); only the OpenSSL build's calls are declared here, since a DllImport names one library.
/// </summary>
internal sealed class LibSrtpNative : IDisposable
{
    private const string OpenSslLibrary = "libsrtp2-openssl.so.1";
    private const string OpenSslVariable = "AIRLIFT_LIBSRTP_OPENSSL";

    private static readonly Lazy<int> DebianInit = new(LibSrtpDebian.srtp_init);
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

        var policy = default(LibSrtpPolicy);
        policy.SsrcType = outbound ? LibSrtpPolicy.SsrcAnyOutbound : LibSrtpPolicy.SsrcAnyInbound;
        var rc = openSsl
            ? OpenSsl.srtp_crypto_policy_set_from_profile_for_rtp(ref policy.Rtp, profile.Value) | OpenSsl.srtp_crypto_policy_set_from_profile_for_rtcp(ref policy.Rtcp, profile.Value)
            : LibSrtpDebian.srtp_crypto_policy_set_from_profile_for_rtp(ref policy.Rtp, profile.Value) | LibSrtpDebian.srtp_crypto_policy_set_from_profile_for_rtcp(ref policy.Rtcp, profile.Value);
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
            rc = openSsl ? OpenSsl.srtp_create(out session, ref policy) : LibSrtpDebian.srtp_create(out session, ref policy);
            return rc == 0 ? new LibSrtpNative(session, openSsl) : throw new InvalidOperationException($"srtp_create: {rc}");
        }
        finally
        {
            handle.Free();
        }
    }

    public int Protect(byte[] buffer, ref int length) =>
        _openSsl ? OpenSsl.srtp_protect(_session, buffer, ref length) : LibSrtpDebian.srtp_protect(_session, buffer, ref length);

    public int Unprotect(byte[] buffer, ref int length) =>
        _openSsl ? OpenSsl.srtp_unprotect(_session, buffer, ref length) : LibSrtpDebian.srtp_unprotect(_session, buffer, ref length);

    public void Dispose()
    {
        if (_session != IntPtr.Zero)
        {
            _ = _openSsl ? OpenSsl.srtp_dealloc(_session) : LibSrtpDebian.srtp_dealloc(_session);
            _session = IntPtr.Zero;
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name == OpenSslLibrary ? NativeLibrary.Load(OpenSslPath!) : IntPtr.Zero;

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
    private static class OpenSsl
    {
        [DllImport(OpenSslLibrary)]
        public static extern int srtp_init();

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_crypto_policy_set_from_profile_for_rtp(ref LibSrtpCryptoPolicy policy, int profile);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_crypto_policy_set_from_profile_for_rtcp(ref LibSrtpCryptoPolicy policy, int profile);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_create(out IntPtr session, ref LibSrtpPolicy policy);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_dealloc(IntPtr session);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_protect(IntPtr session, byte[] packet, ref int length);

        [DllImport(OpenSslLibrary)]
        public static extern int srtp_unprotect(IntPtr session, byte[] packet, ref int length);
    }
#pragma warning restore SYSLIB1054
}
