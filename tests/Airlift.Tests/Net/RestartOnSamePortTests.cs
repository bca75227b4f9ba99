using System.Net;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Tests.Dtls;
using Airlift.Tests.NetEm;
using static Airlift.Tests.Net.NetTestSupport;

namespace Airlift.Tests.Net;

/// <summary>
/// RFC 6347 4.2.8 with the shipped version defaults (DTLS 1.3 preferred, X25519MLKEM768 first): the hellos that matter
/// span two datagrams (1.4 KB with the hybrid key share), so neither the session's own random nor a restarted client's
/// new hello can be read from one datagram. Found by the issue #10/#11 audit: with the hybrid share the restarted client
/// got no answer at all until the old session's 30 s idle timeout.
/// </summary>
public sealed class RestartOnSamePortTests
{
    private static TimeSpan Now(ManualTimeProvider clock) => TimeSpan.FromTicks(clock.GetTimestamp());

    private static DtlsOptions ServerOptions(bool hybrid)
    {
        var o = new DtlsOptions(TestCertificates.Ecdsa) { ExpectedPeerFingerprint = TestCertificates.EcdsaPeer.GetFingerprint(), Random = RandomSource.Seeded(1) };
        return hybrid ? o : o with { Dtls13Groups = [NamedGroup.X25519] };
    }

    private static DtlsOptions ClientOptions(bool hybrid, ulong seed = 2)
    {
        var o = new DtlsOptions(TestCertificates.EcdsaPeer) { ExpectedPeerFingerprint = TestCertificates.Ecdsa.GetFingerprint(), Random = RandomSource.Seeded(seed) };
        return hybrid ? o : o with { Dtls13KeyShares = [NamedGroup.X25519] };
    }

    [Theory]
    [InlineData(true)] // two-datagram hellos
    [InlineData(false)] // one-datagram hellos
    public async Task A_dtls13_client_restarting_on_the_same_port_replaces_its_old_session(bool hybrid)
    {
        var clock = new ManualTimeProvider();
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), new DtlsUdpServerOptions(ServerOptions(hybrid)), clock);
        using var client = new RawDtlsClient(server.LocalEndpoint, ClientOptions(hybrid), () => Now(clock));
        Assert.True(client.Connect(), client.Endpoint.Trace);
        var (old, connected) = await NextAsync<DtlsConnected>(server.Events);
        Assert.Equal(ProtocolVersion.Dtls13, connected.Version);

        client.Restart();
        Assert.True(client.Connect(), $"the restarted client got no handshake (listener: {server.Listener.Stats.HelloRetryRequestsSent} HRR, {server.Listener.Stats.Accepted} accepted)\n{client.Endpoint.Trace}");
        var (_, removed) = await NextAsync<DtlsSessionRemoved>(server.Events, old);
        var (fresh, again) = await NextAsync<DtlsConnected>(server.Events);

        Assert.Equal(DtlsSessionRemovalReason.Replaced, removed.Reason);
        Assert.Equal(ProtocolVersion.Dtls13, again.Version);
        Assert.NotSame(old, fresh);
        Assert.Equal(client.Local, fresh.Remote);
        Assert.Equal(1, server.SessionCount);

        // The new session holds the random of the hello it was accepted on: its own client's data reaches it, and a
        // third restart is told apart again.
        client.Send("after the restart"u8);
        var (same, data) = await NextAsync<DtlsApplicationData>(server.Events, fresh);
        Assert.Equal("after the restart"u8.ToArray(), data.Data);
        Assert.Same(fresh, same);
        client.Restart();
        Assert.True(client.Connect(), client.Endpoint.Trace);
        var (_, removedAgain) = await NextAsync<DtlsSessionRemoved>(server.Events, fresh);
        Assert.Equal(DtlsSessionRemovalReason.Replaced, removedAgain.Reason);
    }
}
