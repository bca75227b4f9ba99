namespace Airlift.WebRtc;

/// <summary>
/// The last <see cref="Capacity"/> SRTP packets sent on one stream, by RTP sequence number, to answer NACKs for packets
/// lost on the way to the peer (RFC 4585 6.2.1) with the identical protected packet (the peer never received that index,
/// so it is no replay there). Each slot also remembers when its packet was last resent, so a packet goes out again at most
/// once per <see cref="NackAnswerOptions.NackResendInterval"/>. Bounded: at most <see cref="Capacity"/> x
/// <see cref="MaxPacket"/> bytes, slots allocated once and reused (no allocation per packet once warm). Not thread-safe.
/// </summary>
public sealed class RtpHistory
{
    /// <summary>Packets kept (about 1.5 s of 640x360 video at 30 fps).</summary>
    public const int Capacity = 256;

    /// <summary>Largest packet kept; larger ones are not stored (and so not resent from here).</summary>
    public const int MaxPacket = 1500;

    private readonly byte[][] _slots = new byte[Capacity][];
    private readonly int[] _lengths = new int[Capacity];
    private readonly int[] _seqs = new int[Capacity];
    private readonly TimeSpan?[] _resentAt = new TimeSpan?[Capacity];

    /// <summary>An empty history.</summary>
    public RtpHistory()
    {
        Array.Fill(_seqs, -1);
    }

    /// <summary>Keeps a copy of the protected packet sent with sequence number <paramref name="seq"/> (replacing the one 256 before it).</summary>
    public void Store(ushort seq, ReadOnlySpan<byte> srtp)
    {
        var slot = seq % Capacity;
        _resentAt[slot] = null;
        if (srtp.Length > MaxPacket)
        {
            _seqs[slot] = -1;
            return;
        }

        var buffer = _slots[slot] ??= new byte[MaxPacket];
        srtp.CopyTo(buffer);
        _lengths[slot] = srtp.Length;
        _seqs[slot] = seq;
    }

    /// <summary>True when the packet of <paramref name="seq"/> is kept.</summary>
    public bool Contains(ushort seq) => _seqs[seq % Capacity] == seq;

    /// <summary>The kept packet of <paramref name="seq"/> (valid until the next <see cref="Store"/>).</summary>
    public bool TryGet(ushort seq, out ReadOnlySpan<byte> srtp)
    {
        var slot = seq % Capacity;
        if (_seqs[slot] != seq)
        {
            srtp = default;
            return false;
        }

        srtp = _slots[slot].AsSpan(0, _lengths[slot]);
        return true;
    }

    /// <summary>Length of the packet kept for <paramref name="seq"/>, 0 when none is.</summary>
    public int LengthOf(ushort seq) => Contains(seq) ? _lengths[seq % Capacity] : 0;

    /// <summary>True when the packet kept for <paramref name="seq"/> was resent less than <paramref name="interval"/> before <paramref name="now"/>.</summary>
    public bool ResentWithin(ushort seq, TimeSpan now, TimeSpan interval) =>
        Contains(seq) && _resentAt[seq % Capacity] is { } at && now - at < interval;

    /// <summary>Records that the packet kept for <paramref name="seq"/> was resent at <paramref name="now"/>.</summary>
    public void MarkResent(ushort seq, TimeSpan now)
    {
        if (Contains(seq))
        {
            _resentAt[seq % Capacity] = now;
        }
    }
}
