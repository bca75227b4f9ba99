using Airlift.Dtls;
using Airlift.Dtls.V13;

namespace Airlift.Tests.Dtls.V13;

/// <summary>
/// The DTLS 1.3 unified header (RFC 9147 4) read directly: every S/L combination, the C bit, truncation, and sequence
/// number reconstruction near the 8-bit and 16-bit wrap (RFC 9147 4.2.2). Airlift writes only S=1, L=1; browsers and
/// other stacks may send the short forms.
/// </summary>
public class UnifiedHeaderTests
{
    [Fact]
    public void Airlift_writes_the_five_byte_form_with_S_and_L_set_and_reads_it_back()
    {
        var record = new byte[UnifiedHeader.WrittenSize + 20];
        UnifiedHeader.Write(record, epoch: 6, sequence: 0x1_2345, recordLength: 20);

        // 0 0 1 C=0 S=1 L=1 E E(6 & 3 = 2): 0b0010_1110.
        Assert.Equal(0x2E, record[0]);
        Assert.True(UnifiedHeader.TryRead(record, out var header));
        Assert.Equal(new UnifiedHeader(EpochBits: 2, SequenceLength: 2, WireSequence: 0x2345, HeaderLength: 5, RecordLength: 20), header);
    }

    [Fact]
    public void An_8_bit_sequence_number_with_a_length_is_a_four_byte_header()
    {
        // 0 0 1 C=0 S=0 L=1 E E=3, seq 0xAB, length 3.
        byte[] record = [0x27, 0xAB, 0x00, 0x03, 1, 2, 3, 99, 99];
        Assert.True(UnifiedHeader.TryRead(record, out var header));
        Assert.Equal(new UnifiedHeader(EpochBits: 3, SequenceLength: 1, WireSequence: 0xAB, HeaderLength: 4, RecordLength: 3), header);
    }

    [Fact]
    public void Without_a_length_the_record_runs_to_the_end_of_the_datagram_RFC_9147_4()
    {
        // S=1, L=0: three header bytes, the rest is the record (it must be the last record of the datagram).
        byte[] sixteen = [0x2A, 0x01, 0x02, 9, 9, 9, 9];
        Assert.True(UnifiedHeader.TryRead(sixteen, out var a));
        Assert.Equal(new UnifiedHeader(EpochBits: 2, SequenceLength: 2, WireSequence: 0x0102, HeaderLength: 3, RecordLength: 4), a);

        // S=0, L=0: the smallest header, two bytes.
        byte[] eight = [0x21, 0xFE, 7, 7];
        Assert.True(UnifiedHeader.TryRead(eight, out var b));
        Assert.Equal(new UnifiedHeader(EpochBits: 1, SequenceLength: 1, WireSequence: 0xFE, HeaderLength: 2, RecordLength: 2), b);
    }

    [Fact]
    public void A_header_with_the_connection_id_bit_is_refused_because_no_connection_id_is_negotiated()
    {
        // C=1 with S=1, L=1: Airlift never negotiates connection_id (RFC 9146/9147 9), so the record cannot be parsed.
        byte[] record = [0x3E, 0x00, 0x01, 0x00, 0x01, 0x00];
        Assert.False(UnifiedHeader.TryRead(record, out var header));
        Assert.Equal(default, header);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x2E })] // S=1, L=1 cut after the first byte
    [InlineData(new byte[] { 0x2E, 0x00, 0x01, 0x00 })] // length field cut in half
    [InlineData(new byte[] { 0x2E, 0x00, 0x01, 0x00, 0x05, 1, 2, 3, 4 })] // length 5, four bytes follow
    [InlineData(new byte[] { 0x26, 0x00, 0x00 })] // S=0, L=1, length cut
    [InlineData(new byte[] { 0x2A, 0x00 })] // S=1, L=0, sequence cut
    [InlineData(new byte[] { 0x16, 0xFE, 0xFD })] // a DTLSPlaintext handshake record is not unified
    [InlineData(new byte[] { 0x40, 0x00, 0x00, 0x00 })] // 0b010xxxxx: not unified
    public void Truncated_or_foreign_headers_are_not_read(byte[] data)
    {
        Assert.False(UnifiedHeader.TryRead(data, out _));
    }

    [Fact]
    public void A_zero_length_record_with_L_set_is_read_and_left_for_the_record_layer_to_refuse()
    {
        byte[] record = [0x2C, 0x00, 0x07, 0x00, 0x00];
        Assert.True(UnifiedHeader.TryRead(record, out var header));
        Assert.Equal(0, header.RecordLength);
        Assert.Equal(5, header.HeaderLength);
    }

    [Theory]
    // 8 bits: the expected number is the highest received + 1 (RFC 9147 4.2.2: the closest number to it).
    [InlineData(0x00UL, 0x00, 0x00UL)]
    [InlineData(0x00UL, 0x05, 0x05UL)]
    [InlineData(0x00UL, 0xFF, 0xFFUL)] // nothing below 0: no wrap backwards
    [InlineData(0xFFUL, 0x00, 0x100UL)] // just across the 8-bit wrap, forwards
    [InlineData(0xFFUL, 0x02, 0x102UL)]
    [InlineData(0x100UL, 0xFF, 0xFFUL)] // a late record from before the wrap, backwards
    [InlineData(0x101UL, 0xFE, 0xFEUL)]
    [InlineData(0x180UL, 0x7F, 0x17FUL)]
    [InlineData(0x180UL, 0x01, 0x101UL)] // 0x101 is 127 behind, 0x201 is 129 ahead: 0x101 is closer
    [InlineData(0x17FUL, 0x00, 0x100UL)] // 0x100 is 127 behind, 0x200 is 129 ahead
    [InlineData(0x181UL, 0x00, 0x200UL)] // 0x100 is 129 behind, 0x200 is 127 ahead
    [InlineData(0x1234_56F0UL, 0x10, 0x1234_5710UL)]
    public void Eight_bit_sequence_numbers_are_reconstructed_near_the_wrap_RFC_9147_4_2_2(ulong expected, int wire, ulong reconstructed)
    {
        Assert.Equal(Distance(expected, reconstructed), MinimumDistance(expected, (ushort)wire, 8));
        Assert.Equal(reconstructed, UnifiedHeader.Reconstruct(expected, (ushort)wire, 8));
    }

    [Theory]
    [InlineData(0x0000UL, 0x0000, 0x0000UL)]
    [InlineData(0x0000UL, 0xFFFF, 0xFFFFUL)]
    [InlineData(0xFFFFUL, 0x0000, 0x1_0000UL)]
    [InlineData(0xFFF0UL, 0x0010, 0x1_0010UL)]
    [InlineData(0x1_0000UL, 0xFFFF, 0xFFFFUL)]
    [InlineData(0x1_0005UL, 0xFFF0, 0xFFF0UL)]
    [InlineData(0x5_8000UL, 0x7FFF, 0x5_7FFFUL)]
    [InlineData(0x5_8000UL, 0x0001, 0x5_0001UL)]
    [InlineData(0x5_8002UL, 0x0001, 0x6_0001UL)]
    [InlineData(0xFFFF_FFFF_FFFFUL, 0xFFFF, 0xFFFF_FFFF_FFFFUL)] // the top of the 48-bit space
    public void Sixteen_bit_sequence_numbers_are_reconstructed_near_the_wrap_RFC_9147_4_2_2(ulong expected, int wire, ulong reconstructed)
    {
        Assert.Equal(Distance(expected, reconstructed), MinimumDistance(expected, (ushort)wire, 16));
        Assert.Equal(reconstructed, UnifiedHeader.Reconstruct(expected, (ushort)wire, 16));
    }

    [Fact]
    public void Reconstruction_matches_a_brute_force_search_for_the_closest_candidate_on_seeded_inputs()
    {
        var random = new Random(9147);
        for (var i = 0; i < 20_000; i++)
        {
            var bits = i % 2 == 0 ? 8 : 16;
            var expected = (ulong)random.NextInt64(0, 1L << 24);
            if (i % 5 == 0)
            {
                // Stay close to a wrap, where the arithmetic can go wrong.
                expected = (expected >> bits << bits) + (ulong)random.Next(-3, 4) + (1UL << bits);
            }

            var wire = (ushort)random.Next(0, 1 << bits);
            var got = UnifiedHeader.Reconstruct(expected, wire, bits);

            // The low bits are the wire's, and no candidate is closer (an exact tie at half the range may go either way).
            Assert.Equal(wire, (ushort)(got & ((1UL << bits) - 1)));
            Assert.Equal(MinimumDistance(expected, wire, bits), Distance(expected, got));
        }
    }

    [Fact]
    public void A_connected_endpoint_drops_a_record_with_the_connection_id_bit_and_stays_connected()
    {
        var pair = new DtlsPair(Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, 91), Dtls13HandshakeTests.Options(TestCertificates.Ecdsa, 92));
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        pair.Client.Send("cid"u8);
        var buffer = new byte[2048];
        var output = pair.Client.PollOutput(buffer);
        Assert.Equal(DtlsOutputKind.Datagram, output.Kind);
        var record = buffer[..output.DatagramLength];

        var withCid = (byte[])record.Clone();
        withCid[0] |= 0x10;
        var malformed = pair.Server.Stats.DroppedMalformed;
        pair.Server.HandleDatagram(pair.Now, withCid);
        Assert.Equal(malformed + 1, pair.Server.Stats.DroppedMalformed);
        Assert.Equal(DtlsState.Connected, pair.Server.State);

        // The untouched record still opens: the dropped copy did not burn its sequence number.
        pair.Server.HandleDatagram(pair.Now, record);
        var events = new List<DtlsEvent>();
        while (pair.Server.PollOutput(buffer) is { Kind: not DtlsOutputKind.Timeout } o)
        {
            if (o.Kind == DtlsOutputKind.Event)
            {
                events.Add(o.Event!);
            }
        }

        Assert.Equal("cid"u8.ToArray(), Assert.Single(events.OfType<DtlsApplicationData>()).Data);
        Assert.Equal(0, pair.Server.Stats.InternalErrors);
    }

    private static ulong Distance(ulong a, ulong b) => a > b ? a - b : b - a;

    /// <summary>The reference: the distance from <paramref name="expected"/> to the closest number with these low bits.</summary>
    private static ulong MinimumDistance(ulong expected, ushort wire, int bits)
    {
        var modulus = 1UL << bits;
        var baseValue = expected & ~(modulus - 1);
        var best = ulong.MaxValue;
        foreach (var offset in new long[] { -1, 0, 1 })
        {
            if (offset < 0 && baseValue < modulus)
            {
                continue;
            }

            var candidate = (ulong)((long)baseValue + (offset * (long)modulus)) | wire;
            best = Math.Min(best, Distance(expected, candidate));
        }

        return best;
    }
}
