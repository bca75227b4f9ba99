using System.Net;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls;

/// <summary>
/// RFC 6347 4.2.8 from the client's side: a client restarted on the same address and port can receive the flight of the
/// server's previous, half-open session for that address. Arriving before the HelloVerifyRequest, its messages (ServerHello
/// message_seq 1, ...) were buffered as future messages and taken as the answer to the hello with the cookie: the
/// handshake then failed with VerificationFailed (the ServerKeyExchange was signed over the previous client's random).
/// Seen in `airlift soak --reuse-ports` (docs/reliability.md).
/// </summary>
public sealed class StaleFlightAfterRestartTests
{
    private static readonly IPEndPoint Address = new(IPAddress.Loopback, 40000);

    private static DtlsOptions Server() => new(TestCertificates.Ecdsa)
    {
        ExpectedPeerFingerprint = TestCertificates.EcdsaPeer.GetFingerprint(),
        Random = RandomSource.Seeded(1),
        ProtocolVersions = [ProtocolVersion.Dtls12],
    };

    private static DtlsOptions Client(ulong seed) => new(TestCertificates.EcdsaPeer)
    {
        ExpectedPeerFingerprint = TestCertificates.Ecdsa.GetFingerprint(),
        Random = RandomSource.Seeded(seed),
        ProtocolVersions = [ProtocolVersion.Dtls12],
    };

    [Fact]
    public void A_restarted_client_ignores_the_previous_sessions_flight_that_arrived_before_its_HelloVerifyRequest()
    {
        var now = TimeSpan.Zero;
        var listener = new DtlsServerListener(Server());

        // The previous client on this address: through the cookie exchange; the server's session sends its flight 4, which
        // the previous client (gone) never reads.
        var previous = DtlsEndpoint.CreateClient(Client(2), now);
        var stale = new List<byte[]>();
        var old = Accept(listener, previous, now);
        stale.AddRange(Drain(old));
        Assert.NotEmpty(stale);

        // The restarted client on the same address: its first hello, then the old session's flight arrives before the
        // HelloVerifyRequest does.
        var restarted = DtlsEndpoint.CreateClient(Client(3), now);
        var hello = Assert.Single(Drain(restarted));
        var response = new byte[2048];
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(now, Address, hello, response, out var length, out _));
        foreach (var datagram in stale)
        {
            restarted.HandleDatagram(now, datagram);
        }

        restarted.HandleDatagram(now, response.AsSpan(0, length));
        var withCookie = Drain(restarted);
        Assert.NotEmpty(withCookie);
        Assert.Equal(DtlsState.Connecting, restarted.State);

        DtlsEndpoint? fresh = null;
        foreach (var datagram in withCookie)
        {
            if (listener.HandleDatagram(now, Address, datagram, response, out _, out var accepted) == DtlsListenerDecision.Accepted)
            {
                fresh = accepted;
            }
        }

        Assert.NotNull(fresh);
        for (var round = 0; round < 10 && restarted.State == DtlsState.Connecting; round++)
        {
            foreach (var datagram in Drain(fresh!))
            {
                restarted.HandleDatagram(now, datagram);
            }

            foreach (var datagram in Drain(restarted))
            {
                fresh!.HandleDatagram(now, datagram);
            }
        }

        Assert.True(restarted.State == DtlsState.Connected, restarted.Trace);
        Assert.Contains("received before the cookie exchange", restarted.Trace, StringComparison.Ordinal);
    }

    private static DtlsEndpoint Accept(DtlsServerListener listener, DtlsEndpoint client, TimeSpan now)
    {
        var response = new byte[2048];
        var first = Assert.Single(Drain(client));
        Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(now, Address, first, response, out var length, out _));
        client.HandleDatagram(now, response.AsSpan(0, length));
        var second = Assert.Single(Drain(client));
        Assert.Equal(DtlsListenerDecision.Accepted, listener.HandleDatagram(now, Address, second, response, out _, out var endpoint));
        return endpoint!;
    }

    private static List<byte[]> Drain(DtlsEndpoint endpoint)
    {
        var datagrams = new List<byte[]>();
        var buffer = new byte[65535];
        for (var i = 0; i < 64; i++)
        {
            var output = endpoint.PollOutput(buffer);
            if (output.Kind == DtlsOutputKind.Timeout)
            {
                break;
            }

            if (output.Kind == DtlsOutputKind.Datagram)
            {
                datagrams.Add(buffer.AsSpan(0, output.DatagramLength).ToArray());
            }
        }

        return datagrams;
    }
}
