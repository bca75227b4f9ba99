using System.Buffers.Binary;
using System.Net;

namespace Airlift.Cli.Doctor.Capture;

/// <summary>
/// The TURN relay a datagram went through, when the capture was taken between a client and its TURN server.
/// </summary>
/// <param name="Server">The TURN server's address (the outer datagram's other end).</param>
/// <param name="Channel">The ChannelData channel number (0x4000-0x7FFF), or null for a Send/Data indication.</param>
/// <param name="PeerKnown">The peer address is known (from a ChannelBind or the indication's XOR-PEER-ADDRESS); when
/// false the channel was bound before the capture began and the TURN server's address stands in for the peer.</param>
internal sealed record TurnRelay(IPEndPoint Server, int? Channel, bool PeerKnown)
{
    /// <summary>"TURN 10.0.0.1:3478 channel 0x4000" or "TURN 10.0.0.1:3478 Send/Data indications".</summary>
    public string Describe() => Channel is { } c
        ? $"TURN {Server} channel 0x{c:X4}{(PeerKnown ? string.Empty : " (bound before the capture: peer unknown)")}"
        : $"TURN {Server} Send/Data indications";
}

/// <summary>
/// Unwraps TURN (RFC 8656) so a capture taken between a client and its TURN server shows the inner STUN/DTLS/media:
/// ChannelData messages (12.4: a channel number 0x4000-0x7FFF, a 2-byte length, the data, padding to 4 bytes allowed)
/// become datagrams between the client and the peer the channel is bound to (learnt from ChannelBind requests, 11), and
/// Send/Data indications (10, 11.4-11.6) become datagrams between the client and the indication's XOR-PEER-ADDRESS.
/// TURN's own control messages (Allocate, Refresh, CreatePermission, ChannelBind) are counted, not passed on. Bounded: at
/// most <see cref="MaxChannels"/> channel bindings are remembered.
/// </summary>
internal sealed class TurnUnwrapper
{
    /// <summary>Most (client, server, channel) bindings remembered; later ones are not learnt (their data is still unwrapped).</summary>
    public const int MaxChannels = 4096;

    private const uint MagicCookie = 0x2112A442;
    private const ushort MethodAllocate = 0x003;
    private const ushort MethodRefresh = 0x004;
    private const ushort MethodSend = 0x006;
    private const ushort MethodData = 0x007;
    private const ushort MethodCreatePermission = 0x008;
    private const ushort MethodChannelBind = 0x009;
    private const ushort AttrChannelNumber = 0x000C;
    private const ushort AttrXorPeerAddress = 0x0012;
    private const ushort AttrData = 0x0013;

    private readonly Dictionary<(IPEndPoint Client, IPEndPoint Server, int Channel), IPEndPoint> _channels = [];
    private readonly HashSet<IPEndPoint> _servers = [];

    /// <summary>ChannelData messages unwrapped.</summary>
    public long ChannelDataMessages { get; private set; }

    /// <summary>Send and Data indications unwrapped.</summary>
    public long Indications { get; private set; }

    /// <summary>TURN control messages (Allocate, Refresh, CreatePermission, ChannelBind and their answers) seen.</summary>
    public long ControlMessages { get; private set; }

    /// <summary>
    /// Adds <paramref name="d"/> to <paramref name="output"/>, unwrapped when it is TURN ChannelData or a Send/Data
    /// indication, left out when it is a TURN control message, unchanged otherwise.
    /// </summary>
    public void Process(CapturedDatagram d, List<CapturedDatagram> output)
    {
        if (d.Tcp || d.Truncated || d.Payload.Length < 4)
        {
            output.Add(d);
            return;
        }

        var p = d.Payload;
        if (p[0] is >= 0x40 and <= 0x7F)
        {
            if (TryChannelData(d, output))
            {
                return;
            }
        }
        else if (p[0] < 4 && TryStun(d, output))
        {
            return;
        }

        output.Add(d);
    }

    private bool TryChannelData(CapturedDatagram d, List<CapturedDatagram> output)
    {
        var p = d.Payload;
        int channel = BinaryPrimitives.ReadUInt16BigEndian(p);
        int length = BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(2));
        // The length must account for the datagram exactly, or with padding to a multiple of 4 (RFC 8656 12.5).
        if (p.Length != 4 + length && p.Length != ((4 + length + 3) & ~3))
        {
            return false;
        }

        // The TURN server is whichever end we saw answering TURN; else the side ChannelData goes to from a bound client.
        IPEndPoint client, server;
        bool toServer;
        if (_servers.Contains(d.Destination))
        {
            (client, server, toServer) = (d.Source, d.Destination, true);
        }
        else if (_servers.Contains(d.Source))
        {
            (client, server, toServer) = (d.Destination, d.Source, false);
        }
        else if (d.Destination.Port is 3478 or 5349)
        {
            (client, server, toServer) = (d.Source, d.Destination, true);
        }
        else if (d.Source.Port is 3478 or 5349)
        {
            (client, server, toServer) = (d.Destination, d.Source, false);
        }
        else
        {
            return false; // ChannelData-shaped bytes on a tuple not known to be TURN: leave as is
        }

        var known = _channels.TryGetValue((client, server, channel), out var peer);
        peer ??= server;
        var inner = p.AsSpan(4, length).ToArray();
        ChannelDataMessages++;
        output.Add(Inner(d, toServer ? client : peer, toServer ? peer : client, inner, new TurnRelay(server, channel, known)));
        return true;
    }

    private bool TryStun(CapturedDatagram d, List<CapturedDatagram> output)
    {
        var p = d.Payload.AsSpan();
        if (p.Length < 20 || BinaryPrimitives.ReadUInt32BigEndian(p[4..]) != MagicCookie)
        {
            return false;
        }

        var type = BinaryPrimitives.ReadUInt16BigEndian(p);
        int length = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        if (20 + length > p.Length || (length & 3) != 0)
        {
            return false;
        }

        var method = (ushort)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
        var cls = ((type >> 4) & 1) | ((type >> 7) & 2);
        var txid = p.Slice(8, 12);
        switch (method)
        {
            case MethodAllocate or MethodRefresh or MethodCreatePermission:
                ControlMessages++;
                NoteServer(d, cls);
                return true;
            case MethodChannelBind:
                ControlMessages++;
                NoteServer(d, cls);
                if (cls == 0 && ReadAttributes(p[20..(20 + length)], txid, out var channel, out var peerAddress, out _) && channel is { } c && peerAddress is { } pa
                    && (_channels.Count < MaxChannels || _channels.ContainsKey((d.Source, d.Destination, c))))
                {
                    _channels[(d.Source, d.Destination, c)] = pa;
                }

                return true;
            case MethodSend or MethodData when cls == 1:
                {
                    if (!ReadAttributes(p[20..(20 + length)], txid, out _, out var peer, out var data) || peer is null || data is null)
                    {
                        return false;
                    }

                    Indications++;
                    var toServer = method == MethodSend;
                    var server = toServer ? d.Destination : d.Source;
                    var client = toServer ? d.Source : d.Destination;
                    _servers.Add(server);
                    output.Add(Inner(d, toServer ? client : peer, toServer ? peer : client, data, new TurnRelay(server, null, true)));
                    return true;
                }

            default:
                return false;
        }
    }

    /// <summary>Remembers the answering side of a TURN transaction as a TURN server (bounded like the channels).</summary>
    private void NoteServer(CapturedDatagram d, int cls)
    {
        if (_servers.Count >= MaxChannels)
        {
            return;
        }

        _servers.Add(cls == 0 ? d.Destination : d.Source);
    }

    private static CapturedDatagram Inner(CapturedDatagram outer, IPEndPoint from, IPEndPoint to, byte[] data, TurnRelay relay) =>
        new(outer.Frame, outer.TimestampNs, from, to, false, data, outer.IpFragments, outer.LargestFragment) { Relay = relay };

    /// <summary>Reads CHANNEL-NUMBER, XOR-PEER-ADDRESS and DATA; false when the attributes are malformed.</summary>
    private static bool ReadAttributes(ReadOnlySpan<byte> attrs, ReadOnlySpan<byte> txid, out int? channel, out IPEndPoint? peer, out byte[]? data)
    {
        channel = null;
        peer = null;
        data = null;
        while (attrs.Length >= 4)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(attrs);
            int length = BinaryPrimitives.ReadUInt16BigEndian(attrs[2..]);
            if (attrs.Length < 4 + length)
            {
                return false;
            }

            var value = attrs.Slice(4, length);
            switch (type)
            {
                case AttrChannelNumber when length == 4:
                    int c = BinaryPrimitives.ReadUInt16BigEndian(value);
                    channel = c is >= 0x4000 and <= 0x7FFF ? c : null;
                    break;
                case AttrXorPeerAddress when peer is null:
                    peer = XorAddress(value, txid);
                    break;
                case AttrData when data is null:
                    data = value.ToArray();
                    break;
            }

            var padded = (4 + length + 3) & ~3;
            if (padded > attrs.Length)
            {
                break;
            }

            attrs = attrs[padded..];
        }

        return true;
    }

    /// <summary>An XOR-MAPPED-ADDRESS-style value (RFC 8489 14.2): port and address XORed with the cookie (and txid for IPv6).</summary>
    private static IPEndPoint? XorAddress(ReadOnlySpan<byte> value, ReadOnlySpan<byte> txid)
    {
        if (value.Length < 8)
        {
            return null;
        }

        var port = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(value[2..]) ^ (MagicCookie >> 16));
        Span<byte> key = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(key, MagicCookie);
        txid.CopyTo(key[4..]);
        switch (value[1])
        {
            case 1 when value.Length == 8:
                {
                    Span<byte> a = stackalloc byte[4];
                    for (var i = 0; i < 4; i++)
                    {
                        a[i] = (byte)(value[4 + i] ^ key[i]);
                    }

                    return new IPEndPoint(new IPAddress(a), port);
                }

            case 2 when value.Length == 20:
                {
                    Span<byte> a = stackalloc byte[16];
                    for (var i = 0; i < 16; i++)
                    {
                        a[i] = (byte)(value[4 + i] ^ key[i]);
                    }

                    return new IPEndPoint(new IPAddress(a), port);
                }

            default:
                return null;
        }
    }
}
