using System.Globalization;
using System.Net;
using Airlift.Cli.Doctor.Capture;
using Airlift.Dtls;
using Airlift.Ice.Stun;
using Airlift.NetEm;

namespace Airlift.Cli.Doctor;

/// <summary>
/// Reads a capture once (streaming), groups its STUN/DTLS/media traffic into sessions (ICE pairs joined by their
/// USERNAME, otherwise DTLS 5-tuples), rebuilds each handshake's flights and retransmissions, and names what went wrong
/// (<see cref="DoctorVerdicts"/>).
/// </summary>
internal static class DoctorAnalyzer
{
    /// <summary>Analyses a capture file. Progress reports (bytes read) come every few thousand frames.</summary>
    /// <exception cref="CaptureFormatException">The file is not a capture, or is broken before its first packet.</exception>
    public static DoctorResult Analyze(Stream stream, string name, DoctorOptions options, Action<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        var reader = CaptureReader.Open(stream, options.Limits);
        var decoder = new PacketDecoder(options.Limits);
        var tuples = new Dictionary<string, TupleData>();
        var batch = new List<CapturedDatagram>();
        CaptureFormatException? stopped = null;
        long first = long.MaxValue, last = long.MinValue, overLimit = 0, totalEvents = 0;
        try
        {
            while (reader.TryRead(out var frame))
            {
                first = Math.Min(first, frame.TimestampNs);
                last = Math.Max(last, frame.TimestampNs);
                decoder.Decode(frame, batch);
                foreach (var d in batch)
                {
                    var key = Key(d.Source, d.Destination, d.Tcp);
                    if (!tuples.TryGetValue(key, out var t))
                    {
                        if (tuples.Count >= options.MaxTuples)
                        {
                            overLimit++;
                            continue;
                        }

                        t = new TupleData(d.Source, d.Destination, d.Tcp);
                        tuples[key] = t;
                    }

                    t.Add(WireDecoder.Decode(d), options, ref totalEvents);
                }

                batch.Clear();
                if (progress is not null && (frame.Number & 0xFFF) == 0)
                {
                    progress(reader.Position);
                }
            }
        }
        catch (CaptureFormatException ex) when (decoder.Stats.Frames > 0)
        {
            stopped = ex; // analyse what came before the damage, and say so
        }

        decoder.Finish();
        var sessions = BuildSessions(tuples.Values, options);
        foreach (var s in sessions)
        {
            DoctorVerdicts.Analyze(s, options, last);
        }

        return new DoctorResult
        {
            File = name,
            Format = reader.Format,
            Stats = decoder.Stats,
            Sessions = sessions,
            StoppedBy = stopped,
            OtherTuples = tuples.Values.Count(t => !t.Relevant),
            TuplesOverLimit = overLimit,
            FirstNs = first == long.MaxValue ? 0 : first,
            LastNs = last == long.MinValue ? 0 : last,
        };
    }

    private static string Key(IPEndPoint a, IPEndPoint b, bool tcp)
    {
        var x = a.ToString();
        var y = b.ToString();
        return string.CompareOrdinal(x, y) <= 0 ? $"{x}|{y}|{tcp}" : $"{y}|{x}|{tcp}";
    }

    private static List<DoctorSession> BuildSessions(IEnumerable<TupleData> all, DoctorOptions options)
    {
        var relevant = all.Where(t => t.Relevant).OrderBy(t => t.FirstNs).ToList();
        // Union-find over tuples sharing an ICE USERNAME (one ICE session, several candidate pairs).
        var parent = Enumerable.Range(0, relevant.Count).ToArray();
        int Find(int i)
        {
            while (parent[i] != i)
            {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }

            return i;
        }

        // ... and over tuples whose ClientHellos carry the same random: one handshake whose client address changed
        // between ClientHellos (a NAT rebinding, a relay using a new port), as in a cookie loop.
        var byUser = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < relevant.Count; i++)
        {
            foreach (var u in relevant[i].Usernames.Concat(relevant[i].ClientRandoms.Select(r => "random:" + r)))
            {
                if (byUser.TryGetValue(u, out var j))
                {
                    parent[Find(i)] = Find(j);
                }
                else
                {
                    byUser[u] = i;
                }
            }
        }

        // A tuple with DTLS but no hello and no ICE check (a lone alert, say) that starts within 2 s after a handshake
        // between the same server endpoint and the same client IP belongs to it: the client's port changed again.
        for (var i = 0; i < relevant.Count; i++)
        {
            var t = relevant[i];
            if (t.Usernames.Count > 0 || t.ClientRandoms.Count > 0 || !t.Events.Any(e => e.Dtls is not null))
            {
                continue;
            }

            for (var j = i - 1; j >= 0; j--)
            {
                var h = relevant[j];
                var shared = h.A.Equals(t.A) || h.A.Equals(t.B) ? h.A : h.B.Equals(t.A) || h.B.Equals(t.B) ? h.B : null;
                if (h.ClientRandoms.Count == 0 || shared is null || h.Tcp != t.Tcp || t.FirstNs - h.LastNs > 2_000_000_000L)
                {
                    continue;
                }

                var hOther = shared.Equals(h.A) ? h.B : h.A;
                var tOther = shared.Equals(t.A) ? t.B : t.A;
                if (hOther.Address.Equals(tOther.Address))
                {
                    parent[Find(i)] = Find(j);
                    break;
                }
            }
        }

        var groups = Enumerable.Range(0, relevant.Count).GroupBy(Find).OrderBy(g => relevant[g.First()].FirstNs).ToList();
        var sessions = new List<DoctorSession>();
        foreach (var g in groups)
        {
            var s = new DoctorSession { Id = sessions.Count + 1 };
            var members = g.Select(i => relevant[i]).OrderBy(t => t.FirstNs).ToList();
            foreach (var t in members)
            {
                s.Tuples.Add((t.A, t.B, t.Tcp));
                s.RtpPackets += t.Rtp;
                s.RtcpPackets += t.Rtcp;
                s.EventsOmitted += t.Omitted;
                if (t.FirstMediaNs is { } fm)
                {
                    s.FirstMediaNs = Math.Min(s.FirstMediaNs ?? fm, fm);
                    s.LastMediaNs = Math.Max(s.LastMediaNs ?? t.LastMediaNs!.Value, t.LastMediaNs!.Value);
                }
            }

            s.Events.AddRange(members.SelectMany(t => t.Events).OrderBy(e => e.TimestampNs).ThenBy(e => e.Frame));
            AssignSides(s, options);
            sessions.Add(s);
        }

        return sessions;
    }

    private static void AssignSides(DoctorSession s, DoctorOptions options)
    {
        void Set(IPEndPoint ep, Side side) => s.Sides.TryAdd(ep, side);
        static Side Other(Side side) => side == Side.Client ? Side.Server : Side.Client;

        if (options.Server is { } server)
        {
            foreach (var (a, b, _) in s.Tuples)
            {
                if (a.Equals(server) || b.Equals(server))
                {
                    Set(server, Side.Server);
                    Set(a.Equals(server) ? b : a, Side.Client);
                }
            }
        }

        foreach (var e in s.Events)
        {
            if (e.Dtls is { } d && d.Hellos.Any(h => h.Type == HandshakeType.ClientHello))
            {
                Set(e.From, Side.Client);
                Set(e.To, Side.Server);
            }
            else if (e.Dtls is { } v && (v.HelloVerifyRequest || v.Hellos.Any(h => h.Type == HandshakeType.ServerHello)))
            {
                Set(e.From, Side.Server);
                Set(e.To, Side.Client);
            }
        }

        foreach (var e in s.Events.Where(e => e.Stun is { Class: StunClass.Request, Controlling: true } || e.Stun is { UseCandidate: true }))
        {
            Set(e.From, Side.Client);
            Set(e.To, Side.Server);
        }

        foreach (var e in s.Events.Where(e => e.Stun is { Class: StunClass.Request }))
        {
            if (!s.Sides.ContainsKey(e.From) && !s.Sides.ContainsKey(e.To))
            {
                Set(e.From, Side.Client);
                Set(e.To, Side.Server);
            }
        }

        foreach (var (a, b, _) in s.Tuples)
        {
            if (s.Sides.TryGetValue(a, out var sa))
            {
                Set(b, Other(sa));
            }
            else if (s.Sides.TryGetValue(b, out var sb))
            {
                Set(a, Other(sb));
            }
            else
            {
                var firstFrom = s.Events.FirstOrDefault(e => e.From.Equals(a) || e.From.Equals(b))?.From ?? a;
                Set(firstFrom, Side.Client);
                Set(firstFrom.Equals(a) ? b : a, Side.Server);
            }
        }
    }

    private sealed class TupleData(IPEndPoint a, IPEndPoint b, bool tcp)
    {
        private const long MaxEventsTotal = 500_000;

        private readonly Dictionary<IPEndPoint, int> _appKept = [];

        public IPEndPoint A { get; } = a;

        public IPEndPoint B { get; } = b;

        public bool Tcp { get; } = tcp;

        public List<WireEvent> Events { get; } = [];

        public HashSet<string> Usernames { get; } = new(StringComparer.Ordinal);

        public HashSet<string> ClientRandoms { get; } = new(StringComparer.Ordinal);

        public long Rtp { get; private set; }

        public long Rtcp { get; private set; }

        public long Omitted { get; private set; }

        public long FirstNs { get; private set; } = long.MaxValue;

        public long LastNs { get; private set; } = long.MinValue;

        public long? FirstMediaNs { get; private set; }

        public long? LastMediaNs { get; private set; }

        public bool Relevant => Events.Count > 0 || Omitted > 0;

        public void Add(WireEvent e, DoctorOptions options, ref long total)
        {
            FirstNs = Math.Min(FirstNs, e.TimestampNs);
            LastNs = Math.Max(LastNs, e.TimestampNs);
            switch (e.Kind)
            {
                case WireKind.Rtp:
                case WireKind.Rtcp:
                    if (e.Kind == WireKind.Rtp)
                    {
                        Rtp++;
                    }
                    else
                    {
                        Rtcp++;
                    }

                    FirstMediaNs ??= e.TimestampNs;
                    LastMediaNs = e.TimestampNs;
                    return;
                case WireKind.Stun:
                case WireKind.Dtls:
                    if (e.Stun is { Class: StunClass.Request, Username: { } u } && Usernames.Count < 16)
                    {
                        Usernames.Add(u);
                    }

                    if (e.Dtls is { } hello && ClientRandoms.Count < 16)
                    {
                        foreach (var h in hello.Hellos)
                        {
                            if (h is { Random: { } random } && h.Type == HandshakeType.ClientHello)
                            {
                                ClientRandoms.Add(random);
                            }
                        }
                    }

                    if (e.Dtls is { ApplicationData: true, Pieces.Count: 0, Alerts.Count: 0 } && Events.Count > 0)
                    {
                        // Application data after the handshake counts as media (not kept per datagram) but stays visible once.
                        FirstMediaNs ??= e.TimestampNs;
                        LastMediaNs = e.TimestampNs;
                        var kept = _appKept.GetValueOrDefault(e.From);
                        if (kept >= 2)
                        {
                            return;
                        }

                        _appKept[e.From] = kept + 1;
                    }

                    if (Events.Count >= options.MaxEventsPerSession || total >= MaxEventsTotal)
                    {
                        Omitted++;
                        return;
                    }

                    total++;
                    Events.Add(e);
                    return;
                default:
                    return;
            }
        }
    }
}

/// <summary>Small formatting helpers shared by the analysis and the reports.</summary>
internal static class DoctorText
{
    public static string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    public static string Ms(long fromNs, long toNs) => Ms((toNs - fromNs) / 1e6);

    public static string Name(Side side) => side == Side.Client ? "client" : "server";

    public static string Ep(IPEndPoint? ep) => ep?.ToString() ?? "?";
}
