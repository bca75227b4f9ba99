using System.Net;
using System.Net.Sockets;
using Airlift.Ice;
using Airlift.Net;
using Airlift.Transport;

namespace Airlift.Tests.Net;

/// <summary>
/// The ICE-TCP send queue of <c>TransportHost</c> (RFC 4571 framing, RFC 6544 passive candidates): frames in pooled
/// buffers, written in order by one writer task, nothing allocated per frame on the sending thread.
/// </summary>
public class TcpFrameQueueTests
{
    [Fact]
    public async Task Frames_arrive_in_order_and_queueing_one_allocates_nothing()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await listener.AcceptAsync();
        var tuple = new IceTuple((IPEndPoint)accepted.LocalEndPoint!, (IPEndPoint)accepted.RemoteEndPoint!, IceProtocol.Tcp);
        var connection = new TransportTcpConnection(accepted, tuple, maxFrameSize: 2048, sendQueueCapacity: 64, TimeSpan.Zero);
        connection.Start(Task.CompletedTask);

        var payload = new byte[1200];
        var received = new List<byte[]>();
        var framer = new Rfc4571Framer(2048);
        async Task ReadAsync(int count)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (received.Count < count)
            {
                var read = await client.ReceiveAsync(framer.GetWriteBuffer(), SocketFlags.None, stop.Token);
                Assert.True(read > 0, "the connection closed early");
                framer.Advance(read);
                while (framer.TryReadFrame(out var frame))
                {
                    received.Add(frame.ToArray());
                }
            }
        }

        // Media pace: bursts of a few frames, each burst written out before the next (the pool then recycles the buffers;
        // a queue far ahead of the socket rents beyond what the shared pool keeps, bounded by the queue's capacity).
        // Sizes vary within one pool bucket (frames of 603-902 bytes rent 1 KiB buffers), so the warm-up covers them.
        const int Bursts = 30, PerBurst = 10;
        static int Size(int i) => 601 + (i % 300);
        var clean = 0;
        for (var burst = 0; burst < Bursts; burst++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var k = 0; k < PerBurst; k++)
            {
                var i = burst * PerBurst + k;
                payload[0] = (byte)i;
                Assert.True(connection.TrySend(payload.AsSpan(0, Size(i))));
            }

            if (burst >= 5)
            {
                clean += GC.GetAllocatedBytesForCurrentThread() == before ? 1 : 0; // the first five bursts warm the pool up
            }

            await ReadAsync((burst + 1) * PerBurst);
        }

        // A per-frame allocation shows in every burst; the shared pool itself may miss now and then when other threads
        // (other tests) take its buffers, so most bursts, not all, must allocate nothing (all 25 do on a quiet run).
        Assert.True(clean >= 20, $"{clean} of 25 bursts allocated nothing on the sending thread");
        for (var i = 0; i < Bursts * PerBurst; i++)
        {
            var frame = received[i];
            Assert.Equal(Size(i), frame.Length);
            Assert.Equal((byte)i, frame[0]);
        }

        connection.Close();
        Assert.False(connection.TrySend(payload)); // closed: refused, the buffer goes back to the pool
    }
}
