using Airlift.Codec;

namespace Airlift.Tests.NetEm;

/// <summary>Builds DTLS 1.2 datagrams for emulator tests (headers right, bodies filler).</summary>
internal static class SyntheticDtls
{
    public static byte[] Record(byte contentType, ushort epoch, ulong sequence, ReadOnlySpan<byte> payload, ushort version = 0xFEFD)
    {
        var buffer = new byte[13 + payload.Length];
        var w = new WireWriter(buffer);
        w.WriteUInt8(contentType);
        w.WriteUInt16(version);
        w.WriteUInt16(epoch);
        w.WriteUInt48(sequence);
        w.WriteUInt16((ushort)payload.Length);
        w.WriteBytes(payload);
        Assert.False(w.Overflowed);
        return buffer;
    }

    /// <summary>A whole handshake message (one fragment) of <paramref name="bodyLength"/> filler bytes.</summary>
    public static byte[] Handshake(byte type, ushort messageSeq, int bodyLength) => Fragment(type, messageSeq, bodyLength, 0, bodyLength);

    public static byte[] Fragment(byte type, ushort messageSeq, int messageLength, int offset, int fragmentLength)
    {
        var buffer = new byte[12 + fragmentLength];
        var w = new WireWriter(buffer);
        w.WriteUInt8(type);
        w.WriteUInt24(messageLength);
        w.WriteUInt16(messageSeq);
        w.WriteUInt24(offset);
        w.WriteUInt24(fragmentLength);
        w.WriteBytes(new byte[fragmentLength]);
        Assert.False(w.Overflowed);
        return buffer;
    }

    public static byte[] PlainHandshakeRecord(ulong sequence, params byte[][] messages) =>
        Record(22, 0, sequence, messages.SelectMany(m => m).ToArray());

    public static byte[] Datagram(params byte[][] records) => records.SelectMany(r => r).ToArray();

    /// <summary>Server flight 4: SH, CERT, SKE, SHD in one datagram.</summary>
    public static byte[] ServerHelloFlight(ulong firstSequence = 1) => Datagram(
        PlainHandshakeRecord(firstSequence, Handshake(2, 1, 70)),
        PlainHandshakeRecord(firstSequence + 1, Handshake(11, 2, 300)),
        PlainHandshakeRecord(firstSequence + 2, Handshake(12, 3, 100)),
        PlainHandshakeRecord(firstSequence + 3, Handshake(14, 4, 0)));

    public static byte[] ClientHello(ulong sequence = 0) => Datagram(PlainHandshakeRecord(sequence, Handshake(1, 0, 150)));

    /// <summary>ChangeCipherSpec then an encrypted (epoch 1) Finished.</summary>
    public static byte[] FinalFlight() => Datagram(
        Record(20, 0, 7, [1]),
        Record(22, 1, 0, new byte[40]));

    public static byte[] ApplicationData(int length = 50) => Record(23, 1, 1, new byte[length]);
}
