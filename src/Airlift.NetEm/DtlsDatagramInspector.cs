using System.Text;
using Airlift.Codec;
using Airlift.Dtls;

namespace Airlift.NetEm;

/// <summary>One handshake message or fragment found in a plaintext (epoch 0) DTLS handshake record (RFC 6347 4.2.2).</summary>
/// <param name="Type">msg_type.</param>
/// <param name="MessageLength">length: the whole message's body length.</param>
/// <param name="MessageSeq">message_seq.</param>
/// <param name="FragmentOffset">fragment_offset.</param>
/// <param name="FragmentLength">fragment_length.</param>
internal sealed record InspectedHandshake(HandshakeType Type, int MessageLength, ushort MessageSeq, int FragmentOffset, int FragmentLength)
{
    /// <summary>True when this piece is the whole message (offset 0, full length).</summary>
    public bool IsComplete => FragmentOffset == 0 && FragmentLength == MessageLength;

    /// <summary>Offset just past the fragment.</summary>
    public int FragmentEnd => FragmentOffset + FragmentLength;
}

/// <summary>One DTLS record found in a datagram.</summary>
/// <param name="Offset">Where the record starts in the datagram.</param>
/// <param name="HeaderLength">Header size: 13 for the DTLS 1.0/1.2 header (RFC 6347 4.1); 1 to 5 for a DTLS 1.3 unified header.</param>
/// <param name="PayloadLength">Bytes after the header (the fragment / ciphertext).</param>
/// <param name="ContentType">Content type; for a DTLS 1.3 unified header, the raw first byte (the real type is encrypted).</param>
/// <param name="Version">Record version (0xFEFF, 0xFEFD, ...); default for a unified header.</param>
/// <param name="Epoch">Epoch; for a unified header only its low two bits.</param>
/// <param name="SequenceNumber">48-bit record sequence number; for a unified header the (encrypted) low 8 or 16 bits as sent.</param>
/// <param name="IsUnifiedHeader">True for a DTLS 1.3 ciphertext record (first byte 001CSLEE, RFC 9147 4).</param>
/// <param name="Handshakes">Handshake fragments, for epoch-0 handshake records only; empty otherwise.</param>
internal sealed record InspectedRecord(
    int Offset,
    int HeaderLength,
    int PayloadLength,
    ContentType ContentType,
    ProtocolVersion Version,
    ushort Epoch,
    ulong SequenceNumber,
    bool IsUnifiedHeader,
    IReadOnlyList<InspectedHandshake> Handshakes)
{
    /// <summary>Header plus payload.</summary>
    public int Length => HeaderLength + PayloadLength;

    /// <summary>Offset of the payload in the datagram.</summary>
    public int PayloadOffset => Offset + HeaderLength;

    /// <summary>True when the payload is protected (epoch &gt;= 1 or a DTLS 1.3 ciphertext record).</summary>
    public bool IsEncrypted => IsUnifiedHeader || Epoch != 0;

    /// <summary>A change_cipher_spec record.</summary>
    public bool IsChangeCipherSpec => !IsUnifiedHeader && ContentType == ContentType.ChangeCipherSpec;

    /// <summary>A handshake record (plaintext or encrypted).</summary>
    public bool IsHandshake => !IsUnifiedHeader && ContentType == ContentType.Handshake;
}

/// <summary>
/// A small, separate DTLS record parser for the emulator's trace and scripted drops, and for tests that
/// assert on the wire (records never span datagrams, packing, fragment ranges). It only reads headers:
/// it never decrypts, never allocates more than the list it returns, and never throws on any input.
/// </summary>
internal static class DtlsDatagramInspector
{
    /// <summary>DTLS 1.0/1.2 record header: type(1) version(2) epoch(2) sequence_number(6) length(2).</summary>
    public const int RecordHeaderLength = 13;

    /// <summary>DTLS handshake header: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3).</summary>
    public const int HandshakeHeaderLength = 12;

    /// <summary>
    /// Splits a datagram into DTLS records. <paramref name="wellFormed"/> is false when the datagram is
    /// empty, when bytes follow the last complete record that are not a record (a record that would run
    /// past the end of the datagram, an unknown first byte, a non-DTLS version), or when a plaintext
    /// handshake record's fragments do not add up. The records read before the problem are still returned.
    /// DTLS 1.3 unified headers are split when they carry no connection ID; with a connection ID (whose
    /// length the header does not say) parsing stops and the datagram counts as not well formed.
    /// </summary>
    public static IReadOnlyList<InspectedRecord> Inspect(ReadOnlySpan<byte> datagram, out bool wellFormed)
    {
        var records = new List<InspectedRecord>();
        wellFormed = !datagram.IsEmpty;
        var reader = new WireReader(datagram);
        while (!reader.IsEmpty)
        {
            var offset = reader.Position;
            var first = reader.Rest[0];
            InspectedRecord? record = first switch
            {
                (>= 20 and <= 24) or 26 => ReadPlainRecord(ref reader, offset, ref wellFormed), // 26: a DTLS 1.3 ACK (RFC 9147 7)
                >= 0x20 and <= 0x3F => ReadUnifiedRecord(ref reader, offset),
                _ => null,
            };
            if (record is null)
            {
                wellFormed = false;
                break;
            }

            records.Add(record);
        }

        return records;
    }

    /// <summary>
    /// True when the datagram carries handshake message <paramref name="type"/> in a plaintext record, or,
    /// for Finished (20), when it holds a ChangeCipherSpec record or an epoch &gt;= 1 handshake record
    /// (see <see cref="ScriptedDrop"/> for why).
    /// </summary>
    public static bool CarriesHandshake(IReadOnlyList<InspectedRecord> records, byte type)
    {
        foreach (var record in records)
        {
            if (type == HandshakeType.Finished.Value && (record.IsChangeCipherSpec || (record.IsHandshake && record.Epoch != 0)))
            {
                return true;
            }

            foreach (var hs in record.Handshakes)
            {
                if (hs.Type.Value == type)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>True when the datagram holds a DTLS 1.3 unified-header record whose epoch's low two bits are <paramref name="epochBits"/>.</summary>
    public static bool CarriesDtls13Epoch(IReadOnlyList<InspectedRecord> records, int epochBits)
    {
        foreach (var record in records)
        {
            if (record.IsUnifiedHeader && record.Epoch == (epochBits & 3))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc cref="CarriesHandshake(IReadOnlyList{InspectedRecord}, byte)"/>
    public static bool CarriesHandshake(ReadOnlySpan<byte> datagram, byte type) => CarriesHandshake(Inspect(datagram, out _), type);

    /// <summary>
    /// A short human description for traces: "CH(0..1175/1413)" (a fragment: offset..end/total),
    /// "SH CERT SKE CR SHD", "CCS FIN" (an epoch &gt;= 1 handshake record is shown as FIN), "ALERT" (plaintext) or "ALERT*" (encrypted),
    /// "APP", "ACK" (a plaintext DTLS 1.3 ACK), "DTLS13"; non-DTLS datagrams by their RFC 7983 first-byte range ("STUN", "RTP/RTCP", ...);
    /// a trailing "?N" says N bytes could not be parsed.
    /// </summary>
    public static string Describe(ReadOnlySpan<byte> datagram)
    {
        if (datagram.IsEmpty)
        {
            return "empty";
        }

        // RFC 7983 5: the first byte tells the protocols apart.
        var kind = datagram[0] switch
        {
            <= 3 => "STUN",
            >= 16 and <= 19 => "ZRTP",
            >= 64 and <= 79 => "TURN-CHANNEL",
            >= 128 and <= 191 => "RTP/RTCP",
            _ => null,
        };
        if (kind is not null)
        {
            return kind;
        }

        var records = Inspect(datagram, out var wellFormed);
        return Describe(records, datagram.Length, wellFormed);
    }

    /// <summary>Description of already inspected records (see <see cref="Describe(ReadOnlySpan{byte})"/>).</summary>
    public static string Describe(IReadOnlyList<InspectedRecord> records, int datagramLength, bool wellFormed)
    {
        var sb = new StringBuilder();
        var parsed = 0;
        foreach (var record in records)
        {
            parsed = record.Offset + record.Length;
            if (record.IsUnifiedHeader)
            {
                Append(sb, "DTLS13");
                continue;
            }

            switch (record.ContentType.Value)
            {
                case 20:
                    Append(sb, "CCS");
                    break;
                case 21:
                    Append(sb, record.IsEncrypted ? "ALERT*" : "ALERT");
                    break;
                case 22 when record.IsEncrypted:
                    Append(sb, "FIN");
                    break;
                case 22:
                    foreach (var hs in record.Handshakes)
                    {
                        Append(sb, hs.IsComplete
                            ? ShortName(hs.Type)
                            : $"{ShortName(hs.Type)}({hs.FragmentOffset}..{hs.FragmentEnd}/{hs.MessageLength})");
                    }

                    break;
                case 23:
                    Append(sb, "APP");
                    break;
                case 26:
                    Append(sb, "ACK");
                    break;
                default:
                    Append(sb, "HB");
                    break;
            }
        }

        if (!wellFormed)
        {
            Append(sb, $"?{datagramLength - parsed}");
        }

        return sb.ToString();
    }

    /// <summary>Trace abbreviation of a handshake type.</summary>
    public static string ShortName(HandshakeType type) => type.Value switch
    {
        0 => "HR",
        1 => "CH",
        2 => "SH",
        3 => "HVR",
        4 => "NST",
        11 => "CERT",
        12 => "SKE",
        13 => "CR",
        14 => "SHD",
        15 => "CV",
        16 => "CKE",
        20 => "FIN",
        _ => $"HS{type.Value}",
    };

    private static void Append(StringBuilder sb, string part)
    {
        if (sb.Length > 0)
        {
            sb.Append(' ');
        }

        sb.Append(part);
    }

    private static InspectedRecord? ReadPlainRecord(ref WireReader reader, int offset, ref bool wellFormed)
    {
        var start = reader;
        if (!reader.TryReadUInt8(out var type)
            || !reader.TryReadUInt16(out var version)
            || !reader.TryReadUInt16(out var epoch)
            || !reader.TryReadUInt48(out var sequence)
            || !reader.TryReadVector16(out var payload)
            || (version >> 8) != 0xFE)
        {
            reader = start;
            return null;
        }

        IReadOnlyList<InspectedHandshake> handshakes = [];
        if (type == ContentType.Handshake.Value && epoch == 0)
        {
            handshakes = ReadHandshakes(payload, ref wellFormed);
        }

        return new InspectedRecord(offset, RecordHeaderLength, payload.Length, new ContentType(type), new ProtocolVersion(version), epoch, sequence, false, handshakes);
    }

    private static List<InspectedHandshake> ReadHandshakes(ReadOnlySpan<byte> payload, ref bool wellFormed)
    {
        var list = new List<InspectedHandshake>();
        var reader = new WireReader(payload);
        while (!reader.IsEmpty)
        {
            if (!reader.TryReadUInt8(out var msgType)
                || !reader.TryReadUInt24(out var length)
                || !reader.TryReadUInt16(out var messageSeq)
                || !reader.TryReadUInt24(out var fragmentOffset)
                || !reader.TryReadUInt24(out var fragmentLength)
                || fragmentOffset + fragmentLength > length
                || !reader.TryReadBytes(fragmentLength, out _))
            {
                wellFormed = false;
                break;
            }

            list.Add(new InspectedHandshake(new HandshakeType(msgType), length, messageSeq, fragmentOffset, fragmentLength));
        }

        if (list.Count == 0)
        {
            wellFormed = false; // a handshake record must hold at least one handshake header
        }

        return list;
    }

    private static InspectedRecord? ReadUnifiedRecord(ref WireReader reader, int offset)
    {
        // RFC 9147 4: 0 0 1 C S L E E, then [CID] [seq 8|16] [length 16] ciphertext.
        var start = reader;
        reader.TryReadUInt8(out var first);
        if ((first & 0x10) != 0)
        {
            reader = start; // CID length is not in the header
            return null;
        }

        ulong sequence;
        if ((first & 0x08) != 0)
        {
            if (!reader.TryReadUInt16(out var seq16))
            {
                reader = start;
                return null;
            }

            sequence = seq16;
        }
        else
        {
            if (!reader.TryReadUInt8(out var seq8))
            {
                reader = start;
                return null;
            }

            sequence = seq8;
        }

        ReadOnlySpan<byte> payload;
        if ((first & 0x04) != 0)
        {
            if (!reader.TryReadVector16(out payload))
            {
                reader = start;
                return null;
            }
        }
        else
        {
            reader.TryReadBytes(reader.Remaining, out payload);
        }

        var headerLength = reader.Position - offset - payload.Length;
        return new InspectedRecord(offset, headerLength, payload.Length, new ContentType(first), default, (ushort)(first & 0x03), sequence, true, []);
    }
}
