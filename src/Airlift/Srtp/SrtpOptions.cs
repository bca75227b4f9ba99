namespace Airlift.Srtp;

/// <summary>Limits of an <see cref="SrtpContext"/>. Immutable; <see cref="Validate"/> runs when a context is created.</summary>
public sealed record SrtpOptions
{
    /// <summary>Default replay window: 128 packets (libsrtp's default; RFC 3711 3.3.2 requires at least 64).</summary>
    public const int DefaultReplayWindowSize = 128;

    /// <summary>Default bound on tracked SSRCs per context.</summary>
    public const int DefaultMaxSsrcs = 64;

    /// <summary>Smallest replay window (RFC 3711 3.3.2 "SHOULD be at least 64").</summary>
    public const int MinReplayWindowSize = 64;

    /// <summary>Largest replay window (2^15: sequence-number estimation only holds within half the 16-bit space).</summary>
    public const int MaxReplayWindowSize = 32768;

    /// <summary>The shared defaults.</summary>
    public static SrtpOptions Default { get; } = new();

    /// <summary>Packets behind the highest index that are still accepted once. A multiple of 64 in [64, 32768]. Default 128.</summary>
    public int ReplayWindowSize { get; init; } = DefaultReplayWindowSize;

    /// <summary>
    /// Most SSRCs one context keeps state for (rollover counter, replay windows, SRTCP index). A packet with a new SSRC beyond
    /// this is dropped as <see cref="SrtpStatus.SsrcLimitReached"/>. Inbound streams are only created after a packet of theirs
    /// authenticates, so forged SSRCs cannot fill the table. In [1, 65536]. Default 64.
    /// </summary>
    public int MaxSsrcs { get; init; } = DefaultMaxSsrcs;

    /// <summary>
    /// Use Airlift's managed AES-NI + PCLMULQDQ AES-CTR and AES-GCM (<c>System.Runtime.Intrinsics</c>; constant time, checked
    /// bit for bit against the platform on NIST and Wycheproof vectors) when the CPU has them; otherwise, or when false, the
    /// platform's AES and <see cref="System.Security.Cryptography.AesGcm"/> (OpenSSL on Linux). The managed path avoids the
    /// platform's fixed per-call cost, which dominates at RTP packet sizes. The whole process can opt out with the
    /// AppContext switch <see cref="DisableHardwareIntrinsicsSwitch"/>. Default true.
    /// </summary>
    public bool UseHardwareIntrinsics { get; init; } = true;

    /// <summary>
    /// AppContext switch that turns the managed AES-NI path off for every context in the process, whatever
    /// <see cref="UseHardwareIntrinsics"/> says: <c>AppContext.SetSwitch("Airlift.Srtp.DisableHardwareIntrinsics", true)</c>
    /// before creating contexts, or <c>&lt;RuntimeHostConfigurationOption Include="Airlift.Srtp.DisableHardwareIntrinsics" Value="true" /&gt;</c>
    /// in the application's project file.
    /// </summary>
    public const string DisableHardwareIntrinsicsSwitch = "Airlift.Srtp.DisableHardwareIntrinsics";

    /// <summary>
    /// Compute the HMAC-SHA1 of the AES-CM profiles (RFC 3711 4.2.1) with libcrypto's <c>HMAC_CTX</c> directly: keyed once
    /// per context, re-initialised per packet from the saved pad states, as libsrtp does. Linux with OpenSSL 3
    /// (<c>libcrypto.so.3</c>, the library the platform's own crypto uses there) only, after a known-answer self-test;
    /// otherwise, or when false, the platform's <see cref="System.Security.Cryptography.IncrementalHash"/>, which reaches the
    /// same OpenSSL through more layers and costs about twice as much per packet at RTP sizes. SHA-1 is OpenSSL's on both
    /// paths. The whole process can opt out with the AppContext switch <see cref="DisableOpenSslHmacSwitch"/>. Default true.
    /// </summary>
    public bool UseOpenSslHmac { get; init; } = true;

    /// <summary>
    /// AppContext switch that turns the direct libcrypto HMAC off for every context in the process, whatever
    /// <see cref="UseOpenSslHmac"/> says: <c>AppContext.SetSwitch("Airlift.Srtp.DisableOpenSslHmac", true)</c> before
    /// creating contexts, or <c>&lt;RuntimeHostConfigurationOption Include="Airlift.Srtp.DisableOpenSslHmac" Value="true" /&gt;</c>
    /// in the application's project file.
    /// </summary>
    public const string DisableOpenSslHmacSwitch = "Airlift.Srtp.DisableOpenSslHmac";

    /// <summary>
    /// Meter factory for the <c>Airlift.Srtp</c> counters (packets, drops); null records on a process-wide meter of that name.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid limit.</summary>
    public void Validate()
    {
        if (ReplayWindowSize < MinReplayWindowSize || ReplayWindowSize > MaxReplayWindowSize || ReplayWindowSize % 64 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReplayWindowSize), ReplayWindowSize, $"must be a multiple of 64 in [{MinReplayWindowSize}, {MaxReplayWindowSize}]");
        }

        if (MaxSsrcs < 1 || MaxSsrcs > 65536)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSsrcs), MaxSsrcs, "must be in [1, 65536]");
        }
    }
}
