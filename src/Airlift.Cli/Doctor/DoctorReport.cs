using System.Globalization;
using System.Text;
using System.Text.Json;
using Airlift.Cli.Lab;
using Airlift.Ice.Stun;
using static Airlift.Cli.Doctor.DoctorText;

namespace Airlift.Cli.Doctor;

/// <summary>Renders a <see cref="DoctorResult"/>: terminal text with ladders, JSON, and a self-contained HTML page.</summary>
internal static class DoctorReport
{
    /// <summary>Most ladder lines per session; the rest are counted.</summary>
    public const int MaxLadderLines = 400;

    /// <summary>The terminal report: summary, then each session's verdicts and ladder.</summary>
    public static string RenderText(DoctorResult r, int? onlySession = null, bool ladders = true)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.AppendLine(Header(r));
        sb.AppendLine("  " + Decoded(r));
        if (r.StoppedBy is { } stop)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  warning: the capture stops early: {stop.Message}; analysed the packets before it");
        }

        if (r.Sessions.Count == 0)
        {
            sb.AppendLine("no STUN or DTLS traffic found: nothing to diagnose (is this the right interface and port?)");
            return sb.ToString();
        }

        if (onlySession is { } only)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  showing session {only} of {r.Sessions.Count} (--session {only})");
        }

        foreach (var s in Selected(r, onlySession))
        {
            sb.AppendLine();
            sb.AppendLine(SessionLine(s));
            if (s.Verdicts.Count == 0)
            {
                sb.AppendLine("  no problem found" + (s.Retransmissions > 0 ? $" ({s.Retransmissions} retransmission(s), none matching a failure pattern)" : string.Empty));
            }

            foreach (var v in s.Verdicts)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"  {Label(v.Severity)} {v.Title}");
                foreach (var e in v.Evidence)
                {
                    sb.AppendLine("    - " + e);
                }

                sb.AppendLine("    fix: " + v.Fix);
                sb.AppendLine("    proves: " + v.Proves);
                foreach (var c in v.CannotSee)
                {
                    sb.AppendLine("    cannot see: " + c);
                }
            }

            if (ladders)
            {
                sb.AppendLine();
                sb.Append(Ladder(s));
            }
        }

        return sb.ToString();
    }

    /// <summary>True when any session (or only session <paramref name="onlySession"/>) has a failure verdict.</summary>
    public static bool AnyFailure(DoctorResult r, int? onlySession = null) => Selected(r, onlySession).Any(s => s.Verdicts.Any(v => v.Severity == Severity.Failure));

    /// <summary>
    /// Checks a <c>--session</c> id: null when the capture has that session, else an error naming the ids there are.
    /// </summary>
    public static string? CheckSession(DoctorResult r, int id)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.Sessions.Any(s => s.Id == id))
        {
            return null;
        }

        return r.Sessions.Count == 0
            ? $"--session {id}: the capture has no sessions (no STUN or DTLS traffic)"
            : $"--session {id}: no such session; the capture has session(s) {string.Join(", ", r.Sessions.Select(s => s.Id))}";
    }

    /// <summary>The sessions a report shows: all, or only <paramref name="onlySession"/>.</summary>
    private static IEnumerable<DoctorSession> Selected(DoctorResult r, int? onlySession) =>
        onlySession is { } id ? r.Sessions.Where(s => s.Id == id) : r.Sessions;

    /// <summary>
    /// A session's ladder in the lab's format (<see cref="LabLadder"/>): time, direction arrow, datagram number, size,
    /// records, and what happened (resends marked <see cref="LabLadder.TimerMark"/> with the time since the previous send).
    /// </summary>
    public static string Ladder(DoctorSession s)
    {
        var sb = new StringBuilder();
        sb.Append("ladder: session ").Append(s.Id).Append(" (client ").Append(Ep(s.Client)).Append(", server ").Append(Ep(s.Server)).AppendLine(")");
        sb.AppendLine("     time  who      what (C = client, S = server; datagrams show their records: CH ClientHello, SH ServerHello, CERT, SKE, CR, SHD, CKE, CV, CCS, FIN)");
        foreach (var line in LadderLines(s))
        {
            sb.AppendLine(line);
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"result: {s.Outcome}{(s.HandshakeMs is { } ms ? " in " + Ms(ms) : string.Empty)}");
        var c2s = s.Events.Count(e => s.SideOf(e) == Side.Client);
        var s2c = s.Events.Count - c2s;
        var largest = s.Events.Count == 0 ? 0 : s.Events.Max(e => e.Size);
        sb.AppendLine(CultureInfo.InvariantCulture, $"datagrams: C->S {c2s}, S->C {s2c} (STUN and DTLS); largest {largest} B; {s.Retransmissions} retransmission(s); media {s.RtpPackets} RTP, {s.RtcpPackets} RTCP");
        return sb.ToString();
    }

    /// <summary>A resend within this long after the peer's repeated flight, and well before its own timer, answers that flight.</summary>
    internal const long AnswerWindowNs = 50_000_000;

    private static IEnumerable<string> LadderLines(DoctorSession s)
    {
        var txByFirst = new Dictionary<WireEvent, Transmission>(ReferenceEqualityComparer.Instance);
        var txOf = new Dictionary<WireEvent, Transmission>(ReferenceEqualityComparer.Instance);
        foreach (var t in s.Transmissions)
        {
            txByFirst[t.Datagrams[0]] = t;
            foreach (var d in t.Datagrams)
            {
                txOf[d] = t;
            }
        }

        var lastSendOfFlight = new Dictionary<FlightRecord, (long Ns, int Tuple)>();
        var lastBySide = new Dictionary<Side, long>();
        var lastRepeatBySide = new Dictionary<Side, (long Ns, int Flight)>();
        var stunOnTuple = new HashSet<int>();
        var index = 0;
        foreach (var e in s.Events)
        {
            index++;
            if (index > MaxLadderLines)
            {
                yield return $"({s.Events.Count - MaxLadderLines} later datagrams not drawn)";
                yield break;
            }

            var side = s.SideOf(e);
            var arrow = side == Side.Client ? "C ----> S" : "C <---- S";
            var tupleIndex = s.TupleIndex(e);
            var tuple = s.Tuples.Count > 1 ? $"[{tupleIndex + 1}] " : string.Empty;
            var what = e.Stun?.Describe() ?? e.Dtls?.Description ?? e.Kind.ToString();
            var notes = new List<string>();
            if (txByFirst.TryGetValue(e, out var tx))
            {
                if (tx.Number > 1)
                {
                    notes.Add(ResendLabel(tx, tupleIndex, lastSendOfFlight, lastBySide, lastRepeatBySide, stunOnTuple));
                }
                else
                {
                    notes.Add($"{Name(tx.Side)} flight {tx.Flight.Index}");
                }

                lastSendOfFlight[tx.Flight] = (tx.StartNs, tupleIndex);
            }

            if (txOf.TryGetValue(e, out var sent) && sent.Number > 1)
            {
                lastRepeatBySide[side] = (e.TimestampNs, sent.Flight.Index);
            }

            if (e.Stun is not null)
            {
                stunOnTuple.Add(tupleIndex);
            }

            lastBySide[side] = e.TimestampNs;
            if (e.IpFragments > 0)
            {
                notes.Add($"IP-fragmented ({e.IpFragments} fragments)");
            }

            if (e.Dtls is { } d)
            {
                notes.AddRange(d.Alerts.Select(a => a.Describe()));
                notes.AddRange(d.Hellos.Where(h => h.Type.Value == 3).Select(h => $"cookie {h.CookieLength} B"));
            }

            if (e.Tcp)
            {
                notes.Add("ICE-TCP");
            }

            if (e.Relay is { } relay)
            {
                notes.Add(relay.Channel is { } ch ? $"TURN channel 0x{ch:X4}" : "TURN indication");
            }

            if (e.Truncated)
            {
                notes.Add("cut by the snap length");
            }

            yield return string.Create(CultureInfo.InvariantCulture, $"{Ms(s.StartNs, e.TimestampNs),10}  {arrow}  {tuple}#{index,-3} {e.Size,5} B  {what,-34}  {string.Join("; ", notes)}").TrimEnd();
        }
    }

    // Why a resend went out, in this order: on a tuple other than the previous send's after ICE checks there (the
    // selection changed); within AnswerWindowNs after a datagram of the peer's own repeated flight and in at most a
    // quarter of the time since its previous send (its timer cannot have fired that early: it answers the repeat);
    // within 2 ms of any peer datagram; within 2 ms of its own previous copy; otherwise its retransmission timer.
    private static string ResendLabel(
        Transmission tx,
        int tupleIndex,
        Dictionary<FlightRecord, (long Ns, int Tuple)> lastSendOfFlight,
        Dictionary<Side, long> lastBySide,
        Dictionary<Side, (long Ns, int Flight)> lastRepeatBySide,
        HashSet<int> stunOnTuple)
    {
        var hasPrev = lastSendOfFlight.TryGetValue(tx.Flight, out var prev);
        var since = hasPrev ? $" (+{Ms(prev.Ns, tx.StartNs)})" : string.Empty;
        var resend = $"resend {tx.Number - 1} of {Name(tx.Side)} flight {tx.Flight.Index}{since}";
        if (!hasPrev)
        {
            return $"{LabLadder.TimerMark} {resend}";
        }

        var other = tx.Side == Side.Client ? Side.Server : Side.Client;
        if (prev.Tuple != tupleIndex && stunOnTuple.Contains(tupleIndex))
        {
            return $"{resend}, resent on the new tuple (ICE selection changed)";
        }

        var sincePrev = tx.StartNs - prev.Ns;
        if (lastRepeatBySide.TryGetValue(other, out var repeat) && repeat.Ns > prev.Ns
            && tx.StartNs - repeat.Ns <= AnswerWindowNs && (tx.StartNs - repeat.Ns) * 4 <= sincePrev)
        {
            return $"{resend}, answering the {Name(other)}'s repeated flight {repeat.Flight} ({Ms(repeat.Ns, tx.StartNs)} after it)";
        }

        return lastBySide.TryGetValue(other, out var peerNs) && peerNs > prev.Ns && tx.StartNs - peerNs < 2_000_000
            ? $"{resend}, at once after a datagram from the {Name(other)}"
            : sincePrev < 2_000_000
                ? $"{resend}, an immediate copy"
                : $"{LabLadder.TimerMark} {resend}";
    }

    /// <summary>The report as one JSON object (only session <paramref name="onlySession"/> when given).</summary>
    public static string RenderJson(DoctorResult r, int? onlySession = null)
    {
        ArgumentNullException.ThrowIfNull(r);
        var doc = new Dictionary<string, object?>
        {
            ["file"] = r.File,
            ["format"] = r.Format == Capture.CaptureFileFormat.PcapNg ? "pcapng" : "pcap",
            ["durationS"] = Math.Round((r.LastNs - r.FirstNs) / 1e9, 6),
            ["stoppedEarly"] = r.StoppedBy?.Message,
            ["decoded"] = new Dictionary<string, object?>
            {
                ["frames"] = r.Stats.Frames,
                ["udpDatagrams"] = r.Stats.UdpDatagrams,
                ["tcpFrames"] = r.Stats.TcpFrames,
                ["ipFragments"] = r.Stats.Fragments,
                ["fragmentedDatagrams"] = r.Stats.FragmentedDatagrams,
                ["fragmentedDatagramsDropped"] = r.Stats.FragmentedDatagramsDropped,
                ["unsupportedLinkFrames"] = r.Stats.UnsupportedLinkFrames,
                ["nonIpFrames"] = r.Stats.NonIpFrames,
                ["malformedPackets"] = r.Stats.MalformedPackets,
                ["truncatedPackets"] = r.Stats.TruncatedPackets,
                ["otherProtocolPackets"] = r.Stats.OtherProtocolPackets,
                ["tcpStreamsWithoutSyn"] = r.Stats.TcpStreamsWithoutSyn,
                ["tcpStreamsDropped"] = r.Stats.TcpStreamsDropped,
                ["turnChannelData"] = r.Stats.TurnChannelData,
                ["turnIndications"] = r.Stats.TurnIndications,
                ["turnControlMessages"] = r.Stats.TurnControlMessages,
                ["tuplesOverLimit"] = r.TuplesOverLimit,
            },
            ["failed"] = AnyFailure(r, onlySession),
            ["sessionCount"] = r.Sessions.Count,
            ["onlySession"] = onlySession,
            ["sessions"] = Selected(r, onlySession).Select(s => new Dictionary<string, object?>
            {
                ["id"] = s.Id,
                ["client"] = s.Client?.ToString(),
                ["server"] = s.Server?.ToString(),
                ["tuples"] = s.Tuples.Select(t => new Dictionary<string, object?> { ["a"] = t.A.ToString(), ["b"] = t.B.ToString(), ["tcp"] = t.Tcp }).ToList(),
                ["relays"] = Relays(s).Select(x => new Dictionary<string, object?> { ["server"] = x.Server.ToString(), ["channel"] = x.Channel, ["peerKnown"] = x.PeerKnown, ["text"] = x.Describe() }).ToList(),
                ["version"] = s.Version,
                ["cipherSuite"] = s.CipherSuite,
                ["outcome"] = s.Outcome,
                ["handshakeMs"] = s.HandshakeMs is { } ms ? Math.Round(ms, 3) : null,
                ["datagrams"] = s.Events.Count,
                ["retransmissions"] = s.Retransmissions,
                ["stunRequests"] = s.Events.Count(e => e.Stun is { Class: StunClass.Request }),
                ["stunResponses"] = s.Events.Count(e => e.Stun is { Class: StunClass.SuccessResponse }),
                ["rtp"] = s.RtpPackets,
                ["rtcp"] = s.RtcpPackets,
                ["largestDatagram"] = s.Events.Count == 0 ? 0 : s.Events.Max(e => e.Size),
                ["flights"] = s.Flights.Select(f => new Dictionary<string, object?>
                {
                    ["side"] = Name(f.Side),
                    ["index"] = f.Index,
                    ["messages"] = f.Name,
                    ["sentAtMs"] = f.Transmissions.Select(t => Math.Round((t.StartNs - s.StartNs) / 1e6, 3)).ToList(),
                    ["largest"] = f.Transmissions.Max(t => t.Largest),
                }).ToList(),
                ["verdicts"] = s.Verdicts.Select(v => new Dictionary<string, object?>
                {
                    ["code"] = v.Code,
                    ["severity"] = v.Severity.ToString().ToLowerInvariant(),
                    ["title"] = v.Title,
                    ["evidence"] = v.Evidence,
                    ["fix"] = v.Fix,
                    ["proves"] = v.Proves,
                    ["cannotSee"] = v.CannotSee,
                }).ToList(),
            }).ToList(),
        };
        return JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// A self-contained HTML page on the CLI's shared shell (<see cref="ReportPage"/>): a PASS/FAIL banner, one summary
    /// sentence per session, then each session's verdicts (evidence, fix, what the capture proves and cannot see) and its
    /// ladder (wrapped, never scrolling sideways).
    /// </summary>
    public static string RenderHtml(DoctorResult r, int? onlySession = null)
    {
        ArgumentNullException.ThrowIfNull(r);
        var failed = AnyFailure(r, onlySession);
        var shown = Selected(r, onlySession).ToList();
        var page = new ReportPage("airlift doctor: " + Path.GetFileName(r.File) + (onlySession is { } one ? $", session {one}" : string.Empty))
            .Banner(!failed, r.Sessions.Count == 0
                ? "no STUN or DTLS traffic in the capture"
                : onlySession is { } only
                    ? $"session {only} of {r.Sessions.Count}: {(failed ? "failed" : "no failure")}"
                    : $"{r.Sessions.Count(s => s.Verdicts.Any(v => v.Severity == Severity.Failure))} of {r.Sessions.Count} session(s) failed")
            .Summary(shown.Select(s => $"Session {s.Id} ({Ep(s.Client)} to {Ep(s.Server)}): {s.Outcome}{(s.HandshakeMs is { } ms ? " in " + Ms(ms) : string.Empty)}; "
                + (s.Verdicts.Count == 0 ? "no problem found." : string.Join("; ", s.Verdicts.Select(v => $"{Label(v.Severity).ToLowerInvariant()}: {v.Title}")) + ".")))
            .Details([Header(r), Decoded(r), .. r.StoppedBy is { } stop ? new[] { $"The capture stops early: {stop.Message}. The analysis covers the packets before it." } : []]);
        foreach (var s in shown)
        {
            var body = new StringBuilder();
            foreach (var v in s.Verdicts)
            {
                var colour = v.Severity switch { Severity.Failure => "#c62828", Severity.Recovered => "#b26a00", _ => "#1565c0" };
                body.AppendLine(CultureInfo.InvariantCulture, $"<div style=\"border-left:5px solid {colour};padding:.2rem .8rem;margin:.8rem 0;background:#fafafa\"><h3>{ReportPage.Encode(Label(v.Severity) + " " + v.Title)}</h3><ul>");
                foreach (var e in v.Evidence)
                {
                    body.AppendLine(CultureInfo.InvariantCulture, $"<li>{ReportPage.Encode(e)}</li>");
                }

                body.AppendLine(CultureInfo.InvariantCulture, $"</ul><p><b>Fix:</b> {ReportPage.Encode(v.Fix)}</p><p><b>Proves:</b> {ReportPage.Encode(v.Proves)}</p><p class=\"muted\"><b>Cannot see:</b> {ReportPage.Encode(string.Join(" ", v.CannotSee))}</p></div>");
            }

            if (s.Verdicts.Count == 0)
            {
                body.AppendLine("<p class=\"pass\">No problem found.</p>");
            }

            body.AppendLine(CultureInfo.InvariantCulture, $"<pre style=\"white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:.8rem;font-size:.8rem\">{ReportPage.Encode(Ladder(s))}</pre>");
            page.Section($"session-{s.Id}", SessionLine(s), body.ToString());
        }

        return page.Render();
    }

    private static string Header(DoctorResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"airlift doctor: {r.File} ({(r.Format == Capture.CaptureFileFormat.PcapNg ? "pcapng" : "pcap")}, {r.Stats.Frames} frames over {(r.LastNs - r.FirstNs) / 1e9:0.###} s, {r.Sessions.Count} session(s))");

    private static string Decoded(DoctorResult r)
    {
        var st = r.Stats;
        var parts = new List<string> { $"{st.UdpDatagrams} UDP datagrams", $"{st.TcpFrames} ICE-TCP frames" };
        if (st.TurnChannelData > 0 || st.TurnIndications > 0 || st.TurnControlMessages > 0)
        {
            parts.Add($"TURN: {st.TurnChannelData} ChannelData and {st.TurnIndications} Send/Data indication(s) unwrapped, {st.TurnControlMessages} control message(s)");
        }

        if (st.FragmentedDatagrams > 0 || st.Fragments > 0)
        {
            parts.Add($"{st.FragmentedDatagrams} IP-fragmented datagram(s) reassembled from {st.Fragments} fragments ({st.FragmentedDatagramsDropped} incomplete)");
        }

        var skipped = new List<string>();
        void Skip(long n, string what)
        {
            if (n > 0)
            {
                skipped.Add($"{n} {what}");
            }
        }

        Skip(st.UnsupportedLinkFrames, "frames of an unsupported link type");
        Skip(st.NonIpFrames, "non-IP frames");
        Skip(st.MalformedPackets, "malformed packets");
        Skip(st.TruncatedPackets, "packets cut by the snap length (their sizes are still used)");
        Skip(st.OtherProtocolPackets, "packets of other IP protocols");
        Skip(st.TcpStreamsWithoutSyn, "TCP streams joined midway (not decoded)");
        Skip(st.TcpStreamsDropped, "TCP streams given up");
        Skip(r.TuplesOverLimit, "datagrams over the tuple limit");
        return "decoded: " + string.Join(", ", parts) + (skipped.Count > 0 ? "; skipped: " + string.Join(", ", skipped) : string.Empty);
    }

    private static string SessionLine(DoctorSession s)
    {
        var tuples = s.Tuples.Count > 1 ? $" over {s.Tuples.Count} tuples" : s.Tuples.Count == 1 && s.Tuples[0].Tcp ? " (ICE-TCP)" : string.Empty;
        var relays = Relays(s);
        if (relays.Count > 0)
        {
            tuples += " via " + string.Join(", ", relays.Select(x => x.Describe()));
        }

        var dtls = s.Version is null ? string.Empty : $"; {s.Version}{(s.CipherSuite is null ? string.Empty : " " + s.CipherSuite)}";
        return $"session {s.Id}: client {Ep(s.Client)} <-> server {Ep(s.Server)}{tuples}{dtls}; {s.Events.Count} STUN/DTLS datagrams, {s.Retransmissions} retransmission(s); {s.Outcome}{(s.HandshakeMs is { } ms ? " in " + Ms(ms) : string.Empty)}";
    }

    /// <summary>The TURN relays a session's datagrams were unwrapped from (distinct, in order of first use).</summary>
    private static List<Capture.TurnRelay> Relays(DoctorSession s) =>
        s.Events.Select(e => e.Relay).OfType<Capture.TurnRelay>().Distinct().ToList();

    private static string Label(Severity severity) => severity switch
    {
        Severity.Failure => "FAILURE",
        Severity.Recovered => "RECOVERED",
        _ => "NOTE",
    };

}
