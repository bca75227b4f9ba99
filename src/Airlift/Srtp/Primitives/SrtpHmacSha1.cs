using System.Security.Cryptography;

namespace Airlift.Srtp.Primitives;

/// <summary>
/// Picks the HMAC-SHA1 path of the AES-CM profiles: libcrypto's <c>HMAC_CTX</c> directly (<see cref="OpenSslHmacSha1"/>)
/// when it is usable, <see cref="SrtpOptions.UseOpenSslHmac"/> is true and the AppContext switch
/// <see cref="SrtpOptions.DisableOpenSslHmacSwitch"/> is not set; otherwise the platform's <see cref="IncrementalHash"/>.
/// </summary>
internal static class SrtpOpenSslHmac
{
    /// <summary>True when the process may use libcrypto's HMAC directly (Linux, OpenSSL 3 usable, no global opt-out).</summary>
    public static bool IsAvailable =>
        !(AppContext.TryGetSwitch(SrtpOptions.DisableOpenSslHmacSwitch, out var off) && off) && OpenSslHmacSha1.IsSupported;

    /// <summary>The path a context created with <paramref name="options"/> asks for (it may still fall back, see <see cref="SrtpHmacSha1"/>).</summary>
    public static bool Use(SrtpOptions options) => options.UseOpenSslHmac && IsAvailable;
}

/// <summary>
/// HMAC-SHA1 for one SRTP or SRTCP session authentication key (RFC 3711 4.2.1), on either path, keyed once. Not
/// thread-safe.
/// </summary>
internal sealed class SrtpHmacSha1 : IDisposable
{
    /// <summary>Bytes of an HMAC-SHA1 output.</summary>
    public const int MacLength = 20;

    private readonly OpenSslHmacSha1? _native;
    private readonly IncrementalHash? _platform;

    /// <summary>Keys the OpenSSL path when <paramref name="openSsl"/> and OpenSSL accepts the key, else the platform path.</summary>
    public SrtpHmacSha1(ReadOnlySpan<byte> key, bool openSsl)
    {
        _native = openSsl ? OpenSslHmacSha1.TryCreate(key) : null;
        if (_native is null)
        {
            _platform = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, key);
        }
    }

    /// <summary>True when the MAC comes from libcrypto's HMAC_CTX directly.</summary>
    public bool UsesOpenSsl => _native is not null;

    /// <summary>
    /// HMAC-SHA1 of <paramref name="data"/> into <c>mac[..20]</c>. False only when OpenSSL reports an internal failure (an
    /// allocation inside it failed): unprotect then drops the packet, protect throws a <see cref="CryptographicException"/>.
    /// </summary>
    public bool TryCompute(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        if (_native is not null)
        {
            return _native.TryCompute(data, mac);
        }

        _platform!.AppendData(data);
        return _platform.TryGetHashAndReset(mac, out var written) && written == MacLength;
    }

    /// <summary>Frees the native or platform HMAC state (both clear their key material as they go).</summary>
    public void Dispose()
    {
        _native?.Dispose();
        _platform?.Dispose();
    }
}
