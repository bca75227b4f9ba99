using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Airlift.Dtls;
using Airlift.Net;

namespace Airlift.Tests.Interop;

/// <summary>What an Airlift server session reported for one handshake: either connected (with certificate and keys) or failed.</summary>
internal sealed record ServerHandshake(
    DtlsUdpSession Session,
    DtlsConnected? Connected,
    DtlsPeerCertificate? PeerCertificate,
    DtlsKeyingMaterial? KeyingMaterial,
    DtlsFailed? Failed);

/// <summary>Helpers shared by the interop tests: Airlift options from fixtures, reading server events with a deadline.</summary>
internal static class InteropSupport
{
    /// <summary>Generous per-step deadline; a passing step takes well under a second on loopback.</summary>
    public static readonly TimeSpan Step = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Exporter length asked of the peers: the longest SRTP keying material (AEAD_AES_256_GCM, 2 x (32 + 12) = 88 bytes,
    /// RFC 7714 12). The TLS 1.2 PRF output is a stream (RFC 5246 5), so every shorter export is a prefix of it.
    /// </summary>
    public const int PeerExporterLength = 88;

    /// <summary>The length the brief and most WebRTC stacks use for EXTRACTOR-dtls_srtp with AES128_CM (RFC 5764 4.2).</summary>
    public const int ClassicExporterLength = 60;

    /// <summary>The six suites Airlift implements, ECDSA first.</summary>
    public static readonly CipherSuite[] Suites =
    [
        CipherSuite.EcdheEcdsaWithAes128GcmSha256,
        CipherSuite.EcdheEcdsaWithAes256GcmSha384,
        CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256,
        CipherSuite.EcdheRsaWithAes128GcmSha256,
        CipherSuite.EcdheRsaWithAes256GcmSha384,
        CipherSuite.EcdheRsaWithChaCha20Poly1305Sha256,
    ];

    /// <summary>The fixture whose key matches the suite's authentication: ECDSA P-256, or the 2.7 KB RSA chain.</summary>
    public static CertFixture ServerFixture(CipherSuite suite) =>
        suite.Name.StartsWith("TLS_ECDHE_ECDSA", StringComparison.Ordinal) ? CertFixtures.Ecdsa : CertFixtures.RsaChain;

    /// <summary>The GnuTLS cipher name (priority string) of an AEAD suite.</summary>
    public static string GnuTlsCipher(CipherSuite suite) => suite.Name switch
    {
        var n when n.EndsWith("AES_128_GCM_SHA256", StringComparison.Ordinal) => "AES-128-GCM",
        var n when n.EndsWith("AES_256_GCM_SHA384", StringComparison.Ordinal) => "AES-256-GCM",
        var n when n.EndsWith("CHACHA20_POLY1305_SHA256", StringComparison.Ordinal) => "CHACHA20-POLY1305",
        var n => throw new ArgumentException($"no GnuTLS cipher for {n}", nameof(suite)),
    };

    /// <summary>Suite x profile pairs: every suite once, the profiles taken round-robin so each appears at least twice.</summary>
    public static TheoryData<string, string> Matrix(params SrtpProtectionProfile[] profiles)
    {
        var data = new TheoryData<string, string>();
        for (var i = 0; i < Suites.Length; i++)
        {
            data.Add(Suites[i].Name, profiles[i % profiles.Length].Name);
        }

        return data;
    }

    /// <summary>Parses an IANA suite name from theory data.</summary>
    public static CipherSuite Suite(string name) =>
        CipherSuite.TryParse(name, out var s) ? s : throw new ArgumentException($"unknown suite {name}", nameof(name));

    /// <summary>Parses an IANA SRTP profile name from theory data.</summary>
    public static SrtpProtectionProfile Profile(string name) =>
        SrtpProtectionProfile.TryParse(name, out var p) ? p : throw new ArgumentException($"unknown profile {name}", nameof(name));

    /// <summary>Loads a fixture as an Airlift certificate (leaf + chain). Dispose it after the test.</summary>
    public static DtlsCertificate Load(CertFixture fixture) => DtlsCertificate.LoadPem(fixture.CertPath, fixture.KeyPath, fixture.ChainPath);

    /// <summary>The sha-256 fingerprint of a fixture's leaf certificate, computed from the PEM.</summary>
    public static CertificateFingerprint Fingerprint(CertFixture fixture)
    {
        using var cert = X509Certificate2.CreateFromPem(File.ReadAllText(fixture.CertPath));
        return CertificateFingerprint.Compute("sha-256", cert.RawData);
    }

    /// <summary>
    /// Reads server events until the first session connected (and reported its keying material when SRTP is on) or failed.
    /// Throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.
    /// </summary>
    public static async Task<ServerHandshake> ReadHandshakeAsync(ChannelReader<DtlsSessionEvent> events, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        DtlsConnected? connected = null;
        DtlsPeerCertificate? peer = null;
        DtlsKeyingMaterial? keys = null;
        try
        {
            while (true)
            {
                var e = await events.ReadAsync(cts.Token);
                switch (e.Event)
                {
                    case DtlsPeerCertificate p:
                        peer = p;
                        break;
                    case DtlsConnected c:
                        connected = c;
                        break;
                    case DtlsKeyingMaterial k:
                        keys = k;
                        break;
                    case DtlsFailed f:
                        return new ServerHandshake(e.Session, connected, peer, keys, f);
                }

                if (connected is not null && (keys is not null || connected.SrtpProfile is null))
                {
                    return new ServerHandshake(e.Session, connected, peer, keys, null);
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"the Airlift server reported no handshake result within {timeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Reads server events until application data arrives on <paramref name="session"/>; other events are skipped.</summary>
    public static async Task<byte[]> ReadApplicationDataAsync(ChannelReader<DtlsSessionEvent> events, DtlsUdpSession session, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var e = await events.ReadAsync(cts.Token);
                if (e.Session == session && e.Event is DtlsApplicationData d)
                {
                    return d.Data;
                }

                if (e.Session == session && e.Event is DtlsFailed or DtlsClosed)
                {
                    throw new InvalidOperationException($"session ended before application data arrived: {e.Event}");
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no application data within {timeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Receives one application-data record on an Airlift client, with a deadline.</summary>
    public static async Task<byte[]> ReceiveAsync(DtlsUdpClient client, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await client.ReceiveAsync(cts.Token) ?? throw new InvalidOperationException("the connection closed before application data arrived");
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no application data within {timeout.TotalSeconds:0} s");
        }
    }
}
