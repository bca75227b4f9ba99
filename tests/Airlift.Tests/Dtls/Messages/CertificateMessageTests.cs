using Airlift.Codec;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class CertificateMessageTests
{
    private static readonly BodyDecoder<CertificateMessage> Decode = CertificateMessage.TryDecode;

    private static readonly byte[] Wire =
    [
        0x00, 0x00, 0x0A,             // certificate_list length: 10
        0x00, 0x00, 0x03,             //   ASN.1Cert length: 3
        0x30, 0x01, 0x00,             //     DER bytes (end-entity first)
        0x00, 0x00, 0x01,             //   ASN.1Cert length: 1
        0x30,                         //     DER bytes
    ];

    [Fact]
    public void Certificate_round_trips_field_by_field_RFC5246_7_4_2()
    {
        var message = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(2, message.Certificates.Count);
        Assert.Equal(new byte[] { 0x30, 0x01, 0x00 }, message.Certificates[0]);
        Assert.Equal(new byte[] { 0x30 }, message.Certificates[1]);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => message.Encode(ref w)));
    }

    [Fact]
    public void Certificate_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void Certificate_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void Certificate_with_an_empty_list_is_valid_RFC5246_7_4_6()
    {
        byte[] wire = [0x00, 0x00, 0x00]; // certificate_list length: 0
        var message = MessageTestKit.Decode(Decode, wire);
        Assert.Empty(message.Certificates);
        Assert.Equal(wire, MessageTestKit.Encode((ref WireWriter w) => message.Encode(ref w)));
    }

    [Fact]
    public void Certificate_entry_of_zero_length_is_rejected()
    {
        byte[] wire = [0x00, 0x00, 0x03, 0x00, 0x00, 0x00]; // one ASN.1Cert of length 0
        Assert.False(CertificateMessage.TryDecode(wire, out _));
    }

    [Fact]
    public void Certificate_entry_overrunning_the_list_is_rejected()
    {
        byte[] wire = [0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x30]; // entry claims 2 bytes, list holds 1
        Assert.False(CertificateMessage.TryDecode([.. wire, 0x00], out _));
    }
}
