using Airlift.Dtls;

namespace Airlift.Cli.Lab;

/// <summary>Settings of an in-process lab run (the <c>airlift lab</c> options). Defaults are the README's main job.</summary>
internal sealed record LabOptions
{
    /// <summary>Name of the compact ECDSA P-256 certificate.</summary>
    public const string CertEcdsa = "ecdsa";

    /// <summary>Name of the 2.7 KB RSA chain.</summary>
    public const string CertRsaChain = "rsa-chain";

    /// <summary>Trials per sweep point.</summary>
    public int Trials { get; init; } = 50;

    /// <summary>Sweep loss levels, percent, applied in both directions.</summary>
    public IReadOnlyList<double> LossPercents { get; init; } = [0, 10, 20, 30];

    /// <summary>Round-trip time; each direction gets half as one-way delay.</summary>
    public int RttMs { get; init; } = 100;

    /// <summary>Airlift's configured maximum datagram size (the "with Airlift" runs).</summary>
    public int MaxDatagram { get; init; } = 1200;

    /// <summary>
    /// Server certificate of the sweep and of F2/F3 (<see cref="CertEcdsa"/> or <see cref="CertRsaChain"/>). F1 and F4 always
    /// use the RSA chain: a large chain is what those failures are about.
    /// </summary>
    public string Certificate { get; init; } = CertRsaChain;

    /// <summary>Success means both sides connected within this many seconds (sweep, F1, F3, F4; F2 uses at least 30 s).</summary>
    public double DeadlineSeconds { get; init; } = 10;

    /// <summary>First seed; every run's seed derives from it.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Run the field-failure scenarios.</summary>
    public bool RunScenarios { get; init; } = true;

    /// <summary>Run the loss sweep.</summary>
    public bool RunSweep { get; init; } = true;

    /// <summary>Seeds per random-loss scenario (F2 downlink loss).</summary>
    public int ScenarioSeeds { get; init; } = 8;

    /// <summary>
    /// DTLS versions to run every scenario and the sweep in (<c>--dtls 1.2|1.3|both</c>), in report order. DTLS 1.2 runs pin
    /// both endpoints to 1.2; DTLS 1.3 runs use the shipped default (both versions offered) and must negotiate 1.3.
    /// </summary>
    public IReadOnlyList<ProtocolVersion> Versions { get; init; } = [ProtocolVersion.Dtls12, ProtocolVersion.Dtls13];

    /// <summary>The options as echoed into a report.</summary>
    public LabSettings ToSettings() => new(Trials, LossPercents, RttMs, MaxDatagram, Certificate, DeadlineSeconds, Seed) { Dtls = [.. Versions.Select(LabVersions.Label)] };
}

/// <summary>How the lab names DTLS versions ("1.2", "1.3") and reads <c>--dtls</c>.</summary>
internal static class LabVersions
{
    /// <summary>"1.2" or "1.3".</summary>
    public static string Label(ProtocolVersion version) => version == ProtocolVersion.Dtls13 ? "1.3" : "1.2";

    /// <summary>Reads "1.2", "1.3" or "both" (case-insensitive); null for anything else.</summary>
    public static IReadOnlyList<ProtocolVersion>? Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "1.2" or "12" => [ProtocolVersion.Dtls12],
        "1.3" or "13" => [ProtocolVersion.Dtls13],
        "both" => [ProtocolVersion.Dtls12, ProtocolVersion.Dtls13],
        _ => null,
    };
}
