using Airlift.Dtls;

namespace Airlift.Tests.Dtls;

/// <summary>
/// DTLS 1.3 frees its handshake-only state once the peer can no longer need it (issue #13, memory per idle endpoint): the
/// client when the server acknowledged its final flight, the server when its retention of the epoch-2 keys ends. A stale
/// epoch-2 record after that is a counted drop; the connection stays up and data still flows.
/// </summary>
public class Dtls13HandshakeReleaseTests
{
    private static DtlsOptions Options(DtlsCertificate certificate, ulong seed) => new(certificate)
    {
        Random = RandomSource.Seeded(seed),
        AllowAnyPeerCertificate = true,
        ProtocolVersions = [ProtocolVersion.Dtls13],
    };

    // A protected DTLS 1.3 record starts with the unified header 001CSLEE; EE = low two bits of the epoch.
    private static bool IsEpoch2Record(byte[] datagram) => datagram.Length > 0 && (datagram[0] & 0xE0) == 0x20 && (datagram[0] & 0x03) == 2;

    [Fact]
    public void Late_epoch2_records_after_the_release_are_counted_drops_and_data_still_flows()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 51), Options(TestCertificates.Ecdsa, 52));
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);

        // The client released on the server's ACK of its final flight; the server keeps its epoch-2 keys for the retention.
        Assert.Contains("handshake state released", pair.Client.Trace, StringComparison.Ordinal);
        Assert.DoesNotContain("handshake state released", pair.Server.Trace, StringComparison.Ordinal);
        var later = pair.Now + new DtlsOptions(TestCertificates.Ecdsa).EffectiveFinalFlightRetention + TimeSpan.FromSeconds(1);
        pair.Server.HandleTimeout(later);
        pair.Client.HandleTimeout(later);
        pair.Drain();
        Assert.Contains("handshake state released", pair.Server.Trace, StringComparison.Ordinal);

        // Stale epoch-2 datagrams both ways (the client's final flight, the server's encrypted handshake messages).
        var toServer = pair.Wire.Where(d => d.ToServer && IsEpoch2Record(d.Data)).Select(d => d.Data).ToList();
        var toClient = pair.Wire.Where(d => !d.ToServer && IsEpoch2Record(d.Data)).Select(d => d.Data).ToList();
        Assert.NotEmpty(toServer);
        Assert.NotEmpty(toClient);
        var serverDropsBefore = pair.Server.Stats.DroppedEpoch;
        var clientDropsBefore = pair.Client.Stats.DroppedEpoch;
        foreach (var datagram in toServer)
        {
            pair.Server.HandleDatagram(later, datagram);
        }

        foreach (var datagram in toClient)
        {
            pair.Client.HandleDatagram(later, datagram);
        }

        // At least one drop per datagram (a datagram may carry several records, each dropped and counted).
        var serverDrops = pair.Server.Stats.DroppedEpoch - serverDropsBefore;
        var clientDrops = pair.Client.Stats.DroppedEpoch - clientDropsBefore;
        Assert.True(serverDrops >= toServer.Count, $"server counted {serverDrops} unknown-epoch drops for {toServer.Count} stale datagrams");
        Assert.True(clientDrops >= toClient.Count, $"client counted {clientDrops} unknown-epoch drops for {toClient.Count} stale datagrams\n{pair.Client.Trace}");
        Assert.Equal(DtlsState.Connected, pair.Server.State);
        Assert.Equal(DtlsState.Connected, pair.Client.State);

        // Data still flows both ways in epoch 3.
        var wireBefore = pair.Wire.Count;
        pair.Client.Send("ping"u8);
        pair.Server.Send("pong"u8);
        pair.Drain();
        foreach (var (toServerSide, data) in pair.Wire.Skip(wireBefore).ToList())
        {
            (toServerSide ? pair.Server : pair.Client).HandleDatagram(later, data);
        }

        pair.Drain();
        Assert.Contains(pair.ServerEvents, e => e is DtlsApplicationData { Data: var d } && d.AsSpan().SequenceEqual("ping"u8));
        Assert.Contains(pair.ClientEvents, e => e is DtlsApplicationData { Data: var d } && d.AsSpan().SequenceEqual("pong"u8));
    }
}
