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

    /// <summary>The options as echoed into a report.</summary>
    public LabSettings ToSettings() => new(Trials, LossPercents, RttMs, MaxDatagram, Certificate, DeadlineSeconds, Seed);
}
