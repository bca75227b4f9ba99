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
