using System.Buffers.Binary;
using System.Net;

namespace Airlift.Cli.Doctor.Capture;

/// <summary>One UDP datagram, or one RFC 4571 frame of an ICE-TCP stream, found in a capture.</summary>
/// <param name="Frame">Capture frame number (of the last fragment or segment that completed it).</param>
/// <param name="TimestampNs">Capture time, nanoseconds since the Unix epoch.</param>
/// <param name="Source">Sender.</param>
/// <param name="Destination">Receiver.</param>
/// <param name="Tcp">True for an RFC 4571 frame on TCP.</param>
/// <param name="Payload">The UDP payload (or the frame).</param>
/// <param name="IpFragments">How many IP fragments carried it (0: not fragmented).</param>
/// <param name="LargestFragment">IP length of its largest fragment (0 when not fragmented).</param>
internal sealed record CapturedDatagram(long Frame, long TimestampNs, IPEndPoint Source, IPEndPoint Destination, bool Tcp, byte[] Payload, int IpFragments, int LargestFragment)
{
    /// <summary>UDP payload length on the wire; larger than <see cref="Payload"/> when the snap length cut the packet.</summary>
    public int Length { get; init; } = Payload.Length;

    /// <summary>The capture holds only the first <see cref="Payload"/> bytes of it (snap length).</summary>
    public bool Truncated => Payload.Length < Length;

    /// <summary>The TURN relay it was unwrapped from (ChannelData or a Send/Data indication), or null.</summary>
    public TurnRelay? Relay { get; init; }
}

/// <summary>What the decoder saw and skipped; every drop is counted here.</summary>
internal sealed class DecodeStats
{
    /// <summary>Frames read.</summary>
    public long Frames { get; set; }

    /// <summary>Frames of a link type this reader does not decode.</summary>
    public long UnsupportedLinkFrames { get; set; }

    /// <summary>Frames that are not IPv4/IPv6 (ARP, LLDP...).</summary>
    public long NonIpFrames { get; set; }

    /// <summary>IP packets whose header is cut short or inconsistent.</summary>
    public long MalformedPackets { get; set; }

    /// <summary>Frames cut by the snap length before the end of their IP packet.</summary>
    public long TruncatedPackets { get; set; }

    /// <summary>IP packets of other protocols (ICMP, ESP...).</summary>
    public long OtherProtocolPackets { get; set; }

    /// <summary>UDP datagrams found.</summary>
    public long UdpDatagrams { get; set; }

    /// <summary>ICE-TCP (RFC 4571) frames found.</summary>
    public long TcpFrames { get; set; }

    /// <summary>IP fragments seen.</summary>
    public long Fragments { get; set; }

    /// <summary>Datagrams reassembled from fragments.</summary>
    public long FragmentedDatagrams { get; set; }

    /// <summary>Fragmented datagrams given up (timeout, limits, overlaps, never completed).</summary>
    public long FragmentedDatagramsDropped { get; set; }

    /// <summary>TCP streams whose SYN was not captured (joined mid-stream: framing unknown, not decoded).</summary>
    public long TcpStreamsWithoutSyn { get; set; }

    /// <summary>TCP streams given up: out-of-order data over the limit, a frame over 65535, too many streams.</summary>
    public long TcpStreamsDropped { get; set; }

    /// <summary>TURN ChannelData messages unwrapped (RFC 8656 12.4).</summary>
    public long TurnChannelData { get; set; }

    /// <summary>TURN Send and Data indications unwrapped (RFC 8656 10, 11.4-11.6).</summary>
    public long TurnIndications { get; set; }

    /// <summary>TURN control messages (Allocate, Refresh, CreatePermission, ChannelBind and answers), not analysed further.</summary>
    public long TurnControlMessages { get; set; }
}

/// <summary>
/// Link layer (Ethernet with VLAN tags, Linux cooked SLL and SLL2, raw IP, BSD loopback) to IPv4/IPv6 (extension
/// headers, fragment reassembly with bounded memory) to UDP datagrams and RFC 4571 frames of TCP streams.
/// Never throws on packet contents: whatever it cannot use is counted in <see cref="Stats"/>.
/// </summary>
internal sealed class PacketDecoder(CaptureLimits limits)
{
    private const int LinkNull = 0;
    private const int LinkEthernet = 1;
    private const int LinkRaw = 101;
    private const int LinkRawOpenBsd = 12;
    private const int LinkRawAlt = 14;
    private const int LinkLoop = 108;
    private const int LinkSll = 113;
    private const int LinkSll2 = 276;
    private const int LinkIpv4 = 228;
    private const int LinkIpv6 = 229;

    private readonly FragmentReassembler _fragments = new(limits);
    private readonly TcpStreams _tcp = new(limits);
    private readonly TurnUnwrapper _turn = new();

    /// <summary>Counters.</summary>
    public DecodeStats Stats { get; } = new();

    /// <summary>Link types this decoder reads, by LINKTYPE_ value.</summary>
    public static bool IsSupportedLinkType(int linkType) =>
        linkType is LinkNull or LinkEthernet or LinkRaw or LinkRawOpenBsd or LinkRawAlt or LinkLoop or LinkSll or LinkSll2 or LinkIpv4 or LinkIpv6;

    /// <summary>Decodes one frame, adding what it completes to <paramref name="output"/>.</summary>
    public void Decode(in CaptureFrame frame, List<CapturedDatagram> output)
    {
        Stats.Frames++;
        var data = frame.Data.Span;
        if (!TryStripLink(frame.LinkType, data, out var ip))
        {
            return;
        }

        if (ip.IsEmpty)
        {
            Stats.NonIpFrames++;
            return;
        }

        var ctx = new Context(frame.Number, frame.TimestampNs, output);
        switch (ip[0] >> 4)
        {
            case 4:
                DecodeIpv4(ip, ctx);
                break;
            case 6:
                DecodeIpv6(ip, ctx);
                break;
            default:
                Stats.NonIpFrames++;
                break;
        }
    }

    /// <summary>Gives up every datagram still waiting for fragments (counted), at the end of the capture.</summary>
    public void Finish() => Stats.FragmentedDatagramsDropped += _fragments.DropAll();

    private bool TryStripLink(int linkType, ReadOnlySpan<byte> data, out ReadOnlySpan<byte> ip)
    {
        ip = default;
        switch (linkType)
        {
            case LinkEthernet:
                {
                    if (data.Length < 14)
                    {
                        Stats.MalformedPackets++;
                        return false;
                    }

                    var type = BinaryPrimitives.ReadUInt16BigEndian(data[12..]);
                    var at = 14;
                    // 802.1Q / 802.1ad tags (QinQ: up to a few of them).
                    for (var tags = 0; (type is 0x8100 or 0x88A8 or 0x9100) && tags < 4; tags++)
                    {
                        if (data.Length < at + 4)
                        {
                            Stats.MalformedPackets++;
                            return false;
                        }

                        type = BinaryPrimitives.ReadUInt16BigEndian(data[(at + 2)..]);
                        at += 4;
                    }

                    return ByEtherType(type, data[at..], out ip);
                }

            case LinkSll:
                if (data.Length < 16)
                {
                    Stats.MalformedPackets++;
                    return false;
                }

                return ByEtherType(BinaryPrimitives.ReadUInt16BigEndian(data[14..]), data[16..], out ip);
            case LinkSll2:
                if (data.Length < 20)
                {
                    Stats.MalformedPackets++;
                    return false;
                }

                return ByEtherType(BinaryPrimitives.ReadUInt16BigEndian(data), data[20..], out ip);
            case LinkNull:
            case LinkLoop:
                {
                    if (data.Length < 4)
                    {
                        Stats.MalformedPackets++;
                        return false;
                    }

                    // NULL: the address family in the capturing host's byte order; LOOP: network order. Accept both.
                    var le = BinaryPrimitives.ReadUInt32LittleEndian(data);
                    var be = BinaryPrimitives.ReadUInt32BigEndian(data);
                    var family = le < 256 ? le : be;
                    if (family is 2 or 24 or 28 or 30)
                    {
                        ip = data[4..];
                        return true;
                    }

                    Stats.NonIpFrames++;
                    return false;
                }

            case LinkRaw:
            case LinkRawOpenBsd:
            case LinkRawAlt:
            case LinkIpv4:
            case LinkIpv6:
                ip = data;
                return true;
            default:
                Stats.UnsupportedLinkFrames++;
                return false;
        }
    }

    private bool ByEtherType(ushort type, ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> ip)
    {
        ip = default;
        if (type is 0x0800 or 0x86DD)
        {
            ip = payload;
            return true;
        }

        Stats.NonIpFrames++;
        return false;
    }

    private void DecodeIpv4(ReadOnlySpan<byte> ip, Context ctx)
    {
        if (ip.Length < 20)
        {
            Stats.MalformedPackets++;
            return;
        }

        var headerLength = (ip[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (headerLength < 20 || totalLength < headerLength)
        {
            Stats.MalformedPackets++;
            return;
        }

        var cut = ip.Length < totalLength;
        if (cut)
        {
            // Cut by the snap length: a whole UDP header still tells the datagram's size, which is what matters most here.
            Stats.TruncatedPackets++;
            if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0 || ip[9] != 17 || ip.Length < headerLength + 8)
            {
                return;
            }
        }
        else
        {
            ip = ip[..totalLength]; // Ethernet pads short frames
        }

        var id = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        var flagsOffset = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        var moreFragments = (flagsOffset & 0x2000) != 0;
        var fragmentOffset = (flagsOffset & 0x1FFF) * 8;
        var protocol = ip[9];
        var source = new IPAddress(ip.Slice(12, 4));
        var destination = new IPAddress(ip.Slice(16, 4));
        var payload = ip[headerLength..];
        if (moreFragments || fragmentOffset != 0)
        {
            Stats.Fragments++;
            var key = new FragmentKey(source, destination, id, protocol);
            var done = _fragments.Add(key, fragmentOffset, moreFragments, payload, totalLength, ctx.TimestampNs, out var count, out var largest, out var dropped, protocol);
            Stats.FragmentedDatagramsDropped += dropped;
            if (done is null)
            {
                return;
            }

            Stats.FragmentedDatagrams++;
            Transport(protocol, source, destination, done, ctx, count, largest);
            return;
        }

        Transport(protocol, source, destination, payload, ctx, 0, 0, cut);
    }

    private void DecodeIpv6(ReadOnlySpan<byte> ip, Context ctx)
    {
        if (ip.Length < 40)
        {
            Stats.MalformedPackets++;
            return;
        }

        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        var cut = ip.Length < 40 + payloadLength;
        if (cut)
        {
            Stats.TruncatedPackets++;
            if (ip[6] != 17 || ip.Length < 48)
            {
                return; // only a UDP header right after the fixed header is read from a cut packet
            }
        }

        var source = new IPAddress(ip.Slice(8, 16));
        var destination = new IPAddress(ip.Slice(24, 16));
        var next = ip[6];
        var rest = cut ? ip[40..] : ip.Slice(40, payloadLength);
        // Extension headers (RFC 8200 4): hop-by-hop, routing, destination options, fragment; AH.
        for (var guard = 0; guard < 16; guard++)
        {
            switch (next)
            {
                case 0:
                case 43:
                case 60:
                    if (rest.Length < 8 || rest.Length < (rest[1] + 1) * 8)
                    {
                        Stats.MalformedPackets++;
                        return;
                    }

                    next = rest[0];
                    rest = rest[((rest[1] + 1) * 8)..];
                    continue;
                case 51:
                    if (rest.Length < 8 || rest.Length < (rest[1] + 2) * 4)
                    {
                        Stats.MalformedPackets++;
                        return;
                    }

                    next = rest[0];
                    rest = rest[((rest[1] + 2) * 4)..];
                    continue;
                case 44:
                    {
                        if (rest.Length < 8)
                        {
                            Stats.MalformedPackets++;
                            return;
                        }

                        Stats.Fragments++;
                        var offsetFlags = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
                        var id = BinaryPrimitives.ReadUInt32BigEndian(rest[4..]);
                        var key = new FragmentKey(source, destination, id, 0);
                        var upper = rest[0];
                        // The upper-layer protocol is the first fragment's next header; keep it as the first byte of the reassembled data.
                        var fragmentOffset = (offsetFlags >> 3) * 8;
                        var more = (offsetFlags & 1) != 0;
                        var done = _fragments.Add(key, fragmentOffset, more, rest[8..], 40 + payloadLength, ctx.TimestampNs, out var count, out var largest, out var dropped, fragmentOffset == 0 ? upper : (byte?)null);
                        Stats.FragmentedDatagramsDropped += dropped;
                        if (done is null)
                        {
                            return;
                        }

                        Stats.FragmentedDatagrams++;
                        var protocol = _fragments.LastUpperProtocol;
                        // Headers after the fragment header (rare) are walked again on the reassembled payload.
                        DecodeIpv6Upper(protocol, source, destination, done, ctx, count, largest);
                        return;
                    }

                default:
                    Transport(next, source, destination, rest, ctx, 0, 0, cut);
                    return;
            }
        }

        Stats.MalformedPackets++;
    }

    private void DecodeIpv6Upper(byte next, IPAddress source, IPAddress destination, ReadOnlySpan<byte> rest, Context ctx, int fragments, int largest)
    {
        for (var guard = 0; guard < 16 && next is 0 or 43 or 60; guard++)
        {
            if (rest.Length < 8 || rest.Length < (rest[1] + 1) * 8)
            {
                Stats.MalformedPackets++;
                return;
            }

            next = rest[0];
            rest = rest[((rest[1] + 1) * 8)..];
        }

        Transport(next, source, destination, rest, ctx, fragments, largest);
    }

    private void Transport(byte protocol, IPAddress source, IPAddress destination, ReadOnlySpan<byte> data, Context ctx, int fragments, int largest, bool cut = false)
    {
        switch (protocol)
        {
            case 17:
                {
                    if (data.Length < 8)
                    {
                        Stats.MalformedPackets++;
                        return;
                    }

                    int length = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
                    if (length < 8 || (length > data.Length && !cut))
                    {
                        // Length 0 is legal in IPv6 jumbograms only; anything else inconsistent is malformed.
                        Stats.MalformedPackets++;
                        return;
                    }

                    Stats.UdpDatagrams++;
                    var src = new IPEndPoint(source, BinaryPrimitives.ReadUInt16BigEndian(data));
                    var dst = new IPEndPoint(destination, BinaryPrimitives.ReadUInt16BigEndian(data[2..]));
                    _turn.Process(new CapturedDatagram(ctx.Frame, ctx.TimestampNs, src, dst, false, data[8..Math.Min(length, data.Length)].ToArray(), fragments, largest) { Length = length - 8 }, ctx.Output);
                    Stats.TurnChannelData = _turn.ChannelDataMessages;
                    Stats.TurnIndications = _turn.Indications;
                    Stats.TurnControlMessages = _turn.ControlMessages;
                    return;
                }

            case 6:
                {
                    var before = ctx.Output.Count;
                    var stats = _tcp.Segment(source, destination, data, ctx.Frame, ctx.TimestampNs, ctx.Output);
                    Stats.MalformedPackets += stats.Malformed;
                    Stats.TcpStreamsWithoutSyn += stats.NewStreamsWithoutSyn;
                    Stats.TcpStreamsDropped += stats.Dropped;
                    Stats.TcpFrames += ctx.Output.Count - before;
                    return;
                }

            default:
                Stats.OtherProtocolPackets++;
                return;
        }
    }

    private readonly record struct Context(long Frame, long TimestampNs, List<CapturedDatagram> Output);
}
