using System.Runtime.InteropServices;

namespace Airlift.LibSrtpInterop;

// One copy of the libsrtp 2.x binding, compiled into tests/Airlift.Tests (LibSrtp, the interop tests) and linked into
// bench/Airlift.Bench (LibSrtpNative, the anchors of the srtp mode): the bench cannot reference the test project.

/// <summary>srtp_crypto_policy_t: six ints (cipher type, key length, auth type, auth key length, tag length, services).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LibSrtpCryptoPolicy
{
    public int CipherType;
    public int CipherKeyLength;
    public int AuthType;
    public int AuthKeyLength;
    public int AuthTagLength;
    public int SecurityServices;
}

/// <summary>
/// srtp_policy_t of libsrtp 2.x as laid out in include/srtp.h on LP64 (x86_64 Linux: unsigned long is 8 bytes, enums
/// are int), 128 bytes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LibSrtpPolicy
{
    /// <summary>ssrc_any_inbound (unprotect every SSRC).</summary>
    public const int SsrcAnyInbound = 2;

    /// <summary>ssrc_any_outbound (protect every SSRC).</summary>
    public const int SsrcAnyOutbound = 3;

    public int SsrcType;
    public uint SsrcValue;
    public LibSrtpCryptoPolicy Rtp;
    public LibSrtpCryptoPolicy Rtcp;
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

/// <summary>The calls into Debian's libsrtp2-1 (libsrtp2.so.1, 2.5.0, built on NSS).</summary>
internal static class LibSrtpDebian
{
    /// <summary>The library's file name.</summary>
    public const string Library = "libsrtp2.so.1";

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
    [DllImport(Library)]
    public static extern int srtp_init();

    [DllImport(Library)]
    public static extern IntPtr srtp_get_version_string();

    [DllImport(Library)]
    public static extern int srtp_crypto_policy_set_from_profile_for_rtp(ref LibSrtpCryptoPolicy policy, int profile);

    [DllImport(Library)]
    public static extern int srtp_crypto_policy_set_from_profile_for_rtcp(ref LibSrtpCryptoPolicy policy, int profile);

    [DllImport(Library)]
    public static extern int srtp_create(out IntPtr session, ref LibSrtpPolicy policy);

    [DllImport(Library)]
    public static extern int srtp_dealloc(IntPtr session);

    [DllImport(Library)]
    public static extern int srtp_protect(IntPtr session, byte[] packet, ref int length);

    [DllImport(Library)]
    public static extern int srtp_unprotect(IntPtr session, byte[] packet, ref int length);

    [DllImport(Library)]
    public static extern int srtp_protect_rtcp(IntPtr session, byte[] packet, ref int length);

    [DllImport(Library)]
    public static extern int srtp_unprotect_rtcp(IntPtr session, byte[] packet, ref int length);
#pragma warning restore SYSLIB1054
}
