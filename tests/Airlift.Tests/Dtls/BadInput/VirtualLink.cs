using Airlift.Dtls;

namespace Airlift.Tests.Dtls.BadInput;

/// <summary>
/// A client and a server endpoint in virtual time with hooks for hostile input: step-by-step feeding
/// (<see cref="Feed"/>, returning what the receiver answered), a queue of datagrams in flight with an optional
/// per-batch mutator (<see cref="Mutate"/>), and a bounded driver. Nothing here reads a clock.
/// </summary>
internal sealed class VirtualLink
{
    private readonly List<(TimeSpan At, bool ToServer, byte[] Data)> _inFlight = [];
    private readonly byte[] _buffer = new byte[65535];
    private TimeSpan _clientDeadline = DtlsOutput.NoDeadline;
    private TimeSpan _serverDeadline = DtlsOutput.NoDeadline;

    public VirtualLink(DtlsOptions client, DtlsOptions server)
    {
        Server = DtlsEndpoint.CreateServer(server, Now);
        Client = DtlsEndpoint.CreateClient(client, Now);
    }

    /// <summary>Joins endpoints created elsewhere (e.g. by a <see cref="DtlsServerListener"/>) at <paramref name="now"/>.</summary>
    public VirtualLink(DtlsEndpoint client, DtlsEndpoint server, TimeSpan now)
    {
        Client = client;
        Server = server;
        Now = now;
    }

    public DtlsEndpoint Client { get; }

    public DtlsEndpoint Server { get; }

    public TimeSpan Now { get; private set; } = TimeSpan.FromSeconds(1);

    public TimeSpan Delay { get; init; } = TimeSpan.FromMilliseconds(10);

    public List<DtlsEvent> ClientEvents { get; } = [];

    public List<DtlsEvent> ServerEvents { get; } = [];

    /// <summary>Sees every batch of datagrams an endpoint emits in one drain (a flight, an alert) before it is queued; may rewrite it.</summary>
    public Func<bool, List<byte[]>, List<byte[]>>? Mutate { get; set; }

    /// <summary>Called after every step of <see cref="Drive"/>.</summary>
    public Action<VirtualLink>? AfterStep { get; set; }

    public bool BothConnected => Client.State == DtlsState.Connected && Server.State == DtlsState.Connected;

    public bool BothDone => Client.State != DtlsState.Connecting && Server.State != DtlsState.Connecting;

    public int InFlight => _inFlight.Count;

    public List<DtlsEvent> EventsOf(DtlsEndpoint endpoint) => endpoint == Client ? ClientEvents : ServerEvents;

    public DtlsEndpoint PeerOf(DtlsEndpoint endpoint) => endpoint == Client ? Server : Client;

    /// <summary>Drains <paramref name="endpoint"/> (drain rule) and returns the datagrams it wants sent; events are recorded.</summary>
    public List<byte[]> Poll(DtlsEndpoint endpoint)
    {
        var datagrams = new List<byte[]>();
        while (true)
        {
            var output = endpoint.PollOutput(_buffer);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    datagrams.Add(_buffer.AsSpan(0, output.DatagramLength).ToArray());
                    break;
                case DtlsOutputKind.Event:
                    EventsOf(endpoint).Add(output.Event!);
                    break;
                default:
                    if (endpoint == Client)
                    {
                        _clientDeadline = output.Deadline;
                    }
                    else
                    {
                        _serverDeadline = output.Deadline;
                    }

                    return datagrams;
            }
        }
    }

    /// <summary>Hands each datagram to <paramref name="endpoint"/> now and returns everything it answered.</summary>
    public List<byte[]> Feed(DtlsEndpoint endpoint, IEnumerable<byte[]> datagrams)
    {
        var answers = new List<byte[]>();
        foreach (var datagram in datagrams)
        {
            endpoint.HandleDatagram(Now, datagram);
            answers.AddRange(Poll(endpoint));
        }

        return answers;
    }

    /// <summary>Queues datagrams for delivery after <see cref="Delay"/> (through <see cref="Mutate"/>).</summary>
    public void Send(bool toServer, List<byte[]> datagrams)
    {
        if (datagrams.Count == 0)
        {
            return;
        }

        var batch = Mutate?.Invoke(toServer, datagrams) ?? datagrams;
        foreach (var datagram in batch)
        {
            _inFlight.Add((Now + Delay, toServer, datagram));
        }
    }

    /// <summary>Drains both endpoints into the link (call after creating the endpoints or after a direct API call).</summary>
    public void Pump()
    {
        Send(toServer: true, Poll(Client));
        Send(toServer: false, Poll(Server));
    }

    /// <summary>Delivers the earliest due datagram or fires the earliest timer. False when nothing is left to do.</summary>
    public bool Step()
    {
        var nextDelivery = DtlsOutput.NoDeadline;
        var index = -1;
        for (var i = 0; i < _inFlight.Count; i++)
        {
            if (_inFlight[i].At < nextDelivery)
            {
                nextDelivery = _inFlight[i].At;
                index = i;
            }
        }

        var next = Min(nextDelivery, Min(_clientDeadline, _serverDeadline));
        if (next == DtlsOutput.NoDeadline)
        {
            return false;
        }

        Now = next > Now ? next : Now;
        if (index >= 0 && nextDelivery <= Now)
        {
            var (_, toServer, data) = _inFlight[index];
            _inFlight.RemoveAt(index);
            var receiver = toServer ? Server : Client;
            Send(!toServer, Feed(receiver, [data]));
        }
        else
        {
            if (_clientDeadline <= Now)
            {
                Client.HandleTimeout(Now);
                Send(toServer: true, Poll(Client));
            }

            if (_serverDeadline <= Now)
            {
                Server.HandleTimeout(Now);
                Send(toServer: false, Poll(Server));
            }
        }

        AfterStep?.Invoke(this);
        return true;
    }

    /// <summary>Steps until <paramref name="until"/> holds or nothing is left; returns the steps taken (at most <paramref name="maxSteps"/>).</summary>
    public int Drive(Func<VirtualLink, bool> until, int maxSteps)
    {
        var steps = 0;
        while (steps < maxSteps && !until(this) && Step())
        {
            steps++;
        }

        return steps;
    }

    public TimeSpan DeadlineOf(DtlsEndpoint endpoint) => endpoint == Client ? _clientDeadline : _serverDeadline;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
