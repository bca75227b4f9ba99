using System.Runtime.InteropServices;
using Airlift.Dtls;
using Airlift.LibSrtpInterop;
using static Airlift.LibSrtpInterop.LibSrtpDebian;

namespace Airlift.Tests.Srtp;

/// <summary>
/// libsrtp 2.x (Debian libsrtp2-1, 2.5.0) sessions for cross-checks, over the binding in LibSrtpApi.cs (shared with
/// the bench).
/// </summary>
internal sealed class LibSrtp : IDisposable
{
    public const string Library = LibSrtpDebian.Library;
    public const string Package = "libsrtp2-1";

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
        var p = default(LibSrtpCryptoPolicy);
        return srtp_crypto_policy_set_from_profile_for_rtp(ref p, profile.Value) == 0
            && srtp_crypto_policy_set_from_profile_for_rtcp(ref p, profile.Value) == 0;
    }

    /// <summary>A libsrtp session for all outbound (protect) or inbound (unprotect) SSRCs with master key | master salt.</summary>
    public static LibSrtp Create(SrtpProtectionProfile profile, bool outbound, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt)
    {
        EnsureAvailable();
        var policy = default(LibSrtpPolicy);
        policy.SsrcType = outbound ? LibSrtpPolicy.SsrcAnyOutbound : LibSrtpPolicy.SsrcAnyInbound;
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
