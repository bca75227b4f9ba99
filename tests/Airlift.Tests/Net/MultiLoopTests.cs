using System.Net;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Ice.Stun;
using Airlift.Net;
using Airlift.Tests.NetEm;
using Airlift.Tests.Transport;
using static Airlift.Tests.Net.NetTestSupport;

namespace Airlift.Tests.Net;

/// <summary>
/// All cores (issue #13): one <see cref="DtlsUdpServer"/> / <see cref="TransportHost"/> runs several receive loops over
/// SO_REUSEPORT sockets of one port; every peer still reaches its session, the caps and the cookie secret are global, and
/// an ICE tuple change that lands on another loop still reaches its WebRTC session (routing by ufrag, then by tuple).
/// </summary>
public sealed class MultiLoopTests
{
    private static readonly IPEndPoint Any = new(IPAddress.Loopback, 0);

    private static TimeSpan Now(ManualTimeProvider clock) => TimeSpan.FromTicks(clock.GetTimestamp());

    [Fact]
    public async Task Two_receive_loops_on_one_port_connect_every_peer_and_count_every_session_once()
    {
        var clock = new ManualTimeProvider();
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server()) { ReceiveLoops = 2 }, clock);
        Assert.Equal(OperatingSystem.IsLinux() ? 2 : 1, server.ReceiveLoops);
        var clients = new List<RawDtlsClient>();
        try
        {
            for (var i = 0; i < 12; i++)
            {
                var client = new RawDtlsClient(server.LocalEndpoint, Client((ulong)(100 + i)), () => Now(clock));
                clients.Add(client);
                Assert.True(client.Connect(), client.Endpoint.Trace);
            }

            await WaitUntilAsync(() => server.SessionCount == 12);
            Assert.Equal(12, server.SessionCount);
            Assert.Equal(12, server.SessionsPerLoop.Sum());

            // Application data from every peer reaches its own session, whichever loop the kernel picked for it.
            foreach (var client in clients)
            {
                client.Send(client.Local.Port.ToString(System.Globalization.CultureInfo.InvariantCulture).Select(c => (byte)c).ToArray());
            }

            var seen = new HashSet<int>();
            while (seen.Count < 12)
            {
                var (session, data) = await NextAsync<DtlsApplicationData>(server.Events);
                Assert.Equal(session.Remote.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Text.Encoding.ASCII.GetString(data.Data));
                seen.Add(session.Remote.Port);
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task MaxSessions_is_global_across_receive_loops_not_per_loop()
    {
        var clock = new ManualTimeProvider();
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server()) { ReceiveLoops = 2, MaxSessions = 3 }, clock);
        var clients = Enumerable.Range(0, 6).Select(i => new RawDtlsClient(server.LocalEndpoint, Client((ulong)(200 + i)), () => Now(clock))).ToList();
        try
        {
            var connected = 0;
            foreach (var client in clients)
            {
                if (connected < 3)
                {
                    Assert.True(client.Connect(), client.Endpoint.Trace);
                    connected++;
                }
                else
                {
                    client.Flush();
                    Assert.Null(client.Receive(TimeSpan.FromMilliseconds(200))); // not even a HelloVerifyRequest
                }
            }

            await WaitUntilAsync(() => server.DroppedSessionLimit >= 3);
            Assert.Equal(3, server.SessionCount);
            Assert.Equal(3, server.DroppedSessionLimit);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public void A_cookie_issued_by_one_loop_verifies_in_another_loop_of_the_same_server()
    {
        var options = Server() with { ProtocolVersions = [ProtocolVersion.Dtls12] };
        var first = new DtlsServerListener(options);
        var second = new DtlsServerListener(first, options);
        var remote = new IPEndPoint(IPAddress.Loopback, 40000);
        var client = DtlsEndpoint.CreateClient(Client() with { ProtocolVersions = [ProtocolVersion.Dtls12] }, TimeSpan.Zero);
        var buffer = new byte[2048];
        var response = new byte[2048];

        var hello = Poll(client, buffer);
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, first.HandleDatagram(TimeSpan.Zero, remote, hello, response, out var length, out _));
        client.HandleDatagram(TimeSpan.Zero, response.AsSpan(0, length));
        var withCookie = Poll(client, buffer);

        Assert.Equal(DtlsListenerDecision.Accepted, second.HandleDatagram(TimeSpan.Zero, remote, withCookie, response, out _, out var endpoint));
        Assert.NotNull(endpoint);
        Assert.Equal(1, first.Stats.Accepted); // one set of counters for the server
        Assert.Equal(1, first.Stats.HelloVerifyRequestsSent);
        endpoint!.Dispose();
        client.Dispose();

        static byte[] Poll(DtlsEndpoint endpoint, byte[] buffer)
        {
            var output = endpoint.PollOutput(buffer);
            Assert.Equal(DtlsOutputKind.Datagram, output.Kind);
            return buffer.AsSpan(0, output.DatagramLength).ToArray();
        }
    }

    [Fact]
    public async Task An_ice_tuple_change_that_lands_on_another_loop_still_reaches_its_session_Rfc8445_7_3()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // one loop elsewhere: nothing to route between
        }

        await using var host = new TransportHost(new TransportHostOptions { UdpListen = [Any], ReceiveLoops = 2 });
        Assert.Equal(2, host.ReceiveLoops);
        var session = host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 606));
        var owner = host.LoopIndexOf(session);
        var other = 1 - owner;
        using var first = new UdpPeerLink(host.UdpEndpoints[0]);
        using var moved = new UdpPeerLink(host.UdpEndpoints[0]);
        var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, session.LocalUfrag, session.LocalPassword);

        // The first path's check arrives on the loop that owns the session; the next path's (a new remote address, which the
        // kernel may hash to any socket) arrives on the other loop. Delivered straight into each loop, so the test does not
        // depend on the kernel's hash.
        host.DeliverToLoop(owner, first.LocalEndpoint, ice.BuildCheck(useCandidate: true));
        AssertSuccessResponse(first.Receive(TimeSpan.FromSeconds(5)));
        Assert.Equal(first.LocalEndpoint, session.SelectedTuple?.Remote);

        host.DeliverToLoop(other, moved.LocalEndpoint, ice.BuildCheck(useCandidate: true));
        AssertSuccessResponse(moved.Receive(TimeSpan.FromSeconds(5)));
        Assert.Equal(moved.LocalEndpoint, session.SelectedTuple?.Remote);

        // Once answered, the new tuple routes straight to the session from any loop (the shared tuple table).
        host.DeliverToLoop(other, moved.LocalEndpoint, ice.BuildCheck(useCandidate: false));
        AssertSuccessResponse(moved.Receive(TimeSpan.FromSeconds(5)));
        Assert.Equal(3, session.IceStats.ChecksAnswered);
        Assert.Equal(0, host.Stats.UnroutedDropped);
        Assert.Equal(owner, host.LoopIndexOf(session)); // the session stays in its loop; only its datagrams travel
        await Task.CompletedTask;
    }

    private static void AssertSuccessResponse(byte[]? datagram)
    {
        Assert.NotNull(datagram);
        Assert.True(StunMessage.TryDecode(datagram, out var message, out _));
        Assert.Equal(StunMessageType.BindingSuccess, message!.Type);
    }
}
