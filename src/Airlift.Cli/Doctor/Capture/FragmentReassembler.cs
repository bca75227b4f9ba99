using System.Net;

namespace Airlift.Cli.Doctor.Capture;

/// <summary>Identifies the fragments of one IP datagram (RFC 791 3.2, RFC 8200 4.5). IPv6 uses protocol 0.</summary>
internal readonly record struct FragmentKey(IPAddress Source, IPAddress Destination, uint Id, byte Protocol);

/// <summary>
/// IP fragment reassembly with bounded memory: at most <see cref="CaptureLimits.MaxPendingFragmentedDatagrams"/>
/// datagrams and <see cref="CaptureLimits.MaxPendingFragmentBytes"/> bytes wait at once (the oldest is given up first),
/// and a datagram incomplete after <see cref="CaptureLimits.FragmentTimeout"/> of capture time is given up. Given-up
/// datagrams are returned as counts, never silently lost.
/// </summary>
internal sealed class FragmentReassembler(CaptureLimits limits)
{
    private const int MaxDatagram = 65_535;
    private readonly Dictionary<FragmentKey, Pending> _pending = [];
    private int _bytes;

    /// <summary>Upper-layer protocol of the datagram the last successful <see cref="Add"/> completed (IPv6).</summary>
    public byte LastUpperProtocol { get; private set; }

    /// <summary>Adds a fragment; returns the reassembled payload when this fragment completes its datagram.</summary>
    public byte[]? Add(FragmentKey key, int offset, bool more, ReadOnlySpan<byte> data, int ipLength, long nowNs, out int fragments, out int largest, out int dropped, byte? upper = null)
    {
        fragments = 0;
        largest = 0;
        dropped = Expire(nowNs);
        if (offset + data.Length > MaxDatagram || (more && data.Length % 8 != 0) || data.Length > limits.MaxPendingFragmentBytes)
        {
            dropped += Remove(key) ? 1 : 0;
            dropped++;
            return null;
        }

        if (!_pending.TryGetValue(key, out var p))
        {
            while (_pending.Count > 0 && (_pending.Count >= limits.MaxPendingFragmentedDatagrams || _bytes + data.Length > limits.MaxPendingFragmentBytes))
            {
                var oldest = _pending.MinBy(e => e.Value.FirstNs).Key;
                Remove(oldest);
                dropped++;
            }

            p = new Pending(nowNs);
            _pending[key] = p;
        }
        else if (_bytes + data.Length > limits.MaxPendingFragmentBytes)
        {
            Remove(key);
            return null;
        }

        p.Pieces.Add((offset, data.ToArray()));
        p.Bytes += data.Length;
        _bytes += data.Length;
        p.Largest = Math.Max(p.Largest, ipLength);
        if (upper is { } u)
        {
            p.Upper = u;
        }

        if (!more)
        {
            if (p.Total is { } t && t != offset + data.Length)
            {
                Remove(key);
                dropped++;
                return null;
            }

            p.Total = offset + data.Length;
        }

        if (p.Total is not { } total || p.Upper is null)
        {
            return null;
        }

        p.Pieces.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        var covered = 0;
        foreach (var (o, d) in p.Pieces)
        {
            if (o > covered)
            {
                return null; // a hole: wait for more
            }

            covered = Math.Max(covered, o + d.Length);
        }

        if (covered < total)
        {
            return null;
        }

        var result = new byte[total];
        foreach (var (o, d) in p.Pieces)
        {
            d.AsSpan(0, Math.Min(d.Length, total - o)).CopyTo(result.AsSpan(o));
        }

        fragments = p.Pieces.Count;
        largest = p.Largest;
        LastUpperProtocol = p.Upper.Value;
        Remove(key);
        return result;
    }

    /// <summary>Gives up every pending datagram; returns how many.</summary>
    public int DropAll()
    {
        var n = _pending.Count;
        _pending.Clear();
        _bytes = 0;
        return n;
    }

    private int Expire(long nowNs)
    {
        if (_pending.Count == 0)
        {
            return 0;
        }

        var timeout = (long)limits.FragmentTimeout.TotalMilliseconds * 1_000_000;
        List<FragmentKey>? old = null;
        foreach (var (k, v) in _pending)
        {
            if (nowNs - v.FirstNs > timeout)
            {
                (old ??= []).Add(k);
            }
        }

        foreach (var k in old ?? [])
        {
            Remove(k);
        }

        return old?.Count ?? 0;
    }

    private bool Remove(FragmentKey key)
    {
        if (_pending.Remove(key, out var p))
        {
            _bytes -= p.Bytes;
            return true;
        }

        return false;
    }

    private sealed class Pending(long firstNs)
    {
        public long FirstNs { get; } = firstNs;

        public List<(int Offset, byte[] Data)> Pieces { get; } = [];

        public int Bytes { get; set; }

        public int? Total { get; set; }

        public int Largest { get; set; }

        // IPv4 keys carry the protocol; IPv6 learns it from the first fragment.
        public byte? Upper { get; set; }
    }
}
