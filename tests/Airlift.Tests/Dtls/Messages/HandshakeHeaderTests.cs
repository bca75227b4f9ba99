using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class HandshakeHeaderTests
{
    // The first fragment header of Chromium's ClientHello in the captured vectors.
    private static readonly byte[] Wire =
    [
        0x01,             // msg_type: client_hello
        0x00, 0x05, 0x85, // length: 1413 (whole message)
        0x00, 0x00,       // message_seq: 0
        0x00, 0x00, 0x00, // fragment_offset: 0
        0x00, 0x04, 0x97, // fragment_length: 1175
    ];

    [Fact]
    public void Handshake_header_round_trips_field_by_field_RFC6347_4_2_2()
    {
        var r = new WireReader(Wire);
        Assert.True(HandshakeHeader.TryRead(ref r, out var h));
        Assert.True(r.IsEmpty);
        Assert.Equal(HandshakeType.ClientHello, h.Type);
        Assert.Equal(1413, h.Length);
        Assert.Equal(0, h.MessageSeq);
        Assert.Equal(0, h.FragmentOffset);
        Assert.Equal(1175, h.FragmentLength);
        Assert.False(h.IsComplete);

        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => h.Write(ref w)));
    }

    [Fact]
    public void Handshake_header_truncated_at_every_length_is_rejected_without_consuming()
    {
        for (var length = 0; length < HandshakeHeader.Size; length++)
        {
            var r = new WireReader(Wire.AsSpan(0, length));
            Assert.False(HandshakeHeader.TryRead(ref r, out _), $"prefix {length}");
            Assert.Equal(0, r.Position);
        }
    }

    [Fact]
    public void Handshake_header_with_fragment_past_message_length_is_rejected_RFC6347_4_2_2()
    {
        byte[] wire =
        [
            0x0B,             // msg_type: certificate
            0x00, 0x01, 0x80, // length: 384
            0x00, 0x02,       // message_seq: 2
            0x00, 0x01, 0x1B, // fragment_offset: 283
            0x00, 0x00, 0x66, // fragment_length: 102 (283 + 102 = 385 > 384)
        ];
        var r = new WireReader(wire);
        Assert.False(HandshakeHeader.TryRead(ref r, out _));
        Assert.Equal(0, r.Position);

        wire[^1] = 0x65; // 101: ends exactly at the message length
        r = new WireReader(wire);
        Assert.True(HandshakeHeader.TryRead(ref r, out var h));
        Assert.Equal(283 + 101, h.FragmentOffset + h.FragmentLength);
    }

    [Fact]
    public void Empty_message_header_is_complete()
    {
        byte[] wire = [0x0E, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0]; // server_hello_done, seq 5, empty
        var r = new WireReader(wire);
        Assert.True(HandshakeHeader.TryRead(ref r, out var h));
        Assert.True(h.IsComplete);
        Assert.Equal(HandshakeType.ServerHelloDone, h.Type);
        Assert.Equal(5, h.MessageSeq);
    }
}
