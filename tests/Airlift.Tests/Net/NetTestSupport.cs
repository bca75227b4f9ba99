using System.Threading.Channels;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Tests.Dtls;

namespace Airlift.Tests.Net;

/// <summary>Options and event helpers of the socket-driver tests.</summary>
internal static class NetTestSupport
{
    /// <summary>Bound of every wait for an event; a passing step takes milliseconds on loopback.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>Server endpoint options: the ECDSA test certificate, the client's certificate expected, seeded randomness.</summary>
    public static DtlsOptions Server(ulong seed = 1) => new(TestCertificates.Ecdsa)
    {
        ExpectedPeerFingerprint = TestCertificates.EcdsaPeer.GetFingerprint(),
        Random = RandomSource.Seeded(seed),
        ProtocolVersions = [ProtocolVersion.Dtls12], // DTLS 1.2 driver semantics (final-flight retention, legacy cookies); DTLS 1.3 over sockets: CliContractTests
    };

    /// <summary>Client endpoint options that expect the server's certificate.</summary>
    public static DtlsOptions Client(ulong seed = 2) => new(TestCertificates.EcdsaPeer)
    {
        ExpectedPeerFingerprint = TestCertificates.Ecdsa.GetFingerprint(),
        Random = RandomSource.Seeded(seed),
        ProtocolVersions = [ProtocolVersion.Dtls12],
    };

    /// <summary>The next event of <paramref name="session"/> (any session when null) of type <typeparamref name="T"/>; other events are skipped.</summary>
    public static async Task<(DtlsUdpSession Session, T Event)> NextAsync<T>(ChannelReader<DtlsSessionEvent> events, DtlsUdpSession? session = null)
        where T : DtlsEvent
    {
        using var cts = new CancellationTokenSource(Bound);
        while (true)
        {
            var e = await events.ReadAsync(cts.Token);
            if (e.Event is T t && (session is null || e.Session == session))
            {
                return (e.Session, t);
            }
        }
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds; the caller asserts it afterwards.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(20);
        }
    }
}
