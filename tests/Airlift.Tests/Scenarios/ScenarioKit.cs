using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;
using Airlift.Tests.Dtls;

namespace Airlift.Tests.Scenarios;

internal static class ScenarioKit
{
    public static DtlsOptions Client(ulong seed, DtlsCertificate? certificate = null) => new(certificate ?? TestCertificates.EcdsaPeer)
    {
        Random = RandomSource.Seeded(seed),
        SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
        AllowAnyPeerCertificate = true, // reliability scenarios, not authentication tests
        ProtocolVersions = [ProtocolVersion.Dtls12], // the DTLS 1.2 engine's behaviour (DTLS 1.3: tests/Airlift.Tests/Dtls/V13)
    };

    public static DtlsOptions Server(ulong seed, DtlsCertificate? certificate = null) => new(certificate ?? TestCertificates.RsaChain)
    {
        Random = RandomSource.Seeded(seed + 1_000_000),
        SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
        AllowAnyPeerCertificate = true, // reliability scenarios, not authentication tests
        ProtocolVersions = [ProtocolVersion.Dtls12], // the DTLS 1.2 engine's behaviour (DTLS 1.3: tests/Airlift.Tests/Dtls/V13)
    };

    public static NetEmOptions Both(LinkImpairment impairment, ulong seed) => new(impairment, impairment, [], seed);

    public static LinkImpairment Rtt100 => new() { Delay = TimeSpan.FromMilliseconds(50) };

    /// <summary>Asserts the invariant every run must keep: no datagram over the sender's configured maximum.</summary>
    public static void AssertWithinLimits(SimulationResult r, int clientMax, int serverMax)
    {
        Assert.True(r.ClientStats.LargestDatagramSent <= clientMax, $"client sent {r.ClientStats.LargestDatagramSent} > {clientMax}");
        Assert.True(r.ServerStats.LargestDatagramSent <= serverMax, $"server sent {r.ServerStats.LargestDatagramSent} > {serverMax}");
    }

    public static string Explain(SimulationResult r) =>
        $"connected={r.Connected} client={r.ClientState} {r.ClientFailure?.Message} server={r.ServerState} {r.ServerFailure?.Message}\n--- client\n{r.ClientTrace}\n--- server\n{r.ServerTrace}";
}

/// <summary>
/// The DTLS 1.3 variant of <see cref="ScenarioKit"/>: the same certificates, profiles and seeds, both sides offering only
/// DTLS 1.3 (RFC 9147), so every run either negotiates 1.3 or fails.
/// </summary>
internal static class ScenarioKit13
{
    public static DtlsOptions Client(ulong seed, DtlsCertificate? certificate = null) => ScenarioKit.Client(seed, certificate) with { ProtocolVersions = [ProtocolVersion.Dtls13] };

    public static DtlsOptions Server(ulong seed, DtlsCertificate? certificate = null) => ScenarioKit.Server(seed, certificate) with { ProtocolVersions = [ProtocolVersion.Dtls13] };

    public static LinkImpairment Rtt100 => ScenarioKit.Rtt100;

    public static NetEmOptions Both(LinkImpairment impairment, ulong seed) => ScenarioKit.Both(impairment, seed);

    public static void AssertWithinLimits(SimulationResult r, int clientMax, int serverMax) => ScenarioKit.AssertWithinLimits(r, clientMax, serverMax);

    public static string Explain(SimulationResult r) => ScenarioKit.Explain(r);

    /// <summary>Runs one handshake, and keeps running after the connect until the client's final flight is acknowledged (or the deadline).</summary>
    public static SimulationResult Run(SimulationOptions options) => HandshakeSimulation.Run(options with { SettleAfterConnect = true });

    /// <summary>Both sides negotiated DTLS 1.3, and the server acknowledged the client's final flight (RFC 9147 7).</summary>
    public static void AssertConnected13(SimulationResult r)
    {
        Assert.True(r.Connected, ScenarioKit.Explain(r));
        Assert.Equal(ProtocolVersion.Dtls13, r.ClientVersion);
        Assert.Equal(ProtocolVersion.Dtls13, r.ServerVersion);
        Assert.True(r.SettledAt is not null && !r.ClientFinalFlightRetained, $"the client's final flight was never acknowledged\n{ScenarioKit.Explain(r)}");
    }
}
