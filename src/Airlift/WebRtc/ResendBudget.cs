namespace Airlift.WebRtc;

/// <summary>
/// The byte budget of one session's NACK answers: a token bucket whose tokens are earned from the bytes the peer sent
/// (<see cref="NackAnswerOptions.ResendBudgetRatio"/> per byte) and that may also be spent no faster than
/// <see cref="NackAnswerOptions.ResendBytesPerSecond"/> (a second bucket refilled by time); both hold at most
/// <see cref="NackAnswerOptions.ResendBurstBytes"/>. Starts with nothing earned, so a peer gets answers only for what it
/// sent. Time is passed in (any monotonic clock of the caller's). Not thread-safe.
/// </summary>
public sealed class ResendBudget
{
    private readonly double _ratio;
    private readonly double _burst;
    private readonly double _perSecond;
    private double _earned;
    private double _timeTokens;
    private TimeSpan _refilledAt;

    /// <summary>A budget with nothing earned yet and a full time bucket.</summary>
    public ResendBudget(NackAnswerOptions options, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ratio = options.ResendBudgetRatio;
        _burst = options.ResendBurstBytes;
        _perSecond = options.ResendBytesPerSecond;
        _timeTokens = _burst;
        _refilledAt = now;
    }

    /// <summary>Bytes that could be spent now (ignoring time passing since the last call).</summary>
    public long Available => (long)Math.Min(_earned, _timeTokens);

    /// <summary>Total bytes spent.</summary>
    public long Spent { get; private set; }

    /// <summary>Credits <paramref name="wireBytes"/> received from the peer.</summary>
    public void Earn(int wireBytes) => _earned = Math.Min(_burst, _earned + wireBytes * _ratio);

    /// <summary>Takes <paramref name="wireBytes"/> from the budget if both buckets hold that much; false (nothing taken) otherwise.</summary>
    public bool TrySpend(TimeSpan now, int wireBytes)
    {
        if (now > _refilledAt)
        {
            _timeTokens = Math.Min(_burst, _timeTokens + (now - _refilledAt).TotalSeconds * _perSecond);
            _refilledAt = now;
        }

        if (_earned < wireBytes || _timeTokens < wireBytes)
        {
            return false;
        }

        _earned -= wireBytes;
        _timeTokens -= wireBytes;
        Spent += wireBytes;
        return true;
    }
}
