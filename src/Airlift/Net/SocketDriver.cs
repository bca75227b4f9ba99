using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Airlift.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Airlift.Net;

/// <summary>
/// What a <see cref="SocketDriver"/> drives: the sessions of one loop, each a sans-IO engine (a <c>DtlsEndpoint</c>, a
/// <c>WebRtcTransport</c>) that follows the one engine shape: <c>HandleDatagram(now, ...)</c>, <c>HandleTimeout(now)</c>,
/// <c>PollOutput(buffer)</c> drained until it returns the next deadline (the drain rule of docs/architecture.md).
/// The handler routes datagrams to engines and drains them under its own lock; the driver owns the sockets' receives,
/// the clock (a <see cref="TimeProvider"/>) and the wake-ups. The driver calls the handler from more than one thread (a
/// receive loop per socket, and the timer path), so every method takes the handler's lock.
/// </summary>
internal interface ISocketDriverHandler
{
    /// <summary>Runs <c>HandleTimeout</c> on every engine whose deadline has passed, drains them, and returns the earliest
    /// deadline left (<see cref="SocketDriver.NoDeadline"/> when none). Has its own exception boundary. Called after every
    /// batch of datagrams and on every timer or wake-up, so it must be cheap when nothing is due.</summary>
    TimeSpan FireTimers();

    /// <summary>One datagram read from <c>sockets[socketIndex]</c>, sent by <paramref name="remote"/> (the socket's address
    /// form: compare and hash it by content, build an <see cref="IPEndPoint"/> only for an unknown sender). Neither the
    /// address nor the span may be kept after the call: the driver reuses both for the next datagram.</summary>
    void OnDatagram(int socketIndex, SocketAddress remote, ReadOnlySpan<byte> datagram);

    /// <summary>The loop's own code failed on one datagram (engines have their own boundary): count and log it.</summary>
    void OnLoopFault(Exception exception, string message);
}

/// <summary>
/// The one driver of every socket driver (<see cref="DtlsSocketLoop"/> for <see cref="DtlsUdpServer"/> and
/// <see cref="DtlsUdpClient"/>, and each loop of <see cref="TransportHost"/>): it hands each datagram of its sockets, each
/// engine deadline reached (on the <see cref="TimeProvider"/>) and each wake-up (an application call changed an engine) to
/// its <see cref="ISocketDriverHandler"/>. A process runs several of them (one per core) over <c>SO_REUSEPORT</c> sockets;
/// see <see cref="ReusePortSockets"/>.
/// </summary>
/// <remarks>
/// <para>Shape (allocation-free per datagram in steady state): one receive loop per socket awaits
/// <see cref="Socket.ReceiveFromAsync(Memory{byte}, SocketFlags, SocketAddress, CancellationToken)"/> (a
/// <see cref="ValueTask{TResult}"/> on the socket's cached operation, the sender written into one reused
/// <see cref="SocketAddress"/>) and hands every datagram already queued to the handler, up to <see cref="MaxBatch"/> in a
/// row, before it runs a timer pass (<see cref="ISocketDriverHandler.FireTimers"/>) and waits again; so timers are never
/// starved by a busy socket, and a datagram does not cost a timer pass of its own. The timer path is one
/// <see cref="ITimer"/> of the <see cref="TimeProvider"/>, re-armed with <see cref="ITimer.Change"/> only when an earlier
/// deadline comes (or <c>maxSleep</c> is reached), and one reusable wake signal that the timer and <see cref="Wake"/> set;
/// a timer task waits on it and runs the timer pass.</para>
/// <para>Receive errors follow one policy: ICMP errors of a peer that went away and oversized datagrams are ignored, other
/// transient errors are logged and the loop goes on (up to <see cref="MaxConsecutiveReceiveErrors"/> in a row); a socket
/// that failed for good stops only its own receive loop (the driver stops when every socket has), a disposed socket or the
/// cancellation ends the driver.</para>
/// </remarks>
internal sealed class SocketDriver
{
    /// <summary>"No deadline", the value every engine uses (<see cref="TimeSpan.MaxValue"/>).</summary>
    public static readonly TimeSpan NoDeadline = TimeSpan.MaxValue;

    /// <summary>Datagrams a receive loop hands over in a row (all already queued) before it runs a timer pass.</summary>
    internal const int MaxBatch = 64;

    private const int MaxConsecutiveReceiveErrors = 1000;

    private static readonly IPEndPoint AnyV4 = new(IPAddress.Any, 0);

    private static readonly IPEndPoint AnyV6 = new(IPAddress.IPv6Any, 0);

    /// <summary>Added to a deadline when arming the timer, so that it fires with the deadline passed (timer granularity).</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(1);

    private readonly IReadOnlyList<Socket> _sockets;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ISocketDriverHandler _handler;
    private readonly ILogger? _logger;
    private readonly TimeSpan _maxSleep;
    private readonly string _name;
    private readonly WakeSignal _wake = new();
    private readonly Lock _armGate = new();
    private ITimer? _timer;
    private bool _armed;
    private TimeSpan _armedAt;

    /// <param name="sockets">Sockets to read (none: a timer-only loop).</param>
    /// <param name="time">The clock.</param>
    /// <param name="origin">Timestamp of time zero on <paramref name="time"/> (shared by every loop of one host).</param>
    /// <param name="handler">Routing and draining.</param>
    /// <param name="logger">Logger for socket errors.</param>
    /// <param name="maxSleep">Longest wait without a timer pass (<see cref="Timeout.InfiniteTimeSpan"/>: none).</param>
    /// <param name="name">For log lines.</param>
    public SocketDriver(IReadOnlyList<Socket> sockets, TimeProvider time, long origin, ISocketDriverHandler handler, ILogger? logger, TimeSpan maxSleep, string name)
    {
        _sockets = sockets;
        _time = time;
        _origin = origin;
        _handler = handler;
        _logger = logger;
        _maxSleep = maxSleep;
        _name = name;
    }

    public TimeSpan Now => _time.GetElapsedTime(_origin);

    /// <summary>Makes the driver run a timer pass and recompute its deadline soon (an application call changed an engine).
    /// Allocation-free; wake-ups before the pass runs are merged into one.</summary>
    public void Wake() => _wake.Set();

    /// <summary>Runs until <paramref name="ct"/> is cancelled or every socket is gone. Never throws.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var token = run.Token;
        using var wakeOnStop = token.UnsafeRegister(static s => ((WakeSignal)s!).Set(), _wake);
        var count = _sockets.Count;
        var alive = count;
        var tasks = new List<Task>(count + 1);
        try
        {
            _timer = _time.CreateTimer(static s => ((SocketDriver)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            for (var i = 0; i < count; i++)
            {
                var index = i;
                tasks.Add(Task.Run(() => GuardAsync(async () =>
                {
                    if (!await ReceiveLoopAsync(index, token).ConfigureAwait(false) && Interlocked.Decrement(ref alive) == 0)
                    {
                        await run.CancelAsync().ConfigureAwait(false); // every socket failed for good: the timers stop too
                    }
                }, run), CancellationToken.None));
            }

            tasks.Add(GuardAsync(() => TimerLoopAsync(token), run));
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SafeLogger.Log(_logger, l => NetLog.LoopStopped(l, ex, _name));
        }
        finally
        {
            await run.CancelAsync().ConfigureAwait(false);
            foreach (var task in tasks)
            {
                await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            _timer?.Dispose();
        }
    }

    /// <summary>The boundary of each path: the cancellation ends it quietly; the driver's own code failing (handlers have
    /// their own boundaries) is logged and stops the whole driver, as one loop did before.</summary>
    private async Task GuardAsync(Func<Task> path, CancellationTokenSource run)
    {
        try
        {
            await path().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && run.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            SafeLogger.Log(_logger, l => NetLog.LoopStopped(l, ex, _name));
            await run.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The timer path: a pass at start, then one per timer expiry or wake-up (merged while a pass runs).</summary>
    private async Task TimerLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TimerPass();
            await _wake.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads one socket: every datagram already queued goes to the handler (at most <see cref="MaxBatch"/> in a row), then a
    /// timer pass, then the next wait. Returns true when stopped by the cancellation, false when the socket failed for good.
    /// </summary>
    private async Task<bool> ReceiveLoopAsync(int index, CancellationToken ct)
    {
        var socket = _sockets[index];
        var buffer = GC.AllocateUninitializedArray<byte>(65535);
        var family = socket.AddressFamily;
        var sender = new SocketAddress(family, SocketAddress.GetMaximumAddressSize(family));
        var errors = 0;
        var batch = 0;
        while (!ct.IsCancellationRequested)
        {
            ValueTask<int> receive;
            try
            {
                receive = socket.ReceiveFromAsync(buffer, SocketFlags.None, sender, ct);
            }
            catch (Exception ex)
            {
                if (ReceiveFailed(ex, ref errors, ct) is { } stopped)
                {
                    return stopped;
                }

                continue;
            }

            if (!receive.IsCompleted || batch >= MaxBatch)
            {
                // Nothing more queued (or a full batch handed over): the timers get their turn before the next wait.
                batch = 0;
                TimerPass();
            }

            int received;
            try
            {
                received = await receive.ConfigureAwait(false);
                errors = 0;
            }
            catch (Exception ex)
            {
                if (ReceiveFailed(ex, ref errors, ct) is { } stopped)
                {
                    return stopped;
                }

                continue;
            }

            batch++;
            try
            {
                _handler.OnDatagram(index, sender, buffer.AsSpan(0, received));
            }
            catch (Exception ex)
            {
                // Per-session work has its own boundary; this is the loop's own code failing on one datagram.
                _handler.OnLoopFault(ex, $"{_name} failed on a datagram; dropped");
            }
        }

        return true;
    }

    /// <summary>The receive error policy: null to go on reading, true when the driver is stopping, false when this socket
    /// failed for good.</summary>
    private bool? ReceiveFailed(Exception exception, ref int errors, CancellationToken ct)
    {
        if (exception is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize })
        {
            // ICMP port unreachable from a peer that went away, or a datagram larger than the buffer: not fatal.
            return null;
        }

        if (ct.IsCancellationRequested)
        {
            return true; // disposed or cancelled while stopping
        }

        if (exception is SocketException transient && ++errors < MaxConsecutiveReceiveErrors)
        {
            // A transient socket error (no buffer space, ...): the datagram is lost, the loop goes on.
            SafeLogger.Log(_logger, l => NetLog.ReceiveFailed(l, transient.SocketErrorCode));
            return null;
        }

        // The socket itself failed for good: this socket is no longer read; the driver goes on with the others.
        SafeLogger.Log(_logger, l => NetLog.SocketStopped(l, exception, _name));
        return false;
    }

    /// <summary>Fires what is due, then makes sure the timer fires by the earliest deadline left.</summary>
    private void TimerPass() => Arm(_handler.FireTimers());

    private void OnTimer()
    {
        lock (_armGate)
        {
            _armed = false;
        }

        _wake.Set();
    }

    /// <summary>
    /// Arms the timer for <paramref name="deadline"/> (plus <see cref="Slack"/>), or for <c>maxSleep</c> from now when that
    /// comes first; a timer already armed for an earlier time is kept (it fires early, and that pass re-arms), so a
    /// steady deadline costs no <see cref="ITimer.Change"/> per datagram.
    /// </summary>
    private void Arm(TimeSpan deadline)
    {
        var now = Now;
        var delay = deadline == NoDeadline ? _maxSleep : Max(deadline - now, TimeSpan.Zero) + Slack;
        if (_maxSleep != Timeout.InfiniteTimeSpan && delay > _maxSleep)
        {
            delay = _maxSleep;
        }

        if (delay == Timeout.InfiniteTimeSpan)
        {
            return; // nothing to wait for; a timer still armed fires once more, harmlessly
        }

        var at = now + delay;
        lock (_armGate)
        {
            if (_timer is null || (_armed && _armedAt <= at))
            {
                return;
            }

            _armed = true;
            _armedAt = at;
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The sender of a datagram as an endpoint (allocates: handlers call it for unknown senders only).</summary>
    internal static IPEndPoint ToEndPoint(SocketAddress address) =>
        (IPEndPoint)(address.Family == AddressFamily.InterNetworkV6 ? AnyV6 : AnyV4).Create(address);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>
    /// A reusable, allocation-free auto-reset signal with one waiter (the timer task): <see cref="Set"/> from any thread
    /// completes the pending wait, or is remembered for the next one (several sets before a wait count as one).
    /// </summary>
    private sealed class WakeSignal : IValueTaskSource
    {
        private const int Idle = 0, Signaled = 1, Waiting = 2;
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private int _state;

        public void Set()
        {
            while (true)
            {
                switch (Volatile.Read(ref _state))
                {
                    case Signaled:
                        return;
                    case Idle:
                        if (Interlocked.CompareExchange(ref _state, Signaled, Idle) == Idle)
                        {
                            return;
                        }

                        break;
                    default:
                        if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
                        {
                            _core.SetResult(true);
                            return;
                        }

                        break;
                }
            }
        }

        /// <summary>Completes at once when set since the last wait; one waiter at a time.</summary>
        public ValueTask WaitAsync()
        {
            if (Interlocked.CompareExchange(ref _state, Idle, Signaled) == Signaled)
            {
                return ValueTask.CompletedTask;
            }

            _core.Reset();
            if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
            {
                Volatile.Write(ref _state, Idle); // set in between: consumed now
                return ValueTask.CompletedTask;
            }

            return new ValueTask(this, _core.Version);
        }

        void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}

/// <summary>
/// Binds the sockets of a multi-loop driver: on Linux, <c>count</c> UDP sockets on one address and port with
/// <c>SO_REUSEPORT</c>, so the kernel spreads peers over them by a hash of the 4-tuple (a peer's datagrams always reach the
/// same socket while the set of sockets is unchanged); elsewhere one socket.
/// </summary>
/// <remarks>
/// Any process of the same user can join a <c>SO_REUSEPORT</c> group on that port and take a share of the peers; run a
/// server under its own user where that matters.
/// </remarks>
internal static class ReusePortSockets
{
    private const int SolSocket = 1;
    private const int SoReusePort = 15;

    /// <summary>True when several sockets can share one UDP port here (Linux).</summary>
    public static bool Supported => OperatingSystem.IsLinux();

    /// <summary>How many receive loops a driver runs for <paramref name="requested"/> (0: one per processor).</summary>
    public static int LoopCount(int requested) => !Supported ? 1 : requested == 0 ? Environment.ProcessorCount : requested;

    /// <summary>
    /// Binds <paramref name="count"/> UDP sockets to <paramref name="listen"/> (port 0: a free port, the same for all), each with
    /// <c>SO_RCVBUF</c>/<c>SO_SNDBUF</c> set to <paramref name="receiveBufferSize"/>/<paramref name="sendBufferSize"/> when
    /// positive (0: the kernel default). The kernel caps the request at <c>net.core.rmem_max</c>/<c>wmem_max</c> (Linux
    /// then doubles it for its bookkeeping); <c>SO_RCVBUFFORCE</c> is not used, so no privilege is needed or asked for.
    /// </summary>
    /// <exception cref="SocketException">The address could not be bound.</exception>
    public static Socket[] Bind(IPEndPoint listen, int count, int receiveBufferSize = 0, int sendBufferSize = 0)
    {
        var sockets = new List<Socket>(count);
        try
        {
            var endpoint = listen;
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                sockets.Add(socket);
                if (listen.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.DualMode = false;
                }

                if (count > 1)
                {
                    socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
                }

                if (receiveBufferSize > 0)
                {
                    socket.ReceiveBufferSize = receiveBufferSize;
                }

                if (sendBufferSize > 0)
                {
                    socket.SendBufferSize = sendBufferSize;
                }

                socket.Bind(endpoint);
                endpoint = (IPEndPoint)socket.LocalEndPoint!; // the port picked for the first one
            }

            return [.. sockets];
        }
        catch
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }

            throw;
        }
    }
}

/// <summary>What the kernel granted for a server's UDP socket buffers (read back after the request; on Linux twice the
/// capped request, the kernel's own accounting).</summary>
/// <param name="ReceiveRequested">Bytes asked for with <c>SO_RCVBUF</c> (0: none asked, the kernel default).</param>
/// <param name="ReceiveGranted">Bytes the kernel reports for <c>SO_RCVBUF</c>.</param>
/// <param name="SendRequested">Bytes asked for with <c>SO_SNDBUF</c> (0: none asked, the kernel default).</param>
/// <param name="SendGranted">Bytes the kernel reports for <c>SO_SNDBUF</c>.</param>
public readonly record struct UdpSocketBufferSizes(int ReceiveRequested, int ReceiveGranted, int SendRequested, int SendGranted)
{
    /// <summary>Default receive buffer requested by <see cref="DtlsUdpServerOptions.ReceiveBufferSize"/> and
    /// <see cref="TransportHostOptions.ReceiveBufferSize"/>: 4 MiB, room for about 3,000 full-size ClientHellos queued
    /// while the loops are busy (a handshake storm).</summary>
    public const int DefaultReceiveBufferSize = 4 * 1024 * 1024;

    /// <summary>Default send buffer requested: 1 MiB.</summary>
    public const int DefaultSendBufferSize = 1024 * 1024;

    /// <summary>Largest size an option accepts (256 MiB).</summary>
    public const int MaxBufferSize = 256 * 1024 * 1024;

    /// <summary>True when the kernel granted less than asked (Linux reports twice the granted request, so less than the request itself means capped).</summary>
    public bool ReceiveCapped => ReceiveRequested > 0 && ReceiveGranted < ReceiveRequested;

    /// <summary>Reads what the kernel granted <paramref name="socket"/>.</summary>
    internal static UdpSocketBufferSizes Read(Socket socket, int receiveRequested, int sendRequested) =>
        new(receiveRequested, socket.ReceiveBufferSize, sendRequested, socket.SendBufferSize);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="value"/> is 0 (kernel default) or 4 KiB..256 MiB.</summary>
    internal static void Validate(int value, string name)
    {
        if (value != 0 && value is < 4096 or > MaxBufferSize)
        {
            throw new ArgumentException($"{name} must be 0 (the kernel default) or within 4096..{MaxBufferSize} bytes.", name);
        }
    }
}

/// <summary>
/// Host-wide UDP counters of the Linux kernel (<c>/proc/net/snmp</c>): <c>RcvbufErrors</c> counts datagrams dropped because a
/// socket's receive queue was full, for every UDP socket of the host (network namespace), not just ours. .NET does not expose
/// the per-socket <c>SO_RXQ_OVFL</c> count, so a before/after difference of this counter is the cheap measure of a storm
/// overflowing the server's queue (read it on a quiet host, or treat it as an upper bound).
/// </summary>
public static class KernelUdpCounters
{
    /// <summary>The host-wide <c>Udp: RcvbufErrors</c> counter, or null when it cannot be read (not Linux, no /proc).</summary>
    public static long? ReadReceiveBufferErrors() => Read("/proc/net/snmp", "RcvbufErrors");

    internal static long? Read(string path, string field)
    {
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            string[]? names = null;
            foreach (var line in File.ReadLines(path))
            {
                if (!line.StartsWith("Udp:", StringComparison.Ordinal))
                {
                    continue;
                }

                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (names is null)
                {
                    names = parts;
                    continue;
                }

                var index = Array.IndexOf(names, field);
                return index > 0 && index < parts.Length && long.TryParse(parts[index], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;
            }

            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
