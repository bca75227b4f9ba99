using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using Airlift.Dtls;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Airlift.Cli;

/// <summary>A user error (bad argument, unreadable file): printed as one line, exit status 2.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM for every command, in one place. The first signal does not end the process: it cancels
/// <see cref="Token"/> (the token each command's action receives), so the command stops, prints or writes its partial
/// results and closes its sockets (servers say close_notify) on its way out. Program then prints one line: after SIGINT
/// "airlift: interrupted" and status 130; after SIGTERM (a service manager's stop) "airlift: stopped (SIGTERM)" and the
/// command's own status, so a server stopped in order exits 0 and a run cut short (storm, soak, lab, a client) 130.
/// A second signal gets the default action (the process ends at once) for a command stuck in its cleanup.
/// </summary>
internal sealed class CliInterrupt : IDisposable
{
    private static readonly AsyncLocal<CliInterrupt?> Ambient = new();

    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _signals;
    private int _signalled;
    private PosixSignal _signal;

    public CliInterrupt()
    {
        _signals = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];
        Ambient.Value = this;
    }

    /// <summary>Cancelled by the first SIGINT or SIGTERM.</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary>True once a signal asked the command to stop.</summary>
    public bool Requested => Volatile.Read(ref _signalled) != 0;

    /// <summary>True when that signal was SIGTERM (a request to stop) rather than Ctrl-C.</summary>
    public bool Terminated => Requested && _signal == PosixSignal.SIGTERM;

    /// <summary>The token of the command running on this flow (synchronous actions have no token argument), or none.</summary>
    public static CancellationToken Current => Ambient.Value?.Token ?? CancellationToken.None;

    /// <summary>
    /// <paramref name="stream"/>, read so that an interrupt ends the next read with <see cref="OperationCanceledException"/>:
    /// a synchronous command reading a big file stops within one buffer.
    /// </summary>
    public static Stream Watch(Stream stream) => new InterruptibleStream(stream, Current);

    public void Dispose()
    {
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }

        if (Ambient.Value == this)
        {
            Ambient.Value = null;
        }

        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Exchange(ref _signalled, 1) != 0)
        {
            return; // the second signal: leave the default action (terminate) in place
        }

        _signal = context.Signal;
        context.Cancel = true;
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The command finished as the signal arrived.
        }
    }

    /// <summary>A read-only pass-through that checks the token before each read.</summary>
    private sealed class InterruptibleStream(Stream inner, CancellationToken token) : Stream
    {
        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => inner.CanSeek;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => inner.Position = value; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            token.ThrowIfCancellationRequested();
            return inner.Read(buffer, offset, count);
        }

        public override int Read(Span<byte> buffer)
        {
            token.ThrowIfCancellationRequested();
            return inner.Read(buffer);
        }

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>Options and helpers shared by the DTLS commands.</summary>
internal static class CliCommon
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static Option<string?> CertOption() => new("--cert") { HelpName = "FILE", Description = "Certificate PEM (may hold the chain after the leaf) or PFX file. Default: a new ECDSA P-256 certificate." };

    public static Option<string?> KeyOption() => new("--key") { HelpName = "FILE", Description = "Private key PEM (PKCS#8, SEC1 or PKCS#1, unencrypted)." };

    public static Option<string?> ChainOption() => new("--chain") { HelpName = "FILE", Description = "Intermediate certificates PEM, sent after the leaf." };

    public static Option<int> MtuOption() => new("--mtu") { HelpName = "BYTES", Description = "Maximum UDP payload per datagram, all headers and AEAD tags included (min 228).", DefaultValueFactory = _ => 1200 };

    public static Option<string?> SrtpOption() => new("--srtp") { HelpName = "PROFILES", Description = "DTLS-SRTP profiles, comma-separated IANA names (SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM)." };

    public static Option<string?> FingerprintOption() => new("--expect-fingerprint") { HelpName = "FINGERPRINT", Description = "Expected peer certificate fingerprint, e.g. \"sha-256 AB:CD:...\"; a mismatch or a missing certificate fails the handshake." };

    public const string InsecureFlag = "--insecure-accept-any-certificate";

    public static Option<bool> InsecureOption() => new(InsecureFlag) { Description = "Accept any peer certificate without checking it: anyone on the path can then impersonate the peer. For tests; use --expect-fingerprint otherwise." };

    public static Option<string?> CipherOption() => new("--cipher") { HelpName = "NAMES", Description = "Cipher suites, comma-separated IANA names, in preference order: DTLS 1.2 (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ...) and/or DTLS 1.3 (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256)." };

    public static Option<string> DtlsVersionOption() => new("--dtls") { HelpName = "both|1.3|1.2", Description = "DTLS versions to negotiate: both (DTLS 1.3 preferred, 1.2 for peers without it), 1.3 (refuse DTLS 1.2 peers) or 1.2.", DefaultValueFactory = _ => "both" };

    /// <summary>The versions <c>--dtls</c> names.</summary>
    public static IReadOnlyList<ProtocolVersion> ParseDtlsVersions(string? text) => (text ?? "both").Trim().ToLowerInvariant() switch
    {
        "both" or "1.3,1.2" or "1.2,1.3" => [ProtocolVersion.Dtls13, ProtocolVersion.Dtls12],
        "1.3" => [ProtocolVersion.Dtls13],
        "1.2" => [ProtocolVersion.Dtls12],
        _ => throw new CliException($"--dtls '{text}' is not one of: both, 1.3, 1.2"),
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "One JSON object per handshake on stdout." };

    public static Option<bool> VerboseOption() => new("--verbose", "-v") { Description = "Debug logging (handshake timeline) on stderr." };

    public static IPEndPoint ParseEndpoint(string text, string what)
    {
        if (IPEndPoint.TryParse(text, out var ep) && ep.Port != 0)
        {
            return ep;
        }

        var colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536)
        {
            var host = text[..colon];
            if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                return new IPEndPoint(IPAddress.Loopback, port);
            }
        }

        throw new CliException($"{what} '{text}' is not ADDRESS:PORT (e.g. 127.0.0.1:4444)");
    }

    public static DtlsCertificate LoadCertificate(string? cert, string? key, string? chain)
    {
        if (cert is null)
        {
            if (key is not null || chain is not null)
            {
                throw new CliException("--key and --chain need --cert");
            }

            return DtlsCertificate.GenerateEcdsa();
        }

        try
        {
            if (cert.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || cert.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
            {
                return DtlsCertificate.LoadPfx(cert);
            }

            if (key is null)
            {
                throw new CliException("--cert needs --key (or a .pfx file)");
            }

            return DtlsCertificate.LoadPem(cert, key, chain);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or CryptographicException or ArgumentException or FormatException)
        {
            throw new CliException($"cannot load certificate: {ex.Message}");
        }
    }

    public static IReadOnlyList<SrtpProtectionProfile> ParseSrtp(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }

        var list = new List<SrtpProtectionProfile>();
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!SrtpProtectionProfile.TryParse(name, out var p))
            {
                throw new CliException($"unknown SRTP profile '{name}'; known: SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AES128_CM_HMAC_SHA1_32, SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM (OpenSSL's SRTP_AES128_CM_SHA1_80 and _32 also work)");
            }

            list.Add(p);
        }

        return list;
    }

    public static IReadOnlyList<CipherSuite>? ParseCiphers(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var list = new List<CipherSuite>();
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!CipherSuite.TryParse(name, out var s))
            {
                throw new CliException($"unknown cipher suite '{name}'; known: {string.Join(", ", KnownCipherSuites)}");
            }

            list.Add(s);
        }

        return list;
    }

    private static readonly string[] KnownCipherSuites =
    [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ];

    private static readonly HashSet<string> Tls13CipherSuiteNames = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];

    public static CertificateFingerprint? ParseFingerprint(string? text)
    {
        if (text is null)
        {
            return null;
        }

        return CertificateFingerprint.TryParse(text, out var fp) ? fp : throw new CliException($"--expect-fingerprint '{text}' is not like \"sha-256 AB:CD:...\"");
    }

    /// <summary>
    /// DTLS options from the shared flags. Secure by default: the peer is authenticated by --expect-fingerprint, and
    /// without it the command refuses to start unless --insecure-accept-any-certificate says so.
    /// </summary>
    public static DtlsOptions BuildOptions(ParseResult parse, DtlsCertificate certificate, ILoggerFactory? logging, string peer)
    {
        var fingerprint = ParseFingerprint(parse.GetValue<string?>("--expect-fingerprint"));
        var insecure = parse.GetValue<bool>(InsecureFlag);
        if (fingerprint is null && !insecure)
        {
            throw new CliException($"give --expect-fingerprint \"sha-256 AB:CD:...\" (the {peer}'s certificate), or {InsecureFlag} to accept any {peer} (anyone on the path can then impersonate it)");
        }

        if (fingerprint is not null && insecure)
        {
            throw new CliException($"--expect-fingerprint and {InsecureFlag} exclude each other");
        }

        if (fingerprint is not null && fingerprint.Algorithm is not ("sha-256" or "sha-384" or "sha-512"))
        {
            throw new CliException($"--expect-fingerprint uses {fingerprint.Algorithm}; use sha-256 or stronger (RFC 8827 6.5)");
        }

        var mtu = parse.GetValue<int>("--mtu");
        if (mtu < DtlsOptions.MinimumDatagramSize || mtu > 65507)
        {
            throw new CliException($"--mtu {mtu} is outside {DtlsOptions.MinimumDatagramSize}..65507");
        }

        var options = new DtlsOptions(certificate)
        {
            MaxDatagramSize = mtu,
            SrtpProfiles = ParseSrtp(parse.GetValue<string?>("--srtp")),
            ExpectedPeerFingerprint = fingerprint,
            AllowAnyPeerCertificate = insecure,
            LoggerFactory = logging,
            ProtocolVersions = ParseDtlsVersions(parse.GetValue<string?>("--dtls")),
        };
        if (ParseCiphers(parse.GetValue<string?>("--cipher")) is { } ciphers)
        {
            // DTLS 1.3 suites (TLS_AES_*, TLS_CHACHA20_*) and DTLS 1.2 suites (TLS_ECDHE_*) are separate lists; a list that
            // names only one kind leaves the other version's defaults alone.
            var v13 = ciphers.Where(c => Tls13CipherSuiteNames.Contains(c.Name)).ToList();
            var v12 = ciphers.Where(c => !Tls13CipherSuiteNames.Contains(c.Name)).ToList();
            options = options with
            {
                CipherSuites = v12.Count > 0 ? v12 : options.CipherSuites,
                Dtls13CipherSuites = v13.Count > 0 ? v13 : options.Dtls13CipherSuites,
            };
        }

        return options;
    }

    public static ILoggerFactory CreateLogging(bool verbose) => LoggerFactory.Create(b =>
    {
        b.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        b.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        b.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning);
    });

    public static Dictionary<string, object?> Report(string role, IPEndPoint peer, DtlsCertificate local, DtlsConnected? connected, DtlsPeerCertificate? peerCert, byte[]? exporter, DtlsStats stats, string? error)
    {
        return new Dictionary<string, object?>
        {
            ["event"] = connected is not null ? "connected" : "failed",
            ["role"] = role,
            ["peer"] = peer.ToString(),
            // Only a connected handshake has a negotiated version: a failure before ServerHello has none to report.
            ["version"] = connected?.Version.ToString(),
            ["cipherSuite"] = connected?.CipherSuite.Name,
            ["srtpProfile"] = connected?.SrtpProfile?.Name,
            ["exporter"] = exporter is null ? null : Convert.ToHexString(exporter),
            ["localFingerprint"] = local.GetFingerprint().ToString(),
            ["peerFingerprint"] = peerCert?.Sha256Fingerprint.ToString(),
            ["handshakeMs"] = connected is null ? null : Math.Round(connected.HandshakeDuration.TotalMilliseconds, 1),
            ["effectiveMaxDatagram"] = connected?.EffectiveMaxDatagramSize,
            ["datagramsSent"] = stats.DatagramsSent,
            ["datagramsReceived"] = stats.DatagramsReceived,
            ["largestDatagramSent"] = stats.LargestDatagramSent,
            ["retransmissions"] = stats.Retransmissions,
            ["error"] = error,
        };
    }

    public static void PrintHuman(Dictionary<string, object?> report)
    {
        if ((string?)report["event"] == "connected")
        {
            Console.WriteLine($"connected {report["role"]} <-> {report["peer"]}: {report["version"]} {report["cipherSuite"]}, SRTP {report["srtpProfile"] ?? "none"}, {report["handshakeMs"]} ms, {report["datagramsSent"]} datagrams sent (largest {report["largestDatagramSent"]}), {report["retransmissions"]} retransmissions");
            Console.WriteLine($"  peer {report["peerFingerprint"]}");
            if (report["exporter"] is string x)
            {
                Console.WriteLine($"  exporter {x}");
            }
        }
        else
        {
            Console.WriteLine($"failed {report["role"]} <-> {report["peer"]}: {report["error"]}");
        }
    }
}
