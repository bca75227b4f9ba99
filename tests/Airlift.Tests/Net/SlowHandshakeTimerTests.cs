using System.Net;
using System.Net.Sockets;
using Airlift.Dtls;
using Airlift.Dtls.Reliability;
using Airlift.Net;
using Airlift.Tests.NetEm;
using static Airlift.Tests.Net.NetTestSupport;

namespace Airlift.Tests.Net;

/// <summary>
/// The socket driver re-reads its clock after a slow <c>HandleDatagram</c> and tells the engine when the flight really
/// left, so handshake CPU time (JIT and key generation in a fresh process, a loaded machine) is not taken out of the first
/// retransmit timeout (docs/reliability.md, the "315 ms" capture). The clock is the test's and moves inside the handler.
/// </summary>
public sealed class SlowHandshakeTimerTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromMilliseconds(75);
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(400);

    private static TimeSpan Now(ManualTimeProvider clock) => TimeSpan.FromTicks(clock.GetTimestamp());

    [Fact]
    public async Task First_resend_comes_a_full_timeout_after_the_flight_left_when_the_handler_was_slow()
    {
        var clock = new ManualTimeProvider();
        var validated = 0;
        var clientOptions = Client() with
        {
            RetransmitJitter = 0,
            InitialRetransmitTimeout = Timeout,
            PeerCertificateValidator = _ =>
            {
                clock.Advance(Slow); // the handshake work of flight 4 takes 75 ms on the driver's clock
                Interlocked.Exchange(ref validated, 1);
                return true;
            },
        };

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var server = DtlsEndpoint.CreateServer(Server(), Now(clock));
        using var cts = new CancellationTokenSource(Bound);
        var connect = DtlsUdpClient.ConnectAsync((IPEndPoint)socket.LocalEndPoint!, clientOptions, clock, cancellationToken: cts.Token);

        // Play the server by hand until the client validated our certificate; what it sends next is its flight 5.
        var buffer = new byte[65535];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        var flight5 = 0;
        for (var i = 0; i < 64 && flight5 == 0; i++)
        {
            var datagram = Receive(socket, buffer, ref from, Bound);
            Assert.NotNull(datagram);
            if (Volatile.Read(ref validated) == 1)
            {
                flight5++;
                break;
            }

            server.HandleDatagram(Now(clock), datagram);
            while (true)
            {
                var o = server.PollOutput(buffer);
                if (o.Kind == DtlsOutputKind.Datagram)
                {
                    socket.SendTo(buffer.AsSpan(0, o.DatagramLength), from);
                }
                else if (o.Kind != DtlsOutputKind.Event)
                {
                    break;
                }
            }
        }

        Assert.Equal(1, flight5);
        while (Receive(socket, buffer, ref from, TimeSpan.FromMilliseconds(300)) is not null)
        {
            // the rest of flight 5, if it took more than one datagram
        }

        // The flight left 75 ms after the flight-4 datagram was read. Counted from the read (the old behaviour) the
        // first timeout would expire here; counted from the send it must not.
        clock.Advance(Timeout - Slow + TimeSpan.FromMilliseconds(5));
        Assert.Null(Receive(socket, buffer, ref from, TimeSpan.FromSeconds(1)));

        // A full timeout after the flight left: the resend comes.
        clock.Advance(Slow);
        Assert.NotNull(Receive(socket, buffer, ref from, Bound));

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => connect);
        server.Dispose();
    }

    [Fact]
    public void OutputLeft_moves_only_the_first_timeout_of_a_flight_armed_in_that_call_and_only_later()
    {
        var t0 = TimeSpan.FromSeconds(10);
        var timers = new TimerTable();
        timers.Set(EngineTimer.HandshakeDeadline, t0 + TimeSpan.FromSeconds(30));
        timers.StartFlight(t0, Timeout);

        timers.OutputLeft(t0 - Slow, t0 + Slow); // another call's output: not this flight
        Assert.Equal(t0 + Timeout, timers.Get(EngineTimer.Retransmit));
        timers.OutputLeft(t0, t0 - Slow); // a reading earlier than the call: never moves anything earlier
        Assert.Equal(t0 + Timeout, timers.Get(EngineTimer.Retransmit));

        timers.OutputLeft(t0, t0 + Slow);
        Assert.Equal(t0 + Slow + Timeout, timers.Get(EngineTimer.Retransmit));
        Assert.Equal(t0 + TimeSpan.FromSeconds(30), timers.Get(EngineTimer.HandshakeDeadline));

        timers.Set(EngineTimer.Retransmit, t0 + TimeSpan.FromSeconds(1)); // a backed-off timer is not a new flight's
        timers.OutputLeft(t0 + Slow, t0 + (2 * Slow));
        Assert.Equal(t0 + TimeSpan.FromSeconds(1), timers.Get(EngineTimer.Retransmit));
    }

    private static byte[]? Receive(Socket socket, byte[] buffer, ref EndPoint from, TimeSpan wait)
    {
        socket.ReceiveTimeout = (int)wait.TotalMilliseconds;
        try
        {
            var n = socket.ReceiveFrom(buffer, ref from);
            return buffer.AsSpan(0, n).ToArray();
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            return null;
        }
    }
}
