namespace Airlift.NetEm;

/// <summary>Counters for one direction (a snapshot).</summary>
/// <param name="Seen">Datagrams offered to the path.</param>
/// <param name="Delivered">Datagrams handed out by PollOutput (or TryReceive), duplicates included.</param>
/// <param name="DroppedLoss">Dropped by independent random loss.</param>
/// <param name="DroppedBurst">Dropped by the Gilbert-Elliott model.</param>
/// <param name="DroppedOversize">Dropped for exceeding MaxDatagramSize.</param>
/// <param name="DroppedBlackhole">Dropped by a black hole.</param>
/// <param name="DroppedScripted">Dropped by a scripted rule.</param>
/// <param name="DroppedQueueFull">Dropped because the in-flight queue was full (duplicate copies included).</param>
/// <param name="Duplicated">Extra copies queued.</param>
/// <param name="Reordered">Datagrams held back by the reorder delay.</param>
/// <param name="LargestSeen">Largest datagram offered, in bytes.</param>
/// <param name="LargestDelivered">Largest datagram delivered, in bytes.</param>
public sealed record NetEmDirectionStats(
    long Seen,
    long Delivered,
    long DroppedLoss,
    long DroppedBurst,
    long DroppedOversize,
    long DroppedBlackhole,
    long DroppedScripted,
    long DroppedQueueFull,
    long Duplicated,
    long Reordered,
    int LargestSeen,
    int LargestDelivered)
{
    /// <summary>All drops together.</summary>
    public long Dropped => DroppedLoss + DroppedBurst + DroppedOversize + DroppedBlackhole + DroppedScripted + DroppedQueueFull;
}

/// <summary>A snapshot of the emulator's counters.</summary>
/// <param name="ClientToServer">Client-to-server counters.</param>
/// <param name="ServerToClient">Server-to-client counters.</param>
/// <param name="QueuedDatagrams">Datagrams in flight now.</param>
/// <param name="QueuedBytes">Bytes in flight now.</param>
/// <param name="TraceEntriesOmitted">Datagrams not traced because the trace was full.</param>
public sealed record NetEmStats(
    NetEmDirectionStats ClientToServer,
    NetEmDirectionStats ServerToClient,
    int QueuedDatagrams,
    long QueuedBytes,
    long TraceEntriesOmitted)
{
    /// <summary>Counters of one direction.</summary>
    public NetEmDirectionStats For(LinkDirection direction) => direction == LinkDirection.ClientToServer ? ClientToServer : ServerToClient;
}
