namespace Airlift.NetEm;

/// <summary>What <see cref="NetworkEmulator.PollOutput"/> returned.</summary>
public enum NetEmOutputKind
{
    /// <summary>A datagram leaves the path: <see cref="NetEmOutput.Length"/> bytes of the caller's buffer.</summary>
    Deliver,

    /// <summary>Nothing is due: come back at <see cref="NetEmOutput.Deadline"/> (<see cref="NetEmOutput.NoDeadline"/>: nothing in flight).</summary>
    Timeout,

    /// <summary>The caller's buffer cannot hold the next datagram (it needs <see cref="NetEmOutput.Length"/> bytes); nothing was consumed.</summary>
    BufferTooSmall,
}

/// <summary>One output of <see cref="NetworkEmulator.PollOutput"/>, shaped like the outputs of the other Airlift engines.</summary>
/// <param name="Kind">What this is.</param>
/// <param name="Direction">Direction the datagram travelled (Deliver, BufferTooSmall).</param>
/// <param name="Length">Bytes written (Deliver) or needed (BufferTooSmall).</param>
/// <param name="Flow">The caller's tag from <see cref="NetworkEmulator.HandleDatagram"/>.</param>
/// <param name="SentAt">When the datagram was offered.</param>
/// <param name="DeliverAt">When the path released it.</param>
/// <param name="Deadline">The next delivery time (Timeout only).</param>
public readonly record struct NetEmOutput(NetEmOutputKind Kind, LinkDirection Direction, int Length, int Flow, TimeSpan SentAt, TimeSpan DeliverAt, TimeSpan Deadline)
{
    /// <summary>"No deadline": <see cref="TimeSpan.MaxValue"/>, the value every Airlift engine uses.</summary>
    public static readonly TimeSpan NoDeadline = TimeSpan.MaxValue;
}
