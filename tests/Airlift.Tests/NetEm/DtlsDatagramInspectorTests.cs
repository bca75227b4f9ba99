using System.Text.Json;
using Airlift.NetEm;

namespace Airlift.Tests.NetEm;

public class DtlsDatagramInspectorTests
{
    private static List<(int From, byte[] Bytes)> Vectors(string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "vectors", file);
        var list = new List<(int, byte[])>();
        foreach (var line in File.ReadLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.TryGetProperty("kind", out var kind) && kind.GetString() == "dtls")
            {
                list.Add((root.GetProperty("from").GetInt32(), Convert.FromHexString(root.GetProperty("hex").GetString()!)));
            }
        }

        return list;
    }

    public static TheoryData<string> VectorFiles() => new()
    {
        "chromium156-to-icelite-dtls12.jsonl",
        "chromium156-loopback-dtls13-pq.jsonl",
        "chromium156-loopback-dtls13-nopq.jsonl",
    };

    [Theory]
    [MemberData(nameof(VectorFiles))]
    public void Captured_datagrams_split_into_whole_records_that_tile_the_datagram_RFC6347_4_1_1(string file)
    {
        var vectors = Vectors(file);
        Assert.NotEmpty(vectors);
        foreach (var (_, bytes) in vectors)
        {
            var records = DtlsDatagramInspector.Inspect(bytes, out var wellFormed);
            Assert.True(wellFormed, Convert.ToHexString(bytes));
            Assert.NotEmpty(records);
            var position = 0;
            foreach (var record in records)
            {
                Assert.Equal(position, record.Offset);
                position += record.Length;
            }

            Assert.Equal(bytes.Length, position); // records never span datagrams
        }
    }

    [Fact]
    public void Chromium_ClientHello_fragments_and_OpenSSL_flights_are_described_for_the_trace()
    {
        var v = Vectors("chromium156-to-icelite-dtls12.jsonl");
        var descriptions = v.Select(x => DtlsDatagramInspector.Describe(x.Bytes)).ToList();

        Assert.Equal("CH(0..1175/1413)", descriptions[0]);
        Assert.Equal("CH(1175..1413/1413)", descriptions[1]);
        Assert.Equal("HVR", descriptions[2]);
        Assert.Equal("SH CERT(0..80/384)", descriptions[5]);
        Assert.Equal("SKE(77..111/111) CR SHD", descriptions[8]);
        Assert.Equal("CERT CKE CV CCS FIN", descriptions[9]);
        Assert.Equal("CCS FIN", descriptions[10]);
        Assert.Equal("APP", descriptions[11]);
        Assert.Equal("ALERT*", descriptions[^1]);
    }

    [Fact]
    public void Handshake_fields_are_read_from_the_fragment_header_RFC6347_4_2_2()
    {
        var v = Vectors("chromium156-to-icelite-dtls12.jsonl");
        var first = DtlsDatagramInspector.Inspect(v[0].Bytes, out _);
        var record = Assert.Single(first);
        Assert.Equal(0xFEFF, record.Version.Value);
        Assert.Equal(0, record.Epoch);
        Assert.Equal(1187, record.PayloadLength);
        var hs = Assert.Single(record.Handshakes);
        Assert.Equal((1, 1413, (ushort)0, 0, 1175), (hs.Type.Value, hs.MessageLength, hs.MessageSeq, hs.FragmentOffset, hs.FragmentLength));
        Assert.False(hs.IsComplete);

        var serverFlight = DtlsDatagramInspector.Inspect(v[5].Bytes, out _);
        Assert.Equal([(ushort)1, (ushort)2], serverFlight.SelectMany(r => r.Handshakes).Select(h => h.MessageSeq));
        Assert.Equal([1UL, 2UL], serverFlight.Select(r => r.SequenceNumber));
    }

    [Fact]
    public void Final_flight_is_recognised_by_ChangeCipherSpec_or_an_epoch1_handshake_record()
    {
        var v = Vectors("chromium156-to-icelite-dtls12.jsonl");
        Assert.True(DtlsDatagramInspector.CarriesHandshake(v[9].Bytes, 20)); // client CERT CKE CV CCS FIN
        Assert.True(DtlsDatagramInspector.CarriesHandshake(v[10].Bytes, 20)); // server CCS FIN
        Assert.False(DtlsDatagramInspector.CarriesHandshake(v[5].Bytes, 20));
        Assert.False(DtlsDatagramInspector.CarriesHandshake(v[11].Bytes, 20)); // application data, epoch 1
        Assert.True(DtlsDatagramInspector.CarriesHandshake(v[5].Bytes, 2));
        Assert.True(DtlsDatagramInspector.CarriesHandshake(v[6].Bytes, 11)); // a CERT fragment alone
        Assert.False(DtlsDatagramInspector.CarriesHandshake(v[6].Bytes, 2));
    }

    [Fact]
    public void Dtls13_unified_headers_are_split_without_decrypting_RFC9147_4()
    {
        var v = Vectors("chromium156-loopback-dtls13-pq.jsonl");
        var records = DtlsDatagramInspector.Inspect(v[3].Bytes, out var wellFormed);
        Assert.True(wellFormed);
        Assert.All(records, r => Assert.True(r.IsUnifiedHeader && r.IsEncrypted));
        Assert.Equal(5, records[0].HeaderLength); // 001 0 1 1 EE: 16-bit seq and a length
        Assert.StartsWith("DTLS13", DtlsDatagramInspector.Describe(v[3].Bytes), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_prefix_of_a_captured_datagram_is_well_formed_exactly_at_record_boundaries()
    {
        foreach (var (_, bytes) in Vectors("chromium156-to-icelite-dtls12.jsonl"))
        {
            var boundaries = DtlsDatagramInspector.Inspect(bytes, out _).Select(r => r.Offset + r.Length).ToHashSet();
            for (var length = 0; length <= bytes.Length; length++)
            {
                var records = DtlsDatagramInspector.Inspect(bytes.AsSpan(0, length), out var wellFormed);
                Assert.Equal(boundaries.Contains(length), wellFormed);
                Assert.All(records, r => Assert.True(r.Offset + r.Length <= length));
                _ = DtlsDatagramInspector.Describe(bytes.AsSpan(0, length));
            }
        }
    }

    [Fact]
    public void Random_garbage_never_throws_and_records_stay_inside_the_datagram()
    {
        var rng = new Random(20240601); // seeded: the same garbage every run
        var buffer = new byte[400];
        for (var i = 0; i < 20_000; i++)
        {
            var length = rng.Next(0, buffer.Length);
            rng.NextBytes(buffer.AsSpan(0, length));
            if (length > 0 && i % 2 == 0)
            {
                buffer[0] = (byte)rng.Next(20, 64); // steer half of them into the DTLS paths
                if (length > 2)
                {
                    buffer[1] = 0xFE;
                }
            }

            var datagram = buffer.AsSpan(0, length);
            var records = DtlsDatagramInspector.Inspect(datagram, out _);
            Assert.All(records, r => Assert.InRange(r.Offset + r.Length, 0, length));
            _ = DtlsDatagramInspector.Describe(datagram);
            _ = DtlsDatagramInspector.CarriesHandshake(datagram, 20);
        }
    }

    [Fact]
    public void Inconsistent_or_foreign_bytes_are_not_well_formed()
    {
        // A fragment claiming to end past its message length.
        var badFragment = SyntheticDtls.PlainHandshakeRecord(0, SyntheticDtls.Fragment(1, 0, 100, 90, 20));
        DtlsDatagramInspector.Inspect(badFragment, out var wellFormed);
        Assert.False(wellFormed);

        // A record whose version is not DTLS (TLS 1.2 0x0303).
        DtlsDatagramInspector.Inspect(SyntheticDtls.Record(22, 0, 0, SyntheticDtls.Handshake(1, 0, 10), version: 0x0303), out wellFormed);
        Assert.False(wellFormed);

        // A good record followed by trailing junk keeps the good record.
        var records = DtlsDatagramInspector.Inspect([.. SyntheticDtls.ClientHello(), 0x99, 0x01], out wellFormed);
        Assert.False(wellFormed);
        Assert.Single(records);
        Assert.Equal("CH ?2", DtlsDatagramInspector.Describe([.. SyntheticDtls.ClientHello(), 0x99, 0x01]));

        DtlsDatagramInspector.Inspect([], out wellFormed);
        Assert.False(wellFormed);
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0x01, 0x00, 0x00 }, "STUN")]
    [InlineData(new byte[] { 0x80, 0x60, 0x00, 0x01 }, "RTP/RTCP")]
    [InlineData(new byte[] { 0x40, 0x00 }, "TURN-CHANNEL")]
    [InlineData(new byte[] { }, "empty")]
    public void Non_DTLS_datagrams_are_named_by_their_first_byte_RFC7983(byte[] datagram, string expected)
    {
        Assert.Equal(expected, DtlsDatagramInspector.Describe(datagram));
    }
}
