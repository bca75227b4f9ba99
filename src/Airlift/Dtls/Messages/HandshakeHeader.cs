using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// DTLS handshake header (RFC 6347 4.2.2): msg_type(1) length(3) message_seq(2) fragment_offset(3)
/// fragment_length(3). <see cref="Length"/> is the length of the whole message body; the fragment
/// that follows the header covers [<see cref="FragmentOffset"/>, <see cref="FragmentOffset"/> + <see cref="FragmentLength"/>).
/// </summary>
internal readonly record struct HandshakeHeader(HandshakeType Type, int Length, ushort MessageSeq, int FragmentOffset, int FragmentLength)
{
    /// <summary>Header size on the wire.</summary>
    public const int Size = 12;

    /// <summary>True when this fragment carries the whole message.</summary>
    public bool IsComplete => FragmentOffset == 0 && FragmentLength == Length;

    /// <summary>
    /// Reads a header. Fails, consuming nothing, on truncation or when the fragment would extend past
    /// the message length. Whether <see cref="FragmentLength"/> bytes follow is the caller's check.
    /// </summary>
    public static bool TryRead(ref WireReader r, out HandshakeHeader header)
    {
        header = default;

        // Read from a copy so that a rejected header leaves the caller's reader where it was.
        var probe = r;
        if (!probe.TryReadUInt8(out var type)
            || !probe.TryReadUInt24(out var length)
            || !probe.TryReadUInt16(out var seq)
            || !probe.TryReadUInt24(out var offset)
            || !probe.TryReadUInt24(out var fragmentLength)
            || offset + fragmentLength > length)
        {
            return false;
        }

        r = probe;
        header = new HandshakeHeader(new HandshakeType(type), length, seq, offset, fragmentLength);
        return true;
    }

    /// <summary>Writes the 12 header bytes.</summary>
    public void Write(ref WireWriter w)
    {
        w.WriteUInt8(Type.Value);
        w.WriteUInt24(Length);
        w.WriteUInt16(MessageSeq);
        w.WriteUInt24(FragmentOffset);
        w.WriteUInt24(FragmentLength);
    }
}
