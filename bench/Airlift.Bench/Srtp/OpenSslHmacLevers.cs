using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Airlift.Bench.Srtp;

/// <summary>
/// The other ways to reach OpenSSL 3's HMAC-SHA1, for the <c>srtp</c> mode's component rows beside the path Airlift takes
/// (<c>HMAC_CTX</c> keyed once, NULL-key re-init + update + final: <c>Airlift.Srtp.Primitives.OpenSslHmacSha1</c>):
/// <c>EVP_MAC</c> keyed once and re-initialised the same way (what libsrtp 2.5 does on OpenSSL 3), the one-shots
/// <c>HMAC()</c> and <c>EVP_Q_mac</c> (they hash the key pads every call), SHA-1 contexts with the pad states saved in
/// managed memory (<c>SHA1_Init/Update/Final</c>: no allocation or provider dispatch inside OpenSSL, but a deprecated
/// low-level API outside the provider model, and Airlift would be doing the HMAC construction itself), and three empty
/// P/Invoke calls (the fixed interop cost of any three-call path). Bench only: every one is checked against
/// <c>HMACSHA1</c> before it is timed.
/// </summary>
internal sealed class OpenSslHmacLevers : IDisposable
{
    private const string Library = "libcrypto.so.3";

    private readonly byte[] _key;
    private readonly IntPtr _evpMac;
    private readonly IntPtr _macCtx;
    private readonly IntPtr _params;
    private readonly IntPtr _hmacName;
    private readonly IntPtr _sha1Name;
    private readonly IntPtr _digestName;
    private readonly ShaState _inner;
    private readonly ShaState _outer;

    public OpenSslHmacLevers(ReadOnlySpan<byte> key)
    {
        _key = key.ToArray();
        _hmacName = Marshal.StringToCoTaskMemUTF8("HMAC");
        _sha1Name = Marshal.StringToCoTaskMemUTF8("SHA1");
        _digestName = Marshal.StringToCoTaskMemUTF8("digest");

        // OSSL_PARAM { const char *key; unsigned int data_type; void *data; size_t data_size; size_t return_size; }
        // x2 (the second all zero: the end marker). OSSL_PARAM_UTF8_STRING = 4; return_size OSSL_PARAM_UNMODIFIED.
        _params = Marshal.AllocHGlobal(80);
        for (var i = 0; i < 80; i += 8)
        {
            Marshal.WriteInt64(_params, i, 0);
        }

        Marshal.WriteIntPtr(_params, 0, _digestName);
        Marshal.WriteInt32(_params, 8, 4);
        Marshal.WriteIntPtr(_params, 16, _sha1Name);
        Marshal.WriteInt64(_params, 24, 4);
        Marshal.WriteInt64(_params, 32, -1);
        _evpMac = EVP_MAC_fetch(IntPtr.Zero, _hmacName, IntPtr.Zero);
        _macCtx = EVP_MAC_CTX_new(_evpMac);
        if (_macCtx == IntPtr.Zero || EVP_MAC_init(_macCtx, ref _key[0], (nuint)_key.Length, _params) != 1)
        {
            throw new InvalidOperationException("EVP_MAC HMAC-SHA1 setup failed");
        }

        Span<byte> pad = stackalloc byte[64];
        for (var i = 0; i < 64; i++)
        {
            pad[i] = (byte)((i < _key.Length ? _key[i] : 0) ^ 0x36);
        }

        SHA1_Init(ref _inner);
        SHA1_Update(ref _inner, ref pad[0], 64);
        for (var i = 0; i < 64; i++)
        {
            pad[i] = (byte)((i < _key.Length ? _key[i] : 0) ^ 0x5c);
        }

        SHA1_Init(ref _outer);
        SHA1_Update(ref _outer, ref pad[0], 64);
    }

    /// <summary>EVP_MAC keyed once; per MAC: EVP_MAC_init with a NULL key, update, final (libsrtp 2.5 on OpenSSL 3).</summary>
    public void EvpMac(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        EVP_MAC_init(_macCtx, IntPtr.Zero, 0, IntPtr.Zero);
        EVP_MAC_update(_macCtx, ref MemoryMarshal.GetReference(data), (nuint)data.Length);
        EVP_MAC_final(_macCtx, ref MemoryMarshal.GetReference(mac), out _, (nuint)mac.Length);
    }

    /// <summary>The one-shot HMAC(EVP_sha1(), key, data): hashes both key pads every call.</summary>
    public void OneShotHmac(ReadOnlySpan<byte> data, Span<byte> mac) =>
        HMAC(EVP_sha1(), ref _key[0], _key.Length, ref MemoryMarshal.GetReference(data), (nuint)data.Length, ref MemoryMarshal.GetReference(mac), out _);

    /// <summary>The one-shot EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, data): fetch, key and MAC every call.</summary>
    public void QuickMac(ReadOnlySpan<byte> data, Span<byte> mac) =>
        EVP_Q_mac(IntPtr.Zero, _hmacName, IntPtr.Zero, _sha1Name, IntPtr.Zero, ref _key[0], (nuint)_key.Length, ref MemoryMarshal.GetReference(data), (nuint)data.Length, ref MemoryMarshal.GetReference(mac), (nuint)mac.Length, out _);

    /// <summary>HMAC built on SHA1_Update/SHA1_Final from pad states kept in managed memory (4 calls, nothing allocated natively).</summary>
    public void SavedPads(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        Span<byte> inner = stackalloc byte[20];
        var state = _inner;
        SHA1_Update(ref state, ref MemoryMarshal.GetReference(data), (nuint)data.Length);
        SHA1_Final(ref inner[0], ref state);
        state = _outer;
        SHA1_Update(ref state, ref inner[0], 20);
        SHA1_Final(ref MemoryMarshal.GetReference(mac), ref state);
    }

    /// <summary>Three calls that do nothing (OpenSSL_version_num): the interop floor of a three-call MAC.</summary>
    public static ulong ThreeEmptyCalls() => OpenSSL_version_num() + OpenSSL_version_num() + OpenSSL_version_num();

    public void Dispose()
    {
        EVP_MAC_CTX_free(_macCtx);
        EVP_MAC_free(_evpMac);
        Marshal.FreeHGlobal(_params);
        Marshal.FreeCoTaskMem(_hmacName);
        Marshal.FreeCoTaskMem(_sha1Name);
        Marshal.FreeCoTaskMem(_digestName);
    }

    // SHA_CTX of OpenSSL (include/openssl/sha.h): h0..h4, Nl, Nh, data[16], num; 96 bytes, blittable.
    [StructLayout(LayoutKind.Sequential)]
    private struct ShaState
    {
        public uint H0;
        public uint H1;
        public uint H2;
        public uint H3;
        public uint H4;
        public uint Nl;
        public uint Nh;
        public Block Data;
        public uint Num;
    }

    [InlineArray(16)]
    private struct Block
    {
        private uint _element;
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
    [DllImport(Library)]
    private static extern IntPtr EVP_MAC_fetch(IntPtr libctx, IntPtr algorithm, IntPtr properties);

    [DllImport(Library)]
    private static extern void EVP_MAC_free(IntPtr mac);

    [DllImport(Library)]
    private static extern IntPtr EVP_MAC_CTX_new(IntPtr mac);

    [DllImport(Library)]
    private static extern void EVP_MAC_CTX_free(IntPtr ctx);

    [DllImport(Library)]
    private static extern int EVP_MAC_init(IntPtr ctx, ref byte key, nuint keyLength, IntPtr parameters);

    [DllImport(Library)]
    private static extern int EVP_MAC_init(IntPtr ctx, IntPtr key, nuint keyLength, IntPtr parameters);

    [DllImport(Library)]
    private static extern int EVP_MAC_update(IntPtr ctx, ref byte data, nuint length);

    [DllImport(Library)]
    private static extern int EVP_MAC_final(IntPtr ctx, ref byte output, out nuint written, nuint size);

    [DllImport(Library)]
    private static extern IntPtr EVP_sha1();

    [DllImport(Library)]
    private static extern IntPtr HMAC(IntPtr md, ref byte key, int keyLength, ref byte data, nuint length, ref byte output, out uint written);

    [DllImport(Library)]
    private static extern IntPtr EVP_Q_mac(IntPtr libctx, IntPtr name, IntPtr properties, IntPtr subalgorithm, IntPtr parameters, ref byte key, nuint keyLength, ref byte data, nuint length, ref byte output, nuint size, out nuint written);

    [DllImport(Library)]
    private static extern int SHA1_Init(ref ShaState state);

    [DllImport(Library)]
    private static extern int SHA1_Update(ref ShaState state, ref byte data, nuint length);

    [DllImport(Library)]
    private static extern int SHA1_Final(ref byte output, ref ShaState state);

    [DllImport(Library)]
    private static extern ulong OpenSSL_version_num();
#pragma warning restore SYSLIB1054
}
