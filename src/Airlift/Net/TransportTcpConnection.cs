using System.Buffers;
using System.Net.Sockets;
using System.Threading.Channels;
using Airlift.Ice;
using Airlift.Transport;

namespace Airlift.Net;

/// <summary>
/// One accepted ICE-TCP connection (RFC 6544 passive candidate): a fixed-size RFC 4571 framer for reading and a bounded
/// queue of outgoing frames drained by one writer task. State is guarded by the host's lock.
/// </summary>
/// <remarks>
/// A queued frame lives in a buffer rented from <see cref="ArrayPool{T}.Shared"/> and returned once written or when the
/// connection closes, so a frame sent costs no allocation (not cleared: a frame holds only bytes that go on the wire);
/// the queue holds at most <c>sendQueueCapacity</c> frames of at most 65,537 bytes each.
/// </remarks>
internal sealed class TransportTcpConnection
{
    private readonly Channel<Frame> _send;
    private readonly CancellationTokenSource _cts = new();
    private Task? _reader;
    private Task? _writer;

    public TransportTcpConnection(Socket socket, IceTuple tuple, int maxFrameSize, int sendQueueCapacity, TimeSpan now)
    {
        Socket = socket;
        Tuple = tuple;
        Framer = new Rfc4571Framer(maxFrameSize);
        LastActivity = now;
        _send = Channel.CreateBounded<Frame>(new BoundedChannelOptions(sendQueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public Socket Socket { get; }

    public IceTuple Tuple { get; }

    public Rfc4571Framer Framer { get; }

    public TimeSpan LastActivity { get; set; }

    /// <summary>True once a valid ICE check arrived on it (it then routes straight to its session).</summary>
    public bool Bound { get; set; }

    public bool Closed { get; private set; }

    public void Start(Task reader)
    {
        _reader = reader;
        _writer = Task.Run(WriteLoop);
    }

    /// <summary>Queues one datagram as a frame; false when the queue is full or the connection closed.</summary>
    public bool TrySend(ReadOnlySpan<byte> datagram)
    {
        if (Closed || datagram.Length > ushort.MaxValue)
        {
            return false;
        }

        var length = Rfc4571Framer.HeaderLength + datagram.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        Rfc4571Framer.WriteFrame(datagram, buffer);
        if (_send.Writer.TryWrite(new Frame(buffer, length)))
        {
            return true;
        }

        Return(buffer);
        return false;
    }

    public void Close()
    {
        if (Closed)
        {
            return;
        }

        Closed = true;
        _send.Writer.TryComplete();
        _cts.Cancel();
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        Socket.Dispose();
    }

    private async Task WriteLoop()
    {
        var reader = _send.Reader;
        try
        {
            // No token on the wait: the channel then reuses one waiter instead of allocating one per wake-up; Close
            // completes the channel, which ends the wait.
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    try
                    {
                        await Socket.SendAsync(frame.Buffer.AsMemory(0, frame.Length), SocketFlags.None, _cts.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        Return(frame.Buffer);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The reader sees the same failure and closes the connection under the host's lock.
        }
        finally
        {
            // Frames still queued when the connection closed go back to the pool.
            while (reader.TryRead(out var left))
            {
                Return(left.Buffer);
            }
        }
    }

    private static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

    /// <summary>One queued RFC 4571 frame: a rented buffer and the frame's length in it.</summary>
    private readonly record struct Frame(byte[] Buffer, int Length);
}
