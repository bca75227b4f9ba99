// bc-peer: a DTLS 1.2 client or server with DTLS-SRTP on Portable.BouncyCastle 1.8.10.
// Same contract as tools/peers/pion and tools/peers/werift: one JSON line per event on stdout
//   {"event":"listening","addr":"127.0.0.1:4444"}              (server, once bound)
//   {"event":"connected","role":"server","exporter":"AB..",...}  (handshake done)
//   {"event":"failed","role":"client","error":"..."}             (exit 1)
// then it stays up until stdin EOF or --lifetime seconds.
//
//   dotnet bc-peer.dll --role server|client --addr 127.0.0.1:4444 --cert CHAIN.pem --key KEY.pem
//        [--srtp SRTP_AES128_CM_HMAC_SHA1_80] [--exporter EXTRACTOR-dtls_srtp] [--exporter-len 60]
//        [--mtu 1200] [--timeout 30] [--lifetime 60]
using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.OpenSsl;
using Org.BouncyCastle.Security;

namespace BcPeer;

internal static class Program
{
    private static readonly object OutLock = new();
    private static string s_role = "client";

    internal static string ExporterLabel { get; private set; } = "EXTRACTOR-dtls_srtp";

    internal static int ExporterLength { get; private set; } = 60;

    // BouncyCastle clears the master secret when the handshake ends, so the exporter runs in NotifyHandshakeComplete.
    internal static byte[]? Export(TlsContext context) =>
        ExporterLength > 0 ? context.ExportKeyingMaterial(ExporterLabel, null, ExporterLength) : null;

    private static int Main(string[] args)
    {
        var opts = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["role"] = "client", ["addr"] = "127.0.0.1:4444", ["srtp"] = "SRTP_AES128_CM_HMAC_SHA1_80",
            ["exporter"] = "EXTRACTOR-dtls_srtp", ["exporter-len"] = "60", ["mtu"] = "1200", ["timeout"] = "30", ["lifetime"] = "60",
        };
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"bad argument {args[i]}");
                return 2;
            }

            opts[args[i][2..]] = args[++i];
        }

        s_role = opts["role"];
        if (s_role is not ("client" or "server") || !opts.ContainsKey("cert") || !opts.ContainsKey("key"))
        {
            Console.Error.WriteLine("usage: bc-peer --role client|server --addr HOST:PORT --cert CHAIN.pem --key KEY.pem [...]");
            return 2;
        }

        try
        {
            return Run(opts);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            Emit(new Dictionary<string, object?> { ["event"] = "failed", ["role"] = s_role, ["error"] = e.GetType().Name + ": " + e.Message });
            return 1;
        }
    }

    private static int Run(Dictionary<string, string> opts)
    {
        var (chain, key) = LoadCredentials(opts["cert"], opts["key"]);
        var profiles = ParseProfiles(opts["srtp"]);
        var endpoint = IPEndPoint.Parse(opts["addr"]);
        var mtu = int.Parse(opts["mtu"], CultureInfo.InvariantCulture);
        var timeout = TimeSpan.FromSeconds(double.Parse(opts["timeout"], CultureInfo.InvariantCulture));
        var lifetime = TimeSpan.FromSeconds(double.Parse(opts["lifetime"], CultureInfo.InvariantCulture));
        ExporterLength = int.Parse(opts["exporter-len"], CultureInfo.InvariantCulture);
        ExporterLabel = opts["exporter"];
        var random = new SecureRandom();

        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        UdpTransport transport;
        if (s_role == "server")
        {
            socket.Bind(endpoint);
            transport = new UdpTransport(socket, remote: null, mtu);
            Emit(new Dictionary<string, object?> { ["event"] = "listening", ["addr"] = socket.LocalEndPoint!.ToString() });
        }
        else
        {
            socket.Bind(new IPEndPoint(IPAddress.IsLoopback(endpoint.Address) ? endpoint.Address : IPAddress.Any, 0));
            transport = new UdpTransport(socket, endpoint, mtu);
        }

        // BouncyCastle 1.8 has no overall handshake deadline: closing the socket makes the blocked Receive throw.
        using var deadline = new Timer(_ => transport.Expire(), null, timeout, Timeout.InfiniteTimeSpan);
        var start = Stopwatch.GetTimestamp();
        Peer peer;
        DtlsTransport dtls;
        if (s_role == "server")
        {
            var server = new SrtpServer(chain, key, profiles);
            dtls = new DtlsServerProtocol(random).Accept(server, transport);
            peer = server;
        }
        else
        {
            var client = new SrtpClient(chain, key, profiles);
            dtls = new DtlsClientProtocol(random).Connect(client, transport);
            peer = client;
        }

        deadline.Change(Timeout.Infinite, Timeout.Infinite);
        if (transport.Expired)
        {
            throw new TimeoutException($"handshake not complete within {timeout.TotalSeconds} s");
        }

        var report = new Dictionary<string, object?>
        {
            ["event"] = "connected",
            ["role"] = s_role,
            ["peer"] = transport.Remote?.ToString(),
            ["cipherSuite"] = "0x" + peer.SelectedCipherSuite.ToString("X4", CultureInfo.InvariantCulture),
            ["srtpProfile"] = peer.SelectedSrtpProfile is { } p ? ProfileName(p) : null,
        };
        if (s_role == "client")
        {
            report["handshakeMs"] = Math.Round(Stopwatch.GetElapsedTime(start).TotalMilliseconds, 3);
        }

        if (peer.Exporter is { } exporter)
        {
            report["exporter"] = Convert.ToHexString(exporter);
        }

        Emit(report);

        // Keep receiving (BouncyCastle answers a retransmitted peer flight from inside Receive) until stdin EOF or the lifetime ends.
        var stop = new CancellationTokenSource(lifetime);
        _ = Task.Run(() =>
        {
            try
            {
                while (Console.In.Read() >= 0)
                {
                }
            }
            catch (IOException)
            {
            }

            stop.Cancel();
        });
        var buffer = new byte[dtls.GetReceiveLimit()];
        while (!stop.IsCancellationRequested)
        {
            try
            {
                dtls.Receive(buffer, 0, buffer.Length, 200);
            }
            catch (Exception)
            {
                break;
            }
        }

        return 0;
    }

    private static void Emit(Dictionary<string, object?> fields)
    {
        var line = JsonSerializer.Serialize(fields.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value));
        lock (OutLock)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }

    private static (Org.BouncyCastle.Asn1.X509.X509CertificateStructure[] Chain, AsymmetricKeyParameter Key) LoadCredentials(string certPath, string keyPath)
    {
        var chain = new List<Org.BouncyCastle.Asn1.X509.X509CertificateStructure>();
        using (var reader = File.OpenText(certPath))
        {
            var pem = new PemReader(reader);
            while (pem.ReadObject() is { } o)
            {
                if (o is Org.BouncyCastle.X509.X509Certificate c)
                {
                    chain.Add(c.CertificateStructure);
                }
            }
        }

        if (chain.Count == 0)
        {
            throw new InvalidDataException($"no certificate in {certPath}");
        }

        using var keyReader = File.OpenText(keyPath);
        var key = new PemReader(keyReader).ReadObject() switch
        {
            AsymmetricKeyParameter k when k.IsPrivate => k,
            AsymmetricCipherKeyPair pair => pair.Private,
            var other => throw new InvalidDataException($"{keyPath}: not a private key ({other?.GetType().Name ?? "empty"})"),
        };
        return ([.. chain], key);
    }

    private static int[] ParseProfiles(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(name => name switch
        {
            "SRTP_AES128_CM_HMAC_SHA1_80" or "SRTP_AES128_CM_SHA1_80" => SrtpProtectionProfile.SRTP_AES128_CM_HMAC_SHA1_80,
            "SRTP_AES128_CM_HMAC_SHA1_32" or "SRTP_AES128_CM_SHA1_32" => SrtpProtectionProfile.SRTP_AES128_CM_HMAC_SHA1_32,
            "SRTP_AEAD_AES_128_GCM" => SrtpProtectionProfile.SRTP_AEAD_AES_128_GCM,
            "SRTP_AEAD_AES_256_GCM" => SrtpProtectionProfile.SRTP_AEAD_AES_256_GCM,
            _ => throw new ArgumentException($"unknown SRTP profile {name}"),
        }).ToArray();

    private static string ProfileName(int p) => p switch
    {
        SrtpProtectionProfile.SRTP_AES128_CM_HMAC_SHA1_80 => "SRTP_AES128_CM_HMAC_SHA1_80",
        SrtpProtectionProfile.SRTP_AES128_CM_HMAC_SHA1_32 => "SRTP_AES128_CM_HMAC_SHA1_32",
        SrtpProtectionProfile.SRTP_AEAD_AES_128_GCM => "SRTP_AEAD_AES_128_GCM",
        SrtpProtectionProfile.SRTP_AEAD_AES_256_GCM => "SRTP_AEAD_AES_256_GCM",
        _ => "0x" + p.ToString("X4", CultureInfo.InvariantCulture),
    };

    internal static SignatureAndHashAlgorithm SigAlg(AsymmetricKeyParameter key) =>
        new(HashAlgorithm.sha256, key is ECPrivateKeyParameters ? SignatureAlgorithm.ecdsa : SignatureAlgorithm.rsa);

    internal static IList SigAlgs() => new ArrayList
    {
        new SignatureAndHashAlgorithm(HashAlgorithm.sha256, SignatureAlgorithm.ecdsa),
        new SignatureAndHashAlgorithm(HashAlgorithm.sha256, SignatureAlgorithm.rsa),
        new SignatureAndHashAlgorithm(HashAlgorithm.sha384, SignatureAlgorithm.ecdsa),
        new SignatureAndHashAlgorithm(HashAlgorithm.sha384, SignatureAlgorithm.rsa),
    };
}

/// <summary>What the program reads back from either role after the handshake.</summary>
internal interface Peer
{
    TlsContext Context { get; }

    int SelectedCipherSuite { get; }

    int? SelectedSrtpProfile { get; }

    byte[]? Exporter { get; }
}

internal sealed class SrtpClient(Org.BouncyCastle.Asn1.X509.X509CertificateStructure[] chain, AsymmetricKeyParameter key, int[] profiles)
    : DefaultTlsClient, Peer
{
    public TlsContext Context => mContext;

    public byte[]? Exporter { get; private set; }

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        Exporter = Program.Export(mContext);
    }

    public int SelectedCipherSuite => mSelectedCipherSuite;

    public int? SelectedSrtpProfile { get; private set; }

    private TlsCredentials Credentials() => new DefaultTlsSignerCredentials(mContext, new Certificate(chain), key, Program.SigAlg(key));

    public override ProtocolVersion MinimumVersion => ProtocolVersion.DTLSv12;

    public override ProtocolVersion ClientVersion => ProtocolVersion.DTLSv12;

    public override int[] GetCipherSuites() =>
    [
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ];

    public override IDictionary GetClientExtensions()
    {
        var ext = TlsExtensionsUtilities.EnsureExtensionsInitialised(base.GetClientExtensions());
        if (profiles.Length > 0)
        {
            TlsSRTPUtils.AddUseSrtpExtension(ext, new UseSrtpData(profiles, []));
        }

        return ext;
    }

    public override void ProcessServerExtensions(IDictionary serverExtensions)
    {
        base.ProcessServerExtensions(serverExtensions);
        if (TlsSRTPUtils.GetUseSrtpExtension(serverExtensions) is { } srtp && srtp.ProtectionProfiles.Length == 1)
        {
            SelectedSrtpProfile = srtp.ProtectionProfiles[0];
        }
    }

    public override TlsAuthentication GetAuthentication() => new Auth(this);

    private sealed class Auth(SrtpClient owner) : TlsAuthentication
    {
        public void NotifyServerCertificate(Certificate serverCertificate)
        {
            // The lab compares exporters; it does not verify the (test-only) chain.
        }

        public TlsCredentials GetClientCredentials(CertificateRequest certificateRequest) => owner.Credentials();
    }
}

internal sealed class SrtpServer(Org.BouncyCastle.Asn1.X509.X509CertificateStructure[] chain, AsymmetricKeyParameter key, int[] profiles)
    : DefaultTlsServer, Peer
{
    private int? _offeredMatch;

    public TlsContext Context => mContext;

    public byte[]? Exporter { get; private set; }

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        Exporter = Program.Export(mContext);
    }

    public int SelectedCipherSuite => mSelectedCipherSuite;

    public int? SelectedSrtpProfile => _offeredMatch;

    protected override ProtocolVersion MinimumVersion => ProtocolVersion.DTLSv12;

    protected override ProtocolVersion MaximumVersion => ProtocolVersion.DTLSv12;

    protected override int[] GetCipherSuites() => key is ECPrivateKeyParameters
        ? [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
        : [CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384];

    public override void ProcessClientExtensions(IDictionary clientExtensions)
    {
        base.ProcessClientExtensions(clientExtensions);
        if (TlsSRTPUtils.GetUseSrtpExtension(clientExtensions) is { } offered)
        {
            _offeredMatch = profiles.Cast<int?>().FirstOrDefault(p => offered.ProtectionProfiles.Contains(p!.Value));
        }
    }

    public override IDictionary GetServerExtensions()
    {
        var ext = TlsExtensionsUtilities.EnsureExtensionsInitialised(base.GetServerExtensions());
        if (_offeredMatch is { } p)
        {
            TlsSRTPUtils.AddUseSrtpExtension(ext, new UseSrtpData([p], []));
        }

        return ext;
    }

    public override CertificateRequest GetCertificateRequest() =>
        new([ClientCertificateType.ecdsa_sign, ClientCertificateType.rsa_sign], Program.SigAlgs(), null);

    public override void NotifyClientCertificate(Certificate clientCertificate)
    {
        // Accept any client certificate: WebRTC authenticates it by fingerprint, which the lab does not check.
    }

    protected override TlsSignerCredentials GetRsaSignerCredentials() =>
        new DefaultTlsSignerCredentials(mContext, new Certificate(chain), key, Program.SigAlg(key));

    protected override TlsSignerCredentials GetECDsaSignerCredentials() =>
        new DefaultTlsSignerCredentials(mContext, new Certificate(chain), key, Program.SigAlg(key));
}

/// <summary>BouncyCastle's datagram transport over one UDP socket; a server answers the first peer that spoke.</summary>
internal sealed class UdpTransport(Socket socket, IPEndPoint? remote, int mtu) : DatagramTransport
{
    private volatile bool _expired;

    public IPEndPoint? Remote { get; private set; } = remote;

    public bool Expired => _expired;

    public void Expire()
    {
        _expired = true;
        socket.Close();
    }

    public int GetReceiveLimit() => 65507;

    public int GetSendLimit() => mtu;

    public int Receive(byte[] buf, int off, int len, int waitMillis)
    {
        if (!socket.Poll(Math.Max(1, waitMillis) * 1000, SelectMode.SelectRead))
        {
            return -1;
        }

        EndPoint from = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        var n = socket.ReceiveFrom(buf, off, len, SocketFlags.None, ref from);
        if (Remote is null)
        {
            Remote = (IPEndPoint)from;
        }
        else if (!Remote.Equals(from))
        {
            return -1;
        }

        return n;
    }

    public void Send(byte[] buf, int off, int len)
    {
        if (Remote is { } r)
        {
            socket.SendTo(buf, off, len, SocketFlags.None, r);
        }
    }

    public void Close() => socket.Close();
}
