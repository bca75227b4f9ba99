using System.Buffers.Binary;

namespace Airlift.Dtls.Messages;

/// <summary>
/// DTLS 1.2 record header (RFC 6347 4.1): type(1) version(2) epoch(2) sequence_number(6) length(2).
/// </summary>
internal readonly record struct RecordHeader(ContentType Type, ProtocolVersion Version, ushort Epoch, ulong SequenceNumber, ushort Length)
{
    /// <summary>Header size on the wire.</summary>
    public const int Size = 13;

    /// <summary>Largest 48-bit sequence number.</summary>
    public const ulong MaxSequenceNumber = 0xFFFF_FFFF_FFFFUL;

    /// <summary>Epoch and sequence number as the 64-bit value fed to the AEAD nonce and the MAC (RFC 6347 4.1.2.1).</summary>
    public ulong EpochAndSequence => ((ulong)Epoch << 48) | SequenceNumber;

    /// <summary>
    /// Reads the header from the start of <paramref name="data"/>. Only the 13 header bytes are checked;
    /// the caller compares <see cref="Length"/> with what is left in the datagram.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out RecordHeader header)
    {
        if (data.Length < Size)
        {
            header = default;
            return false;
        }

        var sequence = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(data[5..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(data[7..]);
        header = new RecordHeader(
            new ContentType(data[0]),
            new ProtocolVersion(BinaryPrimitives.ReadUInt16BigEndian(data[1..])),
            BinaryPrimitives.ReadUInt16BigEndian(data[3..]),
            sequence,
            BinaryPrimitives.ReadUInt16BigEndian(data[11..]));
        return true;
    }

    /// <summary>Writes the 13 header bytes to the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than <see cref="Size"/>.</exception>
    /// <exception cref="InvalidOperationException">The sequence number does not fit in 48 bits.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A record header needs {Size} bytes.", nameof(destination));
        }

        if (SequenceNumber > MaxSequenceNumber)
        {
            throw new InvalidOperationException("The record sequence number does not fit in 48 bits.");
        }

        destination[0] = Type.Value;
        BinaryPrimitives.WriteUInt16BigEndian(destination[1..], Version.Value);
        BinaryPrimitives.WriteUInt16BigEndian(destination[3..], Epoch);
        BinaryPrimitives.WriteUInt16BigEndian(destination[5..], (ushort)(SequenceNumber >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[7..], (uint)SequenceNumber);
        BinaryPrimitives.WriteUInt16BigEndian(destination[11..], Length);
    }
}
