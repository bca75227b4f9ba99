using System.Buffers.Binary;
using System.Net;

namespace Airlift.Tests.Doctor;

/// <summary>Builds tiny synthetic captures (libpcap, pcapng) and the packets in them, byte by byte, for the doctor's tests.</summary>
internal static class CaptureBytes
{
    public const int LinkNull = 0;
    public const int LinkEthernet = 1;
    public const int LinkRaw = 101;
    public const int LinkLoop = 108;
    public const int LinkSll = 113;
    public const int LinkSll2 = 276;

    public static IPEndPoint Ep(string text) => IPEndPoint.Parse(text);

    /// <summary>An IPv4 packet (no options) around <paramref name="payload"/>.</summary>
    public static byte[] Ipv4(IPAddress src, IPAddress dst, byte protocol, byte[] payload, ushort id = 1, int fragmentOffset = 0, bool moreFragments = false)
    {
        var p = new byte[20 + payload.Length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), (ushort)((moreFragments ? 0x2000 : 0) | (fragmentOffset / 8)));
        p[8] = 64;
        p[9] = protocol;
        src.GetAddressBytes().CopyTo(p, 12);
        dst.GetAddressBytes().CopyTo(p, 16);
        payload.CopyTo(p, 20);
        return p;
    }

    /// <summary>An IPv6 packet; <paramref name="extensions"/> are (next header value, 8-byte-multiple body) pairs put before the payload.</summary>
    public static byte[] Ipv6(IPAddress src, IPAddress dst, byte protocol, byte[] payload, params (byte Type, byte[] Header)[] extensions)
    {
        var rest = new List<byte>();
        var next = protocol;
        // Built back to front: each extension header names the one after it.
        for (var i = extensions.Length - 1; i >= 0; i--)
        {
            var h = extensions[i].Header.ToArray();
            h[0] = next;
            rest.InsertRange(0, h);
            next = extensions[i].Type;
        }

        rest.AddRange(payload);
        var p = new byte[40 + rest.Count];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)rest.Count);
        p[6] = next;
        p[7] = 64;
        src.GetAddressBytes().CopyTo(p, 8);
        dst.GetAddressBytes().CopyTo(p, 24);
        rest.CopyTo(p, 40);
        return p;
    }

    public static byte[] UdpSegment(int srcPort, int dstPort, byte[] payload)
    {
        var u = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, (ushort)srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), (ushort)dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        payload.CopyTo(u, 8);
        return u;
    }

    /// <summary>A UDP datagram in IPv4 or IPv6 (by the address family).</summary>
    public static byte[] Udp(IPEndPoint src, IPEndPoint dst, byte[] payload) =>
        src.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? Ipv4(src.Address, dst.Address, 17, UdpSegment(src.Port, dst.Port, payload))
            : Ipv6(src.Address, dst.Address, 17, UdpSegment(src.Port, dst.Port, payload));

    /// <summary>IPv4 fragments of a UDP datagram, each carrying at most <paramref name="maxData"/> bytes (a multiple of 8).</summary>
    public static List<byte[]> Udp4Fragments(IPEndPoint src, IPEndPoint dst, byte[] payload, int maxData, ushort id)
    {
        var segment = UdpSegment(src.Port, dst.Port, payload);
        var list = new List<byte[]>();
        for (var at = 0; at < segment.Length; at += maxData)
        {
            var n = Math.Min(maxData, segment.Length - at);
            list.Add(Ipv4(src.Address, dst.Address, 17, segment.AsSpan(at, n).ToArray(), id, at, at + n < segment.Length));
        }

        return list;
    }

    /// <summary>IPv6 fragments (fragment extension header) of a UDP datagram.</summary>
    public static List<byte[]> Udp6Fragments(IPEndPoint src, IPEndPoint dst, byte[] payload, int maxData, uint id)
    {
        var segment = UdpSegment(src.Port, dst.Port, payload);
        var list = new List<byte[]>();
        for (var at = 0; at < segment.Length; at += maxData)
        {
            var n = Math.Min(maxData, segment.Length - at);
            var frag = new byte[8];
            BinaryPrimitives.WriteUInt16BigEndian(frag.AsSpan(2), (ushort)((at / 8) << 3 | (at + n < segment.Length ? 1 : 0)));
            BinaryPrimitives.WriteUInt32BigEndian(frag.AsSpan(4), id);
            list.Add(Ipv6(src.Address, dst.Address, 17, segment.AsSpan(at, n).ToArray(), (44, frag)));
        }

        return list;
    }

    /// <summary>A TCP segment (20-byte header) in IPv4.</summary>
    public static byte[] Tcp4(IPEndPoint src, IPEndPoint dst, uint seq, byte flags, byte[] payload)
    {
        var t = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, (ushort)src.Port);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), (ushort)dst.Port);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        t[12] = 5 << 4;
        t[13] = flags;
        payload.CopyTo(t, 20);
        return Ipv4(src.Address, dst.Address, 6, t);
    }

    public static byte[] Ethernet(byte[] ip, params ushort[] vlans)
    {
        var f = new List<byte>(new byte[12]);
        foreach (var v in vlans)
        {
            f.Add(0x81);
            f.Add(0x00);
            f.Add((byte)(v >> 8));
            f.Add((byte)v);
        }

        var type = (ip[0] >> 4) == 6 ? (ushort)0x86DD : (ushort)0x0800;
        f.Add((byte)(type >> 8));
        f.Add((byte)type);
        f.AddRange(ip);
        while (f.Count < 60)
        {
            f.Add(0); // Ethernet padding after a short IP packet
        }

        return [.. f];
    }

    public static byte[] Sll(byte[] ip)
    {
        var f = new byte[16 + ip.Length];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), (ip[0] >> 4) == 6 ? (ushort)0x86DD : (ushort)0x0800);
        ip.CopyTo(f, 16);
        return f;
    }

    public static byte[] Sll2(byte[] ip)
    {
        var f = new byte[20 + ip.Length];
        BinaryPrimitives.WriteUInt16BigEndian(f, (ip[0] >> 4) == 6 ? (ushort)0x86DD : (ushort)0x0800);
        ip.CopyTo(f, 20);
        return f;
    }

    /// <summary>BSD loopback: a 4-byte address family, host order (NULL) or network order (LOOP).</summary>
    public static byte[] Null(byte[] ip, bool bigEndian)
    {
        var f = new byte[4 + ip.Length];
        var family = (ip[0] >> 4) == 6 ? 30u : 2u;
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(f, family);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(f, family);
        }

        ip.CopyTo(f, 4);
        return f;
    }

    /// <summary>A libpcap file.</summary>
    public static byte[] Pcap(int linkType, IEnumerable<(long Ns, byte[] Frame)> frames, bool bigEndian = false, bool nano = false)
    {
        var ms = new MemoryStream();
        void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt32BigEndian(b, v);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            }

            ms.Write(b);
        }

        void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt16BigEndian(b, v);
            }
            else
            {
                BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            }

            ms.Write(b);
        }

        U32(nano ? 0xA1B23C4D : 0xA1B2C3D4);
        U16(2);
        U16(4);
        U32(0);
        U32(0);
        U32(262144);
        U32((uint)linkType);
        foreach (var (ns, frame) in frames)
        {
            U32((uint)(ns / 1_000_000_000));
            U32((uint)(nano ? ns % 1_000_000_000 : ns % 1_000_000_000 / 1000));
            U32((uint)frame.Length);
            U32((uint)frame.Length);
            ms.Write(frame);
        }

        return ms.ToArray();
    }

    /// <summary>
    /// A pcapng file: one section, the given interfaces (link type, if_tsresol exponent of 10), packets as enhanced packet
    /// blocks (or simple packet blocks when <paramref name="simple"/>, which all go to interface 0), with a comment option
    /// on each to be skipped and a name resolution block in between.
    /// </summary>
    public static byte[] PcapNg(IReadOnlyList<(int LinkType, byte TsResol)> interfaces, IEnumerable<(int Iface, long Ns, byte[] Frame)> packets, bool bigEndian = false, bool simple = false)
    {
        var ms = new MemoryStream();
        Section(ms, interfaces, bigEndian);
        foreach (var (iface, ns, frame) in packets)
        {
            if (simple)
            {
                Block(ms, 3, bigEndian, b =>
                {
                    W32(b, (uint)frame.Length, bigEndian);
                    b.Write(frame);
                    Pad(b, frame.Length);
                });
                continue;
            }

            var units = (ulong)(ns / (long)Math.Pow(10, 9 - interfaces[iface].TsResol));
            Block(ms, 6, bigEndian, b =>
            {
                W32(b, (uint)iface, bigEndian);
                W32(b, (uint)(units >> 32), bigEndian);
                W32(b, (uint)units, bigEndian);
                W32(b, (uint)frame.Length, bigEndian);
                W32(b, (uint)frame.Length, bigEndian);
                b.Write(frame);
                Pad(b, frame.Length);
                Option(b, 1, "a comment to skip"u8.ToArray(), bigEndian);
                Option(b, 0, [], bigEndian);
            });
            Block(ms, 4, bigEndian, b =>
            {
                W16(b, 0, bigEndian); // name resolution block: end of records only
                W16(b, 0, bigEndian);
            });
        }

        return ms.ToArray();
    }

    /// <summary>Writes a section header block and its interface description blocks.</summary>
    public static void Section(MemoryStream ms, IReadOnlyList<(int LinkType, byte TsResol)> interfaces, bool bigEndian)
    {
        Block(ms, 0x0A0D0D0A, bigEndian, b =>
        {
            W32(b, 0x1A2B3C4D, bigEndian);
            W16(b, 1, bigEndian);
            W16(b, 0, bigEndian);
            W32(b, 0xFFFFFFFF, bigEndian);
            W32(b, 0xFFFFFFFF, bigEndian);
            Option(b, 3, "test"u8.ToArray(), bigEndian);
            Option(b, 0, [], bigEndian);
        });
        foreach (var (link, resol) in interfaces)
        {
            Block(ms, 1, bigEndian, b =>
            {
                W16(b, (ushort)link, bigEndian);
                W16(b, 0, bigEndian);
                W32(b, 262144, bigEndian);
                Option(b, 2, "eth0"u8.ToArray(), bigEndian);
                Option(b, 9, [resol], bigEndian);
                Option(b, 0, [], bigEndian);
            });
        }
    }

    private static void Block(MemoryStream ms, uint type, bool be, Action<MemoryStream> body)
    {
        var b = new MemoryStream();
        body(b);
        var length = (uint)(12 + b.Length);
        W32(ms, type, be);
        W32(ms, length, be);
        b.WriteTo(ms);
        W32(ms, length, be);
    }

    private static void Option(MemoryStream b, ushort code, byte[] value, bool be)
    {
        W16(b, code, be);
        W16(b, (ushort)value.Length, be);
        b.Write(value);
        Pad(b, value.Length);
    }

    private static void Pad(MemoryStream b, int length)
    {
        for (var i = length; i % 4 != 0; i++)
        {
            b.WriteByte(0);
        }
    }

    private static void W32(MemoryStream s, uint v, bool be)
    {
        Span<byte> b = stackalloc byte[4];
        if (be)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        }

        s.Write(b);
    }

    private static void W16(MemoryStream s, ushort v, bool be)
    {
        Span<byte> b = stackalloc byte[2];
        if (be)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b, v);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        }

        s.Write(b);
    }
}
