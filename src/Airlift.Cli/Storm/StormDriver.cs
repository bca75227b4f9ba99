using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Airlift.Dtls;

namespace Airlift.Cli.Storm;

/// <summary>What a <see cref="StormDriver"/> runs.</summary>
/// <param name="Server">Where the clients send (the server, or the proxy in front of it).</param>
/// <param name="Client">The clients' DTLS options (one certificate shared by all clients).</param>
/// <param name="Connections">Clients open at once.</param>
/// <param name="Total">Handshakes in all.</param>
/// <param name="Rate">New handshakes per second at most (0: no ramp).</param>
/// <param name="PerAddress">Clients per local 127.x.y.z address (loopback servers).</param>
internal sealed record StormDriverSettings(IPEndPoint Server, DtlsOptions Client, int Connections, int Total, double Rate, int PerAddress);

/// <summary>Runs the clients of a storm.</summary>
internal interface IStormDriver
{
    /// <summary>The counters now (any thread).</summary>
    StormProgress Progress { get; }

    /// <summary>
    /// Runs the storm on the calling thread until every handshake has an outcome, the target proves silent, or
    /// <paramref name="ct"/> is cancelled (then the partial tally); closes every held connection with close_notify at the
    /// end, after <paramref name="beforeClose"/> (which runs on this thread while every connected client still holds its
    /// connection: the moment to measure the server).
    /// </summary>
    StormTally Run(CancellationToken ct, Action? beforeClose = null);
}

/// <summary>Live counters of a running storm, safe to read from another thread.</summary>
/// <param name="Started">Handshakes started.</param>
/// <param name="Connected">Handshakes that connected.</param>
/// <param name="Failed">Handshakes that failed.</param>
/// <param name="InFlight">Handshakes started and not yet finished.</param>
/// <param name="Held">Connected clients holding their connection.</param>
internal readonly record struct StormProgress(int Started, int Connected, int Failed, int InFlight, int Held);

/// <summary>What the clients saw, in all.</summary>
internal sealed class StormTally
{
    /// <summary>Handshakes started.</summary>
    public int Started { get; set; }

    /// <summary>Handshakes that connected.</summary>
    public int Connected { get; set; }

    /// <summary>Handshakes that failed, by reason (<see cref="FailuresByReason"/>).</summary>
    public int Failed { get; set; }

    /// <summary>Handshakes never started because the storm stopped early (interrupted, target not answering, no sockets).</summary>
    public int NotStarted { get; set; }

    /// <summary>Handshakes started but without an outcome when the storm stopped early.</summary>
    public int Unfinished { get; set; }

    /// <summary>Failure counts by reason ("timeout", "timeout: port unreachable", "alert handshake_failure", ...).</summary>
    public SortedDictionary<string, int> FailuresByReason { get; } = new(StringComparer.Ordinal);

    /// <summary>Connected handshakes by negotiated version.</summary>
    public SortedDictionary<string, int> Versions { get; } = new(StringComparer.Ordinal);

    /// <summary>Time from the first ClientHello to Connected of every connected handshake, in ms (in completion order).</summary>
    public List<double> ConnectMs { get; } = [];

    /// <summary>Datagrams the clients sent.</summary>
    public long DatagramsSent { get; set; }

    /// <summary>Datagrams the clients received.</summary>
    public long DatagramsReceived { get; set; }

    /// <summary>Flight retransmissions of the clients.</summary>
    public long Retransmissions { get; set; }

    /// <summary>Receives that failed with ECONNREFUSED (an ICMP port unreachable: nothing listens at the target).</summary>
    public long PortUnreachable { get; set; }

    /// <summary>Datagrams larger than a client's receive buffer (dropped).</summary>
    public long Truncated { get; set; }

    /// <summary>Sends that failed (full socket buffer, refused): lost datagrams, which DTLS retransmits.</summary>
    public long SendErrors { get; set; }

    /// <summary>Held connections the server closed or failed before the storm ended.</summary>
    public int ClosedByServerWhileHeld { get; set; }

    /// <summary>Connected clients still holding their connection when the storm ended (closed with close_notify then).</summary>
    public int HeldAtEnd { get; set; }

    /// <summary>Seconds from the first ClientHello to the last handshake's outcome.</summary>
    public double DrainSeconds { get; set; }

    /// <summary>Signalling, ICE, media and DELETE figures of a <c>--serve</c> storm (null for a plain DTLS storm).</summary>
    public ServeTally? Serve { get; init; }

    /// <summary>Why the storm stopped before every handshake ran (null: it did not).</summary>
    public string? Aborted { get; set; }

    /// <summary>Ctrl-C ended the storm.</summary>
    public bool Interrupted { get; set; }
}

/// <summary>
/// Drives thousands of sans-IO <see cref="DtlsEndpoint"/> clients from one thread: each client has its own UDP socket
/// (its own source tuple, spread over 127.x.y.z addresses for loopback servers so that a per-address session limit does
/// not refuse them), receives complete on the thread pool into a queue, and this thread feeds datagrams and timers to the
/// endpoints in one loop with one timer heap. Memory is bounded by <see cref="StormDriverSettings.Connections"/>: one
/// socket, one endpoint and one receive buffer per open client.
/// </summary>
internal sealed class StormDriver : IStormDriver
{
    /// <summary>Smallest receive buffer per client; a server's datagram above it is counted in <see cref="StormTally.Truncated"/>.</summary>
    public const int MinReceiveBuffer = 4096;

    /// <summary>Clients started per loop turn at most, so that answers to the first ones are not starved by the ramp.</summary>
    private const int StartsPerTurn = 64;

    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(50);

    /// <summary>How far a ramp that fell behind may catch up at once.</summary>
    private static readonly TimeSpan RampBurst = TimeSpan.FromMilliseconds(100);

    private readonly StormDriverSettings _settings;
    private readonly ConcurrentQueue<Client> _completions = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly PriorityQueue<Client, TimeSpan> _timers = new();
    private readonly HashSet<Client> _open = [];
    private readonly byte[] _send = new byte[65536];
    private readonly int _receiveSize;
    private readonly bool _spread;
    private readonly StormTally _tally = new();
    private long _start;
    private TimeSpan _firstStart = TimeSpan.MinValue;
    private TimeSpan _lastOutcome;
    private TimeSpan _nextStart;
    private bool _anyAnswer;
    private int _started;
    private int _connected;
    private int _failed;
    private int _inFlight;
    private int _held;

    /// <summary>Creates a driver; nothing runs before <see cref="Run"/>.</summary>
    public StormDriver(StormDriverSettings settings)
    {
        _settings = settings;
        _receiveSize = Math.Max(MinReceiveBuffer, settings.Client.MaxDatagramSize + 64);
        _spread = IPAddress.IsLoopback(settings.Server.Address) && settings.Server.AddressFamily == AddressFamily.InterNetwork;
    }

    /// <summary>Called with a human-readable line when something the user must know happens (the target does not answer).</summary>
    public Action<string>? Notice { get; init; }

    /// <inheritdoc/>
    public StormProgress Progress => new(Volatile.Read(ref _started), Volatile.Read(ref _connected), Volatile.Read(ref _failed), Volatile.Read(ref _inFlight), Volatile.Read(ref _held));

    private TimeSpan Now => Stopwatch.GetElapsedTime(_start);

    /// <summary>The local address of the client with sequence number <paramref name="sequence"/>: 127.a.b.c, <paramref name="perAddress"/> clients each, never 127.0.0.x.</summary>
    public static IPAddress AddressFor(int sequence, int perAddress)
    {
        var a = sequence / perAddress;
        var o4 = 1 + (a % 254);
        var o3 = (a / 254) % 256;
        var o2 = 1 + (a / (254 * 256) % 254);
        return new IPAddress([127, (byte)o2, (byte)o3, (byte)o4]);
    }

    /// <inheritdoc/>
    public StormTally Run(CancellationToken ct, Action? beforeClose = null)
    {
        _start = Stopwatch.GetTimestamp();
        var total = _settings.Total;
        try
        {
            while (true)
            {
                if (ct.IsCancellationRequested)
                {
                    _tally.Interrupted = true;
                    break;
                }

                var now = Now;
                ProcessCompletions(now);
                FireTimers(now);
                var nextStart = StartClients(now, total);
                if (_tally.Aborted is not null || _connected + _failed >= total)
                {
                    break;
                }

                var wake = nextStart;
                if (_timers.TryPeek(out _, out var due) && due < wake)
                {
                    wake = due;
                }

                var wait = wake - Now;
                if (wait > TimeSpan.Zero)
                {
                    _wake.WaitOne(wait < MaxWait ? wait : MaxWait);
                }
            }
        }
        finally
        {
            _tally.DrainSeconds = _firstStart == TimeSpan.MinValue ? 0 : Math.Max(0, (_lastOutcome - _firstStart).TotalSeconds);
            _tally.HeldAtEnd = _held;
            try
            {
                beforeClose?.Invoke();
            }
            finally
            {
                Finish();
            }
        }

        return _tally;
    }

    private void Finish()
    {
        var now = Now;
        foreach (var c in _open.ToList())
        {
            if (c.Connected)
            {
                c.Endpoint.Close(now);
                Pump(c, now);
            }
            else if (!c.Failed)
            {
                // Interrupted or aborted in the middle of its handshake: neither connected nor failed.
                _tally.Unfinished++;
                Interlocked.Decrement(ref _inFlight);
            }

            Release(c);
        }

        _tally.NotStarted = Math.Max(0, _settings.Total - _tally.Started);
    }

    /// <summary>Starts clients while slots, the ramp and the total allow; returns when the ramp allows the next one.</summary>
    private TimeSpan StartClients(TimeSpan now, int total)
    {
        var startsThisTurn = 0;
        while (_tally.Aborted is null && _open.Count < _settings.Connections && _started < total)
        {
            if (startsThisTurn++ >= StartsPerTurn)
            {
                return now; // more to start: come back after handling what arrived
            }

            if (_settings.Rate > 0)
            {
                if (now < _nextStart)
                {
                    return _nextStart;
                }

                // A ramp that fell behind (a busy loop turn) catches up by at most RampBurst, not by a burst of its whole debt.
                _nextStart = (_nextStart < now - RampBurst ? now - RampBurst : _nextStart) + TimeSpan.FromSeconds(1 / _settings.Rate);
            }

            StartClient(now);
        }

        return TimeSpan.MaxValue;
    }

    private void StartClient(TimeSpan now)
    {
        var sequence = _started;
        Socket socket;
        try
        {
            socket = OpenSocket(sequence);
        }
        catch (SocketException e)
        {
            _tally.Aborted = e.SocketErrorCode == SocketError.TooManyOpenSockets
                ? $"cannot open client socket {sequence + 1}: too many open files (the soft RLIMIT_NOFILE is {Rlimit.OpenFiles()}; every client needs one socket, --through-proxy two): lower --connections or raise 'ulimit -n'"
                : $"cannot open client socket {sequence + 1}: {e.SocketErrorCode} ({e.Message})";
            Notice?.Invoke(_tally.Aborted);
            return;
        }

        if (_firstStart == TimeSpan.MinValue)
        {
            _firstStart = now;
        }

        // A fresh clock reading, not the turn's: starting a client can take long (the first ones JIT-compile the handshake).
        now = Now;
        var client = new Client(this, sequence, socket, DtlsEndpoint.CreateClient(_settings.Client, now), now, _receiveSize);
        _open.Add(client);
        _started++;
        _tally.Started++;
        Interlocked.Increment(ref _inFlight);
        Pump(client, now);
        if (!client.Done)
        {
            Receive(client);
        }
    }

    private Socket OpenSocket(int sequence)
    {
        var family = _settings.Server.AddressFamily;
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            var local = _spread
                ? AddressFor(sequence, _settings.PerAddress)
                : family == AddressFamily.InterNetworkV6 ? (IPAddress.IsLoopback(_settings.Server.Address) ? IPAddress.IPv6Loopback : IPAddress.IPv6Any)
                : IPAddress.IsLoopback(_settings.Server.Address) ? IPAddress.Loopback : IPAddress.Any;
            socket.Bind(new IPEndPoint(local, 0));
            socket.Connect(_settings.Server);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Receive(Client c)
    {
        while (!c.Done)
        {
            bool pending;
            try
            {
                pending = c.Socket.ReceiveAsync(c.Args);
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            if (pending)
            {
                c.ReceivePending = true;
                return;
            }

            // Completed at once: handle it here (the Completed event does not fire for synchronous completions).
            HandleReceive(c, Now);
        }
    }

    private void ProcessCompletions(TimeSpan now)
    {
        // Bounded per turn so that timers and the ramp still run under a flood.
        for (var i = 0; i < 4096 && _completions.TryDequeue(out var c); i++)
        {
            c.ReceivePending = false;
            if (c.Done)
            {
                c.Args.Dispose();
                continue;
            }

            HandleReceive(c, now);
            Receive(c);
        }
    }

    private void HandleReceive(Client c, TimeSpan now)
    {
        switch (c.Args.SocketError)
        {
            case SocketError.Success when c.Args.BytesTransferred > 0:
                _anyAnswer = true;
                c.Answered = true;
                c.Endpoint.HandleDatagram(now, c.Buffer.AsSpan(0, c.Args.BytesTransferred));
                Pump(c, now);
                break;
            case SocketError.Success:
                break;
            case SocketError.ConnectionRefused:
                c.Refused = true;
                _tally.PortUnreachable++;
                break;
            case SocketError.MessageSize:
                _tally.Truncated++;
                break;
            case SocketError.OperationAborted:
                break;
            default:
                _tally.SendErrors++;
                break;
        }
    }

    private void FireTimers(TimeSpan now)
    {
        while (_timers.TryPeek(out var c, out var due) && due <= now)
        {
            _timers.Dequeue();
            if (c.Done || c.Deadline != due)
            {
                continue; // stale entry: the client's deadline moved or it finished
            }

            c.Deadline = DtlsOutput.NoDeadline;
            c.Endpoint.HandleTimeout(now);
            Pump(c, now);
        }
    }

    /// <summary>Drains the endpoint: sends its datagrams, acts on its events, arms its timer.</summary>
    private void Pump(Client c, TimeSpan now)
    {
        while (!c.Done)
        {
            var output = c.Endpoint.PollOutput(_send);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    try
                    {
                        c.Socket.Send(_send.AsSpan(0, output.DatagramLength), SocketFlags.None);
                    }
                    catch (SocketException e)
                    {
                        if (e.SocketErrorCode == SocketError.ConnectionRefused)
                        {
                            c.Refused = true;
                            _tally.PortUnreachable++;
                        }
                        else
                        {
                            _tally.SendErrors++;
                        }
                    }

                    break;
                case DtlsOutputKind.Event:
                    OnEvent(c, output.Event!, now);
                    break;
                default:
                    if (!c.Done && output.Deadline != DtlsOutput.NoDeadline && output.Deadline != c.Deadline)
                    {
                        c.Deadline = output.Deadline;
                        _timers.Enqueue(c, output.Deadline);
                    }

                    if (c.ReleaseAfterPump)
                    {
                        Release(c);
                    }

                    return;
            }
        }
    }

    private void OnEvent(Client c, DtlsEvent e, TimeSpan now)
    {
        switch (e)
        {
            case DtlsConnected connected when !c.Connected:
                now = Now; // the moment it connected, not the start of this loop turn
                c.Connected = true;
                _tally.Connected++;
                _tally.ConnectMs.Add(Math.Round((now - c.StartedAt).TotalMilliseconds, 2));
                var version = connected.Version.ToString();
                _tally.Versions[version] = _tally.Versions.GetValueOrDefault(version) + 1;
                _lastOutcome = now;
                Interlocked.Increment(ref _connected);
                Interlocked.Decrement(ref _inFlight);
                if (_settings.Total - _started > _settings.Connections - _open.Count)
                {
                    // More handshakes are left to start than free slots: this slot is needed, so say goodbye properly and go.
                    c.Endpoint.Close(now);
                    c.ReleaseAfterPump = true;
                }
                else
                {
                    Interlocked.Increment(ref _held);
                }

                break;
            case DtlsFailed f when !c.Connected:
                Fail(c, Reason(c, f), now);
                c.ReleaseAfterPump = true;
                CheckSilentTarget(f);
                break;
            case DtlsFailed or DtlsClosed { ByPeer: true } when c.Connected && !c.ReleaseAfterPump:
                _tally.ClosedByServerWhileHeld++;
                Interlocked.Decrement(ref _held);
                c.ReleaseAfterPump = true;
                break;
        }
    }

    private void Fail(Client c, string reason, TimeSpan now)
    {
        if (c.Connected || c.Failed)
        {
            return;
        }

        now = Now;
        c.Failed = true;
        _tally.Failed++;
        _tally.FailuresByReason[reason] = _tally.FailuresByReason.GetValueOrDefault(reason) + 1;
        _lastOutcome = now;
        Interlocked.Increment(ref _failed);
        Interlocked.Decrement(ref _inFlight);
    }

    private static string Reason(Client c, DtlsFailed f) => f.Reason switch
    {
        DtlsFailureReason.Timeout when c.Refused && !c.Answered => "timeout: port unreachable (nothing listens at the target)",
        DtlsFailureReason.Timeout when !c.Answered => "timeout: no answer",
        DtlsFailureReason.Timeout => "timeout",
        DtlsFailureReason.PeerAlert => $"alert {AlertName(f.Alert)} from the server",
        _ when f.Alert is { } a => $"{f.Reason} (sent alert {AlertName(a)})",
        _ => f.Reason.ToString(),
    };

    private static string AlertName(AlertDescription? alert) => alert?.ToString() ?? "(none)";

    /// <summary>A timeout while no client has had a single answer: the target is not a DTLS server (or not there). Stop.</summary>
    private void CheckSilentTarget(DtlsFailed f)
    {
        if (f.Reason != DtlsFailureReason.Timeout || _anyAnswer || _tally.Aborted is not null)
        {
            return;
        }

        var refused = _tally.PortUnreachable > 0;
        _tally.Aborted = refused
            ? $"{_settings.Server} does not answer: none of the first {_started} clients got a datagram back within the timeout, and the port is unreachable (nothing listens there)"
            : $"{_settings.Server} does not answer: none of the first {_started} clients got a datagram back within the timeout (is a DTLS server listening there, and is UDP let through?)";
        Notice?.Invoke(_tally.Aborted);
    }

    private void Release(Client c)
    {
        if (c.Done)
        {
            return;
        }

        c.Done = true;
        var stats = c.Endpoint.Stats;
        _tally.DatagramsSent += stats.DatagramsSent;
        _tally.DatagramsReceived += stats.DatagramsReceived;
        _tally.Retransmissions += stats.Retransmissions;
        c.Endpoint.Dispose();
        c.Socket.Dispose(); // completes a pending receive (aborted); its completion disposes the args
        if (!c.ReceivePending)
        {
            c.Args.Dispose();
        }

        _open.Remove(c);
    }

    private void OnCompleted(Client c)
    {
        _completions.Enqueue(c);
        _wake.Set();
    }

    /// <summary>One handshake attempt: its socket, endpoint and receive buffer. Touched only by the driver thread.</summary>
    private sealed class Client
    {
        public Client(StormDriver driver, int sequence, Socket socket, DtlsEndpoint endpoint, TimeSpan startedAt, int receiveSize)
        {
            Sequence = sequence;
            Socket = socket;
            Endpoint = endpoint;
            StartedAt = startedAt;
            Buffer = new byte[receiveSize];
            Args = new SocketAsyncEventArgs();
            Args.SetBuffer(Buffer, 0, Buffer.Length);
            Args.Completed += (_, _) => driver.OnCompleted(this);
        }

        public int Sequence { get; }

        public Socket Socket { get; }

        public DtlsEndpoint Endpoint { get; }

        public TimeSpan StartedAt { get; }

        public byte[] Buffer { get; }

        public SocketAsyncEventArgs Args { get; }

        public TimeSpan Deadline { get; set; } = DtlsOutput.NoDeadline;

        public bool ReceivePending { get; set; }

        public bool Connected { get; set; }

        public bool Failed { get; set; }

        public bool Answered { get; set; }

        public bool Refused { get; set; }

        public bool ReleaseAfterPump { get; set; }

        public bool Done { get; set; }
    }
}
