using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class RecordHeaderTests
{
    private static readonly byte[] Wire =
    [
        0x17,                               // type: application_data (23)
        0xFE, 0xFD,                         // version: DTLS 1.2
        0x00, 0x01,                         // epoch: 1
        0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, // sequence_number (48-bit): 0x123456789ABC
        0x00, 0x44,                         // length: 68
    ];

    [Fact]
    public void Record_header_round_trips_field_by_field_RFC6347_4_1()
    {
        Assert.True(RecordHeader.TryRead(Wire, out var h));
        Assert.Equal(ContentType.ApplicationData, h.Type);
        Assert.Equal(ProtocolVersion.Dtls12, h.Version);
        Assert.Equal(1, h.Epoch);
        Assert.Equal(0x1234_5678_9ABCUL, h.SequenceNumber);
        Assert.Equal(68, h.Length);
        Assert.Equal(0x0001_1234_5678_9ABCUL, h.EpochAndSequence);

        var written = new byte[RecordHeader.Size];
        h.Write(written);
        Assert.Equal(Wire, written);
    }

    [Fact]
    public void Record_header_reads_from_the_start_of_a_longer_datagram()
    {
        Assert.True(RecordHeader.TryRead([.. Wire, 0xAA, 0xBB], out var h));
        Assert.Equal(68, h.Length);
    }

    [Fact]
    public void Record_header_truncated_at_every_length_is_rejected()
    {
        for (var length = 0; length < RecordHeader.Size; length++)
        {
            Assert.False(RecordHeader.TryRead(Wire.AsSpan(0, length), out _), $"prefix {length}");
        }
    }

    [Fact]
    public void Record_header_refuses_a_sequence_number_beyond_48_bits()
    {
        var h = new RecordHeader(ContentType.Handshake, ProtocolVersion.Dtls12, 0, RecordHeader.MaxSequenceNumber + 1, 0);
        Assert.Throws<InvalidOperationException>(() => h.Write(new byte[RecordHeader.Size]));
    }

    [Fact]
    public void Record_header_refuses_a_short_destination()
    {
        var h = new RecordHeader(ContentType.Handshake, ProtocolVersion.Dtls12, 0, 0, 0);
        Assert.Throws<ArgumentException>(() => h.Write(new byte[RecordHeader.Size - 1]));
    }
}
