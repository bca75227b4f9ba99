using Airlift.Dtls;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.BadInput;

/// <summary>Where in a genuine handshake the hostile input reaches its target.</summary>
internal enum Stage
{
    /// <summary>A fresh server, before the ClientHello (flight 1).</summary>
    ServerAwaitsClientHello,

    /// <summary>The client, before the server's flight 4 (ServerHello .. ServerHelloDone).</summary>
    ClientAwaitsServerHello,

    /// <summary>The server, before the client's flight 5 (Certificate .. Finished).</summary>
    ServerAwaitsClientFinished,

    /// <summary>The client, before the server's flight 6 (ChangeCipherSpec, Finished).</summary>
    ClientAwaitsServerFinished,

    /// <summary>The server, both sides connected.</summary>
    ServerConnected,

    /// <summary>The client, both sides connected.</summary>
    ClientConnected,
}

/// <summary>Which drop counter of <see cref="DtlsStats"/> a dropped input must raise (None: buffered, nothing counted).</summary>
internal enum Counter
{
    None,
    Malformed,
    BadRecordMac,
    Replay,
    Epoch,
    HandshakeFragments,
    Unexpected,
}

/// <summary>The expected outcome of one bad input.</summary>
internal abstract record Outcome;

/// <summary>Dropped: <paramref name="Counter"/> rises by exactly <paramref name="Count"/>, no other drop counter moves, the
/// state is unchanged, the target answers with <paramref name="Answers"/> datagrams, and the genuine traffic then succeeds.</summary>
internal sealed record Dropped(Counter Counter, int Count, int Answers = 0) : Outcome;

/// <summary>Fatal: the target fails with <paramref name="Reason"/> and <paramref name="Alert"/>; when <paramref name="AlertSent"/>,
/// it sends that alert and the peer fails with <see cref="DtlsFailureReason.PeerAlert"/>.</summary>
internal sealed record Fatal(DtlsFailureReason Reason, AlertDescription Alert, bool AlertSent = true) : Outcome;

/// <summary>What a case feeds the target, and the genuine datagrams that follow (default: the pending genuine flight).</summary>
internal sealed record Injection(List<byte[]> Datagrams, List<byte[]>? Follow = null);

/// <summary>The handshake at the chosen stage.</summary>
internal sealed class BadInputContext(VirtualLink link, DtlsEndpoint target, List<byte[]> pending, List<List<byte[]>> flights)
{
    public VirtualLink Link { get; } = link;

    public DtlsEndpoint Target { get; } = target;

    public DtlsEndpoint Peer => Link.PeerOf(Target);

    /// <summary>The genuine flight about to reach the target (empty once connected).</summary>
    public List<byte[]> Pending { get; } = pending;

    /// <summary>Genuine flights delivered so far: [0] flight 1 (ClientHello), [1] flight 4, [2] flight 5, [3] flight 6.</summary>
    public List<List<byte[]>> Flights { get; } = flights;

    public byte[] Single => Assert.Single(Pending);
}

internal sealed record BadInputCase(Stage Stage, Func<BadInputContext, Injection> Build, Outcome Expected);

/// <summary>
/// Table of malformed and hostile inputs against a real handshake (RFC 6347 4.1.2.7: invalid records are silently
/// discarded; RFC 5246 7.2.2: protocol violations end the handshake with the named alert). Inputs are made by mutating
/// the datagrams of a genuine in-memory handshake at the stage where they matter.
/// </summary>
public class BadInputTests
{
    private static readonly Dictionary<string, BadInputCase> Cases = BuildCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Bad_input_is_dropped_and_counted_or_fails_with_the_documented_alert(string name)
    {
        var @case = Cases[name];
        var ctx = Advance(@case.Stage);
        var injection = @case.Build(ctx);
        var target = ctx.Target;
        var before = Fingerprint(target);
        var drops = DropCounters(target.Stats);

        var answers = ctx.Link.Feed(target, injection.Datagrams);

        var delta = DropCounters(target.Stats).Zip(drops, (a, b) => a - b).ToArray();
        switch (@case.Expected)
        {
            case Dropped dropped:
                var expected = new long[delta.Length];
                if (dropped.Counter != Counter.None)
                {
                    expected[(int)dropped.Counter - 1] = dropped.Count;
                }

                Assert.Equal(expected, delta);
                Assert.Empty(ctx.Link.EventsOf(target).OfType<DtlsFailed>());
                Assert.Equal(before, Fingerprint(target));
                Assert.Equal(dropped.Answers, answers.Count);
                ctx.Link.Feed(ctx.Peer, answers);
                Assert.Empty(ctx.Link.EventsOf(ctx.Peer).OfType<DtlsFailed>());
                ProveStillWorks(ctx, injection);
                break;
            case Fatal fatal:
                var failed = Assert.Single(ctx.Link.EventsOf(target).OfType<DtlsFailed>());
                Assert.Equal(fatal.Reason, failed.Reason);
                Assert.Equal(fatal.Alert, failed.Alert);
                Assert.Equal(DtlsState.Failed, target.State);
                Assert.Empty(ctx.Link.EventsOf(target).OfType<DtlsConnected>());
                if (fatal.AlertSent)
                {
                    Assert.NotEmpty(answers);
                    ctx.Link.Feed(ctx.Peer, answers);
                    var peerFailed = Assert.Single(ctx.Link.EventsOf(ctx.Peer).OfType<DtlsFailed>());
                    Assert.Equal(DtlsFailureReason.PeerAlert, peerFailed.Reason);
                    Assert.Equal(fatal.Alert, peerFailed.Alert);
                }
                else
                {
                    Assert.Empty(answers);
                }

                break;
        }
    }

    [Fact]
    public void ClientHello_in_a_record_with_the_last_sequence_number_neither_throws_nor_stalls_RFC6347_4_1()
    {
        var link = new VirtualLink(ClientOptions(103), ServerOptions(104));
        var hello = Assert.Single(link.Poll(link.Client));
        var forged = WireEdit.Mutated(hello, d => d.AsSpan(5, 6).Fill(0xFF));

        var answers = link.Feed(link.Server, [forged]);

        Assert.Equal(DtlsState.Connecting, link.Server.State);
        Assert.All(WireEdit.Records(answers), r => Assert.True(r.Sequence < RecordHeader.MaxSequenceNumber));
        link.Send(toServer: false, answers);
        link.Drive(l => l.BothConnected, 2_000);
        Assert.True(link.BothConnected, link.Server.Trace);
    }

    internal static DtlsOptions ClientOptions(ulong seed) => DtlsHandshakeTests.Options(TestCertificates.EcdsaPeer, seed) with { MaxDatagramSize = 4096 };

    internal static DtlsOptions ServerOptions(ulong seed) => DtlsHandshakeTests.Options(TestCertificates.Ecdsa, seed) with { MaxDatagramSize = 4096 };

    private static BadInputContext Advance(Stage stage)
    {
        var link = new VirtualLink(ClientOptions(101), ServerOptions(102));
        var flights = new List<List<byte[]>>();
        var pending = link.Poll(link.Client);
        var toServer = true;
        for (var i = 0; i < Math.Min((int)stage, 4); i++)
        {
            var answer = link.Feed(toServer ? link.Server : link.Client, pending);
            flights.Add(pending);
            pending = answer;
            toServer = !toServer;
        }

        if (stage >= Stage.ServerConnected)
        {
            Assert.True(link.BothConnected);
            Assert.Empty(pending);
        }

        var target = stage is Stage.ServerAwaitsClientHello or Stage.ServerAwaitsClientFinished or Stage.ServerConnected ? link.Server : link.Client;
        return new BadInputContext(link, target, pending, flights);
    }

    private static void ProveStillWorks(BadInputContext ctx, Injection injection)
    {
        var link = ctx.Link;
        var toServer = ctx.Target == link.Server;
        if (ctx.Target.State == DtlsState.Connecting)
        {
            link.Send(toServer, injection.Follow ?? ctx.Pending);
            link.Drive(l => l.BothConnected, 2_000);
            Assert.True(link.BothConnected, ctx.Target.Trace + ctx.Peer.Trace);
            return;
        }

        if (injection.Follow is { } follow)
        {
            link.Send(toServer, follow);
        }

        // Connected: protected data still flows both ways.
        ctx.Peer.Send("still up"u8);
        ctx.Target.Send("still up too"u8);
        link.Pump();
        link.Drive(l => l.EventsOf(ctx.Target).OfType<DtlsApplicationData>().Any(d => d.Data.AsSpan().SequenceEqual("still up"u8))
            && l.EventsOf(ctx.Peer).OfType<DtlsApplicationData>().Any(d => d.Data.AsSpan().SequenceEqual("still up too"u8)), 100);
        Assert.True(link.BothConnected);
        Assert.Contains(link.EventsOf(ctx.Target).OfType<DtlsApplicationData>(), d => d.Data.AsSpan().SequenceEqual("still up"u8));
        Assert.Contains(link.EventsOf(ctx.Peer).OfType<DtlsApplicationData>(), d => d.Data.AsSpan().SequenceEqual("still up too"u8));
    }

    private static (DtlsState, FlightState, ushort, int) Fingerprint(DtlsEndpoint e) =>
        (e.State, e.Engine.FlightState, e.Engine.Reassembler.NextSeq, e.Engine.Reassembler.BufferedBytes);

    private static long[] DropCounters(DtlsStats s) =>
        [s.DroppedMalformed, s.DroppedBadRecordMac, s.DroppedReplay, s.DroppedEpoch, s.DroppedHandshakeFragments, s.DroppedUnexpected];

    private static Injection One(byte[] datagram) => new([datagram]);

    private static byte[] Record(ContentType type, ushort epoch, ulong seq, byte[] fragment) =>
        new TestRecord(type, ProtocolVersion.Dtls12, epoch, seq, fragment).Encode();

    private static List<byte[]> EditClientHello(BadInputContext ctx, Func<ClientHello, ClientHello> edit) =>
        WireEdit.ReplaceBody(ctx.Pending, HandshakeType.ClientHello, body =>
        {
            Assert.True(ClientHello.TryDecode(body, out var hello));
            return WireEdit.EncodeClientHello(edit(hello));
        });

    private static List<byte[]> WithoutEpoch1(IEnumerable<byte[]> flight) =>
        [.. flight.Select(d => WireEdit.Join(WireEdit.Records(d).Where(r => r.Epoch != 1))).Where(d => d.Length > 0)];

    private static TestRecord Epoch1Record(IEnumerable<byte[]> flight) => Assert.Single(WireEdit.Records(flight), r => r.Epoch == 1);

    /// <summary>Seals a handshake message with the sender's real epoch-1 keys by having its engine send it as a flight.</summary>
    private static List<byte[]> SealedBy(VirtualLink link, DtlsEndpoint sender, HandshakeMessage message)
    {
        sender.Engine.SendFlight(link.Now, [new FlightEntry(1, message)], final: false);
        return link.Poll(sender);
    }

    private static Dictionary<string, BadInputCase> BuildCases()
    {
        var c = new Dictionary<string, BadInputCase>();

        // ---- record layer, fresh server (RFC 6347 4.1, 4.1.2.7: discard silently)
        c["empty datagram: dropped as malformed"] = new(Stage.ServerAwaitsClientHello, _ => One([]), new Dropped(Counter.Malformed, 1));
        c["truncated record header: dropped as malformed"] = new(Stage.ServerAwaitsClientHello, x => One(x.Single[..7]), new Dropped(Counter.Malformed, 1));
        c["record length beyond the datagram: dropped as malformed"] = new(Stage.ServerAwaitsClientHello, x => One(x.Single[..^1]), new Dropped(Counter.Malformed, 1));
        c["unknown content type 99: dropped as malformed"] = new(Stage.ServerAwaitsClientHello, x => One(WireEdit.Mutated(x.Single, d => d[0] = 99)), new Dropped(Counter.Malformed, 1));
        c["record version TLS 1.2 (0303) instead of DTLS: dropped as malformed"] = new(Stage.ServerAwaitsClientHello, x => One(WireEdit.Mutated(x.Single, d => (d[1], d[2]) = (3, 3))), new Dropped(Counter.Malformed, 1));
        c["epoch 2 record: dropped, wrong epoch (RFC 6347 4.1)"] = new(Stage.ServerAwaitsClientHello, x => One(WireEdit.Mutated(x.Single, d => d[4] = 2)), new Dropped(Counter.Epoch, 1));

        // ---- handshake fragments (RFC 6347 4.2.3)
        c["fragment with offset+length beyond length: dropped as malformed"] = new(Stage.ServerAwaitsClientHello,
            x => new(WireEdit.EditFragments(x.Pending, (h, b) => (h with { FragmentOffset = 1 }, b))), new Dropped(Counter.Malformed, 1));
        c["fragment of a message over MaxHandshakeMessageSize: dropped"] = new(Stage.ServerAwaitsClientHello,
            x => new(WireEdit.EditFragments(x.Pending, (h, b) => (h with { Length = 70_000 }, b))), new Dropped(Counter.HandshakeFragments, 1));
        c["first fragment with message_seq far in the future: dropped, not adopted"] = new(Stage.ServerAwaitsClientHello,
            x => new(WireEdit.EditFragments(x.Pending, (h, b) => (h with { MessageSeq = 1000 }, b))), new Dropped(Counter.HandshakeFragments, 1));
        c["conflicting overlapping fragment: partial message discarded"] = new(Stage.ServerAwaitsClientHello, x =>
        {
            var body = WireEdit.Body(x.Pending, HandshakeType.ClientHello);
            int third = body.Length / 3, half = body.Length / 2;
            var forged = body[third..];
            forged[half - third] ^= 0xFF;
            return new(
            [
                Record(ContentType.Handshake, 0, 0, WireEdit.Fragment(HandshakeType.ClientHello, body.Length, 0, 0, body[..(2 * third)])),
                Record(ContentType.Handshake, 0, 1, WireEdit.Fragment(HandshakeType.ClientHello, body.Length, 0, third, forged)),
            ]);
        }, new Dropped(Counter.HandshakeFragments, 1));
        c["message_seq beyond the future window: dropped"] = new(Stage.ServerAwaitsClientFinished, x =>
        {
            var seq = (ushort)(x.Target.Engine.Reassembler.NextSeq + x.Target.Engine.Options.MaxFutureMessages);
            return One(WireEdit.HandshakeRecord(HandshakeType.Certificate, seq, new byte[10], 60).Encode());
        }, new Dropped(Counter.HandshakeFragments, 1));

        // ---- ClientHello semantics (RFC 5246 7.4.1.2, RFC 7627 5.3)
        c["ClientHello with a trailing byte: decode_error"] = new(Stage.ServerAwaitsClientHello,
            x => new(WireEdit.ReplaceBody(x.Pending, HandshakeType.ClientHello, b => [.. b, 0])), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));
        c["ClientHello with a truncated body: decode_error"] = new(Stage.ServerAwaitsClientHello,
            x => new(WireEdit.ReplaceBody(x.Pending, HandshakeType.ClientHello, b => b[..^3])), new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));
        c["ClientHello with no common cipher suite: handshake_failure"] = new(Stage.ServerAwaitsClientHello,
            x => new(EditClientHello(x, h => h with { CipherSuites = [new CipherSuite(0x009C), new CipherSuite(0x1301)] })),
            new Fatal(DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure));
        c["ClientHello without extended_master_secret: handshake_failure (RFC 7627 5.3)"] = new(Stage.ServerAwaitsClientHello,
            x => new(EditClientHello(x, h => h with { Extensions = [.. h.Extensions.Where(e => e.Type != ExtensionType.ExtendedMasterSecret)] })),
            new Fatal(DtlsFailureReason.InsufficientSecurity, AlertDescription.HandshakeFailure));

        // ---- client side of flight 4
        c["ServerHello choosing an unoffered suite: illegal_parameter (RFC 5246 7.4.1.3)"] = new(Stage.ClientAwaitsServerHello,
            x => new(WireEdit.ReplaceBody(x.Pending, HandshakeType.ServerHello, b =>
            {
                Assert.True(ServerHello.TryDecode(b, out var sh));
                return WireEdit.EncodeServerHello(sh with { CipherSuite = new CipherSuite(0x009C) });
            })),
            new Fatal(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter));
        c["Certificate before ServerHello: unexpected_message"] = new(Stage.ClientAwaitsServerHello,
            x => One(WireEdit.HandshakeRecord(HandshakeType.Certificate, 0, WireEdit.Body(x.Pending, HandshakeType.Certificate), 0).Encode()),
            new Fatal(DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage));
        c["fatal alert from the peer: PeerAlert, nothing sent back"] = new(Stage.ClientAwaitsServerHello,
            _ => One(Record(ContentType.Alert, 0, 0, [2, (byte)AlertDescription.HandshakeFailure])),
            new Fatal(DtlsFailureReason.PeerAlert, AlertDescription.HandshakeFailure, AlertSent: false));

        // ---- server side of flight 5
        c["epoch 1 record before its keys: buffered, then processed (RFC 6347 4.1)"] = new(Stage.ServerAwaitsClientFinished,
            x => new([WireEdit.Join([Epoch1Record(x.Pending)])], Follow: WithoutEpoch1(x.Pending)), new Dropped(Counter.None, 0));
        c["epoch 1 records past MaxEarlyRecords: dropped, handshake recovers"] = new(Stage.ServerAwaitsClientFinished,
            x =>
            {
                var random = new Random(7);
                return new([.. Enumerable.Range(0, x.Target.Engine.Options.MaxEarlyRecords + 1).Select(i =>
                {
                    var junk = new byte[48];
                    random.NextBytes(junk);
                    return Record(ContentType.Handshake, 1, (ulong)(100 + i), junk);
                })]);
            },
            new Dropped(Counter.Epoch, 1));
        c["ClientKeyExchange point not on the curve (P-256) or of low order (x25519): illegal_parameter (RFC 8422 5.10, RFC 7748 6.1)"] = new(Stage.ServerAwaitsClientFinished,
            x => new(WireEdit.ReplaceBody(x.Pending, HandshakeType.ClientKeyExchange, b =>
            {
                Assert.True(ClientKeyExchangeEcdhe.TryDecode(b, out var cke));
                var point = (byte[])cke.PublicPoint.Clone();
                if (point.Length == 32)
                {
                    // Every 32-byte string is an X25519 u-coordinate; u = 0 is the low-order point refused by its all-zero result.
                    Array.Clear(point);
                }
                else
                {
                    point[^1] ^= 1;
                }

                return WireEdit.EncodeClientKeyExchange(new ClientKeyExchangeEcdhe(point));
            })),
            new Fatal(DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter));
        c["client Finished with wrong verify_data: decrypt_error (RFC 5246 7.4.9)"] = new(Stage.ServerAwaitsClientFinished,
            x =>
            {
                var seq = (ushort)(x.Peer.Engine.NextSendSeq - 1);
                var forged = SealedBy(x.Link, x.Peer, new HandshakeMessage(HandshakeType.Finished, seq, new byte[12]));
                return new([.. WithoutEpoch1(x.Pending), .. forged]);
            },
            new Fatal(DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError));
        c["application data in epoch 0 before the handshake: dropped"] = new(Stage.ServerAwaitsClientFinished,
            _ => One(Record(ContentType.ApplicationData, 0, 50, "early"u8.ToArray())), new Dropped(Counter.Unexpected, 1));
        c["alert of one byte: dropped as malformed"] = new(Stage.ServerAwaitsClientFinished,
            _ => One(Record(ContentType.Alert, 0, 51, [2])), new Dropped(Counter.Malformed, 1));
        c["ChangeCipherSpec with a wrong body: dropped as malformed"] = new(Stage.ServerAwaitsClientFinished,
            _ => One(Record(ContentType.ChangeCipherSpec, 0, 52, [2])), new Dropped(Counter.Malformed, 1));

        // ---- client side of flight 6 (RFC 6347 4.1.2.7)
        c["epoch 1 record with a flipped ciphertext byte: dropped, bad record MAC"] = new(Stage.ClientAwaitsServerFinished,
            x => new([.. x.Pending.Select(d => WireEdit.Join(WireEdit.Records(d).Select(r =>
                r.Epoch == 1 ? r with { Fragment = WireEdit.Mutated(r.Fragment, f => f[^1] ^= 0x01) } : r)))]),
            new Dropped(Counter.BadRecordMac, 1));

        // ---- after the handshake
        c["replayed epoch 1 record: dropped by the replay window (RFC 6347 4.1.2.6)"] = new(Stage.ClientConnected,
            x => One(WireEdit.Join([Epoch1Record(x.Flights[3])])), new Dropped(Counter.Replay, 1));
        c["unprotected fatal alert after the handshake: dropped"] = new(Stage.ClientConnected,
            _ => One(Record(ContentType.Alert, 0, 70, [2, (byte)AlertDescription.HandshakeFailure])), new Dropped(Counter.Unexpected, 1));
        c["application data with a flipped tag byte: dropped, bad record MAC"] = new(Stage.ServerConnected,
            x =>
            {
                x.Peer.Send("genuine"u8);
                var genuine = x.Link.Poll(x.Peer);
                return new([WireEdit.Mutated(Assert.Single(genuine), d => d[^1] ^= 0x80)], Follow: genuine);
            },
            new Dropped(Counter.BadRecordMac, 1));
        c["renegotiating ClientHello after the handshake: no_renegotiation warning, connection stays up (RFC 5746 4.4)"] = new(Stage.ServerConnected,
            x =>
            {
                var body = WireEdit.Body(x.Flights[0], HandshakeType.ClientHello);
                return new(SealedBy(x.Link, x.Peer, x.Peer.Engine.CreateMessage(HandshakeType.ClientHello, body)));
            },
            new Dropped(Counter.Unexpected, 1, Answers: 1));

        return c;
    }
}
