using System.Net;
using Airlift.Dtls;

namespace Airlift.Cli.Storm;

/// <summary>Where the storm's server comes from.</summary>
internal enum StormServerMode
{
    /// <summary>A foreign server at <see cref="StormSettings.Target"/>.</summary>
    Target,

    /// <summary>An Airlift server in a child process (this executable's hidden server role), measured through /proc.</summary>
    SelfProcess,

    /// <summary>An Airlift server in this process (tests, quick runs): no separate server CPU or memory figures.</summary>
    SelfInProcess,

    /// <summary>Full WebRTC sessions (signalling, ICE, DTLS, SRTP) through the WHIP-style endpoint at <see cref="StormSettings.ServeUrl"/>.</summary>
    Serve,
}

/// <summary>What one <c>airlift storm</c> run does. Every limit has a safe default and is checked by <see cref="Validate"/>.</summary>
internal sealed record StormSettings
{
    /// <summary>Default <see cref="Connections"/>.</summary>
    public const int DefaultConnections = 100;

    /// <summary>Default <see cref="PerAddress"/>: the default <c>DtlsUdpServerOptions.MaxSessionsPerAddress</c> of an Airlift server.</summary>
    public const int DefaultPerAddress = 32;

    /// <summary>Largest <see cref="Connections"/>: 65,536 sockets (each one file descriptor).</summary>
    public const int MaxConnections = 65_536;

    /// <summary>Where the server is.</summary>
    public StormServerMode Mode { get; init; } = StormServerMode.SelfProcess;

    /// <summary>The server (mode <see cref="StormServerMode.Target"/>).</summary>
    public IPEndPoint? Target { get; init; }

    /// <summary>The signalling endpoint (mode <see cref="StormServerMode.Serve"/>): each session POSTs its offer here.</summary>
    public Uri? ServeUrl { get; init; }

    /// <summary>SRTP packets each connected session sends (mode <see cref="StormServerMode.Serve"/>; 0: none).</summary>
    public int MediaPackets { get; init; }

    /// <summary>Clients open at once (handshaking or holding their connection).</summary>
    public int Connections { get; init; } = DefaultConnections;

    /// <summary>Handshakes in all (default: <see cref="Connections"/>). Above it, a slot whose client connected closes it and starts the next.</summary>
    public int? Total { get; init; }

    /// <summary>New handshakes per second at most (0: every slot starts at once).</summary>
    public double Rate { get; init; }

    /// <summary>Versions the clients offer.</summary>
    public IReadOnlyList<ProtocolVersion> Versions { get; init; } = [ProtocolVersion.Dtls13, ProtocolVersion.Dtls12];

    /// <summary>The text of <c>--dtls</c>, for the report.</summary>
    public string DtlsText { get; init; } = "both";

    /// <summary>Key exchange groups the clients offer (null: the library's defaults).</summary>
    public IReadOnlyList<NamedGroup>? Groups { get; init; }

    /// <summary>Loss in percent each way through the impairment proxy (null: no proxy).</summary>
    public double? ProxyLossPercent { get; init; }

    /// <summary>Seed of the proxy's impairments.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The server's expected certificate fingerprint (foreign servers).</summary>
    public CertificateFingerprint? ExpectFingerprint { get; init; }

    /// <summary>Accept any server certificate (foreign servers).</summary>
    public bool Insecure { get; init; }

    /// <summary>Per-handshake deadline: no Connected by then is a timeout.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Clients per local 127.x.y.z address (loopback targets only): spreads clients below a server's per-address limit.</summary>
    public int PerAddress { get; init; } = DefaultPerAddress;

    /// <summary>Maximum datagram size of the clients (and of a self server).</summary>
    public int Mtu { get; init; } = 1200;

    /// <summary>Drive the clients as library <c>DtlsUdpClient</c>s instead (hidden; for the comparison in docs/storm.md).</summary>
    public bool UdpClientDriver { get; init; }

    /// <summary>Process id of a --target server on this machine, whose CPU and memory the storm then reads from /proc.</summary>
    public int? ServerPid { get; init; }

    /// <summary>Handshakes run (and closed) before the baseline is measured, so that JIT compilation is not counted.</summary>
    public int Warmup { get; init; }

    /// <summary>JSON report file.</summary>
    public string? JsonPath { get; init; }

    /// <summary>HTML report file.</summary>
    public string? HtmlPath { get; init; }

    /// <summary>The command line, for the report.</summary>
    public string CommandLine { get; init; } = "airlift storm";

    /// <summary>Handshakes in all.</summary>
    public int EffectiveTotal => Total ?? Connections;

    /// <summary>Throws <see cref="CliException"/> for a setting out of range.</summary>
    public void Validate()
    {
        if (Mode == StormServerMode.Target && Target is null)
        {
            throw new CliException("storm needs --target HOST:PORT or --self");
        }

        if (Mode == StormServerMode.Serve)
        {
            if (ServeUrl is null || !ServeUrl.IsAbsoluteUri || (ServeUrl.Scheme != Uri.UriSchemeHttp && ServeUrl.Scheme != Uri.UriSchemeHttps))
            {
                throw new CliException("--serve needs an http:// or https:// URL of a WHIP endpoint, e.g. http://127.0.0.1:8080/whip");
            }

            if (EffectiveTotal > ServeStorm.MaxTotal)
            {
                throw new CliException($"--serve runs at most {ServeStorm.MaxTotal} sessions in all");
            }

            if (Warmup > 0 || UdpClientDriver)
            {
                throw new CliException("--warmup and --client-driver are for DTLS storms, not --serve");
            }
        }
        else if (MediaPackets != 0)
        {
            throw new CliException("--media is for --serve: plain DTLS storms carry no media");
        }

        if (MediaPackets is < 0 or > 100_000)
        {
            throw new CliException($"--media {MediaPackets} is outside 0..100000");
        }

        if (Connections is < 1 or > MaxConnections)
        {
            throw new CliException($"--connections {Connections} is outside 1..{MaxConnections}");
        }

        if (Total is { } t && (t < 1 || t > 10_000_000))
        {
            throw new CliException($"--total {t} is outside 1..10000000");
        }

        if (Rate < 0 || double.IsNaN(Rate) || double.IsInfinity(Rate))
        {
            throw new CliException($"--rate {Rate} must be 0 (no ramp) or a positive number of handshakes per second");
        }

        if (ProxyLossPercent is { } loss && (loss < 0 || loss > 100 || double.IsNaN(loss)))
        {
            throw new CliException($"--through-proxy {loss} is not a loss percentage in 0..100");
        }

        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromHours(1))
        {
            throw new CliException($"--timeout {Timeout.TotalSeconds} s is outside (0, 3600]");
        }

        if (ServerPid is not null && Mode is not (StormServerMode.Target or StormServerMode.Serve))
        {
            throw new CliException("--server-pid is for --target and --serve; --self measures its own server");
        }

        if (Warmup is < 0 or > 100_000)
        {
            throw new CliException($"--warmup {Warmup} is outside 0..100000");
        }

        if (PerAddress < 1)
        {
            throw new CliException($"--per-address {PerAddress} must be at least 1");
        }

        if (Mtu < DtlsOptions.MinimumDatagramSize || Mtu > 65507)
        {
            throw new CliException($"--mtu {Mtu} is outside {DtlsOptions.MinimumDatagramSize}..65507");
        }

        if (Mode == StormServerMode.Target)
        {
            if (ExpectFingerprint is null && !Insecure)
            {
                throw new CliException("give --expect-fingerprint \"sha-256 AB:CD:...\" (the server's certificate), or --insecure to accept any server certificate");
            }

            if (ExpectFingerprint is not null && Insecure)
            {
                throw new CliException("--expect-fingerprint and --insecure exclude each other");
            }
        }
        else if (ExpectFingerprint is not null || Insecure)
        {
            throw new CliException(Mode == StormServerMode.Serve
                ? "--expect-fingerprint and --insecure are for --target; --serve checks the fingerprint of each answer"
                : "--expect-fingerprint and --insecure are for --target; --self knows its server's certificate");
        }

        if (Groups is { Count: > 0 } groups && Versions.Count == 1 && Versions[0] == ProtocolVersion.Dtls12 && groups.All(g => g == NamedGroup.X25519MlKem768))
        {
            throw new CliException("--group X25519MLKEM768 exists only in DTLS 1.3; use --dtls 1.3 or both, or add x25519/p256");
        }
    }

    /// <summary>Parses <c>--group</c>: comma-separated x25519, p256 (secp256r1), p384 (secp384r1), x25519mlkem768.</summary>
    public static IReadOnlyList<NamedGroup>? ParseGroups(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var list = new List<NamedGroup>();
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            list.Add(name.ToLowerInvariant() switch
            {
                "x25519" => NamedGroup.X25519,
                "p256" or "p-256" or "secp256r1" => NamedGroup.Secp256r1,
                "p384" or "p-384" or "secp384r1" => NamedGroup.Secp384r1,
                "x25519mlkem768" or "mlkem" => NamedGroup.X25519MlKem768,
                _ => throw new CliException($"--group '{name}' is not one of: x25519, p256, p384, x25519mlkem768"),
            });
        }

        return list;
    }
}
