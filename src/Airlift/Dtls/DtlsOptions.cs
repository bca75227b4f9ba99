using Microsoft.Extensions.Logging;

namespace Airlift.Dtls;

/// <summary>Whether a DTLS server asks for, and insists on, a client certificate.</summary>
public enum ClientCertificateMode
{
    /// <summary>No CertificateRequest is sent.</summary>
    None,

    /// <summary>A CertificateRequest is sent; a client may answer with an empty certificate list.</summary>
    Request,

    /// <summary>A CertificateRequest is sent and an empty answer fails the handshake (WebRTC: mutual authentication).</summary>
    Require,
}

/// <summary>
/// Configuration of a DTLS endpoint. Immutable; every limit is named here with a safe default.
/// Call <see cref="Validate(DtlsRole)"/> (the endpoint does) to get a clear error for a bad combination.
/// </summary>
public sealed record DtlsOptions
{
    /// <summary>The smallest supported <see cref="MaxDatagramSize"/>: OpenSSL's minimum link MTU (256) minus IPv4 and UDP headers (28).
    /// Even the largest record overhead (13 record header + 12 handshake header + 24 AEAD) leaves room for fragments there.</summary>
    public const int MinimumDatagramSize = 228;

    /// <summary>Creates options with the given certificate.</summary>
    public DtlsOptions(DtlsCertificate certificate)
    {
        Certificate = certificate ?? throw new ArgumentNullException(nameof(certificate));
    }

    /// <summary>The local certificate and key (with chain) presented to the peer.</summary>
    public DtlsCertificate Certificate { get; init; }

    /// <summary>Largest UDP payload Airlift sends, counting every header and AEAD tag. Default 1200 (the WebRTC norm).</summary>
    public int MaxDatagramSize { get; init; } = 1200;

    /// <summary>Smaller datagram sizes tried, in order, when a flight times out twice with larger datagrams (a path-MTU black hole).</summary>
    public IReadOnlyList<int> DatagramSizeFallbacks { get; init; } = [1200, 1000, 576];

    /// <summary>
    /// When true (the default), the fallback never goes below the largest datagram of the peer's handshake that reached us
    /// on this path: such a path carries that size, so the timeouts are plain loss, which smaller datagrams (more of them
    /// per flight) only make worse. Set false for paths known to be asymmetric (a smaller MTU towards the peer).
    /// </summary>
    public bool FallbackAboveLargestPeerDatagram { get; init; } = true;

    /// <summary>Cipher suites, in preference order. Suites that do not match the certificate key type are skipped by a server.</summary>
    public IReadOnlyList<CipherSuite> CipherSuites { get; init; } =
    [
        CipherSuite.EcdheEcdsaWithAes128GcmSha256,
        CipherSuite.EcdheEcdsaWithAes256GcmSha384,
        CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256,
        CipherSuite.EcdheRsaWithAes128GcmSha256,
        CipherSuite.EcdheRsaWithAes256GcmSha384,
        CipherSuite.EcdheRsaWithChaCha20Poly1305Sha256,
    ];

    /// <summary>
    /// DTLS 1.2 ECDHE groups (RFC 8422 5.1.1), in preference order: X25519 (RFC 7748; its point is the 32-byte
    /// u-coordinate, RFC 8422 5.4), then secp256r1 and secp384r1. X25519 is preferred because both browsers, OpenSSL and
    /// the other common stacks offer it and it costs about a third of a P-256 exchange. X25519MLKEM768 has no DTLS 1.2
    /// form and is refused here: list it in <see cref="Dtls13Groups"/> (a 1.2 handshake skips any group without a 1.2
    /// form that a peer offers).
    /// </summary>
    public IReadOnlyList<NamedGroup> Groups { get; init; } = [NamedGroup.X25519, NamedGroup.Secp256r1, NamedGroup.Secp384r1];

    /// <summary>
    /// Protocol versions this endpoint negotiates: DTLS 1.3 (RFC 9147) and DTLS 1.2 by default, 1.3 preferred. A client offers
    /// both in one ClientHello; a server answers 1.3 when the client offers it. <c>[Dtls12]</c> turns DTLS 1.3 off;
    /// <c>[Dtls13]</c> refuses DTLS 1.2 peers with protocol_version.
    /// </summary>
    public IReadOnlyList<ProtocolVersion> ProtocolVersions { get; init; } = [ProtocolVersion.Dtls13, ProtocolVersion.Dtls12];

    /// <summary>DTLS 1.3 cipher suites (RFC 8446 B.4), in preference order.</summary>
    public IReadOnlyList<CipherSuite> Dtls13CipherSuites { get; init; } =
        [CipherSuite.Tls13Aes128GcmSha256, CipherSuite.Tls13Aes256GcmSha384, CipherSuite.Tls13ChaCha20Poly1305Sha256];

    /// <summary>
    /// DTLS 1.3 key exchange groups, in preference order: the hybrid post-quantum X25519MLKEM768 first, then X25519, P-256 and
    /// P-384. A server picks the first of these the client sent a key share for, else asks for one with a HelloRetryRequest.
    /// </summary>
    public IReadOnlyList<NamedGroup> Dtls13Groups { get; init; } =
        [NamedGroup.X25519MlKem768, NamedGroup.X25519, NamedGroup.Secp256r1, NamedGroup.Secp384r1];

    /// <summary>
    /// Groups a client sends DTLS 1.3 key shares for in its first ClientHello (those also in <see cref="Dtls13Groups"/>; the
    /// first of <see cref="Dtls13Groups"/> when none is). The
    /// default, like both browsers, sends X25519MLKEM768 (1216 bytes) and X25519, so a server of either kind needs no
    /// HelloRetryRequest; the ClientHello then takes two datagrams at 1200 bytes.
    /// </summary>
    public IReadOnlyList<NamedGroup> Dtls13KeyShares { get; init; } = [NamedGroup.X25519MlKem768, NamedGroup.X25519];

    /// <summary>
    /// Bytes a <see cref="DtlsServerListener"/> may hold in all for ClientHellos that span datagrams (DTLS 1.3 hellos with a
    /// post-quantum key share take two), before any cookie verified, and for such hellos completed in the last 2 s (so that
    /// late copies of their fragments are known as copies and never complete the next hello from that address). Bounded
    /// and expiring after 2 s; completed hellos are evicted first, then the oldest hello still being assembled.
    /// </summary>
    public int MaxPendingClientHelloBytes { get; init; } = 256 * 1024;

    /// <summary>
    /// A DTLS 1.3 server whose most preferred group the client supports but sent no key share for asks for it with a
    /// HelloRetryRequest (one more round trip, e.g. to get post-quantum protection from a client that shared only X25519);
    /// false takes the best group the client sent a share for.
    /// </summary>
    public bool RetryForPreferredGroup { get; init; } = true;

    /// <summary>The groups a DTLS 1.3 client sends key shares for.</summary>
    internal IReadOnlyList<NamedGroup> EffectiveKeyShares
    {
        get
        {
            var shares = Dtls13KeyShares.Where(g => Dtls13Groups.Contains(g)).Distinct().ToList();
            return shares.Count > 0 ? shares : [Dtls13Groups[0]];
        }
    }

    internal bool AllowsDtls13 => ProtocolVersions.Contains(ProtocolVersion.Dtls13);

    internal bool AllowsDtls12 => ProtocolVersions.Contains(ProtocolVersion.Dtls12);

    /// <summary>Signature schemes accepted from the peer, in preference order.</summary>
    public IReadOnlyList<SignatureScheme> SignatureSchemes { get; init; } =
    [
        SignatureScheme.EcdsaSecp256r1Sha256,
        SignatureScheme.EcdsaSecp384r1Sha384,
        SignatureScheme.RsaPssRsaeSha256,
        SignatureScheme.RsaPssRsaeSha384,
        SignatureScheme.RsaPkcs1Sha256,
        SignatureScheme.RsaPkcs1Sha384,
    ];

    /// <summary>DTLS-SRTP profiles offered or accepted (RFC 5764), in preference order. Empty: no use_srtp extension.</summary>
    public IReadOnlyList<SrtpProtectionProfile> SrtpProfiles { get; init; } = [];

    /// <summary>Refuse peers without extended_master_secret (RFC 7627). Default true.</summary>
    public bool RequireExtendedMasterSecret { get; init; } = true;

    /// <summary>Server only: whether a client certificate is requested and required. Default <see cref="ClientCertificateMode.Require"/> (WebRTC).</summary>
    public ClientCertificateMode ClientCertificate { get; init; } = ClientCertificateMode.Require;

    /// <summary>
    /// When set, the peer's leaf certificate must match this fingerprint (from SDP); a mismatch is a fatal bad_certificate.
    /// It also makes a peer certificate mandatory: a server with <see cref="ClientCertificateMode.Request"/> then requires
    /// one, and an empty Certificate message fails the handshake. Must be sha-256 or stronger unless
    /// <see cref="AllowSha1Fingerprint"/> is set.
    /// </summary>
    public CertificateFingerprint? ExpectedPeerFingerprint { get; init; }

    /// <summary>
    /// Called with the peer's chain (after the fingerprint check, if any) before the handshake goes on; return false to
    /// refuse it with a bad_certificate alert. Runs on the caller's thread inside HandleDatagram; an exception counts as a refusal.
    /// A server calls it only when the client sent a certificate (with <see cref="ClientCertificateMode.Require"/> it must).
    /// </summary>
    public Func<DtlsPeerCertificate, bool>? PeerCertificateValidator { get; init; }

    /// <summary>
    /// Accept any peer certificate without a fingerprint or a validator: anyone on the path can then impersonate the peer.
    /// Off by default, and an endpoint with neither <see cref="ExpectedPeerFingerprint"/> nor <see cref="PeerCertificateValidator"/>
    /// refuses to start unless this is set (a server with <see cref="ClientCertificateMode.None"/> authenticates no client and needs
    /// neither). Meant for tests and for peers authenticated by other means.
    /// </summary>
    public bool AllowAnyPeerCertificate { get; init; }

    /// <summary>Accept a sha-1 <see cref="ExpectedPeerFingerprint"/> (RFC 8122 allows it; RFC 8827 6.5 asks for sha-256). Off by default.</summary>
    public bool AllowSha1Fingerprint { get; init; }

    /// <summary>
    /// Most HelloVerifyRequests with a new cookie a client follows in one handshake before it fails (a server or an on-path
    /// attacker that never accepts a cookie would otherwise keep it sending ClientHellos). Default 4.
    /// </summary>
    public int MaxHelloVerifyRequests { get; init; } = 4;

    /// <summary>
    /// Shortest interval between two flight resends caused by ICE path changes (<see cref="DtlsEndpoint.ResendFlight"/>); a
    /// change inside it moves the flight at the end of the interval instead. Such resends also count against
    /// <see cref="MaxTriggeredResends"/>. Null: the first retransmission timeout (2 x RTT when known, else 400 ms).
    /// </summary>
    public TimeSpan? MinPathChangeResendInterval { get; init; }

    /// <summary>True when a server built from these options requires a client certificate (explicitly, or because a fingerprint is expected).</summary>
    public bool RequiresClientCertificate => ClientCertificate == ClientCertificateMode.Require || ExpectedPeerFingerprint is not null;

    /// <summary>First retransmission timeout. Null: clamp(2 x <see cref="RttEstimate"/>, 50 ms, 3 s) when an RTT is known, else 400 ms.</summary>
    public TimeSpan? InitialRetransmitTimeout { get; init; }

    /// <summary>A round-trip time estimate from the caller (e.g. ICE), used for the first retransmission timeout.</summary>
    public TimeSpan? RttEstimate { get; init; }

    /// <summary>Cap of the doubling retransmission timeout. Default 6 s.</summary>
    public TimeSpan MaxRetransmitTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>Relative jitter applied to each retransmission timeout (0.1 = +-10 %), drawn from <see cref="Random"/>.</summary>
    public double RetransmitJitter { get; init; } = 0.1;

    /// <summary>The handshake fails with <see cref="DtlsFailureReason.Timeout"/> when not complete this long after it started. Default 30 s.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the sender of the final flight keeps it to answer a retransmitted peer flight (protected data from the
    /// peer ends it sooner). Null: the larger of 2 x <see cref="MaxRetransmitTimeout"/> and 60 s, because peers back off
    /// on their own timers (RFC 6347 4.2.4.1 allows a 60 s maximum; GnuTLS's fourth retransmission comes about 15 s in).
    /// Keeping it costs one small flight per connection; resends stay within <see cref="MaxTriggeredResends"/>.
    /// </summary>
    public TimeSpan? FinalFlightRetention { get; init; }

    /// <summary>The final-flight retention these options give.</summary>
    public TimeSpan EffectiveFinalFlightRetention =>
        FinalFlightRetention ?? (MaxRetransmitTimeout * 2 > TimeSpan.FromSeconds(60) ? MaxRetransmitTimeout * 2 : TimeSpan.FromSeconds(60));

    /// <summary>Most resends of one flight triggered by the peer (its retransmissions or a stalled partial flight), beyond timer expiries. Default 16.</summary>
    public int MaxTriggeredResends { get; init; } = 16;

    /// <summary>
    /// After a retransmission timeout, a flight of at most this many datagrams is sent twice (0: never, one timer expiry sends
    /// the flight once). Default 2. The second copy costs little (a peer that already has the flight answers the duplicate
    /// at most once per timeout interval, RFC 6347 4.2.4) and on lossy paths it is what keeps a single loss from costing a
    /// doubled timeout: with 0, the in-process sweep of docs/reliability.md connected 90.6 % instead of 98.6 % of DTLS 1.2
    /// handshakes at 40 % loss (96.6 % against 99.0 % in DTLS 1.3) for 1-11 % fewer bytes. Set 0 on paths that delay rather
    /// than lose (RTT above the first timeout), where every copy arrives.
    /// </summary>
    public int RedundantRetransmitMaxDatagrams { get; init; } = 2;

    /// <summary>Largest handshake message accepted (a certificate chain is the big one). Default 64 KiB.</summary>
    public int MaxHandshakeMessageSize { get; init; } = 64 * 1024;

    /// <summary>Handshake bytes buffered per connection for partial and future messages. Default 128 KiB.</summary>
    public int MaxBufferedHandshakeBytes { get; init; } = 128 * 1024;

    /// <summary>How many messages ahead of the next expected message_seq are buffered. Default 8.</summary>
    public int MaxFutureMessages { get; init; } = 8;

    /// <summary>Records of the next epoch held until its keys exist (Finished before ChangeCipherSpec). Default 16.</summary>
    public int MaxEarlyRecords { get; init; } = 16;

    /// <summary>Received application-data records not yet polled before further ones are dropped and counted. Default 256.</summary>
    public int MaxPendingEvents { get; init; } = 256;

    /// <summary>Server listener: how often the stateless cookie secret rotates. Default 60 s (cookies stay valid one to two intervals).</summary>
    public TimeSpan CookieRotationInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Randomness for hello randoms, cookie secrets and timer jitter. Default: cryptographic. Seed it only in tests.</summary>
    public RandomSource Random { get; init; } = RandomSource.Cryptographic;

    /// <summary>
    /// Superseded by <see cref="LoggerFactory"/> (which takes precedence when both are set): a single logger for the
    /// handshake timeline, drops and internal errors, kept working so existing code compiles. Secrets are never logged.
    /// </summary>
    [Obsolete("Use DtlsOptions.LoggerFactory: it takes precedence over Logger and logs each layer to its own category (docs/observability.md).")]
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public ILogger? Logger { get; init; }

    /// <summary>
    /// Logger factory: endpoints and listeners log to its <c>Airlift.Dtls</c> category (the handshake timeline at Debug,
    /// drops at Trace, internal errors), and the UDP drivers given these options to <c>Airlift.Net</c>. Every event has a
    /// stable EventId (docs/observability.md). Secrets are never logged. Null: no logging (or <see cref="Logger"/>).
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Meter factory for the <c>Airlift.Dtls</c> counters (handshakes, datagrams, drops, retransmissions); null records on a
    /// process-wide meter of that name. docs/observability.md lists the instruments.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>The <c>Airlift.Dtls</c> logger these options give, if any.</summary>
#pragma warning disable CS0618 // The legacy Logger keeps working as the fallback of LoggerFactory.
    internal ILogger? DtlsLogger => Airlift.Diagnostics.AirliftLoggers.Create(LoggerFactory, Airlift.Diagnostics.AirliftLogCategories.Dtls, Logger);
#pragma warning restore CS0618

    /// <summary>The <c>Airlift.Dtls</c> instruments these options record on.</summary>
    internal DtlsMetrics Metrics => DtlsMetrics.For(MeterFactory);

    /// <summary>The first retransmission timeout these options give.</summary>
    public TimeSpan EffectiveInitialRetransmitTimeout =>
        InitialRetransmitTimeout
        ?? (RttEstimate is { } rtt
            ? TimeSpan.FromTicks(Math.Clamp(2 * rtt.Ticks, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(3).Ticks))
            : TimeSpan.FromMilliseconds(400));

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first invalid setting, including the peer authentication rule for
    /// <paramref name="role"/>: an expected fingerprint, a validator, or an explicit <see cref="AllowAnyPeerCertificate"/>.
    /// </summary>
    public void Validate(DtlsRole role)
    {
        Validate();
        if (role == DtlsRole.Server && ClientCertificate == ClientCertificateMode.None && (ExpectedPeerFingerprint is not null || PeerCertificateValidator is not null))
        {
            throw new ArgumentException("ClientCertificate is None, so the client sends no certificate to check against ExpectedPeerFingerprint or PeerCertificateValidator; use Require.", nameof(ClientCertificate));
        }

        var authenticatesPeer = ExpectedPeerFingerprint is not null || PeerCertificateValidator is not null;
        var peerUnauthenticatedByDesign = role == DtlsRole.Server && ClientCertificate == ClientCertificateMode.None;
        if (!authenticatesPeer && !AllowAnyPeerCertificate && !peerUnauthenticatedByDesign)
        {
            throw new ArgumentException(
                $"The DTLS {role.ToString().ToLowerInvariant()} would accept any peer certificate: set ExpectedPeerFingerprint (from the remote SDP), "
                + "PeerCertificateValidator, or, knowing that anyone can then impersonate the peer, AllowAnyPeerCertificate = true.",
                nameof(ExpectedPeerFingerprint));
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting (role-independent checks; see <see cref="Validate(DtlsRole)"/>).</summary>
    public void Validate()
    {
        if (ExpectedPeerFingerprint is { } fingerprint && fingerprint.Algorithm is not ("sha-256" or "sha-384" or "sha-512")
            && !(fingerprint.Algorithm == "sha-1" && AllowSha1Fingerprint))
        {
            throw new ArgumentException(
                $"ExpectedPeerFingerprint uses {fingerprint.Algorithm}; use sha-256 or stronger (RFC 8827 6.5), or set AllowSha1Fingerprint for a legacy sha-1 peer.",
                nameof(ExpectedPeerFingerprint));
        }

        if (ProtocolVersions.Count == 0 || ProtocolVersions.Any(v => v != ProtocolVersion.Dtls12 && v != ProtocolVersion.Dtls13))
        {
            throw new ArgumentException("ProtocolVersions must name DTLS 1.3 (FEFC), DTLS 1.2 (FEFD) or both.", nameof(ProtocolVersions));
        }

        if (AllowsDtls13 && (Dtls13CipherSuites.Count == 0 || Dtls13Groups.Count == 0))
        {
            throw new ArgumentException("DTLS 1.3 needs at least one cipher suite and one group.", nameof(Dtls13Groups));
        }

        if (MaxHelloVerifyRequests < 1)
        {
            throw new ArgumentException("MaxHelloVerifyRequests must be at least 1.", nameof(MaxHelloVerifyRequests));
        }

        if (MinPathChangeResendInterval is { } interval && interval < TimeSpan.Zero)
        {
            throw new ArgumentException("MinPathChangeResendInterval must not be negative.", nameof(MinPathChangeResendInterval));
        }

        if (MaxDatagramSize < MinimumDatagramSize || MaxDatagramSize > 65507)
        {
            throw new ArgumentException($"MaxDatagramSize {MaxDatagramSize} is outside {MinimumDatagramSize}..65507: below {MinimumDatagramSize} bytes a handshake fragment no longer fits beside its headers.", nameof(MaxDatagramSize));
        }

        foreach (var size in DatagramSizeFallbacks)
        {
            if (size < MinimumDatagramSize)
            {
                throw new ArgumentException($"Datagram size fallback {size} is below the minimum {MinimumDatagramSize}.", nameof(DatagramSizeFallbacks));
            }
        }

        if (CipherSuites.Count == 0)
        {
            throw new ArgumentException("At least one cipher suite is required.", nameof(CipherSuites));
        }

        foreach (var suite in CipherSuites)
        {
            if (!Crypto.CipherSuiteInfo.TryGet(suite, out _))
            {
                throw new ArgumentException($"Cipher suite {suite} is not supported.", nameof(CipherSuites));
            }
        }

        if (Groups.Count == 0 || Groups.Any(g => !Crypto.KeyExchange.IsSupportedInDtls12(g)))
        {
            throw new ArgumentException(
                "Groups must be a non-empty list of DTLS 1.2 ECDHE groups (x25519, secp256r1, secp384r1); X25519MLKEM768 is DTLS 1.3 only and belongs in Dtls13Groups.",
                nameof(Groups));
        }

        if (SrtpProfiles.Any(p => p.KeyingMaterialLength == 0))
        {
            throw new ArgumentException("SrtpProfiles holds an unsupported profile.", nameof(SrtpProfiles));
        }

        if (MaxRetransmitTimeout <= TimeSpan.Zero || HandshakeTimeout <= TimeSpan.Zero || EffectiveInitialRetransmitTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("Timeouts must be positive.");
        }

        if (RetransmitJitter is < 0 or > 0.5)
        {
            throw new ArgumentException("RetransmitJitter must be within 0..0.5.", nameof(RetransmitJitter));
        }

        if (MaxHandshakeMessageSize < 1024 || MaxBufferedHandshakeBytes < MaxHandshakeMessageSize || MaxFutureMessages < 1 || MaxEarlyRecords < 0 || MaxPendingEvents < 1)
        {
            throw new ArgumentException("Handshake buffering limits are inconsistent: need MaxHandshakeMessageSize >= 1024, MaxBufferedHandshakeBytes >= MaxHandshakeMessageSize, MaxFutureMessages >= 1.");
        }
    }
}
