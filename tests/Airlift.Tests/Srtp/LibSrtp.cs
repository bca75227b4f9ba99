using System.Runtime.InteropServices;
using Airlift.Dtls;

namespace Airlift.Tests.Srtp;

/// <summary>
/// Minimal P/Invoke binding to libsrtp 2.x (Debian libsrtp2-1, 2.5.0) for cross-checks. Structures follow
/// include/srtp.h of the 2.x series on LP64 (x86_64 Linux): unsigned long is 8 bytes, enums are int.
/// </summary>
internal sealed class LibSrtp : IDisposable
{
    public const string Library = "libsrtp2.so.1";
    public const string Package = "libsrtp2-1";

    private const int SsrcAnyInbound = 2;
    private const int SsrcAnyOutbound = 3;

    private static readonly Lazy<bool> Loaded = new(() =>
    {
        if (!NativeLibrary.TryLoad(Library, out _))
        {
            return false;
        }

        var rc = srtp_init();
        return rc == 0 ? true : throw new InvalidOperationException($"srtp_init failed: {rc}");
    });

    private IntPtr _session;

    private LibSrtp(IntPtr session)
    {
        _session = session;
    }

    /// <summary>True when libsrtp2.so.1 loads (and srtp_init succeeded).</summary>
    public static bool IsAvailable
    {
        get
        {
            try
            {
                return Loaded.Value;
            }
            catch (DllNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>"requires libsrtp2.so.1 (apt-get install libsrtp2-1)".</summary>
    public static string MissingMessage => $"requires {Library} (apt-get install {Package})";

    /// <summary>Throws with <see cref="MissingMessage"/> when the library is missing (only reached when AIRLIFT_REQUIRE_PEERS=1).</summary>
    public static void EnsureAvailable()
    {
        if (!IsAvailable)
        {
            throw new InvalidOperationException(MissingMessage + " [AIRLIFT_REQUIRE_PEERS=1]");
        }
    }

    /// <summary>The library's version string.</summary>
    public static string Version => Marshal.PtrToStringAnsi(srtp_get_version_string()) ?? "?";

    /// <summary>True when libsrtp accepts <paramref name="profile"/> for RTP and RTCP (GCM needs a crypto backend with it).</summary>
    public static bool Supports(SrtpProtectionProfile profile)
    {
        EnsureAvailable();
        var p = default(CryptoPolicy);
        return srtp_crypto_policy_set_from_profile_for_rtp(ref p, profile.Value) == 0
            && srtp_crypto_policy_set_from_profile_for_rtcp(ref p, profile.Value) == 0;
    }

    /// <summary>A libsrtp session for all outbound (protect) or inbound (unprotect) SSRCs with master key | master salt.</summary>
    public static LibSrtp Create(SrtpProtectionProfile profile, bool outbound, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt)
    {
        EnsureAvailable();
        var policy = default(Policy);
        policy.SsrcType = outbound ? SsrcAnyOutbound : SsrcAnyInbound;
        Check(srtp_crypto_policy_set_from_profile_for_rtp(ref policy.Rtp, profile.Value), "rtp policy");
        Check(srtp_crypto_policy_set_from_profile_for_rtcp(ref policy.Rtcp, profile.Value), "rtcp policy");
        policy.WindowSize = 128;
        var key = Marshal.AllocHGlobal(masterKey.Length + masterSalt.Length);
        try
        {
            var bytes = new byte[masterKey.Length + masterSalt.Length];
            masterKey.CopyTo(bytes);
            masterSalt.CopyTo(bytes.AsSpan(masterKey.Length));
            Marshal.Copy(bytes, 0, key, bytes.Length);
            policy.Key = key;
            Check(srtp_create(out var session, ref policy), "srtp_create");
            return new LibSrtp(session);
        }
        finally
        {
            Marshal.FreeHGlobal(key);
        }
    }

    /// <summary>srtp_protect on <c>buffer[..length]</c>; returns the status (0 = ok) and the new length.</summary>
    public int Protect(byte[] buffer, ref int length) => srtp_protect(_session, buffer, ref length);

    /// <summary>srtp_unprotect.</summary>
    public int Unprotect(byte[] buffer, ref int length) => srtp_unprotect(_session, buffer, ref length);

    /// <summary>srtp_protect_rtcp.</summary>
    public int ProtectRtcp(byte[] buffer, ref int length) => srtp_protect_rtcp(_session, buffer, ref length);

    /// <summary>srtp_unprotect_rtcp.</summary>
    public int UnprotectRtcp(byte[] buffer, ref int length) => srtp_unprotect_rtcp(_session, buffer, ref length);

    public void Dispose()
    {
        if (_session != IntPtr.Zero)
        {
            srtp_dealloc(_session);
            _session = IntPtr.Zero;
        }
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new InvalidOperationException($"libsrtp {what} failed: srtp_err_status {rc}");
        }
    }

    /// <summary>srtp_crypto_policy_t: six ints (cipher type, key length, auth type, auth key length, tag length, services).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CryptoPolicy
    {
        public int CipherType;
        public int CipherKeyLength;
        public int AuthType;
        public int AuthKeyLength;
        public int AuthTagLength;
        public int SecurityServices;
    }

    /// <summary>srtp_policy_t of libsrtp 2.x (128 bytes on LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Policy
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
    [DllImport(Library)]
    private static extern int srtp_init();

    [DllImport(Library)]
    private static extern IntPtr srtp_get_version_string();

    [DllImport(Library)]
    private static extern int srtp_crypto_policy_set_from_profile_for_rtp(ref CryptoPolicy policy, int profile);

    [DllImport(Library)]
    private static extern int srtp_crypto_policy_set_from_profile_for_rtcp(ref CryptoPolicy policy, int profile);

    [DllImport(Library)]
    private static extern int srtp_create(out IntPtr session, ref Policy policy);

    [DllImport(Library)]
    private static extern int srtp_dealloc(IntPtr session);

    [DllImport(Library)]
    private static extern int srtp_protect(IntPtr session, byte[] packet, ref int length);

    [DllImport(Library)]
    private static extern int srtp_unprotect(IntPtr session, byte[] packet, ref int length);

    [DllImport(Library)]
    private static extern int srtp_protect_rtcp(IntPtr session, byte[] packet, ref int length);

    [DllImport(Library)]
    private static extern int srtp_unprotect_rtcp(IntPtr session, byte[] packet, ref int length);
#pragma warning restore SYSLIB1054
}

/// <summary>A theory that needs libsrtp2: skipped with "requires libsrtp2.so.1 (apt-get install libsrtp2-1)" when it is
/// missing, unless AIRLIFT_REQUIRE_PEERS=1, in which case it runs and fails in <see cref="LibSrtp.EnsureAvailable"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class LibSrtpTheoryAttribute : TheoryAttribute
{
    public LibSrtpTheoryAttribute()
    {
        if (!Interop.Peers.Required && !LibSrtp.IsAvailable)
        {
            Skip = LibSrtp.MissingMessage;
        }
    }
}

/// <summary>The fact counterpart of <see cref="LibSrtpTheoryAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class LibSrtpFactAttribute : FactAttribute
{
    public LibSrtpFactAttribute()
    {
        if (!Interop.Peers.Required && !LibSrtp.IsAvailable)
        {
            Skip = LibSrtp.MissingMessage;
        }
    }
}
