using Airlift.NetEm;

namespace Airlift.Tests.NetEm;

/// <summary>The emulator has the engine shape of every Airlift engine: HandleDatagram / HandleTimeout / PollOutput until a
/// Timeout whose deadline is the next delivery (TimeSpan.MaxValue: nothing in flight).</summary>
public sealed class NetworkEmulatorEngineShapeTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(20);

    private static NetworkEmulator Emulator() =>
        new(NetEmOptions.None with { ClientToServer = new LinkImpairment { Delay = Delay }, ServerToClient = new LinkImpairment { Delay = Delay } });

    [Fact]
    public void PollOutput_delivers_at_the_deadline_it_announced_and_then_reports_no_deadline()
    {
        var emulator = Emulator();
        var buffer = new byte[64];
        Assert.Equal(NetEmOutput.NoDeadline, emulator.PollOutput(buffer).Deadline);

        Assert.Equal(NetEmFate.Forwarded, emulator.HandleDatagram(TimeSpan.Zero, LinkDirection.ClientToServer, [1, 2, 3], flow: 7));
        var wait = emulator.PollOutput(buffer);
        Assert.Equal(NetEmOutputKind.Timeout, wait.Kind);
        Assert.Equal(Delay, wait.Deadline);

        emulator.HandleTimeout(wait.Deadline - TimeSpan.FromTicks(1));
        Assert.Equal(NetEmOutputKind.Timeout, emulator.PollOutput(buffer).Kind); // not yet

        emulator.HandleTimeout(wait.Deadline);
        var delivery = emulator.PollOutput(buffer);
        Assert.Equal(NetEmOutputKind.Deliver, delivery.Kind);
        Assert.Equal(LinkDirection.ClientToServer, delivery.Direction);
        Assert.Equal(7, delivery.Flow);
        Assert.Equal(Delay, delivery.DeliverAt);
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer.AsSpan(0, delivery.Length).ToArray());

        var done = emulator.PollOutput(buffer);
        Assert.Equal(NetEmOutputKind.Timeout, done.Kind);
        Assert.Equal(NetEmOutput.NoDeadline, done.Deadline);
        Assert.Equal(1, emulator.Stats.ClientToServer.Delivered);
    }

    [Fact]
    public void PollOutput_into_a_buffer_too_small_reports_the_size_and_keeps_the_datagram()
    {
        var emulator = Emulator();
        emulator.HandleDatagram(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[100]);
        emulator.HandleTimeout(Delay);

        var small = emulator.PollOutput(new byte[10]);

        Assert.Equal(NetEmOutputKind.BufferTooSmall, small.Kind);
        Assert.Equal(100, small.Length);
        Assert.Equal(1, emulator.QueuedDatagrams);
        Assert.Equal(NetEmOutputKind.Deliver, emulator.PollOutput(new byte[100]).Kind);
    }
}
