using Airlift.Cli.Doctor;
using Airlift.Ice.Stun;
using Xunit;

namespace Airlift.Tests.Doctor;

/// <summary>
/// The doctor on captures of real peers beyond OpenSSL and GnuTLS (tests/fixtures/captures, made by
/// scripts/make-captures.sh): pion/dtls as client and server, headless Chromium over UDP (DTLS 1.3 with an encrypted
/// handshake, consent checks, RTCP) and ICE-TCP, Firefox. Nothing wrong in the good ones; the failure named in the bad.
/// </summary>
public sealed class DoctorPeerFixtureTests
{
    private static DoctorResult Analyze(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "captures", name + ".pcap");
        using var stream = File.OpenRead(path);
        return DoctorAnalyzer.Analyze(stream, path, new DoctorOptions());
    }

    [Theory]
    [InlineData("pion-client-good")]
    [InlineData("pion-server-good")]
    public void Pion_handshakes_with_airlift_have_no_finding(string name)
    {
        var r = Analyze(name);

        var s = Assert.Single(r.Sessions);
        Assert.Empty(s.Verdicts);
        Assert.Equal("completed", s.Outcome);
        Assert.Equal("DTLS 1.2", s.Version);
        Assert.False(DoctorReport.AnyFailure(r));
    }

    [Theory]
    [InlineData("chromium-dtls13-good", false, true)]
    [InlineData("chromium-ice-tcp-good", true, true)]
    // A slow first answer (a loaded machine): Firefox resent its ClientHello 5 times, smaller after 3; not F1. Its
    // session closed within 4 s, before a consent check was due.
    [InlineData("firefox-good", false, false)]
    public void Browser_sessions_with_encrypted_dtls13_consent_checks_and_rtcp_have_no_finding(string name, bool iceTcp, bool consentChecks)
    {
        var r = Analyze(name);

        var s = Assert.Single(r.Sessions);
        Assert.Empty(s.Verdicts);
        Assert.False(DoctorReport.AnyFailure(r));
        Assert.Equal("DTLS 1.3", s.Version);
        Assert.All(s.Tuples, t => Assert.Equal(iceTcp, t.Tcp));
        // Consent freshness (RFC 7675) keeps the browser's checks going after the handshake: not a failure.
        var handshakeEnd = s.StartNs + (long)(s.HandshakeMs!.Value * 1e6);
        if (consentChecks)
        {
            Assert.Contains(s.Events, e => e.Stun is { Class: StunClass.Request } && e.TimestampNs > handshakeEnd);
        }

        Assert.True(s.RtcpPackets > 0);
        // The handshake ends before media starts (the encrypted records after it are ACKs, alerts, not the handshake).
        Assert.True(handshakeEnd <= s.FirstMediaNs, $"handshake {s.HandshakeMs} ms ends after the first media");
    }

    [Fact]
    public void Chromium_clienthello_above_the_path_limit_is_F1_with_the_server_alive_by_its_stun_answers()
    {
        var s = Assert.Single(Analyze("chromium-f1-fails").Sessions);

        var v = Assert.Single(s.Verdicts, v => v.Severity != Severity.Info);
        Assert.Equal(VerdictCodes.F1, v.Code);
        Assert.Equal(Severity.Failure, v.Severity);
        Assert.Contains(v.Evidence, e => e.Contains("client flight 1 (CH)", StringComparison.Ordinal));
        Assert.Contains(v.Evidence, e => e.Contains("STUN message(s) on the same tuple", StringComparison.Ordinal));
    }

    [Fact]
    public void Pion_server_that_never_lowers_its_datagram_size_is_F1_failure()
    {
        var s = Assert.Single(Analyze("f1-pion-fails").Sessions);

        var v = Assert.Single(s.Verdicts, v => v.Severity != Severity.Info);
        Assert.Equal(VerdictCodes.F1, v.Code);
        Assert.Equal(Severity.Failure, v.Severity);
        Assert.Contains("--mtu 1200", v.Fix, StringComparison.Ordinal);
    }
}
