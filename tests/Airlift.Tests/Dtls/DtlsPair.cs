using Airlift.Dtls;

namespace Airlift.Tests.Dtls;

/// <summary>
/// A client and a server endpoint joined by an in-memory link in virtual time (quinn's Pair, str0m's tests).
/// Every step delivers the earliest due datagram or fires the earliest timer; loops are bounded.
/// A filter sees every datagram (direction, index, bytes) and may drop it.
/// </summary>
internal sealed class DtlsPair
{
    private readonly List<(TimeSpan At, bool ToServer, byte[] Data)> _inFlight = [];
    private readonly byte[] _buffer = new byte[65535];
    private TimeSpan _clientDeadline = DtlsOutput.NoDeadline;
    private TimeSpan _serverDeadline = DtlsOutput.NoDeadline;
    private int _toServerIndex;
    private int _toClientIndex;

    public DtlsPair(DtlsOptions client, DtlsOptions server, TimeSpan? oneWayDelay = null)
    {
        Delay = oneWayDelay ?? TimeSpan.FromMilliseconds(10);
        Server = DtlsEndpoint.CreateServer(server, Now);
        Client = DtlsEndpoint.CreateClient(client, Now);
        Drain();
    }

    public DtlsEndpoint Client { get; }

    public DtlsEndpoint Server { get; }

    public TimeSpan Now { get; private set; } = TimeSpan.FromSeconds(1);

    public TimeSpan Delay { get; }

    public List<DtlsEvent> ClientEvents { get; } = [];

    public List<DtlsEvent> ServerEvents { get; } = [];

    /// <summary>Every datagram sent, in order: (toServer, bytes).</summary>
    public List<(bool ToServer, byte[] Data)> Wire { get; } = [];

    /// <summary>Returns true to drop: (toServer, index in that direction, datagram).</summary>
    public Func<bool, int, byte[], bool>? Drop { get; set; }

    public bool BothConnected => Client.State == DtlsState.Connected && Server.State == DtlsState.Connected;

    public bool BothDone => Client.State != DtlsState.Connecting && Server.State != DtlsState.Connecting;

    /// <summary>Runs until <paramref name="until"/> holds, nothing is left to do, or the step budget is spent.</summary>
    public void Drive(Func<DtlsPair, bool>? until = null, int maxSteps = 100_000)
    {
        until ??= p => p.BothDone && p._inFlight.Count == 0;
        for (var i = 0; i < maxSteps && !until(this); i++)
        {
            if (!Step())
            {
                return;
            }
        }
    }

    public bool Step()
    {
        var nextDelivery = _inFlight.Count == 0 ? DtlsOutput.NoDeadline : _inFlight.Min(d => d.At);
        var next = Min(nextDelivery, Min(_clientDeadline, _serverDeadline));
        if (next == DtlsOutput.NoDeadline)
        {
            return false;
        }

        Now = next > Now ? next : Now;
        if (nextDelivery <= Now)
        {
            var index = _inFlight.FindIndex(d => d.At == nextDelivery);
            var (_, toServer, data) = _inFlight[index];
            _inFlight.RemoveAt(index);
            (toServer ? Server : Client).HandleDatagram(Now, data);
        }
        else
        {
            if (_clientDeadline <= Now)
            {
                Client.HandleTimeout(Now);
            }

            if (_serverDeadline <= Now)
            {
                Server.HandleTimeout(Now);
            }
        }

        Drain();
        return true;
    }

    public void Drain()
    {
        _clientDeadline = DrainOne(Client, toServer: true, ClientEvents);
        _serverDeadline = DrainOne(Server, toServer: false, ServerEvents);
    }

    private TimeSpan DrainOne(DtlsEndpoint endpoint, bool toServer, List<DtlsEvent> events)
    {
        while (true)
        {
            var output = endpoint.PollOutput(_buffer);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    var data = _buffer.AsSpan(0, output.DatagramLength).ToArray();
                    Wire.Add((toServer, data));
                    var index = toServer ? _toServerIndex++ : _toClientIndex++;
                    if (Drop?.Invoke(toServer, index, data) != true)
                    {
                        _inFlight.Add((Now + Delay, toServer, data));
                    }

                    break;
                case DtlsOutputKind.Event:
                    events.Add(output.Event!);
                    break;
                default:
                    return output.Deadline;
            }
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
