using System.Runtime.InteropServices;
using Airlift.Dtls;

namespace Airlift.Bench.Srtp;

/// <summary>
/// P/Invoke to libsrtp 2.x (Debian libsrtp2-1: libsrtp2.so.1) for side-by-side numbers. srtp_policy_t as laid out in
/// include/srtp.h of the 2.x series on LP64. Mirrors tests/Airlift.Tests/Srtp/LibSrtp.cs (the bench cannot reference tests).
/// </summary>
internal sealed class LibSrtpNative : IDisposable
{
    private const string Library = "libsrtp2.so.1";
    private static readonly Lazy<int> Init = new(srtp_init);
    private IntPtr _session;

    private LibSrtpNative(IntPtr session)
    {
        _session = session;
    }

    public static LibSrtpNative Create(SrtpProtectionProfile profile, bool outbound, ReadOnlySpan<byte> key, ReadOnlySpan<byte> salt)
    {
        if (Init.Value != 0)
        {
            throw new InvalidOperationException("srtp_init failed");
        }

        var policy = default(Policy);
        policy.SsrcType = outbound ? 3 : 2; // ssrc_any_outbound : ssrc_any_inbound
        if (srtp_crypto_policy_set_from_profile_for_rtp(ref policy.Rtp, profile.Value) != 0
            || srtp_crypto_policy_set_from_profile_for_rtcp(ref policy.Rtcp, profile.Value) != 0)
        {
            throw new NotSupportedException($"libsrtp lacks {profile}");
        }

        policy.WindowSize = 128;
        var master = key.ToArray().Concat(salt.ToArray()).ToArray();
        var handle = GCHandle.Alloc(master, GCHandleType.Pinned);
        try
        {
            policy.Key = handle.AddrOfPinnedObject();
            var rc = srtp_create(out var session, ref policy);
            return rc == 0 ? new LibSrtpNative(session) : throw new InvalidOperationException($"srtp_create: {rc}");
        }
        finally
        {
            handle.Free();
        }
    }

    public int Protect(byte[] buffer, ref int length) => srtp_protect(_session, buffer, ref length);

    public int Unprotect(byte[] buffer, ref int length) => srtp_unprotect(_session, buffer, ref length);

    public void Dispose()
    {
        if (_session != IntPtr.Zero)
        {
            srtp_dealloc(_session);
            _session = IntPtr.Zero;
        }
    }

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
    [DllImport(Library)]
    private static extern int srtp_init();

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
#pragma warning restore SYSLIB1054
}
