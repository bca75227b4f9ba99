namespace Airlift.Dtls.Handshake;

/// <summary>
/// Flight retransmission timer: starts at the initial timeout for each new flight, doubles on every expiry
/// up to a cap, with seeded relative jitter so that peers started together do not retransmit in lockstep.
/// Pure arithmetic on the <c>now</c> it is given.
/// </summary>
internal sealed class RetransmitTimer
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _cap;
    private readonly double _jitter;
    private readonly RandomSource _random;

    public RetransmitTimer(TimeSpan initial, TimeSpan cap, double jitter, RandomSource random)
    {
        _initial = initial <= cap ? initial : cap;
        _cap = cap;
        _jitter = jitter;
        _random = random;
        Current = _initial;
    }

    /// <summary>The un-jittered timeout of the current interval.</summary>
    public TimeSpan Current { get; private set; }

    /// <summary>When the timer fires, or null when stopped.</summary>
    public TimeSpan? Deadline { get; private set; }

    /// <summary>Arms the timer for a new flight: backoff starts over.</summary>
    public void StartNewFlight(TimeSpan now)
    {
        Current = _initial;
        Arm(now);
    }

    /// <summary>After an expiry: double (to the cap) and re-arm.</summary>
    public void Backoff(TimeSpan now)
    {
        Current = TimeSpan.FromTicks(Math.Min(_cap.Ticks, Current.Ticks * 2));
        Arm(now);
    }

    /// <summary>Stops the timer.</summary>
    public void Stop() => Deadline = null;

    private void Arm(TimeSpan now)
    {
        var factor = 1 + _jitter * (2 * _random.NextDouble() - 1);
        Deadline = now + TimeSpan.FromTicks((long)(Current.Ticks * factor));
    }
}
