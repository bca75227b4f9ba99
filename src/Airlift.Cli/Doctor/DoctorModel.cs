using System.Net;
using Airlift.Cli.Doctor.Capture;

namespace Airlift.Cli.Doctor;

/// <summary>Which side of a session sent a datagram: C the DTLS client / ICE controlling side, S the server / ICE-lite side.</summary>
internal enum Side
{
    Client,
    Server,
}

/// <summary>How bad a finding is.</summary>
internal enum Severity
{
    /// <summary>The handshake failed, and this is why.</summary>
    Failure,

    /// <summary>The failure pattern happened, and the handshake got through anyway.</summary>
    Recovered,

    /// <summary>Worth knowing, not a failure.</summary>
    Info,
}

/// <summary>Finding codes; F1-F4 are the field failures of docs/scenarios.md.</summary>
internal static class VerdictCodes
{
    public const string F1 = "F1";
    public const string F2 = "F2";
    public const string F3 = "F3";
    public const string F4 = "F4";
    public const string CookieLoop = "cookie-loop";
    public const string VersionMismatch = "version-mismatch";
    public const string CipherMismatch = "cipher-mismatch";
    public const string SrtpMismatch = "srtp-mismatch";
    public const string CertificateRejected = "certificate-rejected";
    public const string EncryptedAlert = "encrypted-alert";
    public const string NoAnswer = "no-answer";
    public const string IceUnanswered = "ice-unanswered";
    public const string ConsentExpired = "consent-expired";
    public const string Incomplete = "incomplete";
}

/// <summary>One finding about a session: what it is, the evidence, the fix, what the capture proves and cannot see.</summary>
internal sealed record Verdict(string Code, Severity Severity, string Title, IReadOnlyList<string> Evidence, string Fix, string Proves, IReadOnlyList<string> CannotSee);

/// <summary>One transmission (first send or resend) of a handshake flight.</summary>
internal sealed class Transmission
{
    public required Side Side { get; init; }

    public required FlightRecord Flight { get; init; }

    public required int Number { get; init; }

    public List<WireEvent> Datagrams { get; } = [];

    public HashSet<string> Pieces { get; } = [];

    public long StartNs => Datagrams[0].TimestampNs;

    /// <summary>The peer moved on (sent a new flight) after this transmission and before its next one.</summary>
    public bool Answered { get; set; }

    public int Largest => Datagrams.Max(d => d.Size);
}

/// <summary>One handshake flight of one side and its transmissions.</summary>
internal sealed class FlightRecord
{
    public required Side Side { get; init; }

    public required int Index { get; init; }

    public string Name { get; set; } = string.Empty;

    public HashSet<string> Pieces { get; } = [];

    public List<Transmission> Transmissions { get; } = [];

    public bool HasChangeCipherSpec => Pieces.Contains("CCS");
}

/// <summary>The ICE checks on one tuple of a session, counted from the answering (ICE-lite) side's point of view.</summary>
internal sealed class IceTupleStats
{
    /// <summary>Index into <see cref="DoctorSession.Tuples"/>.</summary>
    public required int Tuple { get; init; }

    /// <summary>Binding requests from the checking side (retransmissions included).</summary>
    public int Requests { get; set; }

    /// <summary>Distinct transactions among <see cref="Requests"/>.</summary>
    public int Transactions { get; set; }

    /// <summary>Requests carrying USE-CANDIDATE.</summary>
    public int UseCandidate { get; set; }

    /// <summary>Success responses from the answering side.</summary>
    public int Responses { get; set; }

    /// <summary>Transactions with at least one success response.</summary>
    public int AnsweredTransactions { get; set; }

    /// <summary>Requests resent with a transaction id the answering side had already answered: the answer got lost.</summary>
    public int ResentAfterAnswer { get; set; }

    public long? FirstAnsweredNs { get; set; }

    public long? LastAnsweredNs { get; set; }
}

/// <summary>A session: the DTLS and ICE traffic between two peers, over one or more tuples.</summary>
internal sealed class DoctorSession
{
    public required int Id { get; init; }

    /// <summary>The 5-tuples (as unordered endpoint pairs) in this session, in order of first appearance.</summary>
    public List<(IPEndPoint A, IPEndPoint B, bool Tcp)> Tuples { get; } = [];

    /// <summary>Which side each endpoint is on.</summary>
    public Dictionary<IPEndPoint, Side> Sides { get; } = [];

    /// <summary>STUN and DTLS datagrams (capped at <see cref="DoctorOptions.MaxEventsPerSession"/>).</summary>
    public List<WireEvent> Events { get; } = [];

    /// <summary>Events not kept because of the cap.</summary>
    public long EventsOmitted { get; set; }

    public long RtpPackets { get; set; }

    public long RtcpPackets { get; set; }

    public long? FirstMediaNs { get; set; }

    public long? LastMediaNs { get; set; }

    public List<FlightRecord> Flights { get; } = [];

    public List<Transmission> Transmissions { get; } = [];

    public List<Verdict> Verdicts { get; } = [];

    /// <summary>ICE checks per tuple (filled for sessions over several tuples).</summary>
    public List<IceTupleStats> IceTuples { get; } = [];

    /// <summary>"completed", "failed", "incomplete", "ice only"...</summary>
    public string Outcome { get; set; } = "unknown";

    public double? HandshakeMs { get; set; }

    public string? Version { get; set; }

    public string? CipherSuite { get; set; }

    /// <summary>The first ClientHello, reassembled when fragmented.</summary>
    public HelloInfo? ClientHello { get; set; }

    /// <summary>The first ServerHello (not a HelloRetryRequest), reassembled when fragmented.</summary>
    public HelloInfo? ServerHello { get; set; }

    public IPEndPoint? Client => Sides.FirstOrDefault(p => p.Value == Side.Client).Key;

    public IPEndPoint? Server => Sides.FirstOrDefault(p => p.Value == Side.Server).Key;

    public long StartNs => Events.Count > 0 ? Events[0].TimestampNs : FirstMediaNs ?? 0;

    public int Retransmissions => Transmissions.Count(t => t.Number > 1);

    public int TupleIndex(WireEvent e)
    {
        for (var i = 0; i < Tuples.Count; i++)
        {
            var (a, b, tcp) = Tuples[i];
            if (tcp == e.Tcp && ((a.Equals(e.From) && b.Equals(e.To)) || (a.Equals(e.To) && b.Equals(e.From))))
            {
                return i;
            }
        }

        return -1;
    }

    public Side SideOf(WireEvent e) => Sides.TryGetValue(e.From, out var s) ? s : Sides.TryGetValue(e.To, out var t) ? (t == Side.Client ? Side.Server : Side.Client) : Side.Client;
}

/// <summary>Settings of an analysis.</summary>
internal sealed record DoctorOptions
{
    /// <summary>Default <see cref="RelayLimit"/>: the 1600-byte TURN relay buffer of field failure F4.</summary>
    public const int DefaultRelayLimit = 1600;

    /// <summary>The server's address, when known: that endpoint is the server side of its sessions.</summary>
    public IPEndPoint? Server { get; init; }

    /// <summary>A datagram holding several records above this size is F4's glued flight.</summary>
    public int RelayLimit { get; init; } = DefaultRelayLimit;

    /// <summary>Most STUN/DTLS events kept per session (media is only counted).</summary>
    public int MaxEventsPerSession { get; init; } = 20_000;

    /// <summary>Most endpoint pairs followed; further pairs are counted, not analysed.</summary>
    public int MaxTuples { get; init; } = 4096;

    /// <summary>Capture limits.</summary>
    public CaptureLimits Limits { get; init; } = CaptureLimits.Default;
}

/// <summary>Everything the doctor found in one capture.</summary>
internal sealed class DoctorResult
{
    public required string File { get; init; }

    public required CaptureFileFormat Format { get; init; }

    public required DecodeStats Stats { get; init; }

    public required IReadOnlyList<DoctorSession> Sessions { get; init; }

    /// <summary>The capture ended early (truncated file): what stopped it. The analysis covers the packets before.</summary>
    public CaptureFormatException? StoppedBy { get; init; }

    /// <summary>Endpoint pairs with traffic that was neither STUN nor DTLS nor media on a session's tuple.</summary>
    public long OtherTuples { get; init; }

    /// <summary>Endpoint pairs over <see cref="DoctorOptions.MaxTuples"/>.</summary>
    public long TuplesOverLimit { get; init; }

    public long FirstNs { get; init; }

    public long LastNs { get; init; }
}
