using System.Buffers.Binary;

namespace Airlift.Cli.Doctor.Capture;

/// <summary>What kind of problem stopped a capture file from being read.</summary>
internal enum CaptureErrorKind
{
    /// <summary>Not a libpcap or pcapng file, or a version or time resolution this reader does not know.</summary>
    Unsupported,

    /// <summary>The file ends inside a header, record or block (a capture cut short, e.g. tcpdump killed).</summary>
    Truncated,

    /// <summary>A length or field that cannot be right (block length not a multiple of 4, a packet longer than its block).</summary>
    Malformed,

    /// <summary>A record or block larger than the reader's limits (<see cref="CaptureLimits"/>).</summary>
    TooLarge,
}

/// <summary>A capture file that cannot be read further; names the byte offset of the header, record or block at fault.</summary>
internal sealed class CaptureFormatException(CaptureErrorKind kind, long offset, string message)
    : Exception($"{message} (at byte offset {offset})")
{
    /// <summary>What went wrong.</summary>
    public CaptureErrorKind Kind { get; } = kind;

    /// <summary>Byte offset of the header, record or block at fault.</summary>
    public long Offset { get; } = offset;
}

/// <summary>The two capture file formats.</summary>
internal enum CaptureFileFormat
{
    /// <summary>libpcap (tcpdump's classic format).</summary>
    Pcap,

    /// <summary>pcapng (Wireshark's default).</summary>
    PcapNg,
}

/// <summary>One captured frame. <see cref="Data"/> is only valid until the next read.</summary>
/// <param name="Number">1-based frame number (the number Wireshark shows).</param>
/// <param name="Offset">Byte offset of its record or block in the file.</param>
/// <param name="TimestampNs">Capture time in nanoseconds since the Unix epoch.</param>
/// <param name="LinkType">LINKTYPE_ value of its interface.</param>
/// <param name="InterfaceId">pcapng interface index (0 for libpcap).</param>
/// <param name="Data">Captured bytes (possibly cut at the snap length).</param>
/// <param name="OriginalLength">Length on the wire.</param>
internal readonly record struct CaptureFrame(long Number, long Offset, long TimestampNs, int LinkType, int InterfaceId, ReadOnlyMemory<byte> Data, int OriginalLength);

/// <summary>Limits of the capture reader and decoder: memory never grows with the file, only with these.</summary>
internal sealed record CaptureLimits
{
    /// <summary>Default <see cref="MaxFrameBytes"/>: tcpdump's default snap length.</summary>
    public const int DefaultMaxFrameBytes = 262_144;

    /// <summary>Largest captured frame accepted; a larger record is a <see cref="CaptureErrorKind.TooLarge"/> error.</summary>
    public int MaxFrameBytes { get; init; } = DefaultMaxFrameBytes;

    /// <summary>Largest pcapng block accepted (option-heavy blocks included).</summary>
    public int MaxBlockBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Most pcapng interfaces in one section.</summary>
    public int MaxInterfaces { get; init; } = 1024;

    /// <summary>Most IP datagrams waiting for missing fragments at once; the oldest is dropped (and counted) past this.</summary>
    public int MaxPendingFragmentedDatagrams { get; init; } = 256;

    /// <summary>Most fragment bytes held at once.</summary>
    public int MaxPendingFragmentBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>A fragmented datagram still incomplete this long (capture time) after its first fragment is dropped and counted.</summary>
    public TimeSpan FragmentTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most TCP streams followed at once (ICE-TCP); further streams are counted, not decoded.</summary>
    public int MaxTcpStreams { get; init; } = 256;

    /// <summary>Most out-of-order bytes held per TCP stream; past this the stream is given up (counted).</summary>
    public int MaxTcpOutOfOrderBytes { get; init; } = 256 * 1024;

    /// <summary>Defaults.</summary>
    public static CaptureLimits Default { get; } = new();
}

/// <summary>
/// A streaming reader of libpcap (both byte orders, microsecond and nanosecond timestamps) and pcapng (section header,
/// interface description, enhanced, simple and obsolete packet blocks; several interfaces and sections; both byte
/// orders; other blocks and options skipped, except <c>if_tsresol</c> and <c>if_tsoffset</c>). Holds one block at a time.
/// Every problem is a <see cref="CaptureFormatException"/> naming the offset.
/// </summary>
internal sealed class CaptureReader
{
    private const uint PcapMagicMicro = 0xA1B2C3D4;
    private const uint PcapMagicNano = 0xA1B23C4D;
    private const uint SectionHeaderType = 0x0A0D0D0A;
    private const uint ByteOrderMagic = 0x1A2B3C4D;

    private readonly Stream _stream;
    private readonly CaptureLimits _limits;
    private readonly List<Interface> _interfaces = [];
    private byte[] _buffer = new byte[4096];
    private long _position;
    private long _frames;
    private bool _bigEndian;
    private bool _nanoseconds;
    private int _pcapLinkType;
    private long _lastTimestampNs;

    private CaptureReader(Stream stream, CaptureLimits limits)
    {
        _stream = stream;
        _limits = limits;
    }

    /// <summary>The file's format.</summary>
    public CaptureFileFormat Format { get; private set; }

    /// <summary>Bytes consumed so far.</summary>
    public long Position => _position;

    /// <summary>Reads the file header and returns a reader positioned at the first packet.</summary>
    /// <exception cref="CaptureFormatException">Not a capture file, or its header is cut short.</exception>
    public static CaptureReader Open(Stream stream, CaptureLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var reader = new CaptureReader(stream, limits ?? CaptureLimits.Default);
        reader.ReadFileHeader();
        return reader;
    }

    /// <summary>Reads the next frame; false at the clean end of the file.</summary>
    /// <exception cref="CaptureFormatException">The file is truncated, malformed or over a limit at this point.</exception>
    public bool TryRead(out CaptureFrame frame) => Format == CaptureFileFormat.Pcap ? TryReadPcap(out frame) : TryReadPcapNg(out frame);

    private void ReadFileHeader()
    {
        var got = Fill(0, 4);
        if (got == 0)
        {
            throw new CaptureFormatException(CaptureErrorKind.Truncated, 0, "the file is empty");
        }

        if (got < 4)
        {
            throw new CaptureFormatException(CaptureErrorKind.Truncated, 0, "the file ends inside its header");
        }

        var le = BinaryPrimitives.ReadUInt32LittleEndian(_buffer);
        var be = BinaryPrimitives.ReadUInt32BigEndian(_buffer);
        if (le == SectionHeaderType)
        {
            Format = CaptureFileFormat.PcapNg;
            if (Fill(4, 8) < 8)
            {
                throw new CaptureFormatException(CaptureErrorKind.Truncated, 0, "the file ends inside a section header block");
            }

            ReadSectionHeader(0);
            return;
        }

        Format = CaptureFileFormat.Pcap;
        (_bigEndian, _nanoseconds) = (le, be) switch
        {
            (PcapMagicMicro, _) => (false, false),
            (PcapMagicNano, _) => (false, true),
            (_, PcapMagicMicro) => (true, false),
            (_, PcapMagicNano) => (true, true),
            _ => throw new CaptureFormatException(CaptureErrorKind.Unsupported, 0, $"not a pcap or pcapng capture (magic 0x{be:X8}); save it from Wireshark as pcap or pcapng"),
        };
        if (Fill(4, 20) < 20)
        {
            throw new CaptureFormatException(CaptureErrorKind.Truncated, 0, "the file ends inside the pcap file header");
        }

        var major = U16(_buffer.AsSpan(4));
        if (major != 2)
        {
            throw new CaptureFormatException(CaptureErrorKind.Unsupported, 4, $"pcap version {major} (only version 2 exists)");
        }

        // The top bits of the link type field carry FCS information (pcap-linktype(7)); the low 28 bits are the type.
        _pcapLinkType = (int)(U32(_buffer.AsSpan(20)) & 0x0FFF_FFFF);
    }

    private bool TryReadPcap(out CaptureFrame frame)
    {
        frame = default;
        var offset = _position;
        var got = Fill(0, 16);
        if (got == 0)
        {
            return false;
        }

        if (got < 16)
        {
            throw new CaptureFormatException(CaptureErrorKind.Truncated, offset, $"the file ends inside the header of packet {_frames + 1}");
        }

        var seconds = U32(_buffer);
        var fraction = U32(_buffer.AsSpan(4));
        var included = U32(_buffer.AsSpan(8));
        var original = U32(_buffer.AsSpan(12));
        if (included > _limits.MaxFrameBytes)
        {
            throw new CaptureFormatException(CaptureErrorKind.TooLarge, offset, $"packet {_frames + 1} claims {included} captured bytes, more than the {_limits.MaxFrameBytes}-byte limit");
        }

        if ((_nanoseconds ? fraction >= 1_000_000_000 : fraction >= 1_000_000) && fraction != 0)
        {
            // Some writers put garbage here; the timestamp is still usable to the second.
            fraction = 0;
        }

        var length = (int)included;
        EnsureCapacity(length);
        if (Fill(0, length) < length)
        {
            throw new CaptureFormatException(CaptureErrorKind.Truncated, offset, $"the file ends inside packet {_frames + 1} ({length} bytes announced)");
        }

        var ns = (seconds * 1_000_000_000L) + (_nanoseconds ? fraction : fraction * 1000L);
        _frames++;
        frame = new CaptureFrame(_frames, offset, ns, _pcapLinkType, 0, _buffer.AsMemory(0, length), (int)Math.Min(original, int.MaxValue));
        return true;
    }

    private bool TryReadPcapNg(out CaptureFrame frame)
    {
        while (true)
        {
            frame = default;
            var offset = _position;
            var got = Fill(0, 8);
            if (got == 0)
            {
                return false;
            }

            if (got < 8)
            {
                throw new CaptureFormatException(CaptureErrorKind.Truncated, offset, "the file ends inside a block header");
            }

            var type = U32(_buffer);
            if (type == SectionHeaderType)
            {
                // A new section may switch byte order: its length is read after the byte-order magic.
                if (Fill(8, 4) < 4)
                {
                    throw new CaptureFormatException(CaptureErrorKind.Truncated, offset, "the file ends inside a section header block");
                }

                ReadSectionHeader(offset);
                continue;
            }

            var length = U32(_buffer.AsSpan(4));
            var body = ReadBlockBody(offset, length);
            var data = _buffer.AsSpan(8, body);
            switch (type)
            {
                case 1:
                    ReadInterface(offset, data);
                    break;
                case 6:
                    if (ReadEnhancedPacket(offset, data, out frame))
                    {
                        return true;
                    }

                    break;
                case 3:
                    if (ReadSimplePacket(offset, data, out frame))
                    {
                        return true;
                    }

                    break;
                case 2:
                    if (ReadObsoletePacket(offset, data, out frame))
                    {
                        return true;
                    }

                    break;
                default:
                    break; // name resolution, statistics, custom, decryption secrets...: not needed
            }
        }
    }

    // Reads the rest of a section header block whose first 12 bytes (type, length, byte-order magic) are in _buffer.
    private void ReadSectionHeader(long offset)
    {
        var rawLength = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(4));
        var magicLe = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(8));
        _bigEndian = magicLe switch
        {
            ByteOrderMagic => false,
            0x4D3C2B1A => true,
            _ => throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, $"pcapng section header with an unknown byte-order magic 0x{magicLe:X8}"),
        };
        var length = _bigEndian ? BinaryPrimitives.ReverseEndianness(rawLength) : rawLength;
        if (length < 28 || length % 4 != 0 || length > _limits.MaxBlockBytes)
        {
            throw new CaptureFormatException(length > _limits.MaxBlockBytes ? CaptureErrorKind.TooLarge : CaptureErrorKind.Malformed, offset, $"pcapng section header block length {length}");
        }

        // Rest of the block: version(2+2) section length(8) options, trailing length(4).
        var rest = (int)length - 12;
        EnsureCapacity(rest);
        if (Fill(0, rest) < rest)
        {
            throw new CaptureFormatException(CaptureErrorKind.Truncated, offset, "the file ends inside a section header block");
        }

        var major = U16(_buffer);
        if (major != 1)
        {
            throw new CaptureFormatException(CaptureErrorKind.Unsupported, offset, $"pcapng version {major} (only version 1 exists)");
        }

        _interfaces.Clear();
    }

    // Reads a (non-section-header) block whose 8-byte header is in _buffer[0..8]; returns the body length (trailer excluded).
    private int ReadBlockBody(long offset, uint length)
    {
        if (length < 12 || length % 4 != 0)
        {
            throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, $"pcapng block length {length} (must be a multiple of 4, at least 12)");
        }

        if (length > _limits.MaxBlockBytes)
        {
            throw new CaptureFormatException(CaptureErrorKind.TooLarge, offset, $"pcapng block of {length} bytes, more than the {_limits.MaxBlockBytes}-byte limit");
        }

        var rest = (int)length - 8;
        EnsureCapacity((int)length);
        if (Fill(8, rest) < rest)
        {
            throw new CaptureFormatException(CaptureErrorKind.Truncated, offset, $"the file ends inside a {length}-byte block");
        }

        if (U32(_buffer.AsSpan((int)length - 4)) != length)
        {
            throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, "pcapng block's trailing length differs from its leading length");
        }

        return (int)length - 12;
    }

    private void ReadInterface(long offset, ReadOnlySpan<byte> body)
    {
        if (body.Length < 8)
        {
            throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, "pcapng interface description block shorter than 8 bytes");
        }

        if (_interfaces.Count >= _limits.MaxInterfaces)
        {
            throw new CaptureFormatException(CaptureErrorKind.TooLarge, offset, $"more than {_limits.MaxInterfaces} interfaces in one section");
        }

        var linkType = U16(body);
        var snapLength = U32(body[4..]);
        var resolution = new TimeResolution(false, 6);
        long offsetSeconds = 0;
        var options = body[8..];
        while (options.Length >= 4)
        {
            var code = U16(options);
            var len = U16(options[2..]);
            if (code == 0 || 4 + len > options.Length)
            {
                break;
            }

            var value = options.Slice(4, len);
            if (code == 9 && len >= 1)
            {
                // if_tsresol: high bit clear = 10^-n, set = 2^-n.
                resolution = new TimeResolution((value[0] & 0x80) != 0, value[0] & 0x7F);
            }
            else if (code == 14 && len >= 8)
            {
                offsetSeconds = (long)U64(value);
            }

            options = options[Math.Min(options.Length, 4 + ((len + 3) & ~3))..];
        }

        if ((!resolution.PowerOfTwo && resolution.Exponent > 18) || (resolution.PowerOfTwo && resolution.Exponent > 62))
        {
            throw new CaptureFormatException(CaptureErrorKind.Unsupported, offset, $"interface time resolution {(resolution.PowerOfTwo ? "2" : "10")}^-{resolution.Exponent}");
        }

        _interfaces.Add(new Interface(linkType, snapLength, resolution, offsetSeconds));
    }

    private bool ReadEnhancedPacket(long offset, ReadOnlySpan<byte> body, out CaptureFrame frame)
    {
        frame = default;
        if (body.Length < 20)
        {
            throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, "enhanced packet block shorter than 20 bytes");
        }

        var id = U32(body);
        var high = U32(body[4..]);
        var low = U32(body[8..]);
        var captured = U32(body[12..]);
        var original = U32(body[16..]);
        if (captured > (uint)(body.Length - 20))
        {
            throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, $"enhanced packet block holds {body.Length - 20} bytes but claims {captured}");
        }

        var iface = Lookup(offset, id);
        _lastTimestampNs = iface.ToNanoseconds(((ulong)high << 32) | low);
        return Emit(offset, iface, (int)id, 8 + 20, (int)captured, original, out frame);
    }

    private bool ReadSimplePacket(long offset, ReadOnlySpan<byte> body, out CaptureFrame frame)
    {
        frame = default;
        if (body.Length < 4)
        {
            throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, "simple packet block shorter than 4 bytes");
        }

        var iface = Lookup(offset, 0);
        var original = U32(body);
        // No captured length: the smaller of the original length, the snap length and what the block holds.
        var captured = Math.Min(Math.Min(original, (uint)(body.Length - 4)), iface.SnapLength == 0 ? uint.MaxValue : iface.SnapLength);
        return Emit(offset, iface, 0, 8 + 4, (int)captured, original, out frame);
    }

    private bool ReadObsoletePacket(long offset, ReadOnlySpan<byte> body, out CaptureFrame frame)
    {
        frame = default;
        if (body.Length < 20)
        {
            throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, "packet block shorter than 20 bytes");
        }

        var id = U16(body);
        var high = U32(body[4..]);
        var low = U32(body[8..]);
        var captured = U32(body[12..]);
        var original = U32(body[16..]);
        if (captured > (uint)(body.Length - 20))
        {
            throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, $"packet block holds {body.Length - 20} bytes but claims {captured}");
        }

        var iface = Lookup(offset, id);
        _lastTimestampNs = iface.ToNanoseconds(((ulong)high << 32) | low);
        return Emit(offset, iface, id, 8 + 20, (int)captured, original, out frame);
    }

    private bool Emit(long offset, Interface iface, int id, int dataStart, int captured, uint original, out CaptureFrame frame)
    {
        if (captured > _limits.MaxFrameBytes)
        {
            throw new CaptureFormatException(CaptureErrorKind.TooLarge, offset, $"packet of {captured} captured bytes, more than the {_limits.MaxFrameBytes}-byte limit");
        }

        _frames++;
        frame = new CaptureFrame(_frames, offset, _lastTimestampNs, iface.LinkType, id, _buffer.AsMemory(dataStart, captured), (int)Math.Min(original, int.MaxValue));
        return true;
    }

    private Interface Lookup(long offset, uint id) =>
        id < (uint)_interfaces.Count
            ? _interfaces[(int)id]
            : throw new CaptureFormatException(CaptureErrorKind.Malformed, offset, $"packet names interface {id}, but the section describes {_interfaces.Count}");

    // Reads up to count bytes into _buffer[at..]; returns how many were read (fewer only at the end of the file).
    private int Fill(int at, int count)
    {
        var total = 0;
        while (total < count)
        {
            var n = _stream.Read(_buffer, at + total, count - total);
            if (n <= 0)
            {
                break;
            }

            total += n;
        }

        _position += total;
        return total;
    }

    private void EnsureCapacity(int length)
    {
        if (_buffer.Length < length)
        {
            var grown = new byte[Math.Max(length, Math.Min(_buffer.Length * 2, _limits.MaxBlockBytes))];
            _buffer.AsSpan().CopyTo(grown);
            _buffer = grown;
        }
    }

    private ushort U16(ReadOnlySpan<byte> s) => _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);

    private uint U32(ReadOnlySpan<byte> s) => _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);

    private ulong U64(ReadOnlySpan<byte> s) => _bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s);

    private readonly record struct TimeResolution(bool PowerOfTwo, int Exponent);

    private sealed record Interface(int LinkType, uint SnapLength, TimeResolution Resolution, long OffsetSeconds)
    {
        public long ToNanoseconds(ulong units)
        {
            Int128 ns = Resolution.PowerOfTwo
                ? ((Int128)units * 1_000_000_000) >> Resolution.Exponent
                : (Int128)units * 1_000_000_000 / Pow10(Resolution.Exponent);
            ns += (Int128)OffsetSeconds * 1_000_000_000;
            return ns > long.MaxValue ? long.MaxValue : ns < long.MinValue ? long.MinValue : (long)ns;
        }

        private static Int128 Pow10(int n)
        {
            Int128 p = 1;
            for (var i = 0; i < n; i++)
            {
                p *= 10;
            }

            return p;
        }
    }
}
