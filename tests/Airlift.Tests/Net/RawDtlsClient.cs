using System.Net;
using System.Net.Sockets;
using Airlift.Dtls;

namespace Airlift.Tests.Net;

/// <summary>
/// A sans-IO DTLS client endpoint on its own UDP socket, driven step by step by the test: what it sends can be
/// filtered, it can restart (a new endpoint on the same address and port), and its clock is the test's. Receives wait on
/// the real socket with a bound, never assert on wall-clock time.
/// </summary>
internal sealed class RawDtlsClient : IDisposable
{
    private readonly byte[] _buffer = new byte[65535];
    private readonly Func<TimeSpan> _now;
    private readonly DtlsOptions _options;

    public RawDtlsClient(IPEndPoint server, DtlsOptions options, Func<TimeSpan> now, IPAddress? local = null)
    {
        Server = server;
        _options = options;
        _now = now;
        Socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Socket.Bind(new IPEndPoint(local ?? IPAddress.Loopback, 0));
        Endpoint = DtlsEndpoint.CreateClient(options, now());
    }

    /// <summary>A receive that waits longer than this found nothing (bounds every wait of a test).</summary>
    public static TimeSpan ReceiveBound { get; } = TimeSpan.FromSeconds(10);

    public IPEndPoint Server { get; }

    public Socket Socket { get; }

    public IPEndPoint Local => (IPEndPoint)Socket.LocalEndPoint!;

    public DtlsEndpoint Endpoint { get; private set; }

    public List<DtlsEvent> Events { get; } = [];

    /// <summary>Outgoing datagrams for which this returns true are not sent.</summary>
    public Func<byte[], bool>? DropOutgoing { get; set; }

    public int DatagramsReceived { get; private set; }

    /// <summary>A new endpoint on the same socket: the client process restarted on the same address and port.</summary>
    public void Restart()
    {
        Endpoint = DtlsEndpoint.CreateClient(_options, _now());
        Events.Clear();
    }

    /// <summary>Polls the endpoint until its next deadline: sends datagrams (unless filtered), records events.</summary>
    public void Flush()
    {
        while (true)
        {
            var o = Endpoint.PollOutput(_buffer);
            if (o.Kind == DtlsOutputKind.Datagram)
            {
                var datagram = _buffer.AsSpan(0, o.DatagramLength).ToArray();
                if (DropOutgoing?.Invoke(datagram) != true)
                {
                    Socket.SendTo(datagram, Server);
                }
            }
            else if (o.Kind == DtlsOutputKind.Event)
            {
                Events.Add(o.Event!);
            }
            else
            {
                return;
            }
        }
    }

    /// <summary>One datagram from the server, or null when none came within <paramref name="wait"/>.</summary>
    public byte[]? Receive(TimeSpan wait)
    {
        Socket.ReceiveTimeout = (int)wait.TotalMilliseconds;
        try
        {
            var n = Socket.Receive(_buffer);
            DatagramsReceived++;
            return _buffer.AsSpan(0, n).ToArray();
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            return null;
        }
    }

    /// <summary>Sends what is pending, then feeds received datagrams until <paramref name="done"/> (bounded: false after a silent wait or 64 datagrams).</summary>
    public bool RunUntil(Func<RawDtlsClient, bool> done)
    {
        Flush();
        for (var i = 0; i < 64 && !done(this); i++)
        {
            var datagram = Receive(ReceiveBound);
            if (datagram is null)
            {
                return false;
            }

            Endpoint.HandleDatagram(_now(), datagram);
            Flush();
        }

        return done(this);
    }

    /// <summary>Completes the handshake (cookie exchange included); false when it did not.</summary>
    public bool Connect() => RunUntil(c => c.Endpoint.State != DtlsState.Connecting);

    /// <summary>Sends application data as one record.</summary>
    public void Send(ReadOnlySpan<byte> data)
    {
        Endpoint.Send(data);
        Flush();
    }

    public void Dispose() => Socket.Dispose();
}
