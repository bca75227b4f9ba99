namespace Airlift.NetEm;

/// <summary>
/// Gilbert-Elliott two-state burst loss. The link is either Good or Bad; each datagram is lost with the
/// loss probability of the current state, then the state moves (Good to Bad with
/// <see cref="PGoodToBad"/>, Bad to Good with <see cref="PBadToGood"/>). The link starts Good.
/// The model is evaluated for every datagram seen in the direction, whatever else happens to it, so
/// the state sequence depends only on the seed and the datagram count.
/// </summary>
public sealed record BurstLoss
{
    /// <summary>Creates a Gilbert-Elliott model. Every argument is a probability in [0, 1].</summary>
    /// <param name="pGoodToBad">Probability of moving from Good to Bad after a datagram (p).</param>
    /// <param name="pBadToGood">Probability of moving from Bad to Good after a datagram (r); the mean burst length is 1/r.</param>
    /// <param name="lossInBad">Loss probability while Bad (1-h); 1 means every datagram in a burst is lost.</param>
    /// <param name="lossInGood">Loss probability while Good (1-k); usually 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A probability is outside [0, 1] or NaN.</exception>
    public BurstLoss(double pGoodToBad, double pBadToGood, double lossInBad = 1.0, double lossInGood = 0.0)
    {
        PGoodToBad = pGoodToBad;
        PBadToGood = pBadToGood;
        LossInBad = lossInBad;
        LossInGood = lossInGood;
    }

    /// <summary>Probability of moving from Good to Bad after a datagram.</summary>
    public double PGoodToBad { get; init => field = Probability.Check(value, nameof(PGoodToBad)); }

    /// <summary>Probability of moving from Bad to Good after a datagram.</summary>
    public double PBadToGood { get; init => field = Probability.Check(value, nameof(PBadToGood)); }

    /// <summary>Loss probability while in the Bad state.</summary>
    public double LossInBad { get; init => field = Probability.Check(value, nameof(LossInBad)); }

    /// <summary>Loss probability while in the Good state.</summary>
    public double LossInGood { get; init => field = Probability.Check(value, nameof(LossInGood)); }

    /// <summary>Long-run share of datagrams lost by this model alone (stationary distribution of the chain).</summary>
    public double AverageLossRate
    {
        get
        {
            var sum = PGoodToBad + PBadToGood;
            if (sum == 0)
            {
                return LossInGood; // never leaves the Good start state
            }

            var bad = PGoodToBad / sum;
            return (bad * LossInBad) + ((1 - bad) * LossInGood);
        }
    }
}

/// <summary>Shared range check for probabilities in option records.</summary>
internal static class Probability
{
    public static double Check(double value, string name)
    {
        if (double.IsNaN(value) || value < 0 || value > 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} is a probability and must be within [0, 1].");
        }

        return value;
    }
}
