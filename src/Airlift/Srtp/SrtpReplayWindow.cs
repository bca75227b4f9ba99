namespace Airlift.Srtp;

/// <summary>
/// Replay list of RFC 3711 3.3.2 as a sliding bitmap: bit k of the map says whether index (highest - k) was accepted.
/// <see cref="Check"/> never changes state; <see cref="Accept"/> runs only after the packet authenticated.
/// </summary>
internal sealed class SrtpReplayWindow
{
    private readonly ulong[] _bits;

    public SrtpReplayWindow(int size)
    {
        _bits = new ulong[size / 64];
    }

    /// <summary>Window size in packets.</summary>
    public int Size => _bits.Length * 64;

    /// <summary>True once any index was accepted.</summary>
    public bool HasAny { get; private set; }

    /// <summary>Highest accepted index (valid when <see cref="HasAny"/>).</summary>
    public ulong Highest { get; private set; }

    public SrtpStatus Check(ulong index)
    {
        if (!HasAny || index > Highest)
        {
            return SrtpStatus.Ok;
        }

        var delta = Highest - index;
        if (delta >= (ulong)Size)
        {
            return SrtpStatus.TooOld;
        }

        var bit = (int)delta;
        return (_bits[bit >> 6] & (1UL << (bit & 63))) != 0 ? SrtpStatus.Replayed : SrtpStatus.Ok;
    }

    public void Accept(ulong index)
    {
        if (!HasAny)
        {
            HasAny = true;
            Highest = index;
            _bits[0] = 1;
            return;
        }

        if (index > Highest)
        {
            Shift(index - Highest);
            Highest = index;
            _bits[0] |= 1;
            return;
        }

        var bit = (int)(Highest - index);
        _bits[bit >> 6] |= 1UL << (bit & 63);
    }

    private void Shift(ulong n)
    {
        if (n >= (ulong)Size)
        {
            Array.Clear(_bits);
            return;
        }

        var words = (int)(n >> 6);
        var bits = (int)(n & 63);
        for (var i = _bits.Length - 1; i >= 0; i--)
        {
            var src = i - words;
            var v = src >= 0 ? _bits[src] << bits : 0;
            if (bits != 0 && src - 1 >= 0)
            {
                v |= _bits[src - 1] >> (64 - bits);
            }

            _bits[i] = v;
        }
    }
}

/// <summary>State of one SSRC in one direction: SRTP index and replay list, SRTCP replay list and next SRTCP index.</summary>
internal sealed class SrtpStream
{
    public SrtpStream(uint ssrc, int windowSize)
    {
        Ssrc = ssrc;
        Rtp = new SrtpReplayWindow(windowSize);
        Rtcp = new SrtpReplayWindow(windowSize);
    }

    public uint Ssrc { get; }

    /// <summary>SRTP packet indexes (ROC * 2^16 + SEQ); its highest value carries ROC and s_l of RFC 3711 3.3.1.</summary>
    public SrtpReplayWindow Rtp { get; }

    /// <summary>31-bit SRTCP indexes.</summary>
    public SrtpReplayWindow Rtcp { get; }

    /// <summary>Next SRTCP index to send (protect direction).</summary>
    public uint NextRtcpIndex { get; set; }

    /// <summary>
    /// RFC 3711 3.3.1 / appendix A: guesses the 48-bit index of <paramref name="seq"/> from the highest index seen
    /// (s_l = its low 16 bits, ROC = the rest). A first packet has ROC 0. A guess before index 0 is
    /// <see cref="SrtpStatus.TooOld"/>; a guess past ROC 2^32 - 1 is <see cref="SrtpStatus.KeyExhausted"/>.
    /// </summary>
    public static SrtpStatus EstimateIndex(SrtpReplayWindow? window, ushort seq, out ulong index)
    {
        if (window is null || !window.HasAny)
        {
            index = seq;
            return SrtpStatus.Ok;
        }

        var roc = (long)(window.Highest >> 16);
        int sl = (ushort)window.Highest;
        long v;
        if (sl < 32768)
        {
            v = seq - sl > 32768 ? roc - 1 : roc;
        }
        else
        {
            v = sl - 32768 > seq ? roc + 1 : roc;
        }

        if (v < 0)
        {
            index = 0;
            return SrtpStatus.TooOld;
        }

        if (v > uint.MaxValue)
        {
            index = 0;
            return SrtpStatus.KeyExhausted;
        }

        index = ((ulong)v << 16) | seq;
        return SrtpStatus.Ok;
    }
}
