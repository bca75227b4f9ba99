using Airlift.Dtls;

namespace Airlift.Tests.Dtls;

/// <summary>
/// The application-data record path without allocation (issue #13): sealed straight into the caller's buffer
/// (<see cref="DtlsEndpoint.TrySealApplicationData"/>) and received as a length in the caller's buffer
/// (<see cref="DtlsEndpoint.HandleDatagramInto"/>); statuses, not exceptions, for a small buffer.
/// </summary>
public class ZeroAllocationRecordTests
{
    public static TheoryData<int> Versions => new() { 12, 13 };

    private static DtlsPair Connected(int version)
    {
        var versions = version == 13 ? new[] { ProtocolVersion.Dtls13 } : new[] { ProtocolVersion.Dtls12 };
        var client = DtlsHandshakeTests.Options(TestCertificates.Ecdsa, 1301) with { ProtocolVersions = versions };
        var server = DtlsHandshakeTests.Options(TestCertificates.EcdsaPeer, 1302) with { ProtocolVersions = versions };
        var pair = new DtlsPair(client, server);
        pair.Drive(p => p.BothConnected, maxSteps: 1000);
        Assert.True(pair.BothConnected);
        pair.Drive(maxSteps: 1000); // let the last flight and ACKs settle
        return pair;
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void An_echoed_1000_byte_record_allocates_nothing_either_way(int version)
    {
        var pair = Connected(version);
        var payload = new byte[1000];
        new Random(13).NextBytes(payload);
        var datagram = new byte[1500];
        var received = new byte[1500];

        // Plain checks inside the measured loop: xunit's Assert.Equal allocates on its own.
        var failures = 0;
        void Echo()
        {
            failures += pair.Client.TrySealApplicationData(payload, datagram, out var length) == DtlsSealStatus.Sealed ? 0 : 1;
            var atServer = pair.Server.HandleDatagramInto(pair.Now, datagram.AsSpan(0, length), received);
            failures += atServer.Status == DtlsReceiveStatus.Received && atServer.Length == payload.Length ? 0 : 1;
            failures += pair.Server.TrySealApplicationData(received.AsSpan(0, atServer.Length), datagram, out length) == DtlsSealStatus.Sealed ? 0 : 1;
            failures += pair.Client.HandleDatagramInto(pair.Now, datagram.AsSpan(0, length), received).Status == DtlsReceiveStatus.Received ? 0 : 1;
        }

        for (var i = 0; i < 20; i++)
        {
            Echo(); // warm-up: JIT, first-use caches
        }

        Assert.True(payload.AsSpan().SequenceEqual(received.AsSpan(0, payload.Length)));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++)
        {
            Echo();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, failures);
        Assert.Equal(0, allocated);
        Assert.True(pair.Server.Stats.DatagramsSent > 200);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void A_small_buffer_is_a_status_with_the_size_needed_and_the_data_is_not_lost(int version)
    {
        var pair = Connected(version);
        var payload = new byte[300];
        var datagram = new byte[1500];

        Assert.Equal(DtlsSealStatus.BufferTooSmall, pair.Client.TrySealApplicationData(payload, datagram.AsSpan(0, 100), out var needed));
        Assert.True(needed > payload.Length);
        Assert.Equal(DtlsSealStatus.Sealed, pair.Client.TrySealApplicationData(payload, datagram.AsSpan(0, needed), out var length));
        Assert.Equal(needed, length);
        Assert.Equal(DtlsSealStatus.TooLarge, pair.Client.TrySealApplicationData(new byte[pair.Client.MaxApplicationDataSize + 1], datagram, out _));

        var small = new byte[100];
        var result = pair.Server.HandleDatagramInto(pair.Now, datagram.AsSpan(0, length), small);
        Assert.Equal(new DtlsReceiveResult(DtlsReceiveStatus.BufferTooSmall, payload.Length), result);
        var buffer = new byte[65535];
        var output = pair.Server.PollOutput(buffer);
        Assert.Equal(DtlsOutputKind.Event, output.Kind);
        Assert.Equal(payload, Assert.IsType<DtlsApplicationData>(output.Event).Data);
    }

    [Fact]
    public void Sealing_before_the_handshake_is_not_connected_not_an_exception()
    {
        var client = DtlsEndpoint.CreateClient(DtlsHandshakeTests.Options(TestCertificates.Ecdsa, 7), TimeSpan.FromSeconds(1));
        Assert.Equal(DtlsSealStatus.NotConnected, client.TrySealApplicationData([1, 2, 3], new byte[100], out _));
        Assert.Equal(new DtlsReceiveResult(DtlsReceiveStatus.None, 0), client.HandleDatagramInto(TimeSpan.FromSeconds(1), [22, 254, 253], new byte[100]));
    }
}
