using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Airlift.Cli.Lab.Peers;

/// <summary>Certificate material on disk for the peer programs (all PEM; the key is unencrypted PKCS#8).</summary>
/// <param name="LeafPath">The leaf certificate alone.</param>
/// <param name="ChainPath">Intermediates to send after the leaf, or null when there are none.</param>
/// <param name="FullChainPath">Leaf followed by intermediates.</param>
/// <param name="KeyPath">The leaf's private key.</param>
public sealed record PeerCertificateFiles(string LeafPath, string? ChainPath, string FullChainPath, string KeyPath);

/// <summary>What a peer command needs for one trial.</summary>
/// <param name="Port">Server: the port to bind on 127.0.0.1; client: the port to connect to on 127.0.0.1.</param>
/// <param name="Files">Certificate material.</param>
/// <param name="MaxDatagram">Largest UDP payload the peer should send (mapped to each program's MTU flag).</param>
/// <param name="DeadlineSeconds">Handshake deadline (helpers give up after it).</param>
public sealed record PeerLaunch(int Port, PeerCertificateFiles Files, int MaxDatagram, double DeadlineSeconds);

/// <summary>A real peer the lab can drive, with its server and client command lines.</summary>
/// <param name="Name">Name on the command line: openssl, gnutls, werift, pion, bouncycastle.</param>
/// <param name="Server">Builds the server command.</param>
/// <param name="Client">Builds the client command.</param>
/// <param name="Check">Cheap toolchain check (no build): null when present, else a message naming how to install what is missing.</param>
/// <param name="Build">Builds the helper when missing or stale (null for system programs): null on success, else the reason.</param>
/// <param name="SelfPairNote">Why the peer cannot be paired with itself, or null when it can.</param>
/// <param name="Quirk">A known limitation worth printing beside its results, or null.</param>
public sealed record PeerKind(
    string Name,
    Func<PeerLaunch, PeerCommandSpec> Server,
    Func<PeerLaunch, PeerCommandSpec> Client,
    Func<string?> Check,
    Func<string?>? Build = null,
    string? SelfPairNote = null,
    string? Quirk = null)
{
    /// <summary>
    /// True for Airlift itself: the lab runs it in-process on both sides (one pairing, the reference line every other
    /// pairing is compared with) and never starts a program for it.
    /// </summary>
    public bool IsAirlift { get; init; }

    /// <summary>Checks the toolchain, then builds the helper on first use: null when ready to run.</summary>
    public string? Prepare() => Check() ?? Build?.Invoke();
}

/// <summary>
/// The peers the lab knows, their command lines (see tests/Airlift.Tests/Interop/Harness/PEERS.md for OpenSSL and
/// GnuTLS) and output parsing. Every peer uses the same DTLS-SRTP profile, exporter label and length as Airlift's side.
/// </summary>
public static class PeerCatalog
{
    /// <summary>The SRTP profile every side offers (GnuTLS and werift only do AES128_CM among the CM profiles).</summary>
    public const string SrtpProfile = "SRTP_AES128_CM_HMAC_SHA1_80";

    /// <summary>RFC 5764 exporter label.</summary>
    public const string ExporterLabel = "EXTRACTOR-dtls_srtp";

    /// <summary>Exporter length for SRTP_AES128_CM_HMAC_SHA1_80: 2 x (16-byte key + 14-byte salt).</summary>
    public const int ExporterLength = 60;

    private static readonly Regex OpenSslExporter = new(@"^\s+Keying material: (?<hex>[0-9A-F]+)\s*$", RegexOptions.CultureInvariant);
    private static readonly Regex OpenSslError = new(@":error:[0-9A-F]+:", RegexOptions.CultureInvariant);
    private static readonly Regex JsonListening = new("\"event\":\"listening\"", RegexOptions.CultureInvariant);
    private static readonly Regex JsonConnected = new("\"event\":\"connected\"", RegexOptions.CultureInvariant);
    private static readonly Regex JsonFailed = new("\"event\":\"failed\"", RegexOptions.CultureInvariant);
    private static readonly Regex JsonExporter = new("\"exporter\":\"(?<hex>[0-9A-Fa-f]+)\"", RegexOptions.CultureInvariant);

    /// <summary>Every known peer, in the order "all" runs them.</summary>
    public static IReadOnlyList<PeerKind> All { get; } =
    [
        new("airlift", NoProgram, NoProgram, () => null) { IsAirlift = true },
        new("openssl", OpenSslServer, OpenSslClient, () => PeerTools.RequirePrograms("apt-get install openssl", "openssl")),
        new("gnutls", GnuTlsServer, GnuTlsClient, () => PeerTools.RequirePrograms("apt-get install gnutls-bin coreutils", "gnutls-serv", "gnutls-cli", "stdbuf"),
            Quirk: "gnutls-serv prints no exporter for DTLS: only the client's exporter is compared"),
        new("werift", l => Helper("werift", "server", l), l => Helper("werift", "client", l), PeerTools.CheckWerift,
            Quirk: "werift sends the leaf only and has no MTU setting: it cuts handshake messages at 1240 B but writes all records of a flight message into one datagram (the F4 failure), so a certificate over 1240 B leaves in a datagram over 1300 B"),
        new("pion", l => Helper("pion", "server", l), l => Helper("pion", "client", l), PeerTools.CheckPion, PeerTools.BuildPion,
            Quirk: "pion/dtls v2 Config.MTU bounds the handshake fragment, not the datagram (datagrams reach MTU+25): the helper passes MTU = max datagram - 25"),
        new("bouncycastle", l => Helper("bouncycastle", "server", l), l => Helper("bouncycastle", "client", l), PeerTools.CheckBouncyCastle, PeerTools.BuildBouncyCastle),
    ];

    /// <summary>Resolves command-line names ("all" expands to every peer; "bc" and "bouncy" are aliases).</summary>
    /// <exception cref="ArgumentException">An unknown name.</exception>
    public static IReadOnlyList<PeerKind> Resolve(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var result = new List<PeerKind>();
        foreach (var raw in names.SelectMany(n => n.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var name = raw.ToLowerInvariant() switch
            {
                "bc" or "bouncy" or "portable.bouncycastle" => "bouncycastle",
                "gnutls-bin" => "gnutls",
                var n => n,
            };
            if (name == "all")
            {
                result.AddRange(All);
                continue;
            }

            result.Add(All.FirstOrDefault(k => k.Name == name)
                ?? throw new ArgumentException($"unknown peer '{raw}' (known: {string.Join(", ", All.Select(k => k.Name))}, all)"));
        }

        return result.DistinctBy(k => k.Name).ToList();
    }

    private static PeerCommandSpec NoProgram(PeerLaunch l) =>
        throw new InvalidOperationException("Airlift runs in-process in the lab; it has no peer program.");

    private static PeerCommandSpec OpenSslServer(PeerLaunch l) => new(
        "openssl s_server",
        "openssl",
        [
            "s_server", "-dtls1_2", "-accept", $"127.0.0.1:{l.Port}", "-cert", l.Files.LeafPath, "-key", l.Files.KeyPath,
            .. Chain(l, "-cert_chain"), "-verify", "1", "-use_srtp", "SRTP_AES128_CM_SHA1_80",
            "-keymatexport", ExporterLabel, "-keymatexportlen", Num(ExporterLength), "-mtu", Num(l.MaxDatagram + 28),
        ],
        Connected: OpenSslExporter,
        Exporter: OpenSslExporter,
        Failed: OpenSslError,
        Ready: new Regex("^ACCEPT$", RegexOptions.CultureInvariant));

    private static PeerCommandSpec OpenSslClient(PeerLaunch l) => new(
        "openssl s_client",
        "openssl",
        [
            "s_client", "-dtls1_2", "-connect", $"127.0.0.1:{l.Port}", "-cert", l.Files.LeafPath, "-key", l.Files.KeyPath,
            .. Chain(l, "-cert_chain"), "-use_srtp", "SRTP_AES128_CM_SHA1_80",
            "-keymatexport", ExporterLabel, "-keymatexportlen", Num(ExporterLength), "-mtu", Num(l.MaxDatagram + 28),
        ],
        Connected: OpenSslExporter,
        Exporter: OpenSslExporter,
        Failed: OpenSslError,
        Ready: null);

    // gnutls-serv block-buffers stdout on a pipe (stdbuf -oL fixes that), binds every interface, never exits,
    // prints no exporter; it prints the SRTP profile and the peer-certificate note only once the handshake is done.
    private static PeerCommandSpec GnuTlsServer(PeerLaunch l) => new(
        "gnutls-serv",
        "stdbuf",
        [
            "-oL", "gnutls-serv", "--udp", "--echo", "-p", Num(l.Port), "--x509certfile", l.Files.FullChainPath, "--x509keyfile", l.Files.KeyPath,
            $"--srtp-profiles={SrtpProfile}", $"--mtu={Num(l.MaxDatagram)}",
        ],
        Connected: new Regex("^(DTLS profile set to|- Peer's certificate)", RegexOptions.CultureInvariant),
        Exporter: null,
        Failed: new Regex("Error in handshake", RegexOptions.CultureInvariant),
        Ready: new Regex("^Waiting for connection", RegexOptions.CultureInvariant));

    // gnutls-cli block-buffers stdout on a pipe too: without stdbuf its "Handshake was completed" line can arrive
    // hundreds of milliseconds late, or only at exit.
    private static PeerCommandSpec GnuTlsClient(PeerLaunch l) => new(
        "gnutls-cli",
        "stdbuf",
        [
            "-oL", "gnutls-cli", "--udp", "-p", Num(l.Port), "--insecure", "--x509certfile", l.Files.FullChainPath, "--x509keyfile", l.Files.KeyPath,
            $"--srtp-profiles={SrtpProfile}", $"--keymatexport={ExporterLabel}", $"--keymatexportsize={Num(ExporterLength)}",
            $"--mtu={Num(l.MaxDatagram)}", "127.0.0.1",
        ],
        Connected: new Regex("^- Handshake was completed", RegexOptions.CultureInvariant),
        Exporter: new Regex("^- Key material: (?<hex>[0-9a-fA-F]+)", RegexOptions.CultureInvariant),
        Failed: new Regex(@"^\*\*\* (Fatal error|Handshake has failed)|Error in handshake", RegexOptions.CultureInvariant),
        Ready: null);

    private static PeerCommandSpec Helper(string name, string role, PeerLaunch l)
    {
        var (program, prefix) = PeerTools.HelperCommand(name);
        return new PeerCommandSpec(
            $"{name} {role}",
            program,
            [
                .. prefix, "--role", role, "--addr", $"127.0.0.1:{l.Port}", "--cert", l.Files.FullChainPath, "--key", l.Files.KeyPath,
                "--srtp", SrtpProfile, "--exporter", ExporterLabel, "--exporter-len", Num(ExporterLength), "--mtu", Num(l.MaxDatagram),
                "--timeout", Num(l.DeadlineSeconds), "--lifetime", Num(l.DeadlineSeconds + 30),
            ],
            Connected: JsonConnected,
            Exporter: JsonExporter,
            Failed: JsonFailed,
            Ready: role == "server" ? JsonListening : null);
    }

    private static string[] Chain(PeerLaunch l, string flag) => l.Files.ChainPath is { } c ? [flag, c] : [];

    private static string Num(double value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Finds the helper sources (tools/peers), builds them on first use into tools/peers/out (gitignored), and
/// checks toolchains, answering with the install command when something is missing.
/// </summary>
public static class PeerTools
{
    private static readonly SemaphoreSlim BuildLock = new(1, 1);

    /// <summary>tools/peers of the enclosing repository ($AIRLIFT_PEER_TOOLS overrides), or null when not found.</summary>
    public static string? ToolsDirectory { get; } = FindToolsDirectory();

    /// <summary>Null when every program is on PATH, else "requires X (INSTALL)".</summary>
    public static string? RequirePrograms(string install, params string[] programs)
    {
        ArgumentNullException.ThrowIfNull(programs);
        var missing = programs.FirstOrDefault(p => FindOnPath(p) is null);
        return missing is null ? null : $"requires {missing} ({install})";
    }

    /// <summary>The program and leading arguments that run a helper.</summary>
    public static (string Program, string[] Prefix) HelperCommand(string name)
    {
        var tools = ToolsDirectory ?? "tools/peers";
        return name switch
        {
            "pion" => (Path.Combine(tools, "out", "pion-peer"), []),
            "werift" => ("node", [Path.Combine(tools, "werift", "peer.mjs")]),
            "bouncycastle" => (DotnetHost(), [Path.Combine(tools, "out", "bouncycastle", "bc-peer.dll")]),
            _ => throw new ArgumentException($"no helper named {name}", nameof(name)),
        };
    }

    private const string PionInstall = "apt-get install golang-go golang-github-pion-dtls.v2-dev";

    /// <summary>Checks Go and the pion/dtls v2 sources (Debian's gocode tree).</summary>
    public static string? CheckPion()
    {
        if (ToolsDirectory is null)
        {
            return NoTools;
        }

        if (RequirePrograms(PionInstall, "go") is { } missing)
        {
            return missing;
        }

        return Directory.Exists("/usr/share/gocode/src/github.com/pion/dtls/v2")
            ? null
            : $"requires pion/dtls v2 sources in /usr/share/gocode ({PionInstall})";
    }

    /// <summary>Builds tools/peers/out/pion-peer when missing or older than main.go.</summary>
    public static string? BuildPion()
    {
        if (ToolsDirectory is null)
        {
            return NoTools;
        }

        var source = Path.Combine(ToolsDirectory, "pion", "main.go");
        var output = Path.Combine(ToolsDirectory, "out", "pion-peer");
        return BuildIfStale(
            "pion helper",
            [source],
            output,
            "go",
            ["build", "-o", output, "."],
            Path.Combine(ToolsDirectory, "pion"),
            new Dictionary<string, string> { ["GO111MODULE"] = "off", ["GOPATH"] = "/usr/share/gocode" },
            PionInstall);
    }

    /// <summary>Checks that the helper sources are there (the .NET SDK runs this program already).</summary>
    public static string? CheckBouncyCastle() => ToolsDirectory is null ? NoTools : null;

    /// <summary>Builds tools/peers/out/bouncycastle/bc-peer.dll (Portable.BouncyCastle 1.8.10 from NuGet) when missing or stale.</summary>
    public static string? BuildBouncyCastle()
    {
        if (ToolsDirectory is null)
        {
            return NoTools;
        }

        var project = Path.Combine(ToolsDirectory, "bouncycastle");
        var output = Path.Combine(ToolsDirectory, "out", "bouncycastle");
        return BuildIfStale(
            "BouncyCastle helper",
            [Path.Combine(project, "Program.cs"), Path.Combine(project, "BcPeer.csproj")],
            Path.Combine(output, "bc-peer.dll"),
            DotnetHost(),
            ["build", Path.Combine(project, "BcPeer.csproj"), "-c", "Release", "-o", output, "-nologo", "-v", "q"],
            project,
            null,
            "the .NET 10 SDK and the NuGet package Portable.BouncyCastle 1.8.10 (restored by dotnet build)");
    }

    /// <summary>Checks Node.js and werift 0.25 (npm) for tools/peers/werift/peer.mjs.</summary>
    public static string? CheckWerift()
    {
        const string Install = "npm install --prefix scripts/.peers/node werift@0.25 (bash scripts/test.sh does it)";
        if (ToolsDirectory is null)
        {
            return NoTools;
        }

        if (RequirePrograms("apt-get install nodejs npm", "node") is { } missing)
        {
            return missing;
        }

        var env = Environment.GetEnvironmentVariable("AIRLIFT_WERIFT");
        var dir = env ?? Path.GetFullPath(Path.Combine(ToolsDirectory, "..", "..", "scripts", ".peers", "node", "node_modules", "werift"));
        return File.Exists(Path.Combine(dir, "package.json")) ? null : $"requires werift in {dir} ({Install})";
    }

    private const string NoTools = "cannot find tools/peers (run from the Airlift repository or set AIRLIFT_PEER_TOOLS)";

    private static string? BuildIfStale(string what, string[] sources, string output, string program, string[] args, string workDir, Dictionary<string, string>? env, string install)
    {
        BuildLock.Wait();
        try
        {
            if (File.Exists(output) && sources.All(s => File.GetLastWriteTimeUtc(s) <= File.GetLastWriteTimeUtc(output)))
            {
                return null;
            }

            Console.Error.WriteLine($"airlift: building the {what} (first use): {program} {string.Join(' ', args)}");
            var psi = new ProcessStartInfo(program)
            {
                WorkingDirectory = workDir,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }

            foreach (var (k, v) in env ?? [])
            {
                psi.Environment[k] = v;
            }

            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                p.Kill(entireProcessTree: true);
                return $"building the {what} took over 5 minutes";
            }

            if (p.ExitCode != 0 || !File.Exists(output))
            {
                var log = PeerText.Shorten((stdout.Result + " " + stderr.Result).Trim(), 600);
                return $"building the {what} failed (exit {p.ExitCode}; needs {install}): {log}";
            }

            File.SetLastWriteTimeUtc(output, DateTime.UtcNow);
            return null;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"cannot run {program} to build the {what} ({install}): {ex.Message}";
        }
        finally
        {
            BuildLock.Release();
        }
    }

    private static string DotnetHost()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (host is not null && File.Exists(host))
        {
            return host;
        }

        return Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    private static string? FindToolsDirectory()
    {
        if (Environment.GetEnvironmentVariable("AIRLIFT_PEER_TOOLS") is { } env && Directory.Exists(env))
        {
            return Path.GetFullPath(env);
        }

        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tools", "peers");
                if (File.Exists(Path.Combine(candidate, "pion", "main.go")))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>Full path of an executable on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (program.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(program) ? program : null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var file = Path.Combine(dir, program);
            if (File.Exists(file) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0))
            {
                return file;
            }
        }

        return null;
    }
}
