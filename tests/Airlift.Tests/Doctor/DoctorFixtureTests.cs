using System.Net;
using System.Text.Json;
using Airlift.Cli.Doctor;
using Xunit;

namespace Airlift.Tests.Doctor;

/// <summary>
/// The doctor on real captures (tests/fixtures/captures, made by scripts/make-captures.sh with real sockets, real peers
/// and the impairment proxy in a network namespace): it names the reproduced failure and finds nothing on the good ones.
/// </summary>
public sealed class DoctorFixtureTests
{
    private static DoctorResult Analyze(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "captures", name + ".pcap");
        using var stream = File.OpenRead(path);
        return DoctorAnalyzer.Analyze(stream, path, new DoctorOptions());
    }

    [Theory]
    [InlineData("airlift-good")]
    [InlineData("openssl-good")]
    [InlineData("gnutls-good")]
    public void Successful_handshakes_of_real_peers_have_no_finding(string name)
    {
        var r = Analyze(name);

        var s = Assert.Single(r.Sessions);
        Assert.Empty(s.Verdicts);
        Assert.Equal("completed", s.Outcome);
        Assert.False(DoctorReport.AnyFailure(r));
    }

    [Theory]
    [InlineData("f1-openssl-recovers", VerdictCodes.F1, "Recovered")]
    [InlineData("f1-airlift-recovers", VerdictCodes.F1, "Recovered")]
    [InlineData("f2-airlift-recovers", VerdictCodes.F2, "Recovered")]
    [InlineData("f4-airlift-recovers", VerdictCodes.F4, "Recovered")]
    [InlineData("f1-gnutls-big-record", VerdictCodes.F1, "Failure")]
    [InlineData("no-answer", VerdictCodes.NoAnswer, "Failure")]
    [InlineData("version-mismatch", VerdictCodes.VersionMismatch, "Failure")]
    [InlineData("cipher-mismatch", VerdictCodes.CipherMismatch, "Failure")]
    [InlineData("fingerprint-mismatch", VerdictCodes.CertificateRejected, "Failure")]
    [InlineData("f3-airlift-recovers", VerdictCodes.F3, "Recovered")]
    [InlineData("consent-expired", VerdictCodes.ConsentExpired, "Failure")]
    [InlineData("cookie-loop", VerdictCodes.CookieLoop, "Failure")]
    public void Each_reproduction_is_named(string name, string code, string severity)
    {
        var r = Analyze(name);

        var s = Assert.Single(r.Sessions);
        var v = Assert.Single(s.Verdicts, v => v.Severity != Severity.Info);
        Assert.Equal(code, v.Code);
        Assert.Equal(severity, v.Severity.ToString());
        Assert.NotEmpty(v.Evidence);
        Assert.NotEmpty(v.CannotSee);
    }

    [Fact]
    public void F3_real_ice_agent_one_way_ipv6_path_is_named_recovered_with_the_tuple_change()
    {
        // aiortc (full ICE, controlling) against `airlift serve` (ICE-lite, DTLS client) with an IPv6 and an IPv4
        // address; nothing from the server reaches the client over IPv6. Captured on the server (tcpdump -i any, SLL2).
        var r = Analyze("f3-airlift-recovers");

        var s = Assert.Single(r.Sessions);
        Assert.Equal(2, s.Tuples.Count);
        Assert.Equal("completed", s.Outcome);
        var v = Assert.Single(s.Verdicts, v => v.Severity != Severity.Info);
        Assert.Equal(VerdictCodes.F3, v.Code);
        Assert.Equal(Severity.Recovered, v.Severity);
        Assert.StartsWith("F3 pattern, recovered: ICE checks on tuple 1 got no answers back; DTLS moved to tuple 2 at ", v.Title, StringComparison.Ordinal);
        Assert.EndsWith("handshake done", v.Title, StringComparison.Ordinal);
        Assert.Contains(v.Evidence, e => e.Contains("after the server had answered them: the answers did not reach it", StringComparison.Ordinal));
        Assert.Contains(v.Evidence, e => e.StartsWith("DTLS moved to tuple 2 at ", StringComparison.Ordinal) && e.Contains("after the first valid check there", StringComparison.Ordinal));
        Assert.Contains(v.Evidence, e => e.StartsWith("handshake done at ", StringComparison.Ordinal));

        // The one-way tuple: the client's checks were all answered by the server and resent anyway; the nominated one answered.
        var oneWay = s.IceTuples[0];
        Assert.True(oneWay.ResentAfterAnswer >= 2, $"{oneWay.ResentAfterAnswer} resends after an answer");
        Assert.Equal(oneWay.Requests, oneWay.Responses);
        Assert.Equal(0, s.IceTuples[1].ResentAfterAnswer);
        Assert.True(s.IceTuples[1].UseCandidate >= 1);
        Assert.False(DoctorReport.AnyFailure(r));
    }

    [Fact]
    public void Consent_expiry_of_a_real_ice_agent_is_named_from_the_client_side_capture()
    {
        // aiortc against `airlift serve`; the server's sends to the client fail after media flows. Captured at the client:
        // its consent checks (every ~5 s) go unanswered and its media stops when consent expires (RFC 7675, ~30 s).
        var r = Analyze("consent-expired");

        var s = Assert.Single(r.Sessions);
        Assert.Equal("completed", s.Outcome);
        var v = Assert.Single(s.Verdicts);
        Assert.Equal(VerdictCodes.ConsentExpired, v.Code);
        Assert.Contains(v.Evidence, e => e.Contains("later check(s) got no response", StringComparison.Ordinal));
        Assert.True(s.RtpPackets > 50, $"{s.RtpPackets} RTP packets");
        Assert.True(s.LastMediaNs - s.Events.Last(e => e.Stun is { Class: Airlift.Ice.Stun.StunClass.SuccessResponse }).TimestampNs > 20_000_000_000L);
    }

    [Fact]
    public void Cookie_loop_through_a_rebinding_relay_is_one_session_over_the_changing_client_ports()
    {
        // An Airlift client and server with a relay that sends every datagram from a new port (a NAT rebinding each
        // packet): every ClientHello (same random) arrives from a new address and gets a new HelloVerifyRequest.
        var r = Analyze("cookie-loop");

        var s = Assert.Single(r.Sessions);
        Assert.True(s.Tuples.Count >= 4, $"{s.Tuples.Count} tuples");
        var v = Assert.Single(s.Verdicts);
        Assert.Equal(VerdictCodes.CookieLoop, v.Code);
        Assert.Contains(v.Evidence, e => e.Contains("different client addresses/ports", StringComparison.Ordinal));
        Assert.Contains(v.Evidence, e => e.Contains("gave up with fatal handshake_failure", StringComparison.Ordinal));
        Assert.DoesNotContain(s.Verdicts, x => x.Code == VerdictCodes.CipherMismatch);
    }

    [Theory]
    [InlineData("chromium156-loopback-dtls13-nopq", "DTLS 1.3")]
    [InlineData("chromium156-loopback-dtls13-pq", "DTLS 1.3")]
    [InlineData("chromium156-to-icelite-dtls12", "DTLS 1.2")]
    public void Chromium_handshakes_from_the_captured_vectors_have_no_finding(string vector, string version)
    {
        // tests/fixtures/vectors: real datagrams (ports, times, bytes) of Chromium's ICE and DTLS, written into a pcap here.
        var t = new Timeline();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "fixtures", "vectors", vector + ".jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var d = doc.RootElement;
            if (!d.TryGetProperty("hex", out var hex))
            {
                continue;
            }

            t.Send(
                d.GetProperty("t").GetDouble() * 1000,
                new IPEndPoint(IPAddress.Loopback, d.GetProperty("from").GetInt32()),
                new IPEndPoint(IPAddress.Loopback, d.GetProperty("to").GetInt32()),
                Convert.FromHexString(hex.GetString()!));
        }

        var s = Assert.Single(t.Analyze().Sessions);

        Assert.Empty(s.Verdicts);
        Assert.Equal(version, s.Version);
        Assert.NotNull(s.HandshakeMs);
    }
}
