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
