using System.Net;
using System.Net.Sockets;
using Airlift.Net;
using Airlift.Tests.NetEm;

namespace Airlift.Tests.Net;

/// <summary>
/// The shape of <see cref="SocketDriver"/> (issue #13): a receive loop per socket that hands over every datagram already
/// queued in bounded batches with a timer pass between them (the drain rule, timers never starved), one timer on the
/// given <see cref="TimeProvider"/> armed for the earliest deadline, wake-ups, and a failed socket that stops only itself.
/// </summary>
public sealed class SocketDriverTests
{
    /// <summary>Records what the driver hands over, in order: 'T' a timer pass, a datagram its first byte's sequence number.</summary>
    private sealed class RecordingHandler(Func<TimeSpan>? now = null) : ISocketDriverHandler
    {
        private readonly Lock _lock = new();
        private readonly List<TimeSpan> _passTimes = [];
        private readonly List<int> _log = []; // -1: timer pass; otherwise socket * 1000 + sequence
        private TimeSpan _deadline = SocketDriver.NoDeadline;

        public TimeSpan Deadline
        {
            set
            {
                lock (_lock)
                {
                    _deadline = value;
                }
            }
        }

        public int TimerPasses => Snapshot().Count(e => e < 0);

        /// <summary>The clock's time at each timer pass.</summary>
        public List<TimeSpan> PassTimes
        {
            get
            {
                lock (_lock)
                {
                    return [.. _passTimes];
                }
            }
        }

        public int DatagramsFrom(int socket) => Snapshot().Count(e => e >= 0 && e / 1000 == socket);

        public List<int> Snapshot()
        {
            lock (_lock)
            {
                return [.. _log];
            }
        }

        public TimeSpan FireTimers()
        {
            lock (_lock)
            {
                _log.Add(-1);
                _passTimes.Add(now?.Invoke() ?? TimeSpan.Zero);
                return _deadline;
            }
        }

        public void OnDatagram(int socketIndex, SocketAddress remote, ReadOnlySpan<byte> datagram)
        {
            lock (_lock)
            {
                _log.Add((socketIndex * 1000) + datagram[0]);
            }
        }

        public void OnLoopFault(Exception exception, string message)
        {
        }
    }

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 1024 * 1024 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    [Fact]
    public async Task Queued_datagrams_are_handed_over_in_order_in_batches_of_at_most_MaxBatch_with_a_timer_pass_between()
    {
        using var socket = Bound();
        using var sender = Bound();
        const int Count = 200; // more than three batches
        for (var i = 0; i < Count; i++)
        {
            sender.SendTo([(byte)i], SocketFlags.None, socket.LocalEndPoint!); // all queued before the driver reads
        }

        var handler = new RecordingHandler();
        var driver = new SocketDriver([socket], TimeProvider.System, TimeProvider.System.GetTimestamp(), handler, null, Timeout.InfiniteTimeSpan, "test");
        using var stop = new CancellationTokenSource();
        var run = driver.RunAsync(stop.Token);
        await NetTestSupport.WaitUntilAsync(() => handler.DatagramsFrom(0) == Count);
        await stop.CancelAsync();
        await run.WaitAsync(NetTestSupport.Bound);

        var log = handler.Snapshot();
        Assert.Equal(Enumerable.Range(0, Count), log.Where(e => e >= 0));
        var longestRun = 0;
        var current = 0;
        foreach (var e in log)
        {
            current = e < 0 ? 0 : current + 1;
            longestRun = Math.Max(longestRun, current);
        }

        Assert.InRange(longestRun, 1, SocketDriver.MaxBatch);
    }

    [Fact]
    public async Task A_timer_pass_runs_at_start_on_Wake_and_when_the_earliest_deadline_passes_on_the_given_clock()
    {
        var clock = new ManualTimeProvider();
        var origin = clock.GetTimestamp();
        var handler = new RecordingHandler(() => clock.GetElapsedTime(origin));
        var driver = new SocketDriver([], clock, origin, handler, null, Timeout.InfiniteTimeSpan, "timer-only");
        using var stop = new CancellationTokenSource();
        var run = driver.RunAsync(stop.Token);
        await NetTestSupport.WaitUntilAsync(() => handler.TimerPasses == 1);
        Assert.Equal(1, handler.TimerPasses);

        // An application call brings a deadline 100 ms away and wakes the driver: a pass, which arms the timer.
        var deadline = driver.Now + TimeSpan.FromMilliseconds(100);
        handler.Deadline = deadline;
        driver.Wake();
        await NetTestSupport.WaitUntilAsync(() => handler.TimerPasses == 2);
        Assert.Equal(2, handler.TimerPasses);

        // The virtual clock moves in 5 ms steps (the pass arms the timer just after it is counted): the timer fires once the
        // deadline has passed, never before, and a pass runs.
        handler.Deadline = SocketDriver.NoDeadline;
        await NetTestSupport.WaitUntilAsync(() =>
        {
            if (handler.TimerPasses < 3)
            {
                clock.Advance(TimeSpan.FromMilliseconds(5));
            }

            return handler.TimerPasses >= 3;
        });
        Assert.Equal(3, handler.TimerPasses);
        Assert.True(handler.PassTimes[2] > deadline, $"pass at {handler.PassTimes[2]}, deadline {deadline}");

        // Wake-ups are merged, never lost: after several, at least one more pass runs.
        driver.Wake();
        driver.Wake();
        await NetTestSupport.WaitUntilAsync(() => handler.TimerPasses >= 4);
        Assert.InRange(handler.TimerPasses, 4, 5);

        await stop.CancelAsync();
        await run.WaitAsync(NetTestSupport.Bound);
    }

    [Fact]
    public async Task A_socket_that_fails_stops_only_its_own_reads_and_the_driver_ends_when_every_socket_has()
    {
        var first = Bound();
        var second = Bound();
        using var sender = Bound();
        var handler = new RecordingHandler();
        var driver = new SocketDriver([first, second], TimeProvider.System, TimeProvider.System.GetTimestamp(), handler, null, TimeSpan.FromSeconds(1), "two sockets");
        var run = driver.RunAsync(CancellationToken.None);

        first.Dispose(); // not a cancellation: that socket failed for good
        sender.SendTo([7], SocketFlags.None, second.LocalEndPoint!);
        await NetTestSupport.WaitUntilAsync(() => handler.DatagramsFrom(1) == 1);
        Assert.Equal(1, handler.DatagramsFrom(1));
        Assert.False(run.IsCompleted);

        second.Dispose(); // the last socket: the driver (timers included) ends without being cancelled
        await run.WaitAsync(NetTestSupport.Bound);
        Assert.Equal(0, handler.DatagramsFrom(0));
    }
}
