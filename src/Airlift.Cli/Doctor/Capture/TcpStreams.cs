using System.Buffers.Binary;
using System.Net;
using Airlift.Transport;

namespace Airlift.Cli.Doctor.Capture;

/// <summary>Counts from one TCP segment.</summary>
internal readonly record struct TcpSegmentStats(int Malformed, int NewStreamsWithoutSyn, int Dropped);

/// <summary>
/// ICE-TCP: follows each direction of each TCP connection in sequence order and splits it into RFC 4571 frames
/// (RFC 6544 3). Only streams whose SYN was captured are decoded (the framing of a stream joined midway is unknown).
/// Bounded: at most <see cref="CaptureLimits.MaxTcpStreams"/> streams, each with one 64 KiB framer and at most
/// <see cref="CaptureLimits.MaxTcpOutOfOrderBytes"/> of out-of-order segments; a stream past a limit is given up and counted.
/// </summary>
internal sealed class TcpStreams(CaptureLimits limits)
{
    private readonly Dictionary<(IPEndPoint From, IPEndPoint To), Stream> _streams = [];
    private readonly HashSet<(IPEndPoint From, IPEndPoint To)> _ignored = [];

    /// <summary>Handles one TCP segment (the IP payload); completed frames go to <paramref name="output"/>.</summary>
    public TcpSegmentStats Segment(IPAddress source, IPAddress destination, ReadOnlySpan<byte> segment, long frame, long timestampNs, List<CapturedDatagram> output)
    {
        if (segment.Length < 20 || (segment[12] >> 4) * 4 < 20 || (segment[12] >> 4) * 4 > segment.Length)
        {
            return new TcpSegmentStats(1, 0, 0);
        }

        var from = new IPEndPoint(source, BinaryPrimitives.ReadUInt16BigEndian(segment));
        var to = new IPEndPoint(destination, BinaryPrimitives.ReadUInt16BigEndian(segment[2..]));
        var seq = BinaryPrimitives.ReadUInt32BigEndian(segment[4..]);
        var flags = segment[13];
        var syn = (flags & 0x02) != 0;
        var fin = (flags & 0x01) != 0;
        var rst = (flags & 0x04) != 0;
        var data = segment[((segment[12] >> 4) * 4)..];
        var key = (from, to);
        if (syn)
        {
            _ignored.Remove(key);
            if (!_streams.ContainsKey(key) && _streams.Count >= limits.MaxTcpStreams)
            {
                _ignored.Add(key);
                return new TcpSegmentStats(0, 0, 1);
            }

            _streams[key] = new Stream(seq + 1);
            return default;
        }

        if (!_streams.TryGetValue(key, out var stream))
        {
            if (data.IsEmpty || _ignored.Count >= 4096 || !_ignored.Add(key))
            {
                return default;
            }

            return new TcpSegmentStats(0, 1, 0);
        }

        var dropped = 0;
        if (!data.IsEmpty && !stream.Add(seq, data, limits.MaxTcpOutOfOrderBytes, from, to, frame, timestampNs, output))
        {
            _streams.Remove(key);
            _ignored.Add(key);
            dropped = 1;
        }

        if (fin || rst)
        {
            _streams.Remove(key);
        }

        return new TcpSegmentStats(0, 0, dropped);
    }

    private sealed class Stream(uint next)
    {
        private readonly Rfc4571Framer _framer = new(ushort.MaxValue);
        private readonly SortedDictionary<uint, byte[]> _later = [];
        private uint _next = next;
        private int _laterBytes;

        // False when the stream must be given up.
        public bool Add(uint seq, ReadOnlySpan<byte> data, int maxLater, IPEndPoint from, IPEndPoint to, long frame, long ts, List<CapturedDatagram> output)
        {
            var delta = (int)(seq - _next);
            if (delta + data.Length <= 0)
            {
                return true; // a retransmission of data already taken
            }

            if (delta > 0)
            {
                if (_laterBytes + data.Length > maxLater)
                {
                    return false;
                }

                if (_later.TryAdd(seq, data.ToArray()))
                {
                    _laterBytes += data.Length;
                }

                return true;
            }

            if (!Feed(data[(-delta)..], from, to, frame, ts, output))
            {
                return false;
            }

            // Segments that arrived early and are now in order.
            while (_later.Count > 0)
            {
                var (s, d) = _later.First();
                var gap = (int)(s - _next);
                if (gap > 0)
                {
                    break;
                }

                _later.Remove(s);
                _laterBytes -= d.Length;
                if (gap + d.Length > 0 && !Feed(d.AsSpan(-gap), from, to, frame, ts, output))
                {
                    return false;
                }
            }

            return true;
        }

        private bool Feed(ReadOnlySpan<byte> data, IPEndPoint from, IPEndPoint to, long frame, long ts, List<CapturedDatagram> output)
        {
            _next += (uint)data.Length;
            while (!data.IsEmpty)
            {
                var taken = _framer.Append(data);
                data = data[taken..];
                while (_framer.TryReadFrame(out var f))
                {
                    output.Add(new CapturedDatagram(frame, ts, from, to, true, f.ToArray(), 0, 0));
                }

                if (_framer.IsOversized || (taken == 0 && !data.IsEmpty))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
