using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Airlift.Dtls;

namespace Airlift.Cli.Soak;

/// <summary>
/// One soak client: a sans-IO <see cref="DtlsEndpoint"/> on its own UDP socket, driven by one async method (no loop task
/// of its own). It connects, echoes a small record (resent until answered, since application data has no retransmission),
/// then closes with close_notify, vanishes without a word, or (abandon) vanishes mid-handshake, and reports how it went.
/// </summary>
internal sealed class SoakClient : IDisposable
{
    // The server's first flight (ServerHello ... ServerHelloDone) is far larger than a HelloVerifyRequest (about 60 bytes):
    // a datagram above this size means the server has created a session for us.
    private const int ServerFlightMinSize = 200;

    private static readonly TimeSpan EchoResend = TimeSpan.FromMilliseconds(250);

    private readonly int _index;
    private readonly SoakClientMode _mode;
    private readonly DtlsOptions _options;
    private readonly TimeSpan _deadline;
    private readonly TimeSpan _grace;
    private readonly Socket _socket;
    private readonly byte[] _receive = ArrayPool<byte>.Shared.Rent(65536);
    private readonly byte[] _send = ArrayPool<byte>.Shared.Rent(65536);
    private readonly long _start;
    private readonly List<DtlsEvent> _events = [];
    private DtlsEndpoint? _endpoint;
    private Task<int>? _pendingReceive;
    private int _largestReceived;
    private readonly int _localPort;

    private SoakClient(int index, SoakClientMode mode, IPEndPoint server, DtlsOptions options, TimeSpan deadline, TimeSpan grace, int localPort)
    {
        _index = index;
        _mode = mode;
        _options = options;
        _deadline = deadline;
        _grace = grace;
        _socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            var loopback = server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
            try
            {
                _socket.Bind(new IPEndPoint(loopback, localPort));
            }
            catch (SocketException e) when (localPort != 0 && e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                // Another slot's new client got this port from the OS in the moment it was free: take any.
                _socket.Bind(new IPEndPoint(loopback, 0));
            }

            _socket.Connect(server);
            _localPort = ((IPEndPoint)_socket.LocalEndPoint!).Port;
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        _start = Stopwatch.GetTimestamp();
    }

    private TimeSpan Now => Stopwatch.GetElapsedTime(_start);

    /// <summary>
    /// Runs client <paramref name="index"/> to its outcome from local port <paramref name="localPort"/> (0: any). Never
    /// throws except on cancellation: anything unexpected is an "exception: Type" failure.
    /// </summary>
    public static async Task<SoakHandshake> RunAsync(int index, SoakClientMode mode, IPEndPoint server, DtlsOptions options, TimeSpan deadline, TimeSpan grace, int localPort, CancellationToken ct)
    {
        SoakClient client;
        try
        {
            client = new SoakClient(index, mode, server, options, deadline, grace, localPort);
        }
        catch (SocketException e)
        {
            return new SoakHandshake(index, mode, SoakOutcome.Failed, $"client socket: {e.SocketErrorCode}", 0, false, null, 0, 0, 0);
        }

        using (client)
        {
            try
            {
                return await client.RunCoreAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                return client.Result(SoakOutcome.Failed, $"exception: {e.GetType().Name}: {e.Message}", client.Now, echoed: false, echoMs: null);
            }
            finally
            {
                await client.ObservePendingReceiveAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Releases the endpoint's keys, the socket and the buffers (no close_notify: that is <see cref="SoakClientMode.Close"/>'s job).</summary>
    public void Dispose()
    {
        _endpoint?.Dispose();
        _socket.Dispose();
        ArrayPool<byte>.Shared.Return(_receive);
        ArrayPool<byte>.Shared.Return(_send);
    }

    private async Task<SoakHandshake> RunCoreAsync(CancellationToken ct)
    {
        _endpoint = DtlsEndpoint.CreateClient(_options, Now);
        var giveUp = _deadline + _grace;

        // Handshake: until Connected, Failed, abandon, or stuck.
        TimeSpan? connectedAt = null;
        while (true)
        {
            // Checked before draining: the endpoint may already have queued its answer to the server's flight, and an
            // abandoning client must not send it (else the server could connect and this would be a vanish instead).
            if (_mode == SoakClientMode.Abandon && _largestReceived >= ServerFlightMinSize)
            {
                return Result(SoakOutcome.Abandoned, null, Now, echoed: false, echoMs: null);
            }

            var next = Drain();
            foreach (var e in TakeEvents())
            {
                switch (e)
                {
                    case DtlsConnected:
                        connectedAt = Now;
                        break;
                    case DtlsFailed f:
                        return Result(SoakOutcome.Failed, f.Reason.ToString(), Now, echoed: false, echoMs: null);
                }
            }

            if (connectedAt is not null)
            {
                break;
            }

            if (Now >= giveUp)
            {
                return Result(SoakOutcome.Stuck, $"no outcome {giveUp.TotalSeconds:0.#} s after the first ClientHello (state {_endpoint.State})", Now, echoed: false, echoMs: null);
            }

            await WaitAsync(Min(next, giveUp), ct).ConfigureAwait(false);
        }

        // Echo: resend until answered, within the deadline after Connected.
        var connected = connectedAt.Value;
        var payload = Encoding.ASCII.GetBytes($"airlift soak echo {_index:D8}");
        var echoUntil = connected + _deadline;
        var nextSend = connected;
        double? echoMs = null;
        string? echoFailure = null;
        while (echoMs is null && echoFailure is null && Now < echoUntil)
        {
            if (Now >= nextSend && _endpoint.State == DtlsState.Connected)
            {
                _endpoint.Send(payload);
                nextSend = Now + EchoResend;
            }

            var next = Drain();
            foreach (var e in TakeEvents())
            {
                switch (e)
                {
                    case DtlsApplicationData d when d.Data.AsSpan().SequenceEqual(payload):
                        echoMs ??= (Now - connected).TotalMilliseconds;
                        break;
                    case DtlsFailed f:
                        echoFailure = f.Reason.ToString();
                        break;
                    case DtlsClosed:
                        echoFailure = "closed by the server";
                        break;
                }
            }

            if (echoMs is null && echoFailure is null)
            {
                await WaitAsync(Min(Min(next, nextSend), echoUntil), ct).ConfigureAwait(false);
            }
        }

        if (_mode == SoakClientMode.Close && _endpoint.State == DtlsState.Connected)
        {
            _endpoint.Close(Now);
            Drain();
        }

        return Result(SoakOutcome.Connected, echoFailure is null ? null : $"echo: {echoFailure}", connected, echoMs is not null, echoMs);
    }

    private SoakHandshake Result(SoakOutcome outcome, string? reason, TimeSpan at, bool echoed, double? echoMs)
    {
        var stats = _endpoint?.Stats;
        return new SoakHandshake(
            _index,
            _mode,
            outcome,
            reason,
            Math.Round(at.TotalMilliseconds, 1),
            echoed,
            echoMs is { } ms ? Math.Round(ms, 1) : null,
            stats?.DatagramsSent ?? 0,
            stats?.DatagramsReceived ?? 0,
            stats?.Retransmissions ?? 0)
        {
            LocalPort = _localPort,
            Trace = outcome is SoakOutcome.Failed or SoakOutcome.Stuck ? _endpoint?.Trace : null,
        };
    }

    /// <summary>Sends every datagram the endpoint has, keeps its events, returns its next deadline.</summary>
    private TimeSpan Drain()
    {
        while (true)
        {
            var output = _endpoint!.PollOutput(_send);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    try
                    {
                        _socket.Send(_send.AsSpan(0, output.DatagramLength), SocketFlags.None);
                    }
                    catch (SocketException)
                    {
                        // ECONNREFUSED from an earlier ICMP error, or a full buffer: a lost datagram, which DTLS survives.
                    }

                    break;
                case DtlsOutputKind.Event:
                    _events.Add(output.Event!);
                    break;
                default:
                    return output.Deadline;
            }
        }
    }

    private List<DtlsEvent> TakeEvents()
    {
        if (_events.Count == 0)
        {
            return [];
        }

        var taken = new List<DtlsEvent>(_events);
        _events.Clear();
        return taken;
    }

    /// <summary>Waits for a datagram (handed to the endpoint) or until <paramref name="until"/> (then fires the endpoint's timers).</summary>
    private async Task WaitAsync(TimeSpan until, CancellationToken ct)
    {
        var wait = until - Now;
        if (wait > TimeSpan.Zero)
        {
            _pendingReceive ??= _socket.ReceiveAsync(_receive, SocketFlags.None, ct).AsTask();
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var delay = Task.Delay(wait, timer.Token);
            var done = await Task.WhenAny(_pendingReceive, delay).ConfigureAwait(false);
            await timer.CancelAsync().ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            if (done == _pendingReceive)
            {
                var receive = _pendingReceive;
                _pendingReceive = null;
                int length;
                try
                {
                    length = await receive.ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    // ICMP port unreachable (the proxy dropped our flow) or a truncated datagram: nothing to hand over.
                    return;
                }

                _largestReceived = Math.Max(_largestReceived, length);
                _endpoint!.HandleDatagram(Now, _receive.AsSpan(0, length));
                return;
            }
        }

        _endpoint!.HandleTimeout(Now);
    }

    private async Task ObservePendingReceiveAsync()
    {
        if (_pendingReceive is { } pending)
        {
            _pendingReceive = null;
            _socket.Dispose();
            try
            {
                await pending.ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The socket closed under the receive: expected.
            }
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
