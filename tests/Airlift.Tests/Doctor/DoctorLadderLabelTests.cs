using System.Net;
using Airlift.Cli.Doctor;
using Airlift.NetEm;
using Xunit;
using static Airlift.Tests.Doctor.CaptureBytes;
using static Airlift.Tests.Doctor.SyntheticDtls;

namespace Airlift.Tests.Doctor;

/// <summary>
/// Ladder labels that say what really happened: a resend answering the peer's repeated flight, a resend on the tuple
/// ICE moved to, DTLS 1.3 unified-header records and plaintext ACKs by name, and an SRTP profile mismatch by name.
/// </summary>
public sealed class DoctorLadderLabelTests
{
    private static readonly IPEndPoint C = Ep("198.51.100.7:50000");
    private static readonly IPEndPoint S = Ep("203.0.113.5:4444");

    private static DoctorResult Fixture(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "captures", name + ".pcap");
        using var stream = File.OpenRead(path);
        return DoctorAnalyzer.Analyze(stream, path, new DoctorOptions());
    }

    private static string LadderLine(DoctorResult r, string datagram) =>
        Assert.Single(DoctorReport.Ladder(Assert.Single(r.Sessions)).Split('\n'), l => l.Contains(datagram, StringComparison.Ordinal));

    // CH, HVR, CH with cookie, the server's flight 4, then the server's timer resends flight 4 at 1030 ms.
    private static Timeline ServerRepeats() => new Timeline()
        .Send(0, C, S, ClientHello())
        .Send(10, S, C, HelloVerifyRequest())
        .Send(20, C, S, ClientHello(1, 32, 1))
        .Send(30, S, C, ServerFlight(900, 1))
        .Send(1030, S, C, ServerFlight(900, 1));

    [Fact]
    public void A_resend_5_ms_after_the_peers_repeated_flight_answers_it()
    {
        var r = ServerRepeats().Send(1035, C, S, ClientHello(1, 32, 2)).Analyze();

        var line = LadderLine(r, "#6 ");

        Assert.Contains("resend 1 of client flight 3 (+1015.0 ms), answering the server's repeated flight 4 (5.0 ms after it)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("TIMER", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_resend_more_than_50_ms_after_the_peers_repeated_flight_is_its_own_timer()
    {
        var r = ServerRepeats().Send(1100, C, S, ClientHello(1, 32, 2)).Analyze();

        Assert.Contains("TIMER resend 1 of client flight 3 (+1080.0 ms)", LadderLine(r, "#6 "), StringComparison.Ordinal);
    }

    [Fact]
    public void A_resend_close_to_its_own_previous_send_is_not_counted_as_answering()
    {
        // 5 ms after the server's repeat but only 12 ms after its own previous send: its timer could have fired.
        var r = new Timeline()
            .Send(0, C, S, ClientHello())
            .Send(10, S, C, HelloVerifyRequest())
            .Send(1000, C, S, ClientHello(1, 32, 1))
            .Send(1007, S, C, HelloVerifyRequest())
            .Send(1012, C, S, ClientHello(1, 32, 2))
            .Analyze();

        Assert.DoesNotContain("answering", LadderLine(r, "#5 "), StringComparison.Ordinal);
    }

    [Fact]
    public void Real_capture_gnutls_resend_4_9_ms_after_the_servers_repeat_answers_it()
    {
        var line = LadderLine(Fixture("f1-gnutls-big-record"), "#35 ");

        Assert.Contains("resend 12 of client flight 3 (+4025.1 ms), answering the server's repeated flight 4 (4.9 ms after it)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("TIMER", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Real_capture_f3_resend_on_the_nominated_tuple_says_ice_selection_changed()
    {
        var line = LadderLine(Fixture("f3-airlift-recovers"), "#26 ");

        Assert.Contains("[2]", line, StringComparison.Ordinal);
        Assert.Contains("resend 7 of client flight 1 (+520.7 ms), resent on the new tuple (ICE selection changed)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("TIMER", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Real_capture_firefox_plaintext_ack_and_unified_records_are_named()
    {
        var r = Fixture("firefox-good");
        var ladder = DoctorReport.Ladder(Assert.Single(r.Sessions));

        Assert.Contains("31 B  ACK of 1 record(s)", LadderLine(r, "#18 "), StringComparison.Ordinal);
        Assert.Contains("1.3 records epoch 2, 45+51+326+108+66 B", LadderLine(r, "#19 "), StringComparison.Ordinal);
        Assert.Contains("1.3 record epoch 3, 72 B", LadderLine(r, "#25 "), StringComparison.Ordinal);
        Assert.DoesNotContain("?31", ladder, StringComparison.Ordinal);
        Assert.DoesNotContain("DTLS13", ladder, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspector_reads_a_plaintext_dtls13_ack_record()
    {
        // RFC 9147 7: content type 26, epoch 0, record_numbers = [(epoch 0, seq 1)].
        byte[] body = [0, 16, .. new byte[8], 0, 0, 0, 0, 0, 0, 0, 1];
        var ack = Record(26, 0, 12, body);

        var records = DtlsDatagramInspector.Inspect(ack, out var wellFormed);

        Assert.True(wellFormed);
        Assert.Equal(31, Assert.Single(records).Length);
        Assert.Equal("ACK", DtlsDatagramInspector.Describe(ack));
    }

    private static byte[] ClientHelloWithUseSrtp()
    {
        // use_srtp (14): profiles <SRTP_AES128_CM_HMAC_SHA1_80>, empty MKI.
        byte[] ext = [0, 14, 0, 5, 0, 2, 0, 1, 0];
        return [.. ClientHelloBody(), 0, (byte)ext.Length, .. ext];
    }

    [Fact]
    public void Insufficient_security_after_a_server_hello_without_use_srtp_is_an_srtp_profile_mismatch()
    {
        var r = new Timeline()
            .Send(0, C, S, Message(1, 0, ClientHelloWithUseSrtp(), 0))
            .Send(10, S, C, Concat(Message(2, 1, ServerHelloBody(), 1), Message(11, 2, new byte[300], 2), Message(14, 3, [], 3)))
            .Send(15, C, S, Alert(2, 71))
            .Analyze();

        var v = Assert.Single(Assert.Single(r.Sessions).Verdicts);
        Assert.Equal(VerdictCodes.SrtpMismatch, v.Code);
        Assert.Equal("SRTP protection profile mismatch (use_srtp offered, not answered)", v.Title);
        Assert.Contains(v.Evidence, e => e.Contains("insufficient_security(71)", StringComparison.Ordinal));
        Assert.Contains(v.Evidence, e => e.Contains("ServerHello has no use_srtp", StringComparison.Ordinal));
        Assert.Contains("--srtp", v.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Insufficient_security_without_use_srtp_offered_stays_a_cipher_mismatch()
    {
        var r = new Timeline()
            .Send(0, C, S, Message(1, 0, ClientHelloBody(), 0))
            .Send(10, S, C, Concat(Message(2, 1, ServerHelloBody(), 1), Message(11, 2, new byte[300], 2), Message(14, 3, [], 3)))
            .Send(15, C, S, Alert(2, 71))
            .Analyze();

        Assert.Equal(VerdictCodes.CipherMismatch, Assert.Single(Assert.Single(r.Sessions).Verdicts).Code);
    }
}
