using Airlift.Dtls;

namespace Airlift.Tests.Interop;

/// <summary>A peer command line: program and arguments (no shell), plus extra environment variables.</summary>
internal sealed record PeerCommand(string Name, string Program, IReadOnlyList<string> Arguments)
{
    /// <summary>Extra environment variables for the process, or null.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>A copy with <paramref name="more"/> appended to the arguments.</summary>
    public PeerCommand With(params string[] more) => this with { Arguments = [.. Arguments, .. more] };
}

/// <summary>
/// Command lines for the real peers, as recorded in PEERS.md. Every DTLS exchange stays on 127.0.0.1
/// (gnutls-serv itself binds every interface; it has no bind-address option).
/// </summary>
internal static class PeerCommands
{
    /// <summary>RFC 5764 4.2 exporter label.</summary>
    public const string SrtpExporterLabel = "EXTRACTOR-dtls_srtp";

    /// <summary>
    /// openssl s_server -dtls1_2 on 127.0.0.1:<paramref name="port"/>. Keep stdin open (PeerProcess does) or it exits.
    /// <paramref name="mtu"/> is the link MTU (OpenSSL subtracts 28; minimum 256). <paramref name="cipher"/> is an
    /// OpenSSL cipher list (-cipher). Prints "ACCEPT" when ready; requests a client certificate (-verify 1).
    /// </summary>
    public static PeerCommand OpenSslServer(
        int port,
        CertFixture cert,
        SrtpProtectionProfile? srtp = null,
        int exporterLength = 60,
        int? mtu = 1200,
        string? cipher = null)
    {
        var args = new List<string> { "s_server", "-dtls1_2", "-accept", $"127.0.0.1:{port}", "-cert", cert.CertPath, "-key", cert.KeyPath };
        if (cert.ChainPath is not null)
        {
            args.AddRange(["-cert_chain", cert.ChainPath]);
        }

        args.AddRange(["-verify", "1"]);
        AddOpenSslCommon(args, srtp, exporterLength, mtu, cipher);
        return new PeerCommand("openssl s_server", Peers.OpenSsl, args);
    }

    /// <summary>
    /// openssl s_client -dtls1_2 to 127.0.0.1:<paramref name="port"/>. Prints the session and the exporter once the
    /// handshake completes; exits on stdin EOF (<see cref="PeerProcess.CloseStdin"/>) after that.
    /// </summary>
    public static PeerCommand OpenSslClient(
        int port,
        CertFixture? cert,
        SrtpProtectionProfile? srtp = null,
        int exporterLength = 60,
        int? mtu = 1200,
        string? cipher = null)
    {
        var args = new List<string> { "s_client", "-dtls1_2", "-connect", $"127.0.0.1:{port}" };
        if (cert is not null)
        {
            args.AddRange(["-cert", cert.CertPath, "-key", cert.KeyPath]);
            if (cert.ChainPath is not null)
            {
                args.AddRange(["-cert_chain", cert.ChainPath]);
            }
        }

        AddOpenSslCommon(args, srtp, exporterLength, mtu, cipher);
        return new PeerCommand("openssl s_client", Peers.OpenSsl, args);
    }

    /// <summary>
    /// gnutls-serv --udp --echo on port <paramref name="port"/> (all interfaces), under stdbuf -oL so its lines arrive
    /// as printed. Prints "Waiting for connection..." when ready. Never exits: dispose kills it. It does not print
    /// the exporter, suite or SRTP profile for DTLS; it echoes each received line back. <paramref name="priority"/>
    /// is a GnuTLS priority string (--priority). <paramref name="mtu"/> is the UDP payload size.
    /// </summary>
    public static PeerCommand GnuTlsServer(
        int port,
        CertFixture cert,
        SrtpProtectionProfile? srtp = null,
        int exporterLength = 60,
        int? mtu = 1200,
        string? priority = null)
    {
        var args = new List<string>
        {
            "-oL", Peers.GnuTlsServ, "--udp", "--echo", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--x509certfile", cert.FullChainPath, "--x509keyfile", cert.KeyPath,
        };
        AddGnuTlsCommon(args, srtp, exporterLength, mtu, priority);
        return new PeerCommand("gnutls-serv", Peers.StdBuf, args);
    }

    /// <summary>
    /// gnutls-cli --udp to 127.0.0.1:<paramref name="port"/> (--insecure: fixtures are self-signed / untrusted).
    /// Prints "- Handshake was completed" and the exporter; sends stdin lines, prints received data; exits on stdin EOF.
    /// </summary>
    public static PeerCommand GnuTlsClient(
        int port,
        CertFixture? cert,
        SrtpProtectionProfile? srtp = null,
        int exporterLength = 60,
        int? mtu = 1200,
        string? priority = null)
    {
        var args = new List<string> { "--udp", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--insecure" };
        if (cert is not null)
        {
            args.AddRange(["--x509certfile", cert.FullChainPath, "--x509keyfile", cert.KeyPath]);
        }

        AddGnuTlsCommon(args, srtp, exporterLength, mtu, priority);
        args.Add("127.0.0.1");
        return new PeerCommand("gnutls-cli", Peers.GnuTlsCli, args);
    }

    /// <summary>A GnuTLS priority string allowing only DTLS 1.2 and the given ciphers, e.g. "AES-128-GCM", "CHACHA20-POLY1305".</summary>
    public static string GnuTlsPriority(params string[] ciphers) =>
        "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-CIPHER-ALL" + string.Concat(ciphers.Select(c => ":+" + c));

    private static void AddOpenSslCommon(List<string> args, SrtpProtectionProfile? srtp, int exporterLength, int? mtu, string? cipher)
    {
        if (srtp is { } p)
        {
            args.AddRange(["-use_srtp", PeerOutput.OpenSsl.SrtpName(p)]);
        }

        if (exporterLength > 0)
        {
            args.AddRange(["-keymatexport", SrtpExporterLabel, "-keymatexportlen", exporterLength.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        if (mtu is { } m)
        {
            args.AddRange(["-mtu", m.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        if (cipher is not null)
        {
            args.AddRange(["-cipher", cipher]);
        }
    }

    private static void AddGnuTlsCommon(List<string> args, SrtpProtectionProfile? srtp, int exporterLength, int? mtu, string? priority)
    {
        if (srtp is { } p)
        {
            args.Add("--srtp-profiles=" + p.Name);
        }

        if (exporterLength > 0)
        {
            args.Add("--keymatexport=" + SrtpExporterLabel);
            args.Add("--keymatexportsize=" + exporterLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (mtu is { } m)
        {
            args.Add("--mtu=" + m.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (priority is not null)
        {
            args.Add("--priority=" + priority);
        }
    }
}
