using System.Globalization;
using Airlift.Dtls;
using Airlift.Ice.Stun;
using Airlift.NetEm;
using static Airlift.Cli.Doctor.DoctorText;

namespace Airlift.Cli.Doctor;

/// <summary>
/// Rebuilds a session's handshake (flights, transmissions, who answered) and names its failures: the four field
/// failures of docs/scenarios.md (F1-F4), cookie loops, version and cipher mismatches, certificate rejections, a peer
/// that never answered, ICE checks without answers, consent expiry.
/// </summary>
internal static class DoctorVerdicts
{
    /// <summary>RFC 7675 5.1: consent expires 30 s after the last successful check.</summary>
    public static readonly TimeSpan ConsentTimeout = TimeSpan.FromSeconds(30);

    private const string SeenHere = "A capture shows what crossed the capture point: whether a datagram reached the other side is inferred from that side's answers.";

    /// <summary>Fills <paramref name="s"/>'s flights, outcome and verdicts.</summary>
    public static void Analyze(DoctorSession s, DoctorOptions options, long captureEndNs)
    {
        BuildFlights(s);
        MarkAnswers(s);
        ReadHellos(s);
        var completed = Outcome(s);
        var cannotSee = CannotSee(s);

        CookieLoop(s, cannotSee);
        Alerts(s, cannotSee);
        OneWayTuple(s, cannotSee, completed);
        Oversize(s, options, cannotSee);
        FinalFlight(s, cannotSee, completed);
        if (s.Verdicts.All(v => v.Severity != Severity.Failure) && !completed)
        {
            NoAnswer(s, cannotSee);
        }

        Consent(s, captureEndNs, cannotSee);
        if (!completed && s.Verdicts.All(v => v.Severity != Severity.Failure) && s.Transmissions.Count > 0 && !s.Outcome.StartsWith("encrypted", StringComparison.Ordinal))
        {
            var lastTx = s.Transmissions[^1];
            s.Verdicts.Add(new Verdict(
                VerdictCodes.Incomplete,
                Severity.Failure,
                "The handshake did not complete, and no known failure pattern explains it",
                [$"last handshake datagram: {Name(lastTx.Side)} flight {lastTx.Flight.Index} ({lastTx.Flight.Name}) at {Ms(s.StartNs, lastTx.StartNs)}", $"{s.Retransmissions} retransmission(s) in the session"],
                "Capture on both sides, or longer: the capture may end before the handshake could finish or fail.",
                "The handshake was not seen to finish.",
                cannotSee));
        }
    }

    private static void BuildFlights(DoctorSession s)
    {
        Side? lastSender = null;
        var current = new Dictionary<Side, Transmission>();
        var owner = new Dictionary<(Side, string), FlightRecord>();
        var newFlightAt = new Dictionary<Side, long>();
        foreach (var e in s.Events)
        {
            if (e.Dtls is not { } d)
            {
                continue;
            }

            var side = s.SideOf(e);
            if (d.Pieces.Count == 0)
            {
                lastSender = side;
                continue;
            }

            current.TryGetValue(side, out var cur);
            FlightRecord? known = null;
            foreach (var p in d.Pieces)
            {
                if (owner.TryGetValue((side, p), out var f))
                {
                    known = f;
                    break;
                }
            }


            // A datagram continues this side's current transmission unless it repeats a piece of it, or the other side
            // started a new flight meanwhile (the other side's resends may interleave: they do not end a transmission).
            var other = side == Side.Client ? Side.Server : Side.Client;
            // A resend holds the messages of its flight only: a datagram with a message the flight never had (the next
            // flight, e.g. CCS and Finished after a resent ServerHello flight) starts a new flight, even from the same side.
            var newMessage = cur is { Number: > 1 } && d.Pieces.Any(p => !cur.Flight.Pieces.Any(q => SameMessage(p, q)));
            var continues = cur is not null
                && !newMessage
                && !d.Pieces.Any(cur.Pieces.Contains)
                && (lastSender == side || (known is not null && known == cur.Flight && (!newFlightAt.TryGetValue(other, out var otherNew) || otherNew < cur.StartNs)));
            var latest = s.Flights.LastOrDefault(f => f.Side == side);
            Transmission tx;
            if (continues && (known is null ? cur!.Flight == latest : cur!.Flight == known))
            {
                tx = cur!;
            }
            else
            {
                var flight = known;
                if (flight is null)
                {
                    flight = new FlightRecord { Side = side, Index = s.Flights.Count + 1 };
                    s.Flights.Add(flight);
                }

                tx = new Transmission { Side = side, Flight = flight, Number = flight.Transmissions.Count + 1 };
                if (tx.Number == 1)
                {
                    newFlightAt[side] = e.TimestampNs;
                }

                flight.Transmissions.Add(tx);
                s.Transmissions.Add(tx);
                current[side] = tx;
            }

            tx.Datagrams.Add(e);
            foreach (var p in d.Pieces)
            {
                tx.Pieces.Add(p);
                tx.Flight.Pieces.Add(p);
                owner[(side, p)] = tx.Flight;
            }

            lastSender = side;
        }

        foreach (var f in s.Flights)
        {
            var names = f.Pieces
                .Where(p => p.Contains(':', StringComparison.Ordinal))
                .Select(p => p.Split(':'))
                .Select(p => (Type: byte.Parse(p[0], CultureInfo.InvariantCulture), Seq: int.Parse(p[1], CultureInfo.InvariantCulture)))
                .Distinct()
                .OrderBy(p => p.Seq)
                .Select(p => DtlsDatagramInspector.ShortName(new HandshakeType(p.Type)))
                .Distinct()
                .ToList();
            if (f.Pieces.Contains("CCS"))
            {
                names.Add("CCS");
            }

            if (f.Pieces.Contains("EFIN"))
            {
                names.Add("FIN");
            }

            f.Name = string.Join(' ', names);
        }
    }

    // "type:seq:offset" pieces of one handshake message (any offset), or the same CCS / encrypted Finished.
    private static bool SameMessage(string a, string b)
    {
        var i = a.LastIndexOf(':');
        var j = b.LastIndexOf(':');
        return i < 0 || j < 0 ? a == b : a.AsSpan(0, i).SequenceEqual(b.AsSpan(0, j));
    }

    private static void MarkAnswers(DoctorSession s)
    {
        var txs = s.Transmissions;
        for (var i = 0; i < txs.Count; i++)
        {
            var t = txs[i];
            var next = txs.Skip(i + 1).FirstOrDefault(x => x.Side == t.Side)?.StartNs ?? long.MaxValue;
            t.Answered = txs.Any(x => x.Side != t.Side && x.Number == 1 && x.StartNs > t.StartNs && x.StartNs <= next)
                || s.Events.Any(e => e.Dtls is { ApplicationData: true } && s.SideOf(e) != t.Side && e.TimestampNs > t.StartNs && e.TimestampNs <= next);
        }
    }

    private static void ReadHellos(DoctorSession s)
    {
        s.ClientHello = FirstHello(s, HandshakeType.ClientHello);
        s.ServerHello = FirstHello(s, HandshakeType.ServerHello);
        if (s.ServerHello is { } sh)
        {
            s.Version = sh.EffectiveVersion.ToString();
            s.CipherSuite = sh.CipherSuites.Count > 0 ? sh.CipherSuites[0].Name : null;
        }
        else if (s.Events.Any(e => e.Dtls is { Unified: true }))
        {
            s.Version = ProtocolVersion.Dtls13.ToString();
        }
    }

    // The first complete hello of a type: whole in one fragment, or reassembled from the fragments of one message.
    private static HelloInfo? FirstHello(DoctorSession s, HandshakeType type)
    {
        Dictionary<(System.Net.IPEndPoint, int), (byte[] Bytes, bool[] Have)>? pending = null;
        foreach (var e in s.Events)
        {
            if (e.Dtls is not { } d)
            {
                continue;
            }

            foreach (var h in d.Hellos)
            {
                if (h.Type == type && h.Complete && !h.HelloRetryRequest)
                {
                    return h;
                }
            }

            foreach (var f in d.HelloFragments)
            {
                if (f.Type != type || f.Length > 65_536)
                {
                    continue;
                }

                pending ??= [];
                var key = (e.From, f.Seq);
                if (!pending.TryGetValue(key, out var p))
                {
                    if (pending.Count >= 16)
                    {
                        continue;
                    }

                    p = (new byte[f.Length], new bool[f.Length]);
                    pending[key] = p;
                }

                if (p.Bytes.Length != f.Length)
                {
                    continue;
                }

                f.Bytes.CopyTo(p.Bytes, f.Offset);
                Array.Fill(p.Have, true, f.Offset, f.Bytes.Length);
                if (Array.TrueForAll(p.Have, x => x) && WireDecoder.ReadHello(type, p.Bytes, true) is { HelloRetryRequest: false } whole)
                {
                    return whole;
                }
            }
        }

        return null;
    }

    // Sets the outcome; true when the handshake completed (or, for DTLS 1.3, very likely did).
    private static bool Outcome(DoctorSession s)
    {
        var dtls = s.Events.Where(e => e.Dtls is not null).ToList();
        if (dtls.Count == 0)
        {
            var ok = s.Events.Any(e => e.Stun is { Class: StunClass.SuccessResponse });
            s.Outcome = ok ? "ICE only (no DTLS in the capture)" : "ICE checks without answers";
            return ok;
        }

        var start = dtls[0].TimestampNs;
        if (s.Version == ProtocolVersion.Dtls13.ToString())
        {
            var both = dtls.Any(e => e.Dtls!.Unified && s.SideOf(e) == Side.Client) && dtls.Any(e => e.Dtls!.Unified && s.SideOf(e) == Side.Server);
            var fatal = dtls.Any(e => e.Dtls!.Alerts.Count > 0);
            s.Outcome = both && !fatal ? "encrypted DTLS 1.3 handshake: both sides exchanged encrypted records" : "encrypted DTLS 1.3 handshake, not seen to finish";
            if (both && !fatal)
            {
                // SRTP/SRTCP (or 1.2 application data) only flows once the handshake is done: the client's last encrypted
                // record before it is its Finished (later ones are ACKs, alerts or data, not the handshake).
                var firstData = Math.Min(dtls.FirstOrDefault(x => x.Dtls!.ApplicationData)?.TimestampNs ?? long.MaxValue, s.FirstMediaNs ?? long.MaxValue);
                if (dtls.LastOrDefault(e => e.Dtls!.Unified && s.SideOf(e) == Side.Client && e.TimestampNs < firstData) is { } lastClient)
                {
                    s.HandshakeMs = (lastClient.TimestampNs - start) / 1e6;
                }
            }

            return both && !fatal;
        }

        var finals = s.Flights.Where(f => f.HasChangeCipherSpec).ToList();
        var clientFinal = finals.FirstOrDefault(f => f.Side == Side.Client);
        var serverFinal = finals.FirstOrDefault(f => f.Side == Side.Server);
        if (clientFinal is null || serverFinal is null)
        {
            s.Outcome = "not completed";
            return false;
        }

        var (last, peer) = serverFinal.Transmissions[0].StartNs >= clientFinal.Transmissions[0].StartNs ? (serverFinal, clientFinal) : (clientFinal, serverFinal);
        var lastTx = last.Transmissions[^1];
        var peerAfter = peer.Transmissions.Count(t => t.StartNs > lastTx.StartNs);
        var peerData = s.Events.Any(e => e.Dtls is { ApplicationData: true } && s.SideOf(e) == peer.Side && e.TimestampNs > lastTx.StartNs);
        var completed = peerAfter <= 1 || peerData;
        s.Outcome = completed ? "completed" : "not completed";
        if (completed)
        {
            s.HandshakeMs = (lastTx.StartNs - start) / 1e6;
        }

        return completed;
    }

    private static List<string> CannotSee(DoctorSession s)
    {
        var list = new List<string> { SeenHere };
        if (s.Events.Any(e => e.Dtls is { Unified: true }))
        {
            list.Add("The DTLS 1.3 handshake after ServerHello is encrypted: its flights and resends are not visible, only datagram sizes and timing.");
        }

        if (s.Events.Any(e => e.Dtls is { } d && d.Alerts.Any(a => a.Encrypted)))
        {
            list.Add("Encrypted alerts (after ChangeCipherSpec) cannot be read without the keys.");
        }

        if (s.EventsOmitted > 0)
        {
            list.Add($"{s.EventsOmitted} later STUN/DTLS datagrams were not kept (event limit).");
        }

        return list;
    }

    private static void Alerts(DoctorSession s, List<string> cannotSee)
    {
        var ch = s.ClientHello;
        var offered = ch is null
            ? "no ClientHello in the capture"
            : $"the ClientHello offered {Versions(ch)} and {ch.CipherSuites.Count} cipher suite(s): {string.Join(", ", ch.CipherSuites.Take(8).Select(c => c.Name))}{(ch.CipherSuites.Count > 8 ? ", ..." : string.Empty)}";
        var chosen = s.Version is null ? "no ServerHello was sent" : $"the ServerHello chose {s.Version}{(s.CipherSuite is null ? string.Empty : " with " + s.CipherSuite)}";
        foreach (var e in s.Events)
        {
            if (e.Dtls is not { } d)
            {
                continue;
            }

            foreach (var a in d.Alerts)
            {
                var who = Name(s.SideOf(e));
                var when = Ms(s.StartNs, e.TimestampNs);
                if (a.Encrypted)
                {
                    if (s.Outcome != "completed" && !s.Verdicts.Any(v => v.Code == VerdictCodes.EncryptedAlert))
                    {
                        s.Verdicts.Add(new Verdict(
                            VerdictCodes.EncryptedAlert,
                            Severity.Failure,
                            $"The {who} ended the handshake with an encrypted alert",
                            [$"{who} sent an encrypted alert at {when}, after the keys changed", "typical causes: the peer's certificate does not match the fingerprint in the SDP, a client certificate was required or rejected, a Finished did not verify"],
                            "Check the certificate fingerprint exchanged in the signalling against the certificate each side uses (airlift: --expect-fingerprint), and both sides' logs for the reason.",
                            "The handshake reached the encrypted messages and the " + who + " aborted it.",
                            cannotSee));
                    }

                    continue;
                }

                if ((a.Level != AlertLevel.Fatal && a.Description != AlertDescription.CloseNotify) || s.Verdicts.Any(v => v.Code == VerdictCodes.CookieLoop))
                {
                    continue; // a cookie loop's closing alert is part of that finding
                }

                var onlyOne = ch is { SupportedVersions.Count: > 0 } && ch.SupportedVersions.All(v => v == ProtocolVersion.Dtls13);
                var description = a.Description == AlertDescription.HandshakeFailure && onlyOne && s.ServerHello is null
                    ? AlertDescription.ProtocolVersion // a 1.3-only ClientHello refused before any ServerHello: the server has no DTLS 1.3
                    : a.Description;
                // RFC 5764 4.1.1: a DTLS 1.2 server that accepts use_srtp answers it in its ServerHello; one that has no
                // profile in common (or none configured) leaves it out, and a WebRTC client must then abort.
                var srtp = ch is { UseSrtp: true }
                    && s.ServerHello is { UseSrtp: false } sh && sh.EffectiveVersion != ProtocolVersion.Dtls13
                    && description is AlertDescription.InsufficientSecurity or AlertDescription.HandshakeFailure or AlertDescription.IllegalParameter or AlertDescription.UnsupportedExtension;
                var (code, title, fix) = srtp
                    ? (VerdictCodes.SrtpMismatch, "SRTP protection profile mismatch (use_srtp offered, not answered)",
                        "Give the server the SRTP profiles the client offers (airlift --srtp SRTP_AES128_CM_HMAC_SHA1_80,SRTP_AEAD_AES_128_GCM), or do not offer use_srtp from a client that needs no media keys.")
                    : description switch
                    {
                        AlertDescription.ProtocolVersion => (VerdictCodes.VersionMismatch, "DTLS version mismatch",
                            "Let both sides share a version: airlift --dtls both (1.3 preferred, 1.2 for older peers)."),
                        AlertDescription.HandshakeFailure or AlertDescription.InsufficientSecurity or AlertDescription.IllegalParameter => (VerdictCodes.CipherMismatch, "No cipher suite, group or parameter both sides accept",
                            "Offer a suite the peer has for its certificate type (ECDSA certificate: TLS_ECDHE_ECDSA_*; RSA: TLS_ECDHE_RSA_*); airlift --cipher lists the names."),
                        AlertDescription.BadCertificate or AlertDescription.UnsupportedCertificate or AlertDescription.CertificateExpired
                            or AlertDescription.CertificateUnknown or AlertDescription.UnknownCa or AlertDescription.DecryptError => (VerdictCodes.CertificateRejected, "Certificate or fingerprint rejected",
                            "Make the fingerprint in the signalling (a=fingerprint) match the certificate the peer really uses; airlift --expect-fingerprint \"sha-256 ...\"."),
                        _ => (VerdictCodes.Incomplete, $"Fatal alert {AlertInfo.AlertName(a.Description)}", "Read the sender's log for the reason of the alert."),
                    };
                if (a.Description == AlertDescription.CloseNotify || s.Verdicts.Any(v => v.Code == code))
                {
                    continue;
                }

                s.Verdicts.Add(new Verdict(
                    code,
                    Severity.Failure,
                    title,
                    [$"{who} sent {a.Describe()} at {when}", offered, chosen, .. description != a.Description ? new[] { "the ClientHello offered DTLS 1.3 only (supported_versions); a server without DTLS 1.3 can only refuse it" } : [],
                        .. srtp ? new[] { "the ClientHello offered use_srtp (RFC 5764); the ServerHello has no use_srtp: the server shares no SRTP protection profile with the client (or has none configured)" } : []],
                    fix,
                    $"The {who} refused the handshake with a plaintext alert: the reason is visible on the wire.",
                    cannotSee));
            }
        }
    }

    private static string Versions(HelloInfo ch) =>
        ch.SupportedVersions.Count > 0 ? string.Join("/", ch.SupportedVersions.Select(v => v.ToString())) : ch.LegacyVersion.ToString();

    private static void CookieLoop(DoctorSession s, List<string> cannotSee)
    {
        var hvrAfterCookie = 0;
        var sawCookie = false;
        long firstNs = 0;
        foreach (var e in s.Events)
        {
            if (e.Dtls is not { } d)
            {
                continue;
            }

            if (d.Hellos.Any(h => h.Type == HandshakeType.ClientHello && h.CookieLength > 0))
            {
                sawCookie = true;
                firstNs = firstNs == 0 ? e.TimestampNs : firstNs;
            }

            if (d.HelloVerifyRequest && sawCookie)
            {
                hvrAfterCookie++;
            }
        }

        var progressed = s.Events.Any(e => e.Dtls is { } d && d.Hellos.Any(h => h.Type == HandshakeType.ServerHello));
        if (hvrAfterCookie >= 2 && !progressed)
        {
            // ClientHellos of one handshake (same random) from several client addresses: the address changed between them.
            var sources = s.Events
                .Where(e => e.Dtls is { } d && d.Hellos.Any(h => h.Type == HandshakeType.ClientHello))
                .GroupBy(e => e.Dtls!.Hellos.First(h => h.Type == HandshakeType.ClientHello).Random ?? string.Empty)
                .Select(g => g.Select(e => e.From).Distinct().Count())
                .DefaultIfEmpty(0)
                .Max();
            var evidence = new List<string> { $"{hvrAfterCookie} HelloVerifyRequest(s) answered ClientHellos that already carried a cookie (from {Ms(s.StartNs, firstNs)})", "no ServerHello was ever sent" };
            if (s.Events.LastOrDefault(e => e.Dtls is { } d && d.Alerts.Any(a => !a.Encrypted && a.Level == AlertLevel.Fatal)) is { } end)
            {
                evidence.Add($"the {Name(s.SideOf(end))} gave up with {end.Dtls!.Alerts.First(a => !a.Encrypted && a.Level == AlertLevel.Fatal).Describe()} at {Ms(s.StartNs, end.TimestampNs)}");
            }

            if (sources > 1)
            {
                evidence.Add($"the ClientHellos of this handshake (one client random) came from {sources} different client addresses/ports: the client's address changed between ClientHellos, and a cookie is bound to the address it was sent to");
            }
            else
            {
                evidence.Add("every ClientHello came from the same client address: the server's cookie check fails for another reason (its secret changes, or several servers share the address)");
            }

            s.Verdicts.Add(new Verdict(
                VerdictCodes.CookieLoop,
                Severity.Failure,
                "Cookie loop: the server answers every ClientHello with a new HelloVerifyRequest",
                evidence,
                sources > 1
                    ? "The path changes the client's address or port on every datagram (a NAT that rebinds, a relay or load balancer that uses a new source port per datagram): fix the path so one flow keeps one mapping, or send the DTLS over the ICE-selected tuple directly."
                    : "The server rejects its own cookies: its cookie secret changes between requests, or the client's address/port changes (NAT rebinding, a proxy) between the two ClientHellos; pin the secret (one listener) and check the path.",
                "The client echoed cookies and the server kept refusing them.",
                cannotSee));
        }
    }

    private static void Oversize(DoctorSession s, DoctorOptions options, List<string> cannotSee)
    {
        if (s.Verdicts.Any(v => v.Code == VerdictCodes.F3))
        {
            return; // the flight went to a tuple that never answers: its size is not the question
        }

        // Sizes proved to cross: answered flights, and STUN requests that got a response.
        var answeredStun = new HashSet<string>(s.Events.Where(e => e.Stun is { Class: StunClass.SuccessResponse or StunClass.ErrorResponse }).Select(e => e.Stun!.TransactionId));
        var crossed = s.Transmissions.Where(t => t.Answered).SelectMany(t => t.Datagrams).Select(d => d.Size)
            .Concat(s.Events.Where(e => e.Stun is { Class: StunClass.Request } st && answeredStun.Contains(st.TransactionId)).Select(e => e.Size))
            .DefaultIfEmpty(0).Max();
        foreach (var side in new[] { Side.Server, Side.Client })
        {
            var unanswered = s.Transmissions.Where(t => t.Side == side && !t.Answered && t.Flight.Transmissions.Count >= 2).ToList();
            var big = unanswered.Where(t => t.Largest > crossed || t.Datagrams.Any(d => d.IpFragments > 0)).ToList();
            if (big.Count == 0)
            {
                continue;
            }

            var flight = big[0].Flight;
            var firstNs = big[0].StartNs;
            var recoveredTx = flight.Transmissions.FirstOrDefault(t => t.Answered && t.StartNs > firstNs);
            recoveredTx = recoveredTx is null ? null : flight.Transmissions.First(t => t.StartNs >= recoveredTx.StartNs - 5_000_000 && t.StartNs <= recoveredTx.StartNs && t.Largest <= recoveredTx.Largest);
            var smallestDropped = big.Select(t => t.Largest).Min();
            // Evidence needed: three unanswered sends; or, when smaller datagrams then got through, two (one if IP-fragmented).
            var needed = recoveredTx is null ? 3 : big.Any(t => t.Datagrams.Any(d => d.IpFragments > 0)) ? 1 : 2;
            if (big.Count < needed || (recoveredTx is not null && recoveredTx.Largest >= smallestDropped))
            {
                continue; // lost once or twice and got through at the same size: loss, not size
            }

            if (recoveredTx is not null && flight.Transmissions.Count(t => !t.Answered && t.StartNs < recoveredTx.StartNs && t.Largest <= recoveredTx.Largest) >= 2)
            {
                continue; // the smaller datagrams went unanswered too before one got through: a slow or lossy peer, not size
            }

            var peerResends = s.Transmissions.Count(t => t.Side != side && t.Number > 1 && t.StartNs > firstNs);
            var fragmented = big.SelectMany(t => t.Datagrams).Where(d => d.IpFragments > 0).ToList();
            // An ICE peer that keeps answering (or sending) STUN checks on the same tuple after the big sends is alive too.
            var peerStun = s.Events.Count(e => e.TimestampNs > firstNs && e.Stun is not null && s.SideOf(e) != side && s.TupleIndex(e) == s.TupleIndex(big[0].Datagrams[0]));
            if (peerResends == 0 && fragmented.Count == 0 && peerStun == 0)
            {
                continue; // nothing shows the peer alive: that is "no answer", not a size problem
            }

            var who = Name(side);
            var peer = Name(side == Side.Client ? Side.Server : Side.Client);
            var dropped = big.SelectMany(t => t.Datagrams).Where(d => d.Size > crossed || d.IpFragments > 0).ToList();
            var glued = dropped.Where(d => d.Dtls!.Records.Count >= 2 && d.Size > options.RelayLimit).ToList();
            var code = glued.Count > 0 ? VerdictCodes.F4 : VerdictCodes.F1;
            var times = string.Join(", ", big.Take(12).Select(t => Ms(s.StartNs, t.StartNs))) + (big.Count > 12 ? ", ..." : string.Empty);
            var evidence = new List<string>
            {
                $"{who} flight {flight.Index} ({flight.Name}) went out {big.Count} times without an answer, at {times}",
                $"largest datagram of each of these sends: {string.Join(", ", big.Select(t => t.Largest).Distinct().Take(8).Select(n => n + " B"))}; the largest datagram proved to cross (it was answered) is {crossed} B",
            };
            if (peerResends > 0)
            {
                evidence.Add($"the {peer} resent its own previous flight {peerResends} time(s) meanwhile: it is alive and never received this flight");
            }

            if (peerStun > 0)
            {
                evidence.Add($"the {peer} sent {peerStun} STUN message(s) on the same tuple after the first of these sends: it is alive and reachable with small datagrams");
            }

            if (fragmented.Count > 0)
            {
                evidence.Add($"{fragmented.Count} of these datagrams were IP-fragmented (largest fragment {fragmented.Max(d => d.LargestFragment)} B of IP): fragments are what home routers and firewalls drop");
            }

            if (code == VerdictCodes.F4)
            {
                evidence.Add($"{glued.Count} datagram(s) glue {glued.Max(d => d.Dtls!.Records.Count)} records into more than the {options.RelayLimit}-byte relay limit: {string.Join(", ", glued.Select(d => $"{d.Size} B ({d.Dtls!.Records.Count} records, {d.Size - options.RelayLimit} B over)").Distinct().Take(6))}");
            }

            int? passes = null;
            if (recoveredTx is not null)
            {
                passes = recoveredTx.Largest;
                evidence.Add($"the {who} then sent the flight in datagrams of at most {recoveredTx.Largest} B (transmission {recoveredTx.Number}, at {Ms(s.StartNs, recoveredTx.StartNs)}) and the {peer} answered");
            }

            var low = Math.Max(crossed, passes ?? 0);
            evidence.Add($"estimated path limit: passes {low} B, drops {smallestDropped} B{(low > 0 ? $" (somewhere in {low}..{smallestDropped - 1} B)" : string.Empty)}");
            var mtu = smallestDropped > 1200 ? 1200 : Math.Max(228, Math.Max(low, smallestDropped - 100) / 10 * 10);
            if (code == VerdictCodes.F4)
            {
                mtu = Math.Min(mtu, options.RelayLimit);
            }

            var severity = recoveredTx is null ? Severity.Failure : Severity.Recovered;
            s.Verdicts.Add(code == VerdictCodes.F1
                ? new Verdict(
                    VerdictCodes.F1,
                    severity,
                    $"F1: the {who}'s flight is larger than the path carries{(recoveredTx is null ? string.Empty : " (recovered with smaller datagrams)")}",
                    evidence,
                    $"Bound every datagram: airlift --mtu {mtu} (counts every header and tag, whatever the certificate size). Other stacks: set the DTLS MTU and check it really bounds the flight, or use a smaller (ECDSA) certificate.",
                    $"Datagrams above {crossed} B from the {who} were never answered while the {peer} kept trying: the path loses them.",
                    cannotSee)
                : new Verdict(
                    VerdictCodes.F4,
                    severity,
                    $"F4: several records glued into datagrams above the {options.RelayLimit}-byte relay limit{(recoveredTx is null ? string.Empty : " (recovered)")}",
                    evidence,
                    $"Pack whole records into datagrams no larger than the relay passes: airlift --mtu {mtu} (Airlift never lets records span datagrams and packs up to --mtu). Set --relay-limit to the relay's real buffer size if it is not {options.RelayLimit} B.",
                    $"Multi-record datagrams above the relay limit were never answered while the {peer} kept trying.",
                    cannotSee));
            return;
        }
    }

    private static void FinalFlight(DoctorSession s, List<string> cannotSee, bool completed)
    {
        var finals = s.Flights.Where(f => f.HasChangeCipherSpec).ToList();
        var clientFinal = finals.FirstOrDefault(f => f.Side == Side.Client);
        var serverFinal = finals.FirstOrDefault(f => f.Side == Side.Server);
        if (clientFinal is null || serverFinal is null)
        {
            return;
        }

        var (last, peer) = serverFinal.Transmissions[0].StartNs >= clientFinal.Transmissions[0].StartNs ? (serverFinal, clientFinal) : (clientFinal, serverFinal);
        var firstLast = last.Transmissions[0].StartNs;
        var repeats = peer.Transmissions.Where(t => t.StartNs > firstLast).ToList();
        if (repeats.Count == 0)
        {
            return;
        }

        var lastTx = last.Transmissions[^1].StartNs;
        var unanswered = repeats.Count(t => t.StartNs > lastTx);
        var who = Name(last.Side);
        var other = Name(peer.Side);
        var intervals = new List<string>();
        var prev = peer.Transmissions.LastOrDefault(t => t.StartNs <= firstLast)?.StartNs ?? firstLast;
        foreach (var t in repeats.Take(10))
        {
            intervals.Add(Ms(prev, t.StartNs));
            prev = t.StartNs;
        }

        var evidence = new List<string>
        {
            $"the {who} sent its final flight ({last.Name}) at {Ms(s.StartNs, firstLast)}",
            $"the {other}'s final flight ({peer.Name}) arrived again {repeats.Count} time(s) after that, {string.Join(", ", intervals)} apart: the {other}'s retransmission timer, so the {other} never got the {who}'s final flight",
            last.Transmissions.Count > 1
                ? $"the {who} resent its final flight {last.Transmissions.Count - 1} time(s){(unanswered > 0 ? $"; the last {unanswered} repeat(s) from the {other} got no resend" : ", once for each repeat")}"
                : $"the {who} never resent its final flight",
        };
        if (!completed && unanswered >= 2)
        {
            s.Verdicts.Add(new Verdict(
                VerdictCodes.F2,
                Severity.Failure,
                $"F2: the {who}'s final flight was lost and the {who} ignored the {other}'s resends",
                evidence,
                $"The side that sends the last flight must keep it and resend it whenever the peer's last flight arrives again (RFC 6347 4.2.4, RFC 9147 5.8). Airlift does this with a bounded budget; if the {who} is another stack, update it. Loss on the path towards the {other} makes this visible.",
                $"The {other} kept resending its final flight after the {who} had sent its own: the {who}'s final flight did not reach it.",
                cannotSee));
        }
        else if (last.Transmissions.Count > 1)
        {
            s.Verdicts.Add(new Verdict(
                VerdictCodes.F2,
                Severity.Recovered,
                $"F2 pattern, recovered: the {who}'s final flight was lost and resent when the {other} repeated its own",
                evidence,
                "Nothing to fix on the endpoint: this is the required behaviour. Look at loss on the path towards the " + other + ".",
                $"The {who}'s final flight was lost at least once and the {who} resent it.",
                cannotSee));
        }
    }

    private static void OneWayTuple(DoctorSession s, List<string> cannotSee, bool completed)
    {
        if (s.Tuples.Count < 2)
        {
            return;
        }

        // ICE roles, independent of the DTLS roles (an ICE-lite server may be the DTLS client): the answering side
        // receives the checks and sends the responses.
        var iceServer = new HashSet<System.Net.IPEndPoint>();
        foreach (var e in s.Events)
        {
            if (e.Stun is { Class: StunClass.Request })
            {
                iceServer.Add(e.To);
            }
            else if (e.Stun is { Class: StunClass.SuccessResponse })
            {
                iceServer.Add(e.From);
            }
        }

        if (iceServer.Count == 0)
        {
            return;
        }

        var ice = IceTuples(s, iceServer);
        s.IceTuples.Clear();
        s.IceTuples.AddRange(ice);

        // The nomination: the first USE-CANDIDATE check that was answered.
        var responses = new Dictionary<string, WireEvent>(StringComparer.Ordinal);
        foreach (var e in s.Events.Where(e => e.Stun is { Class: StunClass.SuccessResponse }))
        {
            responses.TryAdd(e.Stun!.TransactionId, e);
        }

        var nomination = s.Events.FirstOrDefault(e => e.Stun is { Class: StunClass.Request, UseCandidate: true } st && responses.ContainsKey(st.TransactionId));
        if (nomination is null)
        {
            return;
        }

        var nominatedNs = responses[nomination.Stun!.TransactionId].TimestampNs;
        var nominated = s.TupleIndex(nomination);
        bool ServerDtls(WireEvent e) => e.Dtls is not null && iceServer.Contains(e.From);
        bool ClientDtls(WireEvent e) => e.Dtls is not null && !iceServer.Contains(e.From);

        // A stray tuple: the server sent DTLS there and the client never sent DTLS on it.
        var strayTuple = -1;
        foreach (var e in s.Events.Where(ServerDtls))
        {
            var t = s.TupleIndex(e);
            if (t != nominated && t >= 0 && !s.Events.Any(x => ClientDtls(x) && s.TupleIndex(x) == t))
            {
                strayTuple = t;
                break;
            }
        }

        if (strayTuple < 0)
        {
            return;
        }

        var stray = s.Events.Where(e => ServerDtls(e) && s.TupleIndex(e) == strayTuple).ToList();
        var strayAfter = stray.Count(e => e.TimestampNs > nominatedNs);
        var strayIce = ice[strayTuple];
        var nominatedIce = ice[nominated];
        var followed = s.Events.FirstOrDefault(e => ServerDtls(e) && s.TupleIndex(e) == nominated && e.TimestampNs > stray[0].TimestampNs);
        var selectedAt = nominatedIce.FirstAnsweredNs;
        var handshakeDone = completed ? s.Events.LastOrDefault(e => e.Dtls is { Pieces.Count: > 0 })?.TimestampNs : null;

        var evidence = new List<string>
        {
            $"ICE checks on tuple {strayTuple + 1} ({Tuple(s, strayTuple)}): {CheckSummary(strayIce)}",
            $"the server selected tuple {strayTuple + 1} (a valid check there{(strayIce.FirstAnsweredNs is { } fa ? $" at {Ms(s.StartNs, fa)}" : string.Empty)}; ICE-lite follows the latest valid check until one nominates) and sent {stray.Count} DTLS datagram(s) on it from {Ms(s.StartNs, stray[0].TimestampNs)} to {Ms(s.StartNs, stray[^1].TimestampNs)}{(strayAfter > 0 ? $", {strayAfter} of them after the nomination" : string.Empty)}; the client never sent DTLS on that tuple",
            $"ICE nominated tuple {nominated + 1} ({Tuple(s, nominated)}) at {Ms(s.StartNs, nominatedNs)}: USE-CANDIDATE check answered; {CheckSummary(nominatedIce)}",
            followed is null
                ? "the server's DTLS never moved to the nominated tuple"
                : $"DTLS moved to tuple {nominated + 1} at {Ms(s.StartNs, followed.TimestampNs)}: {Follow(selectedAt, nominatedNs, followed.TimestampNs)}",
        };
        if (handshakeDone is { } done)
        {
            evidence.Add($"handshake done at {Ms(s.StartNs, done)} on tuple {nominated + 1}");
        }
        else
        {
            evidence.Add("the handshake did not complete in this capture");
        }

        var failed = followed is null || !completed;
        var title = failed
            ? $"F3: DTLS went to tuple {strayTuple + 1}, which never answers, while ICE nominated tuple {nominated + 1}"
            : $"F3 pattern, recovered: ICE checks on tuple {strayTuple + 1} got no answers back; DTLS moved to tuple {nominated + 1} at {Ms(s.StartNs, followed!.TimestampNs)}, handshake done";
        s.Verdicts.Add(new Verdict(
            VerdictCodes.F3,
            failed ? Severity.Failure : Severity.Recovered,
            title,
            evidence,
            failed
                ? "Send DTLS to the selected tuple only, and when the selection changes (USE-CANDIDATE, a newer valid check) resend pending flight data there at once. Airlift's transport does this; an ICE-lite server that keeps the first tuple needs the fix."
                : "Nothing to fix on the server: its DTLS followed the nomination. The path of tuple " + (strayTuple + 1) + " is one-way (the client's firewall or NAT drops what comes back); a client-side capture or its ICE stats would show the checks there without responses.",
            "ICE proved the nominated tuple works both ways; the DTLS the server sent on the other tuple was never answered.",
            [.. cannotSee, "Whether the server's answers on tuple " + (strayTuple + 1) + " reached the client: a capture at the server shows them leaving; the client's retransmitted checks show they did not arrive."]));
    }

    // Per tuple: the client's checks, their transactions, the responses, and resends of checks already answered.
    private static List<IceTupleStats> IceTuples(DoctorSession s, HashSet<System.Net.IPEndPoint> iceServer)
    {
        var list = Enumerable.Range(0, s.Tuples.Count).Select(i => new IceTupleStats { Tuple = i }).ToList();
        var answered = new HashSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in s.Events)
        {
            var i = s.TupleIndex(e);
            if (i < 0 || e.Stun is not { } st)
            {
                continue;
            }

            var t = list[i];
            var key = i + "/" + st.TransactionId;
            if (st.Class == StunClass.Request && iceServer.Contains(e.To))
            {
                t.Requests++;
                if (st.UseCandidate)
                {
                    t.UseCandidate++;
                }

                if (seen.Add(key))
                {
                    t.Transactions++;
                }
                else if (answered.Contains(key))
                {
                    t.ResentAfterAnswer++;
                }
            }
            else if (st.Class == StunClass.SuccessResponse && iceServer.Contains(e.From))
            {
                t.Responses++;
                t.FirstAnsweredNs ??= e.TimestampNs;
                t.LastAnsweredNs = e.TimestampNs;
                if (answered.Add(key))
                {
                    t.AnsweredTransactions++;
                }
            }
        }

        return list;
    }

    private static string CheckSummary(IceTupleStats t)
    {
        var text = $"{t.Requests} check(s) in {t.Transactions} transaction(s){(t.UseCandidate > 0 ? $" ({t.UseCandidate} with USE-CANDIDATE)" : string.Empty)}, {t.Responses} response(s) from the server";
        var unanswered = t.Transactions - t.AnsweredTransactions;
        if (unanswered > 0)
        {
            text += $"; {unanswered} transaction(s) got no response in the capture";
        }

        if (t.ResentAfterAnswer > 0)
        {
            text += $"; the client resent {t.ResentAfterAnswer} check(s) after the server had answered them: the answers did not reach it (a one-way path)";
        }

        return text;
    }

    private static string Follow(long? selectedNs, long nominatedNs, long followedNs)
    {
        var rel = followedNs >= nominatedNs
            ? $"{Ms(nominatedNs, followedNs)} after the nomination"
            : $"{Ms(followedNs, nominatedNs)} before the nomination's response";
        return selectedNs is { } sel && sel <= followedNs
            ? $"{Ms(sel, followedNs)} after the first valid check there (the selection change), {rel}"
            : rel;
    }

    private static string Tuple(DoctorSession s, int i) => i < 0 || i >= s.Tuples.Count ? "?" : $"{(s.Tuples[i].Tcp ? "tcp " : string.Empty)}{s.Tuples[i].A} <-> {s.Tuples[i].B}";

    private static void NoAnswer(DoctorSession s, List<string> cannotSee)
    {
        var dtls = s.Events.Where(e => e.Dtls is not null).ToList();
        if (dtls.Count > 0)
        {
            var sides = dtls.Select(s.SideOf).Distinct().ToList();
            if (sides.Count == 1)
            {
                var who = Name(sides[0]);
                var peer = Name(sides[0] == Side.Client ? Side.Server : Side.Client);
                var times = s.Transmissions.Select(t => t.StartNs).ToList();
                var gaps = times.Zip(times.Skip(1), (a, b) => Ms(a, b)).Take(10).ToList();
                s.Verdicts.Add(new Verdict(
                    VerdictCodes.NoAnswer,
                    Severity.Failure,
                    $"The {peer} never answered",
                    [$"the {who} sent {dtls.Count} DTLS datagram(s) ({s.Transmissions.Count} transmission(s) of {s.Flights.Count} flight(s)) from {Ms(s.StartNs, dtls[0].TimestampNs)} to {Ms(s.StartNs, dtls[^1].TimestampNs)}", gaps.Count > 0 ? $"resends {string.Join(", ", gaps)} apart (the {who}'s retransmission timer)" : "no resend", $"not one datagram from the {peer} ({DoctorText.Ep(sides[0] == Side.Client ? s.Server : s.Client)})"],
                    $"Check that the {peer} listens on that address and port, and that a firewall or NAT lets the {who}'s datagrams in (and the answers out).",
                    $"The {who} tried; nothing came back to the capture point.",
                    [.. cannotSee, "Whether the datagrams reached the " + peer + " (a capture at the " + peer + " would tell)."]));
                return;
            }
        }

        if (dtls.Count == 0 && s.Events.Any(e => e.Stun is { Class: StunClass.Request }) && !s.Events.Any(e => e.Stun is { Class: StunClass.SuccessResponse or StunClass.ErrorResponse }))
        {
            var n = s.Events.Count(e => e.Stun is { Class: StunClass.Request });
            s.Verdicts.Add(new Verdict(
                VerdictCodes.IceUnanswered,
                Severity.Failure,
                "ICE connectivity checks were never answered",
                [$"{n} binding request(s) on {s.Tuples.Count} tuple(s), no response"],
                "Check the ICE credentials (ufrag/password from the signalling), the candidate addresses and the firewall.",
                "The checks got no response at the capture point.",
                cannotSee));
        }
    }

    private static void Consent(DoctorSession s, long captureEndNs, List<string> cannotSee)
    {
        var okTimes = s.Events.Where(e => e.Stun is { Class: StunClass.SuccessResponse }).Select(e => e.TimestampNs).ToList();
        if (okTimes.Count == 0 || s.LastMediaNs is not { } lastMedia)
        {
            return;
        }

        var lastOk = okTimes.Max();
        var timeout = (long)ConsentTimeout.TotalMilliseconds * 1_000_000;
        var requestsAfter = s.Events.Count(e => e.Stun is { Class: StunClass.Request } && e.TimestampNs > lastOk);
        // Media stopped on purpose, not because the capture ended: the capture goes on after it, or the checks went on
        // unanswered for a while (the agent kept asking for consent and then gave up).
        var lastRequest = s.Events.LastOrDefault(e => e.Stun is { Class: StunClass.Request })?.TimestampNs ?? lastOk;
        var checkedOn = requestsAfter >= 3 && lastRequest - lastOk >= 15_000_000_000L;
        if (captureEndNs - lastOk <= timeout || lastMedia <= lastOk || (captureEndNs - lastMedia < 2_000_000_000L && !checkedOn))
        {
            return;
        }

        var mediaAfter = (lastMedia - lastOk) / 1e9;
        if (mediaAfter < 20 || mediaAfter > 40)
        {
            return;
        }

        s.Verdicts.Add(new Verdict(
            VerdictCodes.ConsentExpired,
            Severity.Failure,
            $"Consent expired: checks stopped being answered and media stopped {mediaAfter:0} s later (RFC 7675: 30 s)",
            [
                $"last successful consent check at {Ms(s.StartNs, lastOk)}",
                requestsAfter > 0 ? $"{requestsAfter} later check(s) got no response, the last at {Ms(s.StartNs, lastRequest)}" : "no check at all after it",
                $"media stopped at {Ms(s.StartNs, lastMedia)}, {mediaAfter:0.0} s later (RFC 7675: consent lasts 30 s)",
                captureEndNs - lastMedia >= 2_000_000_000L ? $"the capture goes on {(captureEndNs - lastMedia) / 1e9:0.0} s after that" : "nothing was sent after it: the side that asked for consent gave up",
            ],
            "Consent freshness (RFC 7675) needs a binding request answered at least every 30 s: check that the peer keeps sending them and that the answers get through (NAT binding timeouts, firewall idle timeouts).",
            "No check was answered for 30 s, and media stopped as RFC 7675 requires.",
            cannotSee));
    }
}
