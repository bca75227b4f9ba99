using Airlift.Diagnostics;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Microsoft.Extensions.Logging;

namespace Airlift.Transport;

/// <summary>
/// Configuration of a <see cref="WebRtcTransport"/>: the DTLS options, what signaling said about the peer (its
/// <c>a=setup</c>, <c>a=ice-ufrag</c>/<c>a=ice-pwd</c> and <c>a=fingerprint</c>), consent timing and queue limits.
/// Immutable; validated when the transport is created.
/// </summary>
public sealed record WebRtcTransportOptions
{
    /// <summary>Creates options.</summary>
    /// <param name="dtls">DTLS options (certificate, SRTP profiles, limits, randomness).</param>
    /// <param name="remoteSetup">The peer's <c>a=setup</c> value; it decides our DTLS role (see <see cref="WebRtcTransport.ResolveDtlsRole"/>).</param>
    /// <param name="remoteFingerprint">The peer's certificate fingerprint from <c>a=fingerprint</c>; the DTLS handshake fails with bad_certificate on a mismatch.</param>
    public WebRtcTransportOptions(DtlsOptions dtls, SdpSetupRole remoteSetup, CertificateFingerprint remoteFingerprint)
    {
        Dtls = dtls ?? throw new ArgumentNullException(nameof(dtls));
        RemoteSetup = remoteSetup;
        RemoteFingerprint = remoteFingerprint ?? throw new ArgumentNullException(nameof(remoteFingerprint));
    }

    /// <summary>DTLS options. <see cref="DtlsOptions.ExpectedPeerFingerprint"/> is replaced by <see cref="RemoteFingerprint"/>;
    /// <see cref="DtlsOptions.Random"/> also makes the local ICE ufrag and password.</summary>
    public DtlsOptions Dtls { get; init; }

    /// <summary>The peer's <c>a=setup</c> (RFC 8842 5).</summary>
    public SdpSetupRole RemoteSetup { get; init; }

    /// <summary>Our DTLS role when the peer offered <c>actpass</c> and we answer. Default <see cref="DtlsRole.Server"/>
    /// (answer <c>a=setup:passive</c>): an ICE-lite server then never sends a DTLS byte before the peer, which has already
    /// nominated a pair, speaks. <see cref="DtlsRole.Client"/> answers <c>active</c>, as JSEP recommends for full agents.</summary>
    public DtlsRole ActPassAnswerRole { get; init; } = DtlsRole.Server;

    /// <summary>The peer's certificate fingerprint from signaling.</summary>
    public CertificateFingerprint RemoteFingerprint { get; init; }

    /// <summary>The peer's <c>a=ice-ufrag</c>; when null, any remote ufrag is accepted until <see cref="WebRtcTransport.SetRemoteIceCredentials"/>.</summary>
    public string? RemoteUfrag { get; init; }

    /// <summary>The peer's <c>a=ice-pwd</c>.</summary>
    public string? RemotePassword { get; init; }

    /// <summary>Local ICE ufrag instead of a generated one (e.g. to route a shared port by ufrag).</summary>
    public string? LocalUfrag { get; init; }

    /// <summary>Local ICE password instead of a generated one.</summary>
    public string? LocalPassword { get; init; }

    /// <summary>A tuple without a valid connectivity check for this long loses consent (RFC 7675 5.1: 30 s).</summary>
    public TimeSpan ConsentTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long ICE stays disconnected (no tuple with consent) before the transport fails. Default 10 s.</summary>
    public TimeSpan FailureGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most tuples ICE tracks at once. Default 16.</summary>
    public int MaxTuples { get; init; } = 16;

    /// <summary>Outputs (ICE responses, media sends, events) queued for <see cref="WebRtcTransport.PollOutput"/>; beyond it new
    /// ones are dropped and counted in <see cref="WebRtcTransportStats.QueueOverflowDrops"/>. Default 1024.</summary>
    public int MaxQueuedOutputs { get; init; } = 1024;

    /// <summary>Largest RTP/RTCP packet <see cref="WebRtcTransport.SendMedia"/> accepts. Default 1500.</summary>
    public int MaxMediaPacketSize { get; init; } = 1500;

    /// <summary>Resend the pending DTLS flight at once when the selected tuple changes during the handshake (field failure F3).
    /// Default true. False only to reproduce the field failure in a lab: the flight then waits for its backoff timer.</summary>
    public bool ResendFlightOnTupleChange { get; init; } = true;

    /// <summary>
    /// Superseded by <see cref="LoggerFactory"/> (which takes precedence when both are set): a single logger for state and
    /// tuple changes, kept working so existing code compiles. Secrets are never logged.
    /// </summary>
    [Obsolete("Use WebRtcTransportOptions.LoggerFactory: it takes precedence over Logger and logs each layer to its own category (docs/observability.md).")]
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public ILogger? Logger { get; init; }

    /// <summary>
    /// Logger factory: the transport logs to its <c>Airlift.Transport</c> category, its ICE-lite agent to <c>Airlift.Ice</c> and,
    /// unless <see cref="DtlsOptions.LoggerFactory"/> of <see cref="Dtls"/> is set, its DTLS endpoint to <c>Airlift.Dtls</c>
    /// (the handshake timeline). Every event has a stable EventId (docs/observability.md). Secrets are never logged.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Meter factory for the <c>Airlift.Transport</c> counters and, unless <see cref="DtlsOptions.MeterFactory"/> of <see cref="Dtls"/>
    /// is set, the DTLS endpoint's <c>Airlift.Dtls</c> counters. Null records on process-wide meters of those names.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        (Dtls with { ExpectedPeerFingerprint = RemoteFingerprint }).Validate();
        if (RemoteSetup == SdpSetupRole.HoldConn)
        {
            throw new ArgumentException("a=setup:holdconn has no DTLS role; WebRTC never uses it (RFC 8842 5).", nameof(RemoteSetup));
        }

        if ((RemoteUfrag is null) != (RemotePassword is null))
        {
            throw new ArgumentException("RemoteUfrag and RemotePassword come together from signaling.", nameof(RemoteUfrag));
        }

        if (ConsentTimeout <= TimeSpan.Zero || FailureGracePeriod < TimeSpan.Zero)
        {
            throw new ArgumentException("ConsentTimeout must be positive and FailureGracePeriod not negative.", nameof(ConsentTimeout));
        }

        if (MaxTuples < 2 || MaxQueuedOutputs < 16 || MaxMediaPacketSize is < 12 or > 65507)
        {
            throw new ArgumentException("Limits out of range: MaxTuples >= 2, MaxQueuedOutputs >= 16, MaxMediaPacketSize 12..65507.");
        }
    }

    internal IceLiteAgentOptions ToIceOptions() => new()
    {
        FillRandom = Dtls.Random.Fill,
        LocalUfrag = LocalUfrag,
        LocalPassword = LocalPassword,
        ConsentTimeout = ConsentTimeout,
        FailureGracePeriod = FailureGracePeriod,
        MaxTuples = MaxTuples,
#pragma warning disable CS0618 // The legacy Logger keeps working as the fallback of LoggerFactory.
        Logger = Logger,
#pragma warning restore CS0618
        LoggerFactory = LoggerFactory,
    };
}
