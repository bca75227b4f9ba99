using System.Net;
using System.Net.Sockets;
using Airlift.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Airlift.Net;

/// <summary>
/// What a <see cref="SocketDriver"/> drives: the sessions of one loop, each a sans-IO engine (a <c>DtlsEndpoint</c>, a
/// <c>WebRtcTransport</c>) that follows the one engine shape: <c>HandleDatagram(now, ...)</c>, <c>HandleTimeout(now)</c>,
/// <c>PollOutput(buffer)</c> drained until it returns the next deadline (the drain rule of docs/architecture.md).
/// The handler routes datagrams to engines and drains them under its own lock; the driver owns the sockets' receives,
/// the clock (a <see cref="TimeProvider"/>) and the wake-ups.
/// </summary>
internal interface ISocketDriverHandler
{
    /// <summary>Runs <c>HandleTimeout</c> on every engine whose deadline has passed, drains them, and returns the earliest
    /// deadline left (<see cref="SocketDriver.NoDeadline"/> when none). Has its own exception boundary.</summary>
    TimeSpan FireTimers();

    /// <summary>One datagram read from <c>sockets[socketIndex]</c>; the span is valid only during the call.</summary>
    void OnDatagram(int socketIndex, IPEndPoint remote, ReadOnlySpan<byte> datagram);

    /// <summary>The loop's own code failed on one datagram (engines have their own boundary): count and log it.</summary>
    void OnLoopFault(Exception exception, string message);
}

/// <summary>
/// The one driver loop of every socket driver (<see cref="DtlsSocketLoop"/> for <see cref="DtlsUdpServer"/> and
/// <see cref="DtlsUdpClient"/>, and each loop of <see cref="TransportHost"/>): it waits for whichever comes first of a
/// datagram on any of its sockets, the earliest engine deadline (on the <see cref="TimeProvider"/>) or a wake-up (an
/// application call changed an engine), and hands each to its <see cref="ISocketDriverHandler"/>. A process runs several
/// of them (one per core) over <c>SO_REUSEPORT</c> sockets; see <see cref="ReusePortSockets"/>.
/// </summary>
/// <remarks>
/// Receive errors follow one policy: ICMP errors of a peer that went away and oversized datagrams are ignored, other
/// transient errors are logged and the loop goes on (up to <see cref="MaxConsecutiveReceiveErrors"/> in a row); a disposed
/// socket ends the loop.
/// </remarks>
internal sealed class SocketDriver
{
    /// <summary>"No deadline", the value every engine uses (<see cref="TimeSpan.MaxValue"/>).</summary>
    public static readonly TimeSpan NoDeadline = TimeSpan.MaxValue;

    private const int MaxConsecutiveReceiveErrors = 1000;

    private readonly IReadOnlyList<Socket> _sockets;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ISocketDriverHandler _handler;
    private readonly ILogger? _logger;
    private readonly TimeSpan _maxSleep;
    private readonly string _name;
    private volatile TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="sockets">Sockets to read (none: a timer-only loop).</param>
    /// <param name="time">The clock.</param>
    /// <param name="origin">Timestamp of time zero on <paramref name="time"/> (shared by every loop of one host).</param>
    /// <param name="handler">Routing and draining.</param>
    /// <param name="logger">Logger for socket errors.</param>
    /// <param name="maxSleep">Longest wait without a deadline (<see cref="Timeout.InfiniteTimeSpan"/>: none).</param>
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

    /// <summary>Makes the loop recompute its deadline now (an application call changed an engine).</summary>
    public void Wake() => _wake.TrySetResult();

    /// <summary>Runs until <paramref name="ct"/> is cancelled or every socket is gone. Never throws.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var count = _sockets.Count;
        var buffers = new byte[count][];
        var anys = new IPEndPoint[count];
        var receives = new Task<SocketReceiveFromResult>?[count];
        var alive = new bool[count];
        for (var i = 0; i < count; i++)
        {
            buffers[i] = GC.AllocateUninitializedArray<byte>(65535);
            anys[i] = new IPEndPoint(_sockets[i].AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            alive[i] = true;
        }

        var errors = new int[count];
        var waits = new List<Task>(count + 2);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var deadline = _handler.FireTimers();
                waits.Clear();
                var reading = false;
                for (var i = 0; i < count; i++)
                {
                    if (alive[i])
                    {
                        receives[i] ??= _sockets[i].ReceiveFromAsync(buffers[i], SocketFlags.None, anys[i], ct).AsTask();
                        waits.Add(receives[i]!);
                        reading = true;
                    }
                }

                if (count > 0 && !reading)
                {
                    return; // every socket failed for good
                }

                var wake = _wake.Task;
                waits.Add(wake);
                var delay = deadline == NoDeadline ? _maxSleep : Max(deadline - Now, TimeSpan.Zero) + TimeSpan.FromMilliseconds(1);
                if (_maxSleep != Timeout.InfiniteTimeSpan && delay > _maxSleep)
                {
                    delay = _maxSleep;
                }

                using var delayCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                waits.Add(Task.Delay(delay, _time, delayCts.Token));
                await Task.WhenAny(waits).ConfigureAwait(false);
                await delayCts.CancelAsync().ConfigureAwait(false);
                if (wake.IsCompleted)
                {
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                for (var i = 0; i < count; i++)
                {
                    if (receives[i] is not { IsCompleted: true } receive)
                    {
                        continue;
                    }

                    receives[i] = null;
                    SocketReceiveFromResult result;
                    try
                    {
                        result = await receive.ConfigureAwait(false);
                        errors[i] = 0;
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
                    {
                        // ICMP port unreachable from a peer that went away, or a datagram larger than the buffer: not fatal.
                        continue;
                    }
                    catch (SocketException ex) when (!ct.IsCancellationRequested && ++errors[i] < MaxConsecutiveReceiveErrors)
                    {
                        // A transient socket error (no buffer space, ...): the datagram is lost, the loop goes on.
                        SafeLogger.Log(_logger, l => NetLog.ReceiveFailed(l, ex.SocketErrorCode));
                        continue;
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && ct.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception ex)
                    {
                        // The socket itself failed for good: this socket is no longer read; the loop goes on with the others.
                        alive[i] = false;
                        SafeLogger.Log(_logger, l => NetLog.SocketStopped(l, ex, _name));
                        continue;
                    }

                    try
                    {
                        _handler.OnDatagram(i, (IPEndPoint)result.RemoteEndPoint, buffers[i].AsSpan(0, result.ReceivedBytes));
                    }
                    catch (Exception ex)
                    {
                        // Per-session work has its own boundary; this is the loop's own code failing on one datagram.
                        _handler.OnLoopFault(ex, $"{_name} failed on a datagram; dropped");
                    }
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            SafeLogger.Log(_logger, l => NetLog.LoopStopped(l, ex, _name));
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
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
