using System.Net;
using Airlift.Ice;
using Airlift.Ice.Sdp;

namespace Airlift.Tests.Ice;

public class SdpTests
{
    [Fact]
    public void Rfc8445_5_1_2_1_host_udp_priority_uses_type_preference_126()
    {
        var c = IceCandidate.CreateHost(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 443), IceProtocol.Udp);
        Assert.Equal((126u << 24) + (65535u << 8) + 255u, c.Priority);
        Assert.Equal(2130706431u, c.Priority);
        Assert.Equal("a=candidate:14 1 udp 2130706431 192.0.2.10 443 typ host", c.ToSdpLine());
    }

    [Fact]
    public void Rfc6544_tcp_passive_host_candidate_ranks_below_udp_and_carries_tcptype()
    {
        var udp = IceCandidate.CreateHost(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 443), IceProtocol.Udp);
        var tcp = IceCandidate.CreateHost(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 443), IceProtocol.Tcp);
        Assert.True(tcp.Priority < udp.Priority);
        Assert.Equal(126u, tcp.Priority >> 24);
        Assert.Equal("candidate:24 1 tcp 2124414975 192.0.2.10 443 typ host tcptype passive", tcp.ToString());
    }

    [Fact]
    public void Announced_address_replaces_the_private_address_for_a_1_to_1_nat()
    {
        var c = IceCandidate.CreateHost(new IPEndPoint(IPAddress.Parse("10.0.0.5"), 40000), IceProtocol.Udp, IPAddress.Parse("203.0.113.9"));
        Assert.Equal("203.0.113.9", c.Address);
        Assert.Equal(40000, c.Port);
    }

    [Fact]
    public void Ipv6_host_candidate_drops_the_scope_id()
    {
        var c = IceCandidate.CreateHost(new IPEndPoint(IPAddress.Parse("fe80::1%3"), 5000), IceProtocol.Udp);
        Assert.Equal("fe80::1", c.Address);
        Assert.Equal("16", c.Foundation);
    }

    [Theory]
    [InlineData("a=candidate:14 1 udp 2130706431 192.0.2.10 443 typ host")]
    [InlineData("candidate:24 1 tcp 2124414975 192.0.2.10 443 typ host tcptype passive")]
    [InlineData("candidate:842163049 1 udp 1677729535 203.0.113.1 61000 typ srflx raddr 10.0.0.2 rport 51000 generation 0 network-cost 999")]
    [InlineData("candidate:1 1 udp 2113937151 3f2a1b1c-1234-4d5e-8f90-abcdef012345.local 54321 typ host generation 0")]
    [InlineData("candidate:3 1 tcp 1518280447 2001:db8::5 9 typ host tcptype active")]
    public void Rfc8839_5_1_candidate_lines_round_trip(string line)
    {
        var c = IceCandidate.Parse(line);
        var expected = line.StartsWith("a=", StringComparison.Ordinal) ? line[2..] : line;
        Assert.Equal(expected, c.ToString());
        Assert.Equal(c, IceCandidate.Parse(c.ToSdpLine()) with { Extensions = c.Extensions });
    }

    [Fact]
    public void Parsed_candidate_fields_are_typed()
    {
        var c = IceCandidate.Parse("candidate:842163049 1 UDP 1677729535 203.0.113.1 61000 typ srflx raddr 10.0.0.2 rport 51000 generation 0");
        Assert.Equal("842163049", c.Foundation);
        Assert.Equal(IceProtocol.Udp, c.Protocol);
        Assert.Equal(IceCandidateType.ServerReflexive, c.Type);
        Assert.Equal("10.0.0.2", c.RelatedAddress);
        Assert.Equal(51000, c.RelatedPort);
        Assert.Equal(new KeyValuePair<string, string>("generation", "0"), Assert.Single(c.Extensions));
    }

    [Theory]
    [InlineData("a=candidat:1 1 udp 1 192.0.2.1 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2.1 1 typ", "MalformedCandidate")]
    [InlineData("candidate:1  1 udp 1 192.0.2.1 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:f!o 1 udp 1 192.0.2.1 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 0 udp 1 192.0.2.1 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 257 udp 1 192.0.2.1 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 1 sctp 1 192.0.2.1 1 typ host", "UnsupportedTransport")]
    [InlineData("candidate:1 1 udp 4294967296 192.0.2.1 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp -1 192.0.2.1 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 bad_host! 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2.1 65536 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2.1 1 typ nat", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2.1 1 type host", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2.1 1 typ host generation", "MalformedCandidate")]
    [InlineData("candidate:1 1 tcp 1 192.0.2.1 1 typ host", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2.1 1 typ host tcptype passive", "MalformedCandidate")]
    [InlineData("candidate:1 1 tcp 1 192.0.2.1 1 typ host tcptype sideways", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2.1 1 typ srflx rport 99999", "MalformedCandidate")]
    [InlineData("candidate:1 1 udp 1 192.0.2.1 1 typ srflx raddr 10.0.0.1 raddr 10.0.0.2", "MalformedCandidate")]
    public void Rfc8839_5_1_malformed_candidate_lines_give_typed_errors(string line, string kind)
    {
        Assert.False(IceCandidate.TryParse(line, out var c, out var error));
        Assert.Null(c);
        Assert.Equal(kind, error.Kind.ToString());
        Assert.Equal(line, error.Line);
        var ex = Assert.Throws<SdpFormatException>(() => IceCandidate.Parse(line));
        Assert.Equal(error.Kind, ex.Error.Kind);
    }

    [Fact]
    public void Attribute_formatters_write_the_expected_lines_and_reject_bad_values()
    {
        Assert.Equal("a=ice-lite", SdpIce.IceLiteLine);
        Assert.Equal("a=ice-ufrag:srvU", SdpIce.FormatUfrag("srvU"));
        Assert.Equal("a=ice-pwd:serverpasswordserverpassword", SdpIce.FormatPassword("serverpasswordserverpassword"));
        Assert.Equal("a=setup:passive", SdpIce.FormatSetup(SdpSetupRole.Passive));
        Assert.Equal("a=setup:actpass", SdpIce.FormatSetup(SdpSetupRole.ActPass));
        Assert.Equal("a=fingerprint:sha-256 AB:CD:01", SdpIce.FormatFingerprint(new SdpFingerprint("sha-256", "AB:CD:01")));
        Assert.Throws<ArgumentException>(() => SdpIce.FormatUfrag("abc"));
        Assert.Throws<ArgumentException>(() => SdpIce.FormatPassword("tooshort"));
        Assert.Throws<ArgumentException>(() => SdpIce.FormatFingerprint(new SdpFingerprint("sha-256", "ABC:D")));
    }

    [Theory]
    [InlineData("sha-256 ab:cd:ef", true)]
    [InlineData("SHA-256 AB", true)]
    [InlineData("sha-256", false)]
    [InlineData("sha-256 ", false)]
    [InlineData("sha-256 AB:C", false)]
    [InlineData("sha-256 AB::CD", false)]
    [InlineData("sha-256 AB:CD:", false)]
    [InlineData("sha 256 AB", false)]
    [InlineData("sha-256 GG", false)]
    public void Rfc8122_5_fingerprint_values_are_validated_and_normalised(string value, bool ok)
    {
        Assert.Equal(ok, SdpIce.TryParseFingerprint(value, out var fp, out var error));
        if (ok)
        {
            Assert.Equal(fp.Algorithm, fp.Algorithm.ToLowerInvariant());
            Assert.Equal(fp.Value, fp.Value.ToUpperInvariant());
        }
        else
        {
            Assert.Equal(SdpErrorKind.MalformedFingerprint, error!.Kind);
        }
    }

    private const string ChromeLikeOffer =
        "v=0\r\n" +
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
        "s=-\r\n" +
        "t=0 0\r\n" +
        "a=group:BUNDLE 0 1\r\n" +
        "a=fingerprint:sha-256 11:22:33:44\r\n" +
        "a=msid-semantic: WMS\r\n" +
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
        "c=IN IP4 0.0.0.0\r\n" +
        "a=candidate:1 1 udp 2113937151 127.0.0.1 57165 typ host generation 0 network-cost 999\r\n" +
        "a=candidate:2 1 ssltcp 2113937151 127.0.0.1 443 typ host\r\n" +
        "a=candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active\r\n" +
        "a=ice-ufrag:RutT\r\n" +
        "a=ice-pwd:chromiumpasswordchromium\r\n" +
        "a=ice-options:trickle\r\n" +
        "a=fingerprint:sha-256 AA:BB:CC:DD\r\n" +
        "a=setup:actpass\r\n" +
        "a=mid:0\r\n" +
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
        "a=ice-ufrag:other\r\n" +
        "a=ice-pwd:garbage\r\n" +
        "a=setup:nonsense\r\n" +
        "a=candidate:9 1 udp 1 10.9.9.9 9 typ host\r\n";

    [Fact]
    public void Offer_extraction_takes_the_first_m_section_for_bundle_and_media_overrides_session()
    {
        var d = SdpIceDescription.Parse(ChromeLikeOffer);
        Assert.False(d.IceLite);
        Assert.Equal("RutT", d.Ufrag);
        Assert.Equal("chromiumpasswordchromium", d.Password);
        Assert.Equal(SdpSetupRole.ActPass, d.Setup);
        Assert.Equal(new SdpFingerprint("sha-256", "AA:BB:CC:DD"), Assert.Single(d.Fingerprints));
        Assert.Equal(2, d.Candidates.Count);
        Assert.Equal(57165, d.Candidates[0].Port);
        Assert.Equal(IceTcpType.Active, d.Candidates[1].TcpType);
    }

    [Fact]
    public void Session_level_values_apply_when_the_media_section_has_none()
    {
        var d = SdpIceDescription.Parse("v=0\na=ice-lite\na=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\na=fingerprint:sha-1 0A\na=setup:passive\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n");
        Assert.True(d.IceLite);
        Assert.Equal("abcd", d.Ufrag);
        Assert.Equal("abcdefghijklmnopqrstuv", d.Password);
        Assert.Equal(SdpSetupRole.Passive, d.Setup);
        Assert.Equal("sha-1", Assert.Single(d.Fingerprints).Algorithm);
        Assert.Empty(d.Candidates);
    }

    [Fact]
    public void Answer_lines_written_by_the_helpers_parse_back()
    {
        var agent = new IceLiteAgent(new IceLiteAgentOptions { FillRandom = new Random(8839).NextBytes });
        var candidate = IceCandidate.CreateHost(new IPEndPoint(IPAddress.Loopback, 5678), IceProtocol.Udp);
        var sdp = string.Join("\r\n",
            "v=0",
            SdpIce.IceLiteLine,
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            SdpIce.FormatUfrag(agent.LocalUfrag),
            SdpIce.FormatPassword(agent.LocalPassword),
            SdpIce.FormatFingerprint(new SdpFingerprint("sha-256", "01:02:03")),
            SdpIce.FormatSetup(SdpSetupRole.Passive),
            candidate.ToSdpLine(),
            "");
        var d = SdpIceDescription.Parse(sdp);
        Assert.True(d.IceLite);
        Assert.Equal(agent.LocalUfrag, d.Ufrag);
        Assert.Equal(agent.LocalPassword, d.Password);
        Assert.Equal(SdpSetupRole.Passive, d.Setup);
        Assert.Equal(candidate.ToString(), Assert.Single(d.Candidates).ToString());
    }

    [Theory]
    [InlineData("v=0\na=ice-ufrag:ab\n", "MalformedUfrag", 2)]
    [InlineData("v=0\nm=audio 9 RTP/AVP 0\na=ice-pwd:short\n", "MalformedPassword", 3)]
    [InlineData("v=0\na=setup:client\n", "MalformedSetup", 2)]
    [InlineData("v=0\na=fingerprint:sha-256\n", "MalformedFingerprint", 2)]
    [InlineData("v=0\nm=audio 9 RTP/AVP 0\na=candidate:1 1 udp 1 1.2.3.4 1 typ\n", "MalformedCandidate", 3)]
    [InlineData("v=0\na=ice-ufrag:abcd\na=ice-ufrag:efgh\n", "ConflictingAttribute", 3)]
    [InlineData("v=0\na=setup:active\na=setup:passive\n", "ConflictingAttribute", 3)]
    public void Malformed_lines_in_an_offer_give_typed_errors_with_line_numbers(string sdp, string kind, int lineNumber)
    {
        Assert.False(SdpIceDescription.TryParse(sdp, out var d, out var error));
        Assert.Null(d);
        Assert.Equal(kind, error.Kind.ToString());
        Assert.Equal(lineNumber, error.LineNumber);
        Assert.Throws<SdpFormatException>(() => SdpIceDescription.Parse(sdp));
    }
}
