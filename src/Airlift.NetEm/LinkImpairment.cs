namespace Airlift.NetEm;

/// <summary>
/// Impairments applied to one direction of the emulated path. Immutable; every property is checked
/// when it is set (also through <c>with</c>), and <see cref="Validate"/> checks the combinations.
/// </summary>
/// <remarks>
/// Order of evaluation for a datagram: scripted drops (see <see cref="ScriptedDrop"/>), then
/// <see cref="Blackhole"/>, <see cref="MaxDatagramSize"/>, <see cref="Burst"/>, <see cref="LossRate"/>,
/// and the emulator's queue cap. A datagram that survives is delivered after
/// <see cref="Delay"/> plus a uniform draw in [-<see cref="Jitter"/>, +<see cref="Jitter"/>] (never before
/// it was sent), plus <see cref="ReorderDelay"/> when it is picked for reordering; with
/// <see cref="DuplicateRate"/> a second copy follows with its own jitter.
/// </remarks>
public sealed record LinkImpairment
{
    /// <summary>Largest accepted <see cref="Delay"/>, <see cref="Jitter"/> and <see cref="ReorderDelay"/> (one hour): keeps time arithmetic far from overflow.</summary>
    public static readonly TimeSpan MaxTimeSetting = TimeSpan.FromHours(1);

    /// <summary>No impairment: everything is delivered at once, in order.</summary>
    public static LinkImpairment None { get; } = new();

    /// <summary>Independent (Bernoulli) loss probability per datagram, in [0, 1].</summary>
    public double LossRate { get; init => field = Probability.Check(value, nameof(LossRate)); }

    /// <summary>Optional Gilbert-Elliott burst loss, applied in addition to <see cref="LossRate"/>.</summary>
    public BurstLoss? Burst { get; init; }

    /// <summary>
    /// Largest UDP payload the path carries; larger datagrams vanish silently, as on a path whose IP
    /// fragments are dropped (an MTU black hole, F1) or a relay with a fixed receive buffer (F4). Null: no limit.
    /// </summary>
    public int? MaxDatagramSize
    {
        get;
        init
        {
            if (value is < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxDatagramSize), value, "MaxDatagramSize must be at least 1 byte, or null for no limit.");
            }

            field = value;
        }
    }

    /// <summary>Base one-way delay.</summary>
    public TimeSpan Delay { get; init => field = CheckTime(value, nameof(Delay)); }

    /// <summary>Half-width of the uniform jitter added to <see cref="Delay"/> (+- this value).</summary>
    public TimeSpan Jitter { get; init => field = CheckTime(value, nameof(Jitter)); }

    /// <summary>Probability in [0, 1] that a datagram is held back by an extra <see cref="ReorderDelay"/>, letting later ones overtake it.</summary>
    public double ReorderRate { get; init => field = Probability.Check(value, nameof(ReorderRate)); }

    /// <summary>Extra delay for a datagram picked for reordering. Must be positive when <see cref="ReorderRate"/> is.</summary>
    public TimeSpan ReorderDelay { get; init => field = CheckTime(value, nameof(ReorderDelay)); }

    /// <summary>Probability in [0, 1] that a delivered datagram is delivered twice.</summary>
    public double DuplicateRate { get; init => field = Probability.Check(value, nameof(DuplicateRate)); }

    /// <summary>Drop everything in this direction: a one-way path (F3).</summary>
    public bool Blackhole { get; init; }

    /// <summary>Checks the combinations the property setters cannot see.</summary>
    /// <exception cref="ArgumentException">The settings contradict each other.</exception>
    public void Validate()
    {
        if (ReorderRate > 0 && ReorderDelay <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ReorderRate is {ReorderRate} but ReorderDelay is zero, so nothing would be reordered; set a positive ReorderDelay.", nameof(ReorderDelay));
        }
    }

    private static TimeSpan CheckTime(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero || value > MaxTimeSetting)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be within [0, {MaxTimeSetting}].");
        }

        return value;
    }
}
