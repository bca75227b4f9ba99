using System.Net;
using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Ice.Stun;
using Airlift.NetEm;
using Airlift.Transport;

namespace Airlift.Cli.Doctor;

/// <summary>What a datagram carries, by RFC 7983's first-byte ranges.</summary>
internal enum WireKind
{
    Stun,
    Dtls,
    Rtp,
    Rtcp,
    TurnChannel,
    Zrtp,
    Unknown,
}

/// <summary>A decoded STUN message (what the doctor needs of it).</summary>
/// <param name="Class">Request, indication, success or error response.</param>
/// <param name="Method">STUN method (1 = Binding).</param>
/// <param name="TransactionId">Transaction id as hex.</param>
/// <param name="Username">USERNAME ("remote:local" ufrags in ICE checks).</param>
/// <param name="UseCandidate">USE-CANDIDATE present (nomination, RFC 8445 7.1.2).</param>
/// <param name="Controlling">ICE-CONTROLLING present.</param>
/// <param name="ErrorCode">ERROR-CODE of an error response.</param>
internal sealed record StunInfo(StunClass Class, ushort Method, string TransactionId, string? Username, bool UseCandidate, bool Controlling, int? ErrorCode)
{
    /// <summary>Short text for the ladder.</summary>
    public string Describe() => Class switch
    {
        StunClass.Request => "STUN check" + (UseCandidate ? " USE-CANDIDATE" : string.Empty),
        StunClass.SuccessResponse => "STUN ok",
        StunClass.ErrorResponse => $"STUN error {ErrorCode}",
        _ => "STUN indication",
    };
}

/// <summary>What a ClientHello, ServerHello or HelloVerifyRequest said (plaintext, so readable in any capture).</summary>
/// <param name="Type">Which message.</param>
/// <param name="LegacyVersion">client_version / server_version.</param>
/// <param name="CookieLength">ClientHello or HelloVerifyRequest cookie length.</param>
/// <param name="CipherSuites">Offered (ClientHello) or chosen (ServerHello, one) suites.</param>
/// <param name="SupportedVersions">supported_versions: offered, or the one selected.</param>
/// <param name="HelloRetryRequest">A DTLS 1.3 HelloRetryRequest (a ServerHello with the special random).</param>
/// <param name="Complete">The whole message was in this fragment (else lists may be partial).</param>
internal sealed record HelloInfo(HandshakeType Type, ProtocolVersion LegacyVersion, int CookieLength, IReadOnlyList<CipherSuite> CipherSuites, IReadOnlyList<ProtocolVersion> SupportedVersions, bool HelloRetryRequest, bool Complete)
{
    /// <summary>The version this hello stands for: supported_versions if present, else the legacy field.</summary>
    public ProtocolVersion EffectiveVersion => Type == HandshakeType.ServerHello && SupportedVersions.Count > 0 ? SupportedVersions[0] : LegacyVersion;

    /// <summary>A ClientHello's random (hex): the same in the ClientHello that answers a HelloVerifyRequest or a HelloRetryRequest.</summary>
    public string? Random { get; init; }

    /// <summary>The hello carries use_srtp (RFC 5764 4.1.1): offered in a ClientHello, answered in a DTLS 1.2 ServerHello.</summary>
    public bool UseSrtp { get; init; }
}

/// <summary>A plaintext alert (level and description readable) or an encrypted one (neither readable).</summary>
internal sealed record AlertInfo(bool Encrypted, AlertLevel Level, AlertDescription Description)
{
    /// <summary>"fatal handshake_failure(40)" or "encrypted alert".</summary>
    public string Describe() => Encrypted ? "encrypted alert" : $"{(Level == AlertLevel.Fatal ? "fatal" : Level == AlertLevel.Warning ? "warning" : $"level {(byte)Level}")} {AlertName(Description)}({(byte)Description})";

    /// <summary>RFC name of an alert description.</summary>
    public static string AlertName(AlertDescription d)
    {
        var name = d.ToString();
        if (int.TryParse(name, out _))
        {
            return "alert";
        }

        var sb = new System.Text.StringBuilder();
        foreach (var c in name)
        {
            if (char.IsUpper(c) && sb.Length > 0)
            {
                sb.Append('_');
            }

            sb.Append(char.ToLowerInvariant(c));
        }

        return sb.ToString();
    }
}

/// <summary>A fragment of a ClientHello or ServerHello.</summary>
internal sealed record HelloFragment(HandshakeType Type, int Seq, int Length, int Offset, byte[] Bytes);

/// <summary>The DTLS records of one datagram and what the doctor reads from them.</summary>
internal sealed class DtlsInfo
{
    /// <summary>Records (headers only).</summary>
    public required IReadOnlyList<InspectedRecord> Records { get; init; }

    /// <summary>"SH CERT SKE CR SHD", "CCS FIN", "CH(0..1175/1413)"...</summary>
    public required string Description { get; init; }

    /// <summary>
    /// Identities of the handshake pieces in the datagram: "type:seq:offset" per plaintext fragment, "CCS" for a
    /// ChangeCipherSpec, "EFIN" for an encrypted (epoch &gt;= 1) handshake record. The same piece sent again is a retransmission.
    /// </summary>
    public required IReadOnlyList<string> Pieces { get; init; }

    /// <summary>Hellos found (first fragments only).</summary>
    public required IReadOnlyList<HelloInfo> Hellos { get; init; }

    /// <summary>Alerts found.</summary>
    public required IReadOnlyList<AlertInfo> Alerts { get; init; }

    /// <summary>ClientHello and ServerHello fragments (bytes kept, so a fragmented hello can be read whole).</summary>
    public IReadOnlyList<HelloFragment> HelloFragments { get; init; } = [];

    /// <summary>A HelloVerifyRequest is in the datagram.</summary>
    public bool HelloVerifyRequest { get; init; }

    /// <summary>Epoch &gt;= 1 application data (DTLS 1.2) is in the datagram.</summary>
    public bool ApplicationData { get; init; }

    /// <summary>A DTLS 1.3 unified-header (encrypted) record is in the datagram.</summary>
    public bool Unified { get; init; }

    /// <summary>A ChangeCipherSpec record is in the datagram.</summary>
    public bool ChangeCipherSpec => Pieces.Contains("CCS");
}

/// <summary>One datagram of a session as the doctor sees it.</summary>
internal sealed class WireEvent
{
    /// <summary>Frame number in the capture.</summary>
    public required long Frame { get; init; }

    /// <summary>Capture time, ns since the epoch.</summary>
    public required long TimestampNs { get; init; }

    /// <summary>Sender.</summary>
    public required IPEndPoint From { get; init; }

    /// <summary>Receiver.</summary>
    public required IPEndPoint To { get; init; }

    /// <summary>Carried in an ICE-TCP frame.</summary>
    public bool Tcp { get; init; }

    /// <summary>Unwrapped from TURN (ChannelData or a Send/Data indication): the relay, else null.</summary>
    public Capture.TurnRelay? Relay { get; init; }

    /// <summary>UDP payload size (or frame size).</summary>
    public required int Size { get; init; }

    /// <summary>The capture holds only its first bytes (snap length): records past them are not seen.</summary>
    public bool Truncated { get; init; }

    /// <summary>IP fragments that carried it (0: none).</summary>
    public int IpFragments { get; init; }

    /// <summary>Largest fragment's IP length.</summary>
    public int LargestFragment { get; init; }

    /// <summary>Kind.</summary>
    public required WireKind Kind { get; init; }

    /// <summary>STUN details.</summary>
    public StunInfo? Stun { get; init; }

    /// <summary>DTLS details.</summary>
    public DtlsInfo? Dtls { get; init; }
}

/// <summary>Decodes datagram payloads into <see cref="WireEvent"/>s with the library's own parsers where they exist.</summary>
internal static class WireDecoder
{
    // RFC 8446 4.1.3: SHA-256("HelloRetryRequest").
    // RFC 9147 7: the ack content type.
    private const byte AckContentType = 26;

    // RFC 5764 9: use_srtp.
    private const ushort UseSrtpExtension = 14;

    private static readonly byte[] HelloRetryRandom = Convert.FromHexString("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C");

    /// <summary>Classifies and decodes one datagram.</summary>
    public static WireEvent Decode(Capture.CapturedDatagram d)
    {
        var payload = d.Payload;
        var kind = Classify(payload);
        StunInfo? stun = null;
        DtlsInfo? dtls = null;
        if (kind == WireKind.Stun)
        {
            stun = DecodeStun(payload);
            if (stun is null)
            {
                kind = WireKind.Unknown;
            }
        }
        else if (kind == WireKind.Dtls)
        {
            dtls = DecodeDtls(payload);
        }

        return new WireEvent
        {
            Frame = d.Frame,
            TimestampNs = d.TimestampNs,
            From = d.Source,
            To = d.Destination,
            Tcp = d.Tcp,
            Relay = d.Relay,
            Size = d.Length,
            Truncated = d.Truncated,
            IpFragments = d.IpFragments,
            LargestFragment = d.LargestFragment,
            Kind = kind,
            Stun = stun,
            Dtls = dtls,
        };
    }

    /// <summary>RFC 7983 7 first-byte demultiplexing (the library's classifier).</summary>
    public static WireKind Classify(ReadOnlySpan<byte> payload) => PacketClassifier.Classify(payload) switch
    {
        PacketKind.Stun => WireKind.Stun,
        PacketKind.Dtls => WireKind.Dtls,
        PacketKind.Rtp => WireKind.Rtp,
        PacketKind.Rtcp => WireKind.Rtcp,
        PacketKind.TurnChannel => WireKind.TurnChannel,
        PacketKind.Zrtp => WireKind.Zrtp,
        _ => WireKind.Unknown,
    };

    /// <summary>Decodes a STUN message; null when it is not valid STUN.</summary>
    public static StunInfo? DecodeStun(ReadOnlySpan<byte> payload)
    {
        if (!StunMessage.TryDecode(payload, out var m, out _) || m is null)
        {
            return null;
        }

        return new StunInfo(m.Type.Class, m.Type.Method, m.TransactionId.ToString(), m.Username, m.UseCandidate, m.IceControlling is not null, m.ErrorCode?.Code);
    }

    /// <summary>Splits a DTLS datagram into records and reads the plaintext handshake headers, hellos and alerts.</summary>
    public static DtlsInfo DecodeDtls(ReadOnlySpan<byte> payload)
    {
        var records = DtlsDatagramInspector.Inspect(payload, out var wellFormed);
        var pieces = new List<string>();
        var hellos = new List<HelloInfo>();
        var fragments = new List<HelloFragment>();
        var alerts = new List<AlertInfo>();
        var hvr = false;
        var app = false;
        var unified = false;
        foreach (var r in records)
        {
            if (r.IsUnifiedHeader)
            {
                unified = true;
                continue;
            }

            var body = payload.Slice(r.PayloadOffset, r.PayloadLength);
            switch (r.ContentType.Value)
            {
                case 20:
                    pieces.Add("CCS");
                    break;
                case 21:
                    alerts.Add(!r.IsEncrypted && body.Length == 2
                        ? new AlertInfo(false, (AlertLevel)body[0], (AlertDescription)body[1])
                        : new AlertInfo(true, default, default));
                    break;
                case 22 when r.IsEncrypted:
                    pieces.Add("EFIN");
                    break;
                case 22:
                    ReadHandshakes(body, pieces, hellos, fragments, ref hvr);
                    break;
                case 23:
                    app = true;
                    break;
                default:
                    break;
            }
        }

        return new DtlsInfo
        {
            Records = records,
            Description = Describe(records, payload, wellFormed),
            Pieces = pieces,
            Hellos = hellos,
            Alerts = alerts,
            HelloFragments = fragments,
            HelloVerifyRequest = hvr,
            ApplicationData = app,
            Unified = unified,
        };
    }

    /// <summary>
    /// The inspector's description, with what the doctor can say more about DTLS 1.3: a unified-header record as
    /// "1.3 record epoch N, L B" (N: the epoch's low two bits, all the header carries; several in a row as
    /// "1.3 records epoch N, L1+L2 B") and a plaintext ACK as
    /// "ACK of N record(s)".
    /// </summary>
    public static string Describe(IReadOnlyList<InspectedRecord> records, ReadOnlySpan<byte> payload, bool wellFormed)
    {
        if (!records.Any(r => r.IsUnifiedHeader || r.ContentType.Value == AckContentType))
        {
            return DtlsDatagramInspector.Describe(records, payload.Length, wellFormed);
        }

        var parts = new List<string>();
        var parsed = 0;
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i];
            parsed = r.Offset + r.Length;
            if (r.IsUnifiedHeader)
            {
                // Consecutive records of one epoch: "1.3 records epoch 2, 45+51+326 B".
                var sizes = new List<int> { r.Length };
                while (i + 1 < records.Count && records[i + 1].IsUnifiedHeader && records[i + 1].Epoch == r.Epoch)
                {
                    i++;
                    sizes.Add(records[i].Length);
                    parsed = records[i].Offset + records[i].Length;
                }

                parts.Add($"1.3 record{(sizes.Count > 1 ? "s" : string.Empty)} epoch {r.Epoch}, {string.Join("+", sizes)} B");
            }
            else if (r.ContentType.Value == AckContentType && !r.IsEncrypted && r.PayloadLength >= 2)
            {
                // RFC 9147 7: record_numbers<0..2^16-1>, 16 bytes (epoch, sequence) each.
                var listed = (payload[r.PayloadOffset] << 8) | payload[r.PayloadOffset + 1];
                parts.Add($"ACK of {listed / 16} record(s)");
            }
            else
            {
                parts.Add(DtlsDatagramInspector.Describe([r], r.Length, true));
            }
        }

        if (!wellFormed)
        {
            parts.Add($"?{payload.Length - parsed}");
        }

        return string.Join(" + ", parts);
    }

    private static void ReadHandshakes(ReadOnlySpan<byte> body, List<string> pieces, List<HelloInfo> hellos, List<HelloFragment> fragments, ref bool hvr)
    {
        var r = new WireReader(body);
        while (!r.IsEmpty)
        {
            if (!r.TryReadUInt8(out var type)
                || !r.TryReadUInt24(out var length)
                || !r.TryReadUInt16(out var seq)
                || !r.TryReadUInt24(out var offset)
                || !r.TryReadUInt24(out var fragmentLength)
                || !r.TryReadBytes(fragmentLength, out var fragment))
            {
                return;
            }

            pieces.Add($"{type}:{seq}:{offset}");
            if (type == HandshakeType.HelloVerifyRequest.Value)
            {
                hvr = true;
            }

            if (type is 1 or 2 && fragmentLength < length && offset + fragmentLength <= length)
            {
                fragments.Add(new HelloFragment(new HandshakeType(type), seq, length, offset, fragment.ToArray()));
            }

            if (offset == 0 && type is 1 or 2 or 3 && ReadHello(new HandshakeType(type), fragment, fragmentLength == length) is { } hello)
            {
                hellos.Add(hello);
            }
        }
    }

    /// <summary>Reads a hello body leniently: as much as <paramref name="body"/> holds (a first fragment, or the whole message).</summary>
    public static HelloInfo? ReadHello(HandshakeType type, ReadOnlySpan<byte> body, bool complete)
    {
        var r = new WireReader(body);
        if (!r.TryReadUInt16(out var version))
        {
            return null;
        }

        var suites = new List<CipherSuite>();
        var versions = new List<ProtocolVersion>();
        var cookieLength = 0;
        var retry = false;
        var useSrtp = false;
        if (type == HandshakeType.HelloVerifyRequest)
        {
            if (r.TryReadVector8(out var c))
            {
                cookieLength = c.Length;
            }

            return new HelloInfo(type, new ProtocolVersion(version), cookieLength, suites, versions, false, complete);
        }

        if (!r.TryReadBytes(32, out var random) || !r.TryReadVector8(out _))
        {
            return new HelloInfo(type, new ProtocolVersion(version), 0, suites, versions, false, complete);
        }

        retry = type == HandshakeType.ServerHello && random.SequenceEqual(HelloRetryRandom);
        if (type == HandshakeType.ClientHello)
        {
            if (r.TryReadVector8(out var cookie))
            {
                cookieLength = cookie.Length;
            }

            if (r.TryReadVector16(out var list))
            {
                for (var i = 0; i + 1 < list.Length; i += 2)
                {
                    suites.Add(new CipherSuite((ushort)((list[i] << 8) | list[i + 1])));
                }
            }

            r.TryReadVector8(out _);
        }
        else
        {
            if (r.TryReadUInt16(out var suite))
            {
                suites.Add(new CipherSuite(suite));
            }

            r.TryReadUInt8(out _);
        }

        if (r.TryReadVector16(out var extensions))
        {
            var e = new WireReader(extensions);
            while (e.TryReadUInt16(out var extType) && e.TryReadVector16(out var value))
            {
                useSrtp |= extType == UseSrtpExtension;
                if (extType != ExtensionType.SupportedVersions.Value)
                {
                    continue;
                }

                if (type == HandshakeType.ClientHello)
                {
                    var v = new WireReader(value);
                    if (v.TryReadVector8(out var listed))
                    {
                        for (var i = 0; i + 1 < listed.Length; i += 2)
                        {
                            versions.Add(new ProtocolVersion((ushort)((listed[i] << 8) | listed[i + 1])));
                        }
                    }
                }
                else if (value.Length == 2)
                {
                    versions.Add(new ProtocolVersion((ushort)((value[0] << 8) | value[1])));
                }
            }
        }

        return new HelloInfo(type, new ProtocolVersion(version), cookieLength, suites, versions, retry, complete)
        {
            Random = type == HandshakeType.ClientHello && random.IndexOfAnyExcept((byte)0) >= 0 ? Convert.ToHexString(random) : null, // an all-zero random joins nothing
            UseSrtp = useSrtp,
        };
    }
}
