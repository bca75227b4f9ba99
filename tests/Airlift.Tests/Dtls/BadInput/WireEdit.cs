using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.BadInput;

/// <summary>A record as the test sees it: header fields and the raw fragment (ciphertext for protected epochs).</summary>
internal sealed record TestRecord(ContentType Type, ProtocolVersion Version, ushort Epoch, ulong Sequence, byte[] Fragment)
{
    public byte[] Encode()
    {
        var bytes = new byte[RecordHeader.Size + Fragment.Length];
        new RecordHeader(Type, Version, Epoch, Sequence, (ushort)Fragment.Length).Write(bytes);
        Fragment.CopyTo(bytes, RecordHeader.Size);
        return bytes;
    }
}

/// <summary>
/// A separate, tiny wire parser/builder for tests: splits datagrams into records and handshake fragments and builds
/// new ones, so that a test can replace one message of a captured flight with a well-formed but semantically bad one.
/// </summary>
internal static class WireEdit
{
    public static List<TestRecord> Records(byte[] datagram)
    {
        var records = new List<TestRecord>();
        var rest = datagram.AsSpan();
        while (!rest.IsEmpty)
        {
            if (!RecordHeader.TryRead(rest, out var h) || rest.Length < RecordHeader.Size + h.Length)
            {
                throw new InvalidOperationException("test input is not a sequence of whole records");
            }

            records.Add(new TestRecord(h.Type, h.Version, h.Epoch, h.SequenceNumber, rest.Slice(RecordHeader.Size, h.Length).ToArray()));
            rest = rest[(RecordHeader.Size + h.Length)..];
        }

        return records;
    }

    public static List<TestRecord> Records(IEnumerable<byte[]> flight) => [.. flight.SelectMany(Records)];

    public static byte[] Join(IEnumerable<TestRecord> records) => [.. records.SelectMany(r => r.Encode())];

    public static byte[] Fragment(HandshakeType type, int length, ushort seq, int offset, ReadOnlySpan<byte> bytes)
    {
        var buffer = new byte[HandshakeHeader.Size + bytes.Length];
        var w = new WireWriter(buffer);
        new HandshakeHeader(type, length, seq, offset, bytes.Length).Write(ref w);
        w.WriteBytes(bytes);
        return buffer;
    }

    public static TestRecord HandshakeRecord(HandshakeType type, ushort seq, ReadOnlySpan<byte> body, ulong recordSeq, ushort epoch = 0) =>
        new(ContentType.Handshake, ProtocolVersion.Dtls12, epoch, recordSeq, Fragment(type, body.Length, seq, 0, body));

    /// <summary>The handshake fragments of an epoch-0 handshake record (one or more).</summary>
    public static List<(HandshakeHeader Header, byte[] Bytes)> Fragments(TestRecord record)
    {
        var list = new List<(HandshakeHeader, byte[])>();
        var r = new WireReader(record.Fragment);
        while (!r.IsEmpty)
        {
            if (!HandshakeHeader.TryRead(ref r, out var h) || !r.TryReadBytes(h.FragmentLength, out var bytes))
            {
                throw new InvalidOperationException("test record holds a malformed handshake fragment");
            }

            list.Add((h, bytes.ToArray()));
        }

        return list;
    }

    /// <summary>The complete, unfragmented epoch-0 handshake messages of a flight, in order.</summary>
    public static List<(HandshakeHeader Header, byte[] Body)> Messages(IEnumerable<byte[]> flight) =>
        [.. Records(flight).Where(r => r.Epoch == 0 && r.Type == ContentType.Handshake).SelectMany(Fragments).Where(f => f.Header.IsComplete)];

    public static byte[] Body(IEnumerable<byte[]> flight, HandshakeType type) => Messages(flight).First(m => m.Header.Type == type).Body;

    /// <summary>
    /// Rewrites every epoch-0 handshake fragment for which <paramref name="edit"/> returns a replacement (a new header
    /// and fragment bytes; the fragment length in the header is taken from the bytes). Record boundaries are kept.
    /// </summary>
    public static List<byte[]> EditFragments(IEnumerable<byte[]> flight, Func<HandshakeHeader, byte[], (HandshakeHeader Header, byte[] Bytes)?> edit)
    {
        var result = new List<byte[]>();
        foreach (var datagram in flight)
        {
            var records = new List<TestRecord>();
            foreach (var record in Records(datagram))
            {
                if (record.Epoch != 0 || record.Type != ContentType.Handshake)
                {
                    records.Add(record);
                    continue;
                }

                var fragment = new List<byte>();
                foreach (var (h, bytes) in Fragments(record))
                {
                    var (nh, nb) = edit(h, bytes) ?? (h, bytes);
                    fragment.AddRange(Fragment(nh.Type, nh.Length, nh.MessageSeq, nh.FragmentOffset, nb));
                }

                records.Add(record with { Fragment = [.. fragment] });
            }

            result.Add(Join(records));
        }

        return result;
    }

    /// <summary>Replaces the body of the (unfragmented) message of <paramref name="type"/>, fixing both length fields.</summary>
    public static List<byte[]> ReplaceBody(IEnumerable<byte[]> flight, HandshakeType type, Func<byte[], byte[]> newBody) =>
        EditFragments(flight, (h, bytes) =>
        {
            if (h.Type != type)
            {
                return null;
            }

            if (!h.IsComplete)
            {
                throw new InvalidOperationException($"{type} is fragmented in the captured flight");
            }

            var body = newBody(bytes);
            return (h with { Length = body.Length, FragmentLength = body.Length }, body);
        });

    public static byte[] EncodeClientHello(ClientHello hello)
    {
        var buffer = new byte[4096];
        var w = new WireWriter(buffer);
        hello.Encode(ref w);
        return w.Written.ToArray();
    }

    public static byte[] EncodeServerHello(ServerHello hello)
    {
        var buffer = new byte[4096];
        var w = new WireWriter(buffer);
        hello.Encode(ref w);
        return w.Written.ToArray();
    }

    public static byte[] EncodeClientKeyExchange(ClientKeyExchangeEcdhe message)
    {
        var buffer = new byte[512];
        var w = new WireWriter(buffer);
        message.Encode(ref w);
        return w.Written.ToArray();
    }

    public static byte[] Mutated(byte[] datagram, Action<byte[]> change)
    {
        var copy = (byte[])datagram.Clone();
        change(copy);
        return copy;
    }
}
