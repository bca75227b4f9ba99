using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Airlift.Dtls;
using Microsoft.Extensions.Logging;

namespace Airlift.Net;

/// <summary>An event from one peer's endpoint, as seen by a socket driver.</summary>
/// <param name="Session">The session it belongs to.</param>
/// <param name="Event">The event.</param>
public sealed record DtlsSessionEvent(DtlsUdpSession Session, DtlsEvent Event);

/// <summary>
/// The one loop that ties sans-IO endpoints to a UDP socket and a <see cref="TimeProvider"/>: it receives datagrams,
/// routes them by remote endpoint, fires timers at the earliest deadline, sends what the endpoints produce and
/// publishes their events. Both <see cref="DtlsUdpClient"/> and <see cref="DtlsUdpServer"/> run on it.
/// All endpoint access happens under one lock, so application sends from other threads are safe.
/// </summary>
internal sealed class DtlsSocketLoop : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ILogger? _logger;
    private readonly DtlsServerListener? _listener;
    private readonly int _maxSessions;
    private readonly Dictionary<IPEndPoint, DtlsUdpSession> _sessions = [];
    private readonly Channel<DtlsSessionEvent> _events = Channel.CreateUnbounded<DtlsSessionEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private readonly byte[] _sendBuffer = new byte[65535];
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;
    private volatile TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DtlsSocketLoop(Socket socket, TimeProvider time, ILogger? logger, DtlsServerListener? listener, int maxSessions)
    {
        _socket = socket;
        _time = time;
        _origin = time.GetTimestamp();
        _logger = logger;
        _listener = listener;
        _maxSessions = maxSessions;
    }

    public ChannelReader<DtlsSessionEvent> Events => _events.Reader;

    public long DroppedSessionLimit { get; private set; }

    public TimeSpan Now => _time.GetElapsedTime(_origin);

    public Socket Socket => _socket;

    public void Start() => _run = Task.Run(() => RunAsync(_stop.Token));

    public DtlsUdpSession Add(IPEndPoint remote, DtlsEndpoint endpoint)
    {
        lock (_gate)
        {
            var session = new DtlsUdpSession(this, remote, endpoint);
            _sessions[remote] = session;
            DrainLocked(session);
            return session;
        }
    }

    /// <summary>Runs <paramref name="action"/> on a session's endpoint under the loop's lock, then drains its output.</summary>
    internal void WithEndpoint(DtlsUdpSession session, Action<DtlsEndpoint, TimeSpan> action)
    {
        lock (_gate)
        {
            action(session.Endpoint, Now);
            DrainLocked(session);
        }

        Wake();
    }

    private void Wake() => _wake.TrySetResult();

    private async Task RunAsync(CancellationToken ct)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(65535);
        var from = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        Task<SocketReceiveFromResult>? receive = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                TimeSpan deadline;
                lock (_gate)
                {
                    deadline = FireTimersLocked();
                }

                receive ??= _socket.ReceiveFromAsync(buffer, SocketFlags.None, from, ct).AsTask();
                var wake = _wake.Task;
                var delay = deadline == DtlsOutput.NoDeadline ? Timeout.InfiniteTimeSpan : Max(deadline - Now, TimeSpan.Zero) + TimeSpan.FromMilliseconds(1);
                using var delayCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var timer = Task.Delay(delay, _time, delayCts.Token);
                var done = await Task.WhenAny(receive, timer, wake).ConfigureAwait(false);
                await delayCts.CancelAsync().ConfigureAwait(false);
                if (done == wake)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                if (done != receive)
                {
                    continue;
                }

                SocketReceiveFromResult result;
                try
                {
                    result = await receive.ConfigureAwait(false);
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
                {
                    // ICMP port unreachable from a peer that went away, or a datagram larger than the buffer: not fatal for the loop.
                    receive = null;
                    continue;
                }

                receive = null;
                OnDatagram((IPEndPoint)result.RemoteEndPoint, buffer.AsSpan(0, result.ReceivedBytes));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            _events.Writer.TryComplete();
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private void OnDatagram(IPEndPoint remote, ReadOnlySpan<byte> datagram)
    {
        lock (_gate)
        {
            var now = Now;
            if (_sessions.TryGetValue(remote, out var session))
            {
                session.Endpoint.HandleDatagram(now, datagram);
                DrainLocked(session);
                return;
            }

            if (_listener is null)
            {
                _logger?.LogDebug("Dropped a datagram from unknown peer {Remote}", remote);
                return;
            }

            if (_sessions.Count >= _maxSessions)
            {
                DroppedSessionLimit++;
                _logger?.LogWarning("Session limit {Max} reached; dropped a datagram from {Remote}", _maxSessions, remote);
                return;
            }

            var decision = _listener.HandleDatagram(now, remote, datagram, _sendBuffer, out var length, out var copies, out var endpoint);
            if (decision == DtlsListenerDecision.HelloVerifyRequest)
            {
                for (var i = 0; i < copies; i++)
                {
                    SendTo(_sendBuffer.AsSpan(0, length), remote);
                }
            }
            else if (decision == DtlsListenerDecision.Accepted)
            {
                var created = new DtlsUdpSession(this, remote, endpoint!);
                _sessions[remote] = created;
                _logger?.LogInformation("DTLS handshake started with {Remote}", remote);
                DrainLocked(created);
            }
        }
    }

    private TimeSpan FireTimersLocked()
    {
        var now = Now;
        var next = DtlsOutput.NoDeadline;
        List<IPEndPoint>? finished = null;
        foreach (var (remote, session) in _sessions)
        {
            if (session.Deadline <= now)
            {
                session.Endpoint.HandleTimeout(now);
                DrainLocked(session);
            }

            if (session.Endpoint.State is DtlsState.Failed or DtlsState.Closed && session.Deadline == DtlsOutput.NoDeadline)
            {
                (finished ??= []).Add(remote);
            }
            else if (session.Deadline < next)
            {
                next = session.Deadline;
            }
        }

        if (finished is not null)
        {
            foreach (var remote in finished)
            {
                _sessions.Remove(remote);
            }
        }

        return next;
    }

    private void DrainLocked(DtlsUdpSession session)
    {
        while (true)
        {
            var output = session.Endpoint.PollOutput(_sendBuffer);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    SendTo(_sendBuffer.AsSpan(0, output.DatagramLength), session.Remote);
                    break;
                case DtlsOutputKind.Event:
                    LogEvent(session, output.Event!);
                    _events.Writer.TryWrite(new DtlsSessionEvent(session, output.Event!));
                    break;
                default:
                    session.Deadline = output.Deadline;
                    return;
            }
        }
    }

    private void LogEvent(DtlsUdpSession session, DtlsEvent e)
    {
        switch (e)
        {
            case DtlsConnected c:
                _logger?.LogInformation("DTLS connected with {Remote}: {Suite}, SRTP {Srtp}, {Ms:0} ms", session.Remote, c.CipherSuite, c.SrtpProfile?.Name ?? "none", c.HandshakeDuration.TotalMilliseconds);
                break;
            case DtlsFailed f:
                _logger?.LogWarning("DTLS with {Remote} failed: {Reason}: {Message}", session.Remote, f.Reason, f.Message);
                break;
        }
    }

    private void SendTo(ReadOnlySpan<byte> datagram, IPEndPoint remote)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, remote);
        }
        catch (SocketException ex)
        {
            // A send failure is a lost datagram, which the protocol already survives.
            _logger?.LogDebug(ex, "Send to {Remote} failed", remote);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        if (_run is not null)
        {
            try
            {
                await _run.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stop.Dispose();
    }
}
