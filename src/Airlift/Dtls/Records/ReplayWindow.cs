namespace Airlift.Dtls.Records;

/// <summary>
/// Anti-replay sliding window for one epoch (RFC 6347 4.1.2.6). The window covers the highest
/// authenticated sequence number and the <see cref="Size"/> - 1 numbers below it. A record is checked
/// before decryption and marked only after it authenticated, so a forged record cannot move the window.
/// </summary>
internal sealed class ReplayWindow
{
    /// <summary>Records tracked below the highest one seen (RFC 6347 requires at least 32; 64 recommended).</summary>
    public const int Size = 128;

    private readonly ulong[] _bits = new ulong[Size / 64];
    private ulong _highest;
    private bool _any;

    /// <summary>The highest authenticated sequence number, or null before the first (DTLS 1.3 reconstructs sequence numbers from it).</summary>
    public ulong? Highest => _any ? _highest : null;

    /// <summary>True when <paramref name="sequence"/> is new and inside (or ahead of) the window.</summary>
    public bool IsFresh(ulong sequence)
    {
        if (!_any || sequence > _highest)
        {
            return true;
        }

        var offset = _highest - sequence;
        if (offset >= Size)
        {
            return false;
        }

        return (_bits[offset / 64] & (1UL << (int)(offset % 64))) == 0;
    }

    /// <summary>Marks an authenticated record.</summary>
    public void Mark(ulong sequence)
    {
        if (!_any)
        {
            _any = true;
            _highest = sequence;
            Array.Clear(_bits);
            _bits[0] = 1;
            return;
        }

        if (sequence > _highest)
        {
            Shift(sequence - _highest);
            _highest = sequence;
            _bits[0] |= 1;
            return;
        }

        var offset = _highest - sequence;
        if (offset < Size)
        {
            _bits[offset / 64] |= 1UL << (int)(offset % 64);
        }
    }

    private void Shift(ulong by)
    {
        if (by >= Size)
        {
            Array.Clear(_bits);
            return;
        }

        var words = (int)(by / 64);
        var bitsShift = (int)(by % 64);
        for (var i = _bits.Length - 1; i >= 0; i--)
        {
            var src = i - words;
            ulong value = 0;
            if (src >= 0)
            {
                value = _bits[src] << bitsShift;
                if (bitsShift != 0 && src - 1 >= 0)
                {
                    value |= _bits[src - 1] >> (64 - bitsShift);
                }
            }

            _bits[i] = value;
        }
    }
}
