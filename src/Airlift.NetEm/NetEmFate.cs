namespace Airlift.NetEm;

/// <summary>What the emulator decided for a datagram when it was sent.</summary>
public enum NetEmFate
{
    /// <summary>Queued for delivery (possibly late, possibly twice).</summary>
    Forwarded = 0,

    /// <summary>Dropped by independent random loss (<see cref="LinkImpairment.LossRate"/>).</summary>
    DroppedLoss,

    /// <summary>Dropped by the Gilbert-Elliott model (<see cref="LinkImpairment.Burst"/>).</summary>
    DroppedBurst,

    /// <summary>Larger than <see cref="LinkImpairment.MaxDatagramSize"/>.</summary>
    DroppedOversize,

    /// <summary>The direction is a black hole (<see cref="LinkImpairment.Blackhole"/>).</summary>
    DroppedBlackhole,

    /// <summary>Matched a <see cref="ScriptedDrop"/>.</summary>
    DroppedScripted,

    /// <summary>The in-flight queue was at its cap (<see cref="NetEmOptions.MaxQueuedDatagrams"/> / <see cref="NetEmOptions.MaxQueuedBytes"/>).</summary>
    DroppedQueueFull,
}
