using System.Security.Cryptography;

namespace Airlift.Srtp.Primitives;

/// <summary>
/// Picks the SRTP cipher path: the managed AES-NI/PCLMULQDQ primitives (<see cref="AesNi"/>, <see cref="AesNiGcm"/>) when the
/// CPU has them, <see cref="SrtpOptions.UseHardwareIntrinsics"/> is true and the AppContext switch
/// <see cref="SrtpOptions.DisableHardwareIntrinsicsSwitch"/> is not set; otherwise the platform's (OpenSSL) AES and AES-GCM.
/// </summary>
internal static class SrtpIntrinsics
{
    /// <summary>True when the process may use the managed primitives (CPU support and no global opt-out).</summary>
    public static bool IsAvailable =>
        AesNi.IsSupported && !(AppContext.TryGetSwitch(SrtpOptions.DisableHardwareIntrinsicsSwitch, out var off) && off);

    /// <summary>The path a context created with <paramref name="options"/> takes.</summary>
    public static bool Use(SrtpOptions options) => options.UseHardwareIntrinsics && IsAvailable;
}

/// <summary>AES-GCM for one SRTP or SRTCP session key, on either path. Not thread-safe.</summary>
internal sealed class SrtpGcm : IDisposable
{
    private readonly AesNiGcm? _managed;
    private readonly AesGcm? _platform;

    public SrtpGcm(ReadOnlySpan<byte> key, bool intrinsics)
    {
        if (intrinsics)
        {
            _managed = new AesNiGcm(key);
        }
        else
        {
            _platform = new AesGcm(key, AesNiGcm.TagLength);
        }
    }

    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        if (_managed is not null)
        {
            _managed.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
        }
        else
        {
            _platform!.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
        }
    }

    /// <summary>Decrypts in place after the tag verifies; false (never an exception) when it does not.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, Span<byte> data, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        if (_managed is not null)
        {
            return _managed.TryDecrypt(nonce, data, tag, data, associatedData);
        }

        try
        {
            _platform!.Decrypt(nonce, data, tag, data, associatedData);
            return true;
        }
        catch (CryptographicException)
        {
            // The platform reports a bad tag only by AuthenticationTagMismatchException (a CryptographicException); this
            // is the one path that allocates, and only for forged or corrupted packets.
            return false;
        }
    }

    public void Dispose()
    {
        _managed?.Dispose();
        _platform?.Dispose();
    }
}
