using System.Net;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Tests.NetEm;
using static Airlift.Tests.Net.NetTestSupport;

namespace Airlift.Tests.Net;

/// <summary>
/// <see cref="DtlsUdpServer"/> on loopback with a hand-advanced clock: what a peer can make it keep is bounded (idle
/// timeout, per-address cap, event queue), events are race-free, a restarted client re-handshakes (RFC 6347 4.2.8),
/// disposing says close_notify, and the final flight is kept until the peer proved it finished.
/// </summary>
public sealed class DtlsUdpServerTests
{
    private static readonly IPEndPoint Any = new(IPAddress.Loopback, 0);

    private static TimeSpan Now(ManualTimeProvider clock) => TimeSpan.FromTicks(clock.GetTimestamp());

    [Fact]
    public async Task Connected_session_silent_for_the_idle_timeout_is_removed_without_close_notify()
    {
        var clock = new ManualTimeProvider();
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server()) { IdleTimeout = TimeSpan.FromSeconds(30) }, clock);
        using var client = new RawDtlsClient(server.LocalEndpoint, Client(), () => Now(clock));
        Assert.True(client.Connect(), client.Endpoint.Trace);
        client.Send("proof of finish"u8); // protected data ends the server's final-flight retention
        var (session, _) = await NextAsync<DtlsApplicationData>(server.Events);

        clock.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(100);
        Assert.Equal(1, server.SessionCount);
        Assert.Null(session.Removal);

        clock.Advance(TimeSpan.FromSeconds(2));
        var (_, removed) = await NextAsync<DtlsSessionRemoved>(server.Events, session);

        Assert.Equal(DtlsSessionRemovalReason.IdleTimeout, removed.Reason);
        Assert.Equal(0, server.SessionCount);
        Assert.Null(client.Receive(TimeSpan.FromMilliseconds(300))); // no close_notify
    }

    [Fact]
    public async Task Idle_timeout_never_removes_a_session_that_still_keeps_its_final_flight()
    {
        var clock = new ManualTimeProvider();
        var dtls = Server() with { FinalFlightRetention = TimeSpan.FromSeconds(60) };
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(dtls) { IdleTimeout = TimeSpan.FromSeconds(30) }, clock);
        using var client = new RawDtlsClient(server.LocalEndpoint, Client(), () => Now(clock));
        Assert.True(client.Connect(), client.Endpoint.Trace);
        var (session, _) = await NextAsync<DtlsConnected>(server.Events);

        // The peer said nothing after its Finished: it may not have our final flight yet.
        clock.Advance(TimeSpan.FromSeconds(45));
        await Task.Delay(100);
        Assert.Null(session.Removal);
        Assert.True(session.FinalFlightRetained);
        Assert.False(session.FinalFlightReleased.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(16)); // retention over; silent since t=0, so idle too
        var (_, removed) = await NextAsync<DtlsSessionRemoved>(server.Events, session);

        Assert.Equal(DtlsSessionRemovalReason.IdleTimeout, removed.Reason);
        Assert.True(session.FinalFlightReleased.IsCompleted);
    }

    [Fact]
    public async Task Sessions_per_remote_address_are_capped_and_another_address_still_gets_in()
    {
        var clock = new ManualTimeProvider();
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server()) { MaxSessionsPerAddress = 2 }, clock);
        using var a = new RawDtlsClient(server.LocalEndpoint, Client(10), () => Now(clock));
        using var b = new RawDtlsClient(server.LocalEndpoint, Client(11), () => Now(clock));
        using var c = new RawDtlsClient(server.LocalEndpoint, Client(12), () => Now(clock));
        using var other = new RawDtlsClient(server.LocalEndpoint, Client(13), () => Now(clock), IPAddress.Parse("127.0.0.2"));

        Assert.True(a.Connect(), a.Endpoint.Trace);
        Assert.True(b.Connect(), b.Endpoint.Trace);
        c.Flush();

        Assert.Null(c.Receive(TimeSpan.FromMilliseconds(300))); // not even a HelloVerifyRequest
        await WaitUntilAsync(() => server.DroppedAddressLimit >= 1);
        Assert.Equal(1, server.DroppedAddressLimit);
        Assert.True(other.Connect(), other.Endpoint.Trace);
        Assert.Equal(3, server.SessionCount);
    }

    [Fact]
    public async Task Unread_events_beyond_capacity_drop_application_data_and_hold_new_peers_but_never_lifecycle_events()
    {
        var clock = new ManualTimeProvider();
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server()) { EventQueueCapacity = 16 }, clock);
        using var client = new RawDtlsClient(server.LocalEndpoint, Client(), () => Now(clock));
        Assert.True(client.Connect(), client.Endpoint.Trace);

        for (var i = 0; i < 40; i++)
        {
            client.Send([(byte)i]);
        }

        // Queued before the data: the client's certificate and Connected (no SRTP): room for 14 records of the 40.
        await WaitUntilAsync(() => server.EventsDropped == 26);
        Assert.Equal(26, server.EventsDropped);
        Assert.Equal(16, server.Events.Count);

        using var late = new RawDtlsClient(server.LocalEndpoint, Client(20), () => Now(clock));
        late.Flush();
        Assert.Null(late.Receive(TimeSpan.FromMilliseconds(300)));
        await WaitUntilAsync(() => server.DroppedEventBacklog >= 1);
        Assert.Equal(1, server.DroppedEventBacklog);

        // Lifecycle events are never dropped: the peer's close_notify is still queued beyond the capacity.
        client.Endpoint.Close(Now(clock));
        client.Flush();
        await WaitUntilAsync(() => server.Events.Count == 18); // closed, then removed
        var seen = new List<DtlsEvent>();
        while (server.Events.TryRead(out var e))
        {
            seen.Add(e.Event);
        }

        Assert.IsType<DtlsPeerCertificate>(seen[0]);
        Assert.IsType<DtlsConnected>(seen[1]);
        Assert.Equal(Enumerable.Range(0, 14).Select(i => (byte)i), seen.OfType<DtlsApplicationData>().Select(d => d.Data.Single()));
        Assert.Equal(new DtlsClosed(ByPeer: true), seen[16]);
        Assert.Equal(new DtlsSessionRemoved(DtlsSessionRemovalReason.Finished), seen[17]);

        // Read: new peers are admitted again (the late client's retransmitted ClientHello gets in).
        clock.Advance(TimeSpan.FromSeconds(1));
        late.Endpoint.HandleTimeout(Now(clock));
        Assert.True(late.Connect(), late.Endpoint.Trace);
    }

    [Fact]
    public async Task Events_read_after_the_peer_closed_still_carry_the_connection_certificate_and_keying_material()
    {
        var clock = new ManualTimeProvider();
        var srtp = SrtpProtectionProfile.AeadAes128Gcm;
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server() with { SrtpProfiles = [srtp] }), clock);
        using var client = new RawDtlsClient(server.LocalEndpoint, Client() with { SrtpProfiles = [srtp] }, () => Now(clock));

        // The peer closes right after the handshake (openssl s_client </dev/null) and the consumer is slow.
        Assert.True(client.Connect(), client.Endpoint.Trace);
        client.Endpoint.Close(Now(clock));
        client.Flush();
        await WaitUntilAsync(() => server.Events.Count >= 5);

        var (session, connected) = await NextAsync<DtlsConnected>(server.Events);

        Assert.NotEqual(DtlsState.Connected, session.State);
        Assert.Same(connected, session.Connection);
        Assert.Equal(client.Endpoint.ExportKeyingMaterial("EXPORTER-test", null, 32), session.ExportKeyingMaterial("EXPORTER-test", null, 32));
        var clientKeys = client.Events.OfType<DtlsKeyingMaterial>().Single();
        Assert.Equal(clientKeys.Material, session.KeyingMaterial?.Material);
        Assert.Equal(TestCertificatesFingerprint(), session.PeerCertificate?.Sha256Fingerprint);
        var (_, removed) = await NextAsync<DtlsSessionRemoved>(server.Events, session);
        Assert.Equal(DtlsSessionRemovalReason.Finished, removed.Reason);
        Assert.Throws<InvalidOperationException>(() => session.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 16));
        Assert.Equal(clientKeys.Material, session.KeyingMaterial?.Material); // facts stay
    }

    [Fact]
    public async Task A_client_restarting_on_the_same_port_rehandshakes_after_a_cookie_and_an_unverified_hello_leaves_the_old_session_alone_rfc6347_4_2_8()
    {
        var clock = new ManualTimeProvider();
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server()), clock);
        using var client = new RawDtlsClient(server.LocalEndpoint, Client(), () => Now(clock));
        Assert.True(client.Connect(), client.Endpoint.Trace);
        var (old, _) = await NextAsync<DtlsConnected>(server.Events);

        // A ClientHello from the same address and port that never answers the HelloVerifyRequest (spoofed, or lost).
        var stray = DtlsEndpoint.CreateClient(Client(99), Now(clock));
        var hello = new byte[2048];
        var o = stray.PollOutput(hello);
        Assert.Equal(DtlsOutputKind.Datagram, o.Kind);
        client.Socket.SendTo(hello.AsSpan(0, o.DatagramLength), server.LocalEndpoint);
        Assert.NotNull(client.Receive(RawDtlsClient.ReceiveBound)); // the HelloVerifyRequest, statelessly
        client.Send("still here"u8);
        var (same, data) = await NextAsync<DtlsApplicationData>(server.Events);
        Assert.Same(old, same);
        Assert.Equal("still here"u8.ToArray(), data.Data);
        Assert.Null(old.Removal);

        // The process restarts on the same port: the new handshake passes the cookie exchange and replaces the session.
        client.Restart();
        Assert.True(client.Connect(), client.Endpoint.Trace);
        var (_, removed) = await NextAsync<DtlsSessionRemoved>(server.Events, old);
        var (fresh, _) = await NextAsync<DtlsConnected>(server.Events);

        Assert.Equal(DtlsSessionRemovalReason.Replaced, removed.Reason);
        Assert.NotSame(old, fresh);
        Assert.Equal(client.Local, fresh.Remote);
        Assert.Equal(DtlsState.Connected, client.Endpoint.State);
        Assert.Equal(1, server.SessionCount);
    }

    [Fact]
    public async Task Disposing_the_server_sends_close_notify_to_every_connected_peer()
    {
        var clock = new ManualTimeProvider();
        var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server()), clock);
        using var a = new RawDtlsClient(server.LocalEndpoint, Client(30), () => Now(clock));
        using var b = new RawDtlsClient(server.LocalEndpoint, Client(31), () => Now(clock));
        Assert.True(a.Connect(), a.Endpoint.Trace);
        Assert.True(b.Connect(), b.Endpoint.Trace);
        await NextAsync<DtlsConnected>(server.Events);
        await NextAsync<DtlsConnected>(server.Events);

        await server.DisposeAsync();

        foreach (var client in new[] { a, b })
        {
            Assert.True(client.RunUntil(c => c.Events.OfType<DtlsClosed>().Any()), client.Endpoint.Trace);
            Assert.Equal(new DtlsClosed(ByPeer: true), client.Events.OfType<DtlsClosed>().Single());
        }

        var removed = new List<DtlsSessionRemovalReason>();
        await foreach (var e in server.Events.ReadAllAsync())
        {
            if (e.Event is DtlsSessionRemoved r)
            {
                removed.Add(r.Reason);
            }
        }

        Assert.Equal([DtlsSessionRemovalReason.ServerStopped, DtlsSessionRemovalReason.ServerStopped], removed);
    }

    [Fact]
    public async Task Disposing_a_client_sends_close_notify_and_the_server_removes_its_session()
    {
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(Server()));
        var client = await DtlsUdpClient.ConnectAsync(server.LocalEndpoint, Client());
        var (session, _) = await NextAsync<DtlsConnected>(server.Events);

        await client.DisposeAsync();

        var (_, closed) = await NextAsync<DtlsClosed>(server.Events, session);
        Assert.True(closed.ByPeer);
        var (_, removed) = await NextAsync<DtlsSessionRemoved>(server.Events, session);
        Assert.Equal(DtlsSessionRemovalReason.Finished, removed.Reason);
        Assert.Throws<InvalidOperationException>(() => client.Session.Send("late"u8));
    }

    [Fact]
    public async Task Final_flight_is_released_only_when_the_peer_proves_it_finished_or_the_retention_ends()
    {
        var clock = new ManualTimeProvider();
        var dtls = Server() with { FinalFlightRetention = TimeSpan.FromSeconds(60) };
        await using var server = new DtlsUdpServer(Any, new DtlsUdpServerOptions(dtls) { IdleTimeout = Timeout.InfiniteTimeSpan }, clock);
        using var proving = new RawDtlsClient(server.LocalEndpoint, Client(40), () => Now(clock));
        using var silent = new RawDtlsClient(server.LocalEndpoint, Client(41), () => Now(clock));
        Assert.True(proving.Connect(), proving.Endpoint.Trace);
        var (first, _) = await NextAsync<DtlsConnected>(server.Events);
        Assert.True(silent.Connect(), silent.Endpoint.Trace);
        var (second, _) = await NextAsync<DtlsConnected>(server.Events);
        Assert.False(first.FinalFlightReleased.IsCompleted);
        Assert.False(second.FinalFlightReleased.IsCompleted);

        proving.Send("done"u8);
        await first.FinalFlightReleased.WaitAsync(Bound);
        clock.Advance(TimeSpan.FromSeconds(59));
        await Task.Delay(100);
        Assert.False(second.FinalFlightReleased.IsCompleted);
        Assert.True(second.FinalFlightRetained);

        clock.Advance(TimeSpan.FromSeconds(2));
        await second.FinalFlightReleased.WaitAsync(Bound);
        Assert.False(second.FinalFlightRetained);
        Assert.Equal(DtlsState.Connected, second.State);
    }

    private static CertificateFingerprint TestCertificatesFingerprint() => Airlift.Tests.Dtls.TestCertificates.EcdsaPeer.GetFingerprint();
}
