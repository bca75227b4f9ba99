using System.Net;
using Airlift.Cli.Doctor.Capture;
using Xunit;
using static Airlift.Tests.Doctor.CaptureBytes;

namespace Airlift.Tests.Doctor;

public sealed class CaptureReaderTests
{
    private static readonly IPEndPoint Client4 = Ep("192.0.2.10:50000");
    private static readonly IPEndPoint Server4 = Ep("192.0.2.20:4444");
    private static readonly IPEndPoint Client6 = Ep("[2001:db8::10]:50000");
    private static readonly IPEndPoint Server6 = Ep("[2001:db8::20]:4444");
    private static readonly byte[] Payload = [0x16, 0xFE, 0xFD, 1, 2, 3, 4, 5, 6, 7];

    private static (List<CaptureFrame> Frames, List<CapturedDatagram> Datagrams, DecodeStats Stats, CaptureFileFormat Format) Read(byte[] file, CaptureLimits? limits = null)
    {
        var reader = CaptureReader.Open(new MemoryStream(file), limits);
        var decoder = new PacketDecoder(limits ?? CaptureLimits.Default);
        var frames = new List<CaptureFrame>();
        var datagrams = new List<CapturedDatagram>();
        while (reader.TryRead(out var f))
        {
            frames.Add(f with { Data = f.Data.ToArray() });
            decoder.Decode(f, datagrams);
        }

        decoder.Finish();
        return (frames, datagrams, decoder.Stats, reader.Format);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Pcap_reads_both_byte_orders_and_both_timestamp_resolutions(bool bigEndian, bool nano)
    {
        const long t1 = 1_700_000_000_123_456_789;
        var file = Pcap(LinkEthernet, [(t1, Ethernet(Udp(Client4, Server4, Payload))), (t1 + 5_000_000, Ethernet(Udp(Server4, Client4, Payload)))], bigEndian, nano);

        var (frames, datagrams, _, format) = Read(file);

        Assert.Equal(CaptureFileFormat.Pcap, format);
        Assert.Equal(2, frames.Count);
        Assert.Equal(nano ? t1 : t1 / 1000 * 1000, frames[0].TimestampNs);
        Assert.Equal(5_000_000, frames[1].TimestampNs - frames[0].TimestampNs);
        Assert.Equal(2, datagrams.Count);
        Assert.Equal(Client4, datagrams[0].Source);
        Assert.Equal(Server4, datagrams[0].Destination);
        Assert.Equal(Payload, datagrams[0].Payload);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PcapNg_reads_enhanced_packets_on_several_interfaces_with_options_skipped(bool bigEndian)
    {
        const long t = 1_700_000_000_000_000_000;
        var file = PcapNg(
            [(LinkEthernet, 6), (LinkRaw, 9)],
            [(0, t, Ethernet(Udp(Client4, Server4, Payload))), (1, t + 1_234_567, Udp(Server6, Client6, Payload))],
            bigEndian);

        var (frames, datagrams, _, format) = Read(file);

        Assert.Equal(CaptureFileFormat.PcapNg, format);
        Assert.Equal([0, 1], frames.Select(f => f.InterfaceId));
        Assert.Equal([LinkEthernet, LinkRaw], frames.Select(f => f.LinkType));
        Assert.Equal(t + 1_234_567, frames[1].TimestampNs); // nanosecond interface (if_tsresol 9)
        Assert.Equal(t, frames[0].TimestampNs);
        Assert.Equal([Server4, Client6], datagrams.Select(d => d.Destination));
    }

    [Fact]
    public void PcapNg_reads_simple_packet_blocks()
    {
        var file = PcapNg([(LinkEthernet, 6)], [(0, 0, Ethernet(Udp(Client4, Server4, Payload)))], simple: true);

        var (_, datagrams, _, _) = Read(file);

        Assert.Equal(Payload, Assert.Single(datagrams).Payload);
    }

    [Fact]
    public void PcapNg_second_section_may_switch_byte_order_and_resets_interfaces()
    {
        var first = PcapNg([(LinkEthernet, 6)], [(0, 0, Ethernet(Udp(Client4, Server4, Payload)))]);
        var second = PcapNg([(LinkSll, 6)], [(0, 0, Sll(Udp(Server4, Client4, Payload)))], bigEndian: true);

        var (frames, datagrams, _, _) = Read([.. first, .. second]);

        Assert.Equal([LinkEthernet, LinkSll], frames.Select(f => f.LinkType));
        Assert.Equal([Server4, Client4], datagrams.Select(d => d.Destination));
    }

    public static TheoryData<string, int, byte[]> LinkFrames()
    {
        var v4 = Udp(Client4, Server4, Payload);
        var v6 = Udp(Client6, Server6, Payload);
        return new TheoryData<string, int, byte[]>
        {
            { "ethernet", LinkEthernet, Ethernet(v4) },
            { "ethernet-vlan", LinkEthernet, Ethernet(v4, 100) },
            { "ethernet-qinq-v6", LinkEthernet, Ethernet(v6, 100, 200) },
            { "sll", LinkSll, Sll(v4) },
            { "sll2-v6", LinkSll2, Sll2(v6) },
            { "raw-v4", LinkRaw, v4 },
            { "raw-v6", LinkRaw, v6 },
            { "null-host-order", LinkNull, Null(v4, bigEndian: false) },
            { "null-v6-big-endian-host", LinkNull, Null(v6, bigEndian: true) },
            { "loop", LinkLoop, Null(v4, bigEndian: true) },
        };
    }

    [Theory]
    [MemberData(nameof(LinkFrames))]
    public void Every_supported_link_type_yields_the_udp_datagram(string name, int linkType, byte[] frame)
    {
        var (_, datagrams, stats, _) = Read(Pcap(linkType, [(0, frame)]));

        var d = Assert.Single(datagrams);
        Assert.Equal(Payload, d.Payload);
        Assert.Equal(Server4.Port, d.Destination.Port);
        Assert.True(stats.UdpDatagrams == 1, name);
    }

    [Fact]
    public void Ipv6_extension_headers_are_walked()
    {
        byte[] hopByHop = [0, 0, 1, 4, 0, 0, 0, 0];
        byte[] destination = [0, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var ip = Ipv6(Client6.Address, Server6.Address, 17, UdpSegment(Client6.Port, Server6.Port, Payload), (0, hopByHop), (60, destination));

        var (_, datagrams, _, _) = Read(Pcap(LinkRaw, [(0, ip)]));

        Assert.Equal(Payload, Assert.Single(datagrams).Payload);
    }

    [Fact]
    public void Unknown_link_type_is_counted_not_fatal()
    {
        var (_, datagrams, stats, _) = Read(Pcap(147, [(0, new byte[40])]));

        Assert.Empty(datagrams);
        Assert.Equal(1, stats.UnsupportedLinkFrames);
    }

    [Fact]
    public void Ipv4_fragments_out_of_order_are_reassembled_and_counted()
    {
        var big = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray();
        var fragments = Udp4Fragments(Server4, Client4, big, 1480, 77);
        Assert.Equal(3, fragments.Count);

        var (_, datagrams, stats, _) = Read(Pcap(LinkEthernet, [(0, Ethernet(fragments[2])), (1, Ethernet(fragments[0])), (2, Ethernet(fragments[1]))]));

        var d = Assert.Single(datagrams);
        Assert.Equal(big, d.Payload);
        Assert.Equal(3, d.IpFragments);
        Assert.Equal(1500, d.LargestFragment);
        Assert.Equal(1, stats.FragmentedDatagrams);
        Assert.Equal(3, stats.Fragments);
    }

    [Fact]
    public void Ipv6_fragments_are_reassembled()
    {
        var big = Enumerable.Range(0, 2500).Select(i => (byte)(i * 7)).ToArray();
        var fragments = Udp6Fragments(Server6, Client6, big, 1232, 0xABCDEF);

        var (_, datagrams, stats, _) = Read(Pcap(LinkRaw, fragments.Select((f, i) => ((long)i, f))));

        Assert.Equal(big, Assert.Single(datagrams).Payload);
        Assert.Equal(1, stats.FragmentedDatagrams);
    }

    [Fact]
    public void Incomplete_fragmented_datagrams_are_given_up_and_counted_within_the_limits()
    {
        var limits = new CaptureLimits { MaxPendingFragmentedDatagrams = 4 };
        var frames = new List<(long, byte[])>();
        for (ushort id = 0; id < 10; id++)
        {
            // Only the first fragment of each: none can complete.
            frames.Add((id, Ethernet(Udp4Fragments(Server4, Client4, new byte[3000], 1480, id)[0])));
        }

        var (_, datagrams, stats, _) = Read(Pcap(LinkEthernet, frames), limits);

        Assert.Empty(datagrams);
        Assert.Equal(10, stats.FragmentedDatagramsDropped); // 6 evicted at the limit, 4 left at the end
    }

    [Fact]
    public void Fragments_older_than_the_timeout_are_dropped()
    {
        var fragments = Udp4Fragments(Server4, Client4, new byte[2000], 1480, 5);
        var late = 31L * 1_000_000_000;

        var (_, datagrams, stats, _) = Read(Pcap(LinkEthernet, [(0, Ethernet(fragments[0])), (late, Ethernet(fragments[1]))]));

        Assert.Empty(datagrams);
        Assert.True(stats.FragmentedDatagramsDropped >= 1);
    }

    [Fact]
    public void Ice_tcp_stream_is_split_into_rfc4571_frames_in_sequence_order()
    {
        byte[] stream = [0, 3, 0x16, 0xFE, 0xFD, 0, 2, 0x00, 0x01, 0, 4, 0x80, 1, 2, 3];
        const uint isn = 1000;
        var frames = new List<(long, byte[])>
        {
            (0, Ethernet(Tcp4(Client4, Server4, isn, 0x02, []))),
            (1, Ethernet(Tcp4(Client4, Server4, isn + 1 + 6, 0x18, stream[6..]))), // arrives before the first part
            (2, Ethernet(Tcp4(Client4, Server4, isn + 1, 0x18, stream[..6]))),
            (3, Ethernet(Tcp4(Client4, Server4, isn + 1, 0x18, stream[..6]))), // a retransmission: ignored
        };

        var (_, datagrams, stats, _) = Read(Pcap(LinkEthernet, frames));

        Assert.Equal(3, datagrams.Count);
        Assert.All(datagrams, d => Assert.True(d.Tcp));
        Assert.Equal(new byte[] { 0x16, 0xFE, 0xFD }, datagrams[0].Payload);
        Assert.Equal(new byte[] { 0x80, 1, 2, 3 }, datagrams[2].Payload);
        Assert.Equal(3, stats.TcpFrames);
    }

    [Fact]
    public void Tcp_stream_joined_midway_is_counted_not_decoded()
    {
        var (_, datagrams, stats, _) = Read(Pcap(LinkEthernet, [(0, Ethernet(Tcp4(Client4, Server4, 5, 0x18, [0, 1, 0x16])))]));

        Assert.Empty(datagrams);
        Assert.Equal(1, stats.TcpStreamsWithoutSyn);
    }

    [Fact]
    public void Tcp_out_of_order_data_over_the_limit_gives_the_stream_up()
    {
        var limits = new CaptureLimits { MaxTcpOutOfOrderBytes = 100 };
        var frames = new List<(long, byte[])> { (0, Ethernet(Tcp4(Client4, Server4, 0, 0x02, []))) };
        for (var i = 0; i < 5; i++)
        {
            frames.Add((i + 1, Ethernet(Tcp4(Client4, Server4, (uint)(1000 + (i * 50)), 0x18, new byte[50]))));
        }

        var (_, _, stats, _) = Read(Pcap(LinkEthernet, frames), limits);

        Assert.Equal(1, stats.TcpStreamsDropped);
    }

    [Fact]
    public void Not_a_capture_is_an_unsupported_error_at_offset_0()
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureReader.Open(new MemoryStream("GET / HTTP/1.1\r\n\r\n"u8.ToArray())));

        Assert.Equal(CaptureErrorKind.Unsupported, ex.Kind);
        Assert.Equal(0, ex.Offset);
    }

    [Fact]
    public void Empty_file_is_a_truncated_error()
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureReader.Open(new MemoryStream([])));

        Assert.Equal(CaptureErrorKind.Truncated, ex.Kind);
    }

    [Fact]
    public void Pcap_cut_inside_a_packet_names_the_packet_offset()
    {
        var file = Pcap(LinkEthernet, [(0, Ethernet(Udp(Client4, Server4, Payload))), (1, Ethernet(Udp(Server4, Client4, Payload)))]);
        var secondRecord = 24 + 16 + 60;
        var reader = CaptureReader.Open(new MemoryStream(file[..(file.Length - 5)]));

        Assert.True(reader.TryRead(out _));
        var ex = Assert.Throws<CaptureFormatException>(() => reader.TryRead(out _));

        Assert.Equal(CaptureErrorKind.Truncated, ex.Kind);
        Assert.Equal(secondRecord, ex.Offset);
        Assert.Contains("packet 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PcapNg_cut_inside_a_block_is_a_truncated_error()
    {
        var file = PcapNg([(LinkEthernet, 6)], [(0, 0, Ethernet(Udp(Client4, Server4, Payload)))]);
        var reader = CaptureReader.Open(new MemoryStream(file[..^20]));

        var ex = Assert.Throws<CaptureFormatException>(() =>
        {
            while (reader.TryRead(out _))
            {
            }
        });

        Assert.Equal(CaptureErrorKind.Truncated, ex.Kind);
        Assert.True(ex.Offset > 0);
    }

    [Fact]
    public void Pcap_record_over_the_frame_limit_is_a_too_large_error()
    {
        var file = Pcap(LinkEthernet, [(0, new byte[5000])]);

        var reader = CaptureReader.Open(new MemoryStream(file), new CaptureLimits { MaxFrameBytes = 4096 });

        Assert.Equal(CaptureErrorKind.TooLarge, Assert.Throws<CaptureFormatException>(() => reader.TryRead(out _)).Kind);
    }

    [Fact]
    public void PcapNg_block_length_not_a_multiple_of_four_is_malformed()
    {
        var file = PcapNg([(LinkEthernet, 6)], []);
        byte[] bad = [6, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0];

        var reader = CaptureReader.Open(new MemoryStream([.. file, .. bad]));

        var ex = Assert.Throws<CaptureFormatException>(() => reader.TryRead(out _));
        Assert.Equal(CaptureErrorKind.Malformed, ex.Kind);
        Assert.Equal(file.Length, ex.Offset);
    }

    [Fact]
    public void Random_bytes_never_escape_as_anything_but_a_capture_error()
    {
        var random = new Random(1234);
        var valid = Pcap(LinkEthernet, [(0, Ethernet(Udp(Client4, Server4, Payload))), (1, Ethernet(Udp4Fragments(Server4, Client4, new byte[2000], 1480, 1)[0]))]);
        var validNg = PcapNg([(LinkEthernet, 6), (LinkSll2, 9)], [(0, 0, Ethernet(Udp(Client4, Server4, Payload))), (1, 1, Sll2(Udp(Server6, Client6, Payload)))]);
        for (var i = 0; i < 3000; i++)
        {
            var bytes = (i % 2 == 0 ? valid : validNg).ToArray();
            var flips = random.Next(1, 8);
            for (var f = 0; f < flips; f++)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            var cut = random.Next(bytes.Length / 2, bytes.Length + 1);
            try
            {
                Airlift.Cli.Doctor.DoctorAnalyzer.Analyze(new MemoryStream(bytes[..cut]), "fuzz", new Airlift.Cli.Doctor.DoctorOptions());
            }
            catch (CaptureFormatException)
            {
            }
        }
    }
}
