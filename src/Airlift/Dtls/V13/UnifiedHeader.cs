namespace Airlift.Dtls.V13;

/// <summary>
/// The DTLS 1.3 unified header of a protected record (RFC 9147 4):
/// <c>0 0 1 C S L E E</c>, [connection_id], sequence number (8 or 16 bits, S), [length (16 bits, L)], then the
/// encrypted record. Airlift writes C=0, S=1, L=1 (5 bytes: a 16-bit sequence number and an explicit length, so that
/// records can be packed into one datagram) and reads any combination without a connection id.
/// </summary>
internal readonly record struct UnifiedHeader(byte EpochBits, int SequenceLength, ushort WireSequence, int HeaderLength, int RecordLength)
{
    /// <summary>Bytes of the header Airlift writes.</summary>
    public const int WrittenSize = 5;

    /// <summary>True when the first byte of a record says "unified header" (RFC 9147 4.1 demultiplexing: 0b001xxxxx).</summary>
    public static bool IsUnified(byte first) => (first & 0xE0) == 0x20;

    /// <summary>
    /// Reads a header at the start of <paramref name="data"/>. <see cref="RecordLength"/> is the length of the
    /// encrypted part (from L, or the rest of the datagram). False for a connection id (none negotiated), or truncation.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out UnifiedHeader header)
    {
        header = default;
        if (data.IsEmpty || !IsUnified(data[0]) || (data[0] & 0x10) != 0)
        {
            return false;
        }

        var first = data[0];
        var sequenceLength = (first & 0x08) != 0 ? 2 : 1;
        var hasLength = (first & 0x04) != 0;
        var headerLength = 1 + sequenceLength + (hasLength ? 2 : 0);
        if (data.Length < headerLength)
        {
            return false;
        }

        var wire = sequenceLength == 2 ? (ushort)((data[1] << 8) | data[2]) : data[1];
        int recordLength;
        if (hasLength)
        {
            recordLength = (data[1 + sequenceLength] << 8) | data[2 + sequenceLength];
            if (data.Length < headerLength + recordLength)
            {
                return false;
            }
        }
        else
        {
            recordLength = data.Length - headerLength;
        }

        header = new UnifiedHeader((byte)(first & 0x03), sequenceLength, wire, headerLength, recordLength);
        return true;
    }

    /// <summary>Writes Airlift's 5-byte form with the plaintext sequence number (masked later).</summary>
    public static void Write(Span<byte> destination, ulong epoch, ulong sequence, int recordLength)
    {
        destination[0] = (byte)(0x20 | 0x08 | 0x04 | (int)(epoch & 0x03));
        destination[1] = (byte)(sequence >> 8);
        destination[2] = (byte)sequence;
        destination[3] = (byte)(recordLength >> 8);
        destination[4] = (byte)recordLength;
    }

    /// <summary>
    /// The full sequence number closest to <paramref name="expected"/> (the next one after the highest received) whose low
    /// <paramref name="bits"/> bits equal <paramref name="wire"/> (RFC 9147 4.2.2).
    /// </summary>
    public static ulong Reconstruct(ulong expected, ushort wire, int bits)
    {
        var modulus = 1UL << bits;
        var mask = modulus - 1;
        var candidate = (expected & ~mask) | wire;
        var half = modulus / 2;
        if (candidate + half < expected && candidate + modulus > candidate)
        {
            candidate += modulus;
        }
        else if (candidate > expected + half && candidate >= modulus)
        {
            candidate -= modulus;
        }

        return candidate;
    }
}
