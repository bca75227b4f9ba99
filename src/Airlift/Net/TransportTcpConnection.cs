using System.Net.Sockets;
using System.Threading.Channels;
using Airlift.Ice;
using Airlift.Transport;

namespace Airlift.Net;

/// <summary>
/// One accepted ICE-TCP connection (RFC 6544 passive candidate): a fixed-size RFC 4571 framer for reading and a bounded
/// queue of outgoing frames drained by one writer task. State is guarded by the host's lock.
/// </summary>
internal sealed class TransportTcpConnection
{
    private readonly Channel<byte[]> _send;
    private readonly CancellationTokenSource _cts = new();
    private Task? _reader;
    private Task? _writer;

    public TransportTcpConnection(Socket socket, IceTuple tuple, int maxFrameSize, int sendQueueCapacity, TimeSpan now)
    {
        Socket = socket;
        Tuple = tuple;
        Framer = new Rfc4571Framer(maxFrameSize);
        LastActivity = now;
        _send = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(sendQueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
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

        var frame = new byte[Rfc4571Framer.HeaderLength + datagram.Length];
        Rfc4571Framer.WriteFrame(datagram, frame);
        return _send.Writer.TryWrite(frame);
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
        try
        {
            await foreach (var frame in _send.Reader.ReadAllAsync(_cts.Token).ConfigureAwait(false))
            {
                await Socket.SendAsync(frame, SocketFlags.None, _cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The reader sees the same failure and closes the connection under the host's lock.
        }
    }
}
