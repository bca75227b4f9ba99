using System.Buffers.Binary;
using System.Net;
using Airlift.Cli.Doctor;

namespace Airlift.Tests.Doctor;

/// <summary>
/// Hand-made DTLS 1.2 and STUN datagrams (headers right, bodies filler where the doctor does not read them) and a
/// timeline builder that writes them into a pcap and runs the doctor on it.
/// </summary>
internal static class SyntheticDtls
{
    public static byte[] Record(byte type, ushort epoch, ulong seq, byte[] body, ushort version = 0xFEFD)
    {
        var r = new byte[13 + body.Length];
        r[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(1), version);
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(3), epoch);
        r[5] = (byte)(seq >> 40);
        r[6] = (byte)(seq >> 32);
        BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(7), (uint)seq);
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(11), (ushort)body.Length);
        body.CopyTo(r, 13);
        return r;
    }

    public static byte[] Handshake(byte type, ushort messageSeq, int length, int offset, byte[] fragment)
    {
        var h = new byte[12 + fragment.Length];
        h[0] = type;
        h[1] = (byte)(length >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)length);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), messageSeq);
        h[6] = (byte)(offset >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(7), (ushort)offset);
        h[9] = (byte)(fragment.Length >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), (ushort)fragment.Length);
        fragment.CopyTo(h, 12);
        return h;
    }

    /// <summary>A whole handshake message in one plaintext record.</summary>
    public static byte[] Message(byte type, ushort messageSeq, byte[] body, ulong recordSeq) =>
        Record(22, 0, recordSeq, Handshake(type, messageSeq, body.Length, 0, body));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>A ClientHello body: DTLS 1.2, one ECDSA suite, optional cookie and supported_versions.</summary>
    public static byte[] ClientHelloBody(int cookieLength = 0, params ushort[] supportedVersions)
    {
        var b = new List<byte> { 0xFE, 0xFD };
        b.AddRange(new byte[32]);
        b.Add(0);
        b.Add((byte)cookieLength);
        b.AddRange(Enumerable.Repeat((byte)0xC0, cookieLength));
        b.AddRange(new byte[] { 0, 2, 0xC0, 0x2B, 1, 0 });
        if (supportedVersions.Length > 0)
        {
            var ext = new List<byte> { 0, 43, 0, (byte)(1 + (2 * supportedVersions.Length)), (byte)(2 * supportedVersions.Length) };
            foreach (var v in supportedVersions)
            {
                ext.Add((byte)(v >> 8));
                ext.Add((byte)v);
            }

            b.Add(0);
            b.Add((byte)ext.Count);
            b.AddRange(ext);
        }

        return [.. b];
    }

    public static byte[] ServerHelloBody()
    {
        var b = new List<byte> { 0xFE, 0xFD };
        b.AddRange(Enumerable.Repeat((byte)7, 32));
        b.Add(0);
        b.AddRange(new byte[] { 0xC0, 0x2B, 0 });
        return [.. b];
    }

    public static byte[] ClientHello(ushort seq = 0, int cookieLength = 0, ulong recordSeq = 0) => Message(1, seq, ClientHelloBody(cookieLength), recordSeq);

    public static byte[] HelloVerifyRequest(ulong recordSeq = 0) => Message(3, 0, [0xFE, 0xFF, 32, .. new byte[32]], recordSeq);

    /// <summary>Server flight 4 (SH, CERT, SKE, CR, SHD) in one datagram of about <paramref name="size"/> bytes (the certificate pads it).</summary>
    public static byte[] ServerFlight(int size, ulong recordSeq = 0)
    {
        var sh = Message(2, 1, ServerHelloBody(), recordSeq);
        var ske = Message(12, 3, new byte[100], recordSeq + 2);
        var cr = Message(13, 4, new byte[10], recordSeq + 3);
        var shd = Message(14, 5, [], recordSeq + 4);
        var certLength = Math.Max(10, size - sh.Length - ske.Length - cr.Length - shd.Length - 25);
        var cert = Message(11, 2, new byte[certLength], recordSeq + 1);
        return Concat(sh, cert, ske, cr, shd);
    }

    /// <summary>A flight of one message split into two records of one datagram (F4's glued records).</summary>
    public static byte[] GluedCertificate(int total, ulong recordSeq = 0)
    {
        var body = new byte[total];
        var half = total / 2;
        return Concat(
            Record(22, 0, recordSeq, Handshake(11, 2, total, 0, body[..half])),
            Record(22, 0, recordSeq + 1, Handshake(11, 2, total, half, body[half..])));
    }

    /// <summary>Client flight 5: CKE, CCS, encrypted Finished.</summary>
    public static byte[] ClientFinal(ulong recordSeq = 0) => Concat(
        Message(16, 2, new byte[66], recordSeq),
        Record(20, 0, recordSeq + 1, [1]),
        Record(22, 1, 0, new byte[40]));

    /// <summary>Server flight 6: CCS, encrypted Finished.</summary>
    public static byte[] ServerFinal(ulong recordSeq = 0) => Concat(Record(20, 0, recordSeq, [1]), Record(22, 1, 0, new byte[40]));

    public static byte[] AppData() => Record(23, 1, 1, new byte[60]);

    public static byte[] Alert(byte level, byte description) => Record(21, 0, 9, [level, description]);

    /// <summary>A STUN Binding request/response with USERNAME and optional USE-CANDIDATE / ICE-CONTROLLING (no integrity).</summary>
    public static byte[] Stun(ushort type, byte[] transactionId, string? username = null, bool useCandidate = false, bool controlling = false)
    {
        var attrs = new List<byte>();
        if (username is not null)
        {
            var u = System.Text.Encoding.UTF8.GetBytes(username);
            attrs.AddRange(new byte[] { 0, 6, (byte)(u.Length >> 8), (byte)u.Length });
            attrs.AddRange(u);
            while (attrs.Count % 4 != 0)
            {
                attrs.Add(0);
            }
        }

        if (useCandidate)
        {
            attrs.AddRange(new byte[] { 0, 0x25, 0, 0 });
        }

        if (controlling)
        {
            attrs.AddRange(new byte[] { 0x80, 0x2A, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 });
        }

        var m = new byte[20 + attrs.Count];
        BinaryPrimitives.WriteUInt16BigEndian(m, type);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)attrs.Count);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), 0x2112A442);
        transactionId.CopyTo(m, 8);
        attrs.CopyTo(m, 20);
        return m;
    }

    public static byte[] TxId(int n) => [.. BitConverter.GetBytes(n), .. new byte[8]];
}

/// <summary>A timeline of datagrams between endpoints, written as an Ethernet/IP pcap and analysed.</summary>
internal sealed class Timeline
{
    private readonly List<(long Ns, byte[] Frame)> _frames = [];
    private ushort _ipId = 100;

    public Timeline Send(double ms, IPEndPoint from, IPEndPoint to, byte[] payload)
    {
        _frames.Add(((long)(ms * 1_000_000) + 1_700_000_000_000_000_000, CaptureBytes.Ethernet(CaptureBytes.Udp(from, to, payload))));
        return this;
    }

    /// <summary>Sends <paramref name="payload"/> as IPv4 fragments of at most 1480 data bytes (a 1500-byte link).</summary>
    public Timeline SendFragmented(double ms, IPEndPoint from, IPEndPoint to, byte[] payload)
    {
        foreach (var f in CaptureBytes.Udp4Fragments(from, to, payload, 1480, _ipId++))
        {
            _frames.Add(((long)(ms * 1_000_000) + 1_700_000_000_000_000_000, CaptureBytes.Ethernet(f)));
        }

        return this;
    }

    public byte[] ToPcap() => CaptureBytes.Pcap(CaptureBytes.LinkEthernet, _frames);

    public DoctorResult Analyze(DoctorOptions? options = null) =>
        DoctorAnalyzer.Analyze(new MemoryStream(ToPcap()), "synthetic.pcap", options ?? new DoctorOptions());
}
