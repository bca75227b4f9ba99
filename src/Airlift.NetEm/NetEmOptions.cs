namespace Airlift.NetEm;

/// <summary>Everything a <see cref="NetworkEmulator"/> needs: per-direction impairments, scripted drops, the seed and the limits.</summary>
/// <param name="ClientToServer">Impairments on the client-to-server direction.</param>
/// <param name="ServerToClient">Impairments on the server-to-client direction.</param>
/// <param name="ScriptedDrops">Deliberate drops, evaluated before everything else.</param>
/// <param name="Seed">Seed of the random streams; the same seed and the same inputs give the same fates.</param>
public sealed record NetEmOptions(
    LinkImpairment ClientToServer,
    LinkImpairment ServerToClient,
    IReadOnlyList<ScriptedDrop> ScriptedDrops,
    ulong Seed)
{
    /// <summary>Default for <see cref="MaxQueuedDatagrams"/>.</summary>
    public const int DefaultMaxQueuedDatagrams = 4096;

    /// <summary>Default for <see cref="MaxQueuedBytes"/> (8 MiB).</summary>
    public const long DefaultMaxQueuedBytes = 8L * 1024 * 1024;

    /// <summary>Default for <see cref="MaxTraceEntries"/>.</summary>
    public const int DefaultMaxTraceEntries = 4096;

    /// <summary>Both directions clean, no scripted drops, seed 0.</summary>
    public static NetEmOptions None { get; } = new(LinkImpairment.None, LinkImpairment.None, [], 0);

    /// <summary>Most datagrams (both directions together) held in flight; a datagram past the cap is dropped and counted as DroppedQueueFull.</summary>
    public int MaxQueuedDatagrams { get; init; } = DefaultMaxQueuedDatagrams;

    /// <summary>Most bytes held in flight (both directions together); same overflow rule as <see cref="MaxQueuedDatagrams"/>.</summary>
    public long MaxQueuedBytes { get; init; } = DefaultMaxQueuedBytes;

    /// <summary>Most entries kept in <see cref="NetworkEmulator.Trace"/>; later datagrams are counted in <see cref="NetEmStats.TraceEntriesOmitted"/> but not traced. 0 turns tracing off.</summary>
    public int MaxTraceEntries { get; init; } = DefaultMaxTraceEntries;

    /// <summary>Impairments of one direction.</summary>
    public LinkImpairment For(LinkDirection direction) => direction == LinkDirection.ClientToServer ? ClientToServer : ServerToClient;

    /// <summary>Checks every part of the options.</summary>
    /// <exception cref="ArgumentException">A part is missing or out of range.</exception>
    public void Validate()
    {
        if (ClientToServer is null)
        {
            throw new ArgumentException("ClientToServer impairment is required (use LinkImpairment.None).", nameof(ClientToServer));
        }

        if (ServerToClient is null)
        {
            throw new ArgumentException("ServerToClient impairment is required (use LinkImpairment.None).", nameof(ServerToClient));
        }

        if (ScriptedDrops is null)
        {
            throw new ArgumentException("ScriptedDrops is required (use an empty list).", nameof(ScriptedDrops));
        }

        ClientToServer.Validate();
        ServerToClient.Validate();
        foreach (var drop in ScriptedDrops)
        {
            if (drop is null)
            {
                throw new ArgumentException("ScriptedDrops contains null.", nameof(ScriptedDrops));
            }

            drop.Validate();
        }

        if (MaxQueuedDatagrams < 1)
        {
            throw new ArgumentException($"MaxQueuedDatagrams must be at least 1 (was {MaxQueuedDatagrams}).", nameof(MaxQueuedDatagrams));
        }

        if (MaxQueuedBytes < 1)
        {
            throw new ArgumentException($"MaxQueuedBytes must be at least 1 (was {MaxQueuedBytes}).", nameof(MaxQueuedBytes));
        }

        if (MaxTraceEntries < 0)
        {
            throw new ArgumentException($"MaxTraceEntries must not be negative (was {MaxTraceEntries}).", nameof(MaxTraceEntries));
        }
    }
}
