using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Airlift.Ice.Sdp;

/// <summary>ICE candidate type (RFC 8445 5.1.1, RFC 8839 5.1 <c>typ</c>).</summary>
public enum IceCandidateType
{
    /// <summary><c>host</c>.</summary>
    Host,

    /// <summary><c>srflx</c>.</summary>
    ServerReflexive,

    /// <summary><c>prflx</c>.</summary>
    PeerReflexive,

    /// <summary><c>relay</c>.</summary>
    Relayed,
}

/// <summary>TCP candidate role (RFC 6544 4.5 <c>tcptype</c>).</summary>
public enum IceTcpType
{
    /// <summary><c>active</c>: opens connections, accepts none.</summary>
    Active,

    /// <summary><c>passive</c>: accepts connections (what an ICE-lite server offers).</summary>
    Passive,

    /// <summary><c>so</c>: simultaneous open.</summary>
    SimultaneousOpen,
}

/// <summary>
/// One ICE candidate as carried in <c>a=candidate</c> (RFC 8839 5.1, RFC 6544 4.5). Small and strict:
/// the address is kept as text because peers may send FQDN (mDNS) addresses.
/// </summary>
public sealed record IceCandidate
{
    /// <summary>Type preference for host candidates (RFC 8445 5.1.2.2 recommends 126).</summary>
    public const int HostTypePreference = 126;

    /// <summary>Default local preference for a UDP host candidate (single-homed: 65535, RFC 8445 5.1.2.1).</summary>
    public const int DefaultUdpLocalPreference = 65535;

    /// <summary>
    /// Default local preference for a passive TCP host candidate: direction preference 4 for passive
    /// host candidates in the top 3 bits, other preference 8191 (RFC 6544 4.2), so UDP ranks above TCP.
    /// </summary>
    public const int DefaultTcpPassiveLocalPreference = (4 << 13) | 8191;

    /// <summary>Foundation: 1..32 ice-chars.</summary>
    public required string Foundation { get; init; }

    /// <summary>Component id, 1..256 (1 is RTP, and the only one with rtcp-mux and BUNDLE).</summary>
    public int Component { get; init; } = 1;

    /// <summary>UDP or TCP.</summary>
    public IceProtocol Protocol { get; init; }

    /// <summary>Candidate priority (RFC 8445 5.1.2).</summary>
    public uint Priority { get; init; }

    /// <summary>Connection address: an IPv4 or IPv6 literal, or an FQDN.</summary>
    public required string Address { get; init; }

    /// <summary>Port, 0..65535 (0 is legal for active TCP candidates, RFC 6544 4.5).</summary>
    public int Port { get; init; }

    /// <summary>Candidate type.</summary>
    public IceCandidateType Type { get; init; }

    /// <summary><c>raddr</c>, when present.</summary>
    public string? RelatedAddress { get; init; }

    /// <summary><c>rport</c>, when present.</summary>
    public int? RelatedPort { get; init; }

    /// <summary><c>tcptype</c>; required for TCP candidates, absent for UDP.</summary>
    public IceTcpType? TcpType { get; init; }

    /// <summary>Other extension attributes (e.g. <c>generation 0</c>, <c>network-id 1</c>) in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Extensions { get; init; } = [];

    /// <summary>Priority per RFC 8445 5.1.2.1: 2^24 * type pref + 2^8 * local pref + (256 - component).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A preference or the component is out of range.</exception>
    public static uint ComputePriority(int typePreference, int localPreference, int component)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(typePreference);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(typePreference, 126);
        ArgumentOutOfRangeException.ThrowIfNegative(localPreference);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(localPreference, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(component, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(component, 256);
        return ((uint)typePreference << 24) + ((uint)localPreference << 8) + (uint)(256 - component);
    }

    /// <summary>
    /// A host candidate for a local socket: UDP, or TCP with <c>tcptype passive</c>.
    /// <paramref name="announcedAddress"/> replaces the socket's address in the SDP for a server
    /// behind a 1:1 NAT (its public address); the port stays the socket's.
    /// </summary>
    /// <param name="local">The bound local endpoint.</param>
    /// <param name="protocol">UDP or TCP (passive).</param>
    /// <param name="announcedAddress">Public address to advertise instead of <paramref name="local"/>'s, or null.</param>
    /// <param name="foundation">Foundation; defaults to one derived from protocol and address family.</param>
    /// <param name="localPreference">Local preference; defaults to <see cref="DefaultUdpLocalPreference"/> or <see cref="DefaultTcpPassiveLocalPreference"/>.</param>
    /// <param name="component">Component id, 1 by default.</param>
    public static IceCandidate CreateHost(
        IPEndPoint local,
        IceProtocol protocol,
        IPAddress? announcedAddress = null,
        string? foundation = null,
        int? localPreference = null,
        int component = 1)
    {
        ArgumentNullException.ThrowIfNull(local);
        var address = announcedAddress ?? local.Address;
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var localPref = localPreference ?? (protocol == IceProtocol.Udp ? DefaultUdpLocalPreference : DefaultTcpPassiveLocalPreference);
        var candidate = new IceCandidate
        {
            Foundation = foundation ?? DefaultFoundation(protocol, address.AddressFamily),
            Component = component,
            Protocol = protocol,
            Priority = ComputePriority(HostTypePreference, localPref, component),
            Address = FormatAddress(address),
            Port = local.Port,
            Type = IceCandidateType.Host,
            TcpType = protocol == IceProtocol.Tcp ? IceTcpType.Passive : null,
        };
        candidate.ThrowIfInvalid();
        return candidate;
    }

    /// <summary>The attribute value without the <c>a=</c> prefix: <c>candidate:...</c> (what RTCIceCandidate.candidate holds).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(96);
        sb.Append("candidate:").Append(Foundation)
            .Append(' ').Append(Component.ToString(CultureInfo.InvariantCulture))
            .Append(' ').Append(Protocol == IceProtocol.Udp ? "udp" : "tcp")
            .Append(' ').Append(Priority.ToString(CultureInfo.InvariantCulture))
            .Append(' ').Append(Address)
            .Append(' ').Append(Port.ToString(CultureInfo.InvariantCulture))
            .Append(" typ ").Append(TypeToken(Type));
        if (RelatedAddress is not null)
        {
            sb.Append(" raddr ").Append(RelatedAddress);
        }

        if (RelatedPort is { } rport)
        {
            sb.Append(" rport ").Append(rport.ToString(CultureInfo.InvariantCulture));
        }

        if (TcpType is { } tcpType)
        {
            sb.Append(" tcptype ").Append(TcpTypeToken(tcpType));
        }

        foreach (var (key, value) in Extensions)
        {
            sb.Append(' ').Append(key).Append(' ').Append(value);
        }

        return sb.ToString();
    }

    /// <summary>The SDP line: <c>a=candidate:...</c> (no line terminator).</summary>
    public string ToSdpLine() => "a=" + ToString();

    /// <summary>Parses <c>a=candidate:...</c> or <c>candidate:...</c>.</summary>
    /// <exception cref="SdpFormatException">The line is malformed.</exception>
    public static IceCandidate Parse(string line) =>
        TryParse(line, out var candidate, out var error) ? candidate : throw new SdpFormatException(error);

    /// <summary>Parses <c>a=candidate:...</c> or <c>candidate:...</c>; never throws.</summary>
    public static bool TryParse(string? line, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IceCandidate? candidate, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out SdpError? error) =>
        TryParse(line, 1, out candidate, out error);

    internal static bool TryParse(string? line, int lineNumber, out IceCandidate? candidate, out SdpError? error)
    {
        candidate = null;
        line ??= string.Empty;
        SdpError Fail(string message, SdpErrorKind kind = SdpErrorKind.MalformedCandidate) => new(kind, lineNumber, line, message);

        var text = line.StartsWith("a=", StringComparison.Ordinal) ? line[2..] : line;
        if (!text.StartsWith("candidate:", StringComparison.Ordinal))
        {
            error = Fail("expected \"candidate:\"");
            return false;
        }

        var fields = text["candidate:".Length..].Split(' ');
        if (fields.Length < 8 || Array.Exists(fields, f => f.Length == 0))
        {
            error = Fail("expected foundation, component, transport, priority, address, port and \"typ <type>\" separated by single spaces");
            return false;
        }

        if (!IsIceChars(fields[0], 1, 32))
        {
            error = Fail("foundation must be 1..32 ice-chars");
            return false;
        }

        if (!TryParseDigits(fields[1], 3, out var component) || component is < 1 or > 256)
        {
            error = Fail("component id must be 1..256");
            return false;
        }

        IceProtocol protocol;
        if (fields[2].Equals("udp", StringComparison.OrdinalIgnoreCase))
        {
            protocol = IceProtocol.Udp;
        }
        else if (fields[2].Equals("tcp", StringComparison.OrdinalIgnoreCase))
        {
            protocol = IceProtocol.Tcp;
        }
        else
        {
            error = Fail($"transport \"{fields[2]}\" is not UDP or TCP", SdpErrorKind.UnsupportedTransport);
            return false;
        }

        if (!TryParseDigits(fields[3], 10, out var priority) || priority > uint.MaxValue)
        {
            error = Fail("priority must be 1..10 digits and fit in 32 bits");
            return false;
        }

        if (!IsAddress(fields[4]))
        {
            error = Fail("connection address is not an IP literal or host name");
            return false;
        }

        if (!TryParseDigits(fields[5], 5, out var port) || port > 65535)
        {
            error = Fail("port must be 0..65535");
            return false;
        }

        if (fields[6] != "typ" || !TryParseType(fields[7], out var type))
        {
            error = Fail("expected \"typ host|srflx|prflx|relay\"");
            return false;
        }

        string? raddr = null;
        int? rport = null;
        IceTcpType? tcpType = null;
        var extensions = new List<KeyValuePair<string, string>>();
        var i = 8;
        if ((fields.Length - i) % 2 != 0)
        {
            error = Fail("extension attributes must come as name/value pairs");
            return false;
        }

        for (; i < fields.Length; i += 2)
        {
            var name = fields[i];
            var value = fields[i + 1];
            switch (name)
            {
                case "raddr" when raddr is null:
                    if (!IsAddress(value))
                    {
                        error = Fail("raddr is not an address");
                        return false;
                    }

                    raddr = value;
                    break;
                case "rport" when rport is null:
                    if (!TryParseDigits(value, 5, out var rp) || rp > 65535)
                    {
                        error = Fail("rport must be 0..65535");
                        return false;
                    }

                    rport = (int)rp;
                    break;
                case "tcptype" when tcpType is null:
                    if (!TryParseTcpType(value, out var tt))
                    {
                        error = Fail("tcptype must be active, passive or so");
                        return false;
                    }

                    tcpType = tt;
                    break;
                case "raddr" or "rport" or "tcptype":
                    error = Fail($"{name} appears twice");
                    return false;
                default:
                    extensions.Add(new(name, value));
                    break;
            }
        }

        if (protocol == IceProtocol.Tcp && tcpType is null)
        {
            error = Fail("a TCP candidate needs tcptype (RFC 6544 4.5)");
            return false;
        }

        if (protocol == IceProtocol.Udp && tcpType is not null)
        {
            error = Fail("tcptype on a UDP candidate");
            return false;
        }

        candidate = new IceCandidate
        {
            Foundation = fields[0],
            Component = (int)component,
            Protocol = protocol,
            Priority = (uint)priority,
            Address = fields[4],
            Port = (int)port,
            Type = type,
            RelatedAddress = raddr,
            RelatedPort = rport,
            TcpType = tcpType,
            Extensions = extensions,
        };
        error = null;
        return true;
    }

    private void ThrowIfInvalid()
    {
        if (!IsIceChars(Foundation, 1, 32))
        {
            throw new ArgumentException("Foundation must be 1..32 ice-chars.", nameof(Foundation));
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port));
        }
    }

    private static string DefaultFoundation(IceProtocol protocol, AddressFamily family) =>
        (protocol == IceProtocol.Udp ? "1" : "2") + (family == AddressFamily.InterNetworkV6 ? "6" : "4");

    private static string FormatAddress(IPAddress address)
    {
        // Scope ids (fe80::1%eth0) mean nothing to the peer.
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            address = new IPAddress(address.GetAddressBytes());
        }

        return address.ToString();
    }

    internal static bool IsIceChars(string value, int min, int max)
    {
        if (value.Length < min || value.Length > max)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '+' || c == '/'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryParseDigits(string s, int maxDigits, out ulong value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > maxDigits)
        {
            return false;
        }

        foreach (var c in s)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = value * 10 + (ulong)(c - '0');
        }

        return true;
    }

    private static bool IsAddress(string s)
    {
        if (IPAddress.TryParse(s, out _))
        {
            return s.Contains(':', StringComparison.Ordinal) || s.Count(c => c == '.') == 3;
        }

        // FQDN (e.g. an mDNS "uuid.local" name): letters, digits, '-', '.'; at most 255 chars.
        if (s.Length > 255)
        {
            return false;
        }

        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '.'))
            {
                return false;
            }
        }

        return s.Any(char.IsAsciiLetter);
    }

    private static bool TryParseType(string s, out IceCandidateType type)
    {
        switch (s)
        {
            case "host":
                type = IceCandidateType.Host;
                return true;
            case "srflx":
                type = IceCandidateType.ServerReflexive;
                return true;
            case "prflx":
                type = IceCandidateType.PeerReflexive;
                return true;
            case "relay":
                type = IceCandidateType.Relayed;
                return true;
            default:
                type = default;
                return false;
        }
    }

    private static bool TryParseTcpType(string s, out IceTcpType type)
    {
        switch (s)
        {
            case "active":
                type = IceTcpType.Active;
                return true;
            case "passive":
                type = IceTcpType.Passive;
                return true;
            case "so":
                type = IceTcpType.SimultaneousOpen;
                return true;
            default:
                type = default;
                return false;
        }
    }

    private static string TypeToken(IceCandidateType type) => type switch
    {
        IceCandidateType.Host => "host",
        IceCandidateType.ServerReflexive => "srflx",
        IceCandidateType.PeerReflexive => "prflx",
        _ => "relay",
    };

    private static string TcpTypeToken(IceTcpType type) => type switch
    {
        IceTcpType.Active => "active",
        IceTcpType.Passive => "passive",
        _ => "so",
    };
}
