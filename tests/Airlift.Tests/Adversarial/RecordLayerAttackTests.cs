using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Attacks on the record layer (RFC 6347 4.1): replays, epoch confusion (epoch 2+, a protected record relabelled,
/// old epoch-0 flights after ChangeCipherSpec), records over 2^14 bytes (record_overflow, RFC 5246 6.2.3), unknown
/// content types, and alerts before and after authentication, fatal and warning, known and unknown codes (RFC 5246
/// 7.2). Unauthenticated trouble is dropped and counted (RFC 6347 4.1.2.7); what only the authenticated peer can send
/// is acted on. The attacks that need session keys come from a scripted peer that has them.
/// </summary>
public class RecordLayerAttackTests
{
    private static readonly Dictionary<string, DtlsAttack> Cases = BuildCases();

    private static readonly Dictionary<string, ScriptedAttack> ScriptedCases = BuildScriptedCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    public static TheoryData<string> ScriptedCaseNames() => [.. ScriptedCases.Keys];

    internal static int Count => Cases.Count + ScriptedCases.Count;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Record_layer_attack_ends_in_the_stated_outcome_and_nothing_else_breaks(string name) => Cases[name].Run();

    [Theory]
    [MemberData(nameof(ScriptedCaseNames))]
    public void Record_layer_attack_by_a_peer_with_the_keys_ends_in_the_stated_outcome(string name) => ScriptedCases[name].Run();

    [Fact]
    public void Protected_application_data_of_exactly_2_pow_14_bytes_is_delivered_RFC5246_6_2_3()
    {
        var arena = ScriptedArena.Create(ScriptedAt.ServerConnected);
        var data = new byte[16384];
        new Random(14).NextBytes(data);

        Assert.Empty(arena.Feed([arena.Peer.Sealed(ContentType.ApplicationData, data)]));

        Assert.Equal(DtlsState.Connected, arena.Target.State);
        Assert.Equal(data, Assert.Single(arena.Events.OfType<DtlsApplicationData>()).Data);
    }

    private static byte[] Alert(AlertLevel level, byte description) => [(byte)level, description];

    private static Dictionary<string, DtlsAttack> BuildCases()
    {
        var c = new Dictionary<string, DtlsAttack>();

        // ---- epochs (RFC 6347 4.1: records of an epoch that cannot be read are discarded)
        c["ServerExpectClientHello: the ClientHello relabelled epoch 2: dropped (wrong epoch)"] =
            new(At.ServerExpectClientHello, a => WireEdit.Mutated(a.Rest[0], d => d[4] = 2), new Dropped(Counter.Epoch));
        c["ServerExpectClientCertificate: garbage in epoch 2: dropped (wrong epoch)"] =
            new(At.ServerExpectClientCertificate, a => a.PlainRecord(ContentType.Handshake, new byte[64], epoch: 2), new Dropped(Counter.Epoch));
        c["ClientConnected: the server Finished record relabelled epoch 2: dropped (wrong epoch)"] =
            new(At.ClientConnected, a => Relabel(a.Flight6, r => r with { Epoch = 2 }), new Dropped(Counter.Epoch));
        c["ClientConnected: a record in epoch 65535: dropped (wrong epoch)"] =
            new(At.ClientConnected, a => a.PlainRecord(ContentType.ApplicationData, new byte[40], epoch: 0xFFFF), new Dropped(Counter.Epoch));
        c["ServerConnected: protected application data relabelled epoch 0: dropped (no plaintext data after the handshake)"] =
            new(At.ServerConnected, a =>
            {
                a.Peer.Send("genuine"u8);
                return Relabel(a.Link.Poll(a.Peer), r => r with { Epoch = 0 });
            }, new Dropped(Counter.Unexpected));
        c["ServerExpectClientKeyExchange: garbage in epoch 1 before its keys: held (bounded), dropped as a bad MAC later, handshake completes"] =
            new(At.ServerExpectClientKeyExchange, a => a.PlainRecord(ContentType.Handshake, new byte[48], epoch: 1), new Dropped(Counter.None));
        c["ServerExpectClientCertificate: more epoch 1 records than MaxEarlyRecords before the keys: the excess dropped"] =
            new(At.ServerExpectClientCertificate, a => new Injection([.. Enumerable.Range(0, 17).Select(_ => a.PlainRecord(ContentType.Handshake, new byte[48], epoch: 1))]),
                new Dropped(Counter.Epoch));

        // ---- replays and tampering of protected records (RFC 6347 4.1.2.6, 4.1.2.7)
        c["ServerConnected: the client Finished record replayed: dropped by the replay window"] =
            new(At.ServerConnected, a => Relabel(a.Flight5, r => r), new Dropped(Counter.Replay));
        c["ClientConnected: the server Finished record replayed: dropped by the replay window"] =
            new(At.ClientConnected, a => Relabel(a.Flight6, r => r), new Dropped(Counter.Replay));
        c["ServerConnected: an application data record delivered twice: the copy dropped by the replay window"] =
            new(At.ServerConnected, a =>
            {
                a.Peer.Send("once"u8);
                var genuine = Assert.Single(a.Link.Poll(a.Peer));
                return new Injection([genuine, genuine]);
            }, new Dropped(Counter.Replay));
        c["ServerConnected: protected record with its sequence number changed: dropped, bad record MAC"] =
            new(At.ServerConnected, a =>
            {
                a.Peer.Send("renumbered"u8);
                return Relabel(a.Link.Poll(a.Peer), r => r with { Sequence = r.Sequence + 1000 });
            }, new Dropped(Counter.BadRecordMac));
        c["ServerConnected: protected record with its content type changed: dropped, bad record MAC"] =
            new(At.ServerConnected, a =>
            {
                a.Peer.Send("retyped"u8);
                return Relabel(a.Link.Poll(a.Peer), r => r with { Type = ContentType.Handshake });
            }, new Dropped(Counter.BadRecordMac));
        c["ServerConnected: protected record shorter than nonce and tag: dropped, bad record MAC"] =
            new(At.ServerConnected, a => a.PlainRecord(ContentType.ApplicationData, new byte[5], epoch: 1), new Dropped(Counter.BadRecordMac));
        c["ServerConnected: protected record claiming DTLS 1.0: dropped as malformed"] =
            new(At.ServerConnected, a =>
            {
                a.Peer.Send("old version"u8);
                return Relabel(a.Link.Poll(a.Peer), r => r with { Version = ProtocolVersion.Dtls10 });
            }, new Dropped(Counter.Malformed));

        // ---- sizes (RFC 6347 4.1: at most 2^14 plaintext bytes, 2^14 + 2048 protected)
        c["ServerExpectClientCertificate: unprotected record of 2^14 + 1 bytes: dropped as malformed"] =
            new(At.ServerExpectClientCertificate, a => a.PlainRecord(ContentType.Handshake, new byte[16385]), new Dropped(Counter.Malformed));
        c["ServerConnected: protected record of 2^14 + 2049 bytes: dropped as malformed"] =
            new(At.ServerConnected, a => a.PlainRecord(ContentType.ApplicationData, new byte[16384 + 2049], epoch: 1), new Dropped(Counter.Malformed));

        // ---- old epoch after ChangeCipherSpec: the peer's earlier flights again
        c["ClientConnected: flight 4 again in epoch 0: absorbed, nothing resent"] =
            new(At.ClientConnected, a => new Injection(a.Flight4), new Dropped(Counter.None));
        c["ServerConnected: unprotected ChangeCipherSpec: absorbed"] =
            new(At.ServerConnected, a => a.PlainRecord(ContentType.ChangeCipherSpec, [1]), new Dropped(Counter.None));
        c["ServerConnected: unprotected application data: dropped (unexpected)"] =
            new(At.ServerConnected, a => a.PlainRecord(ContentType.ApplicationData, "plain"u8.ToArray()), new Dropped(Counter.Unexpected));
        c["ClientExpectServerHello: ChangeCipherSpec before anything: absorbed"] =
            new(At.ClientExpectServerHello, a => a.PlainRecord(ContentType.ChangeCipherSpec, [1]), new Dropped(Counter.None));
        c["ClientExpectServerHello: heartbeat record (content type 24): dropped as malformed"] =
            new(At.ClientExpectServerHello, a => a.PlainRecord(new ContentType(24), [1, 0, 16, .. new byte[32]]), new Dropped(Counter.Malformed));

        // ---- alerts before authentication (epoch 0: anyone on the path can send them)
        const At Early = At.ClientExpectCertificate;
        const At EarlyServer = At.ServerExpectClientKeyExchange;
        c["ClientExpectCertificate: unprotected fatal handshake_failure: PeerAlert, nothing sent back"] =
            new(Early, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Fatal, 40)), new Fatal(DtlsFailureReason.PeerAlert, AlertDescription.HandshakeFailure, AlertSent: false));
        c["ClientExpectCertificate: unprotected fatal alert of unknown code 200: PeerAlert, nothing sent back"] =
            new(Early, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Fatal, 200)), new Fatal(DtlsFailureReason.PeerAlert, (AlertDescription)200, AlertSent: false));
        c["ClientExpectCertificate: unprotected warning alert of unknown code 200: ignored, handshake completes"] =
            new(Early, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Warning, 200)), new Dropped(Counter.None));
        c["ServerExpectClientKeyExchange: unprotected warning no_renegotiation: ignored, handshake completes"] =
            new(EarlyServer, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Warning, 100)), new Dropped(Counter.None));
        c["ServerExpectClientKeyExchange: unprotected warning user_canceled: ignored, handshake completes"] =
            new(EarlyServer, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Warning, 90)), new Dropped(Counter.None));
        c["ServerExpectClientKeyExchange: unprotected close_notify: closed, nothing sent"] =
            new(EarlyServer, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Warning, 0)), new ClosedByPeer());
        c["ClientExpectCertificate: alert with the undefined level 3: dropped as malformed"] =
            new(Early, a => a.PlainRecord(ContentType.Alert, [3, 40]), new Dropped(Counter.Malformed));
        c["ClientExpectCertificate: alert of 1 byte: dropped as malformed"] =
            new(Early, a => a.PlainRecord(ContentType.Alert, [2]), new Dropped(Counter.Malformed));
        c["ClientExpectCertificate: two alerts in one record: dropped as malformed"] =
            new(Early, a => a.PlainRecord(ContentType.Alert, [1, 200, 2, 40]), new Dropped(Counter.Malformed));
        c["ClientExpectFinished: unprotected fatal alert: PeerAlert (the handshake is not authenticated yet)"] =
            new(At.ClientExpectFinished, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Fatal, 40)), new Fatal(DtlsFailureReason.PeerAlert, AlertDescription.HandshakeFailure, AlertSent: false));
        c["ClientExpectFinished: protected fatal alert: PeerAlert"] =
            new(At.ClientExpectFinished, a => a.PeerAlert(AlertLevel.Fatal, AlertDescription.BadCertificate), new Fatal(DtlsFailureReason.PeerAlert, AlertDescription.BadCertificate, AlertSent: false));

        // ---- alerts after authentication (only protected ones count)
        c["ServerConnected: unprotected fatal alert: dropped (unexpected), connection stays up"] =
            new(At.ServerConnected, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Fatal, 40)), new Dropped(Counter.Unexpected));
        c["ServerConnected: unprotected close_notify: dropped (unexpected), connection stays up"] =
            new(At.ServerConnected, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Warning, 0)), new Dropped(Counter.Unexpected));
        c["ClientConnected: unprotected fatal alert of unknown code: dropped (unexpected), connection stays up"] =
            new(At.ClientConnected, a => a.PlainRecord(ContentType.Alert, Alert(AlertLevel.Fatal, 255)), new Dropped(Counter.Unexpected));
        c["ServerConnected: protected fatal bad_record_mac: PeerAlert, nothing sent back"] =
            new(At.ServerConnected, a => a.PeerAlert(AlertLevel.Fatal, AlertDescription.BadRecordMac), new Fatal(DtlsFailureReason.PeerAlert, AlertDescription.BadRecordMac, AlertSent: false));
        c["ServerConnected: protected fatal alert of unknown code 200: PeerAlert, nothing sent back"] =
            new(At.ServerConnected, a => a.PeerAlert(AlertLevel.Fatal, (AlertDescription)200), new Fatal(DtlsFailureReason.PeerAlert, (AlertDescription)200, AlertSent: false));
        c["ServerConnected: protected warning alert of unknown code 200: ignored, data still flows"] =
            new(At.ServerConnected, a => a.PeerAlert(AlertLevel.Warning, (AlertDescription)200), new Dropped(Counter.None));
        c["ClientConnected: protected warning no_renegotiation: ignored, data still flows"] =
            new(At.ClientConnected, a => a.PeerAlert(AlertLevel.Warning, AlertDescription.NoRenegotiation), new Dropped(Counter.None));
        c["ServerConnected: protected close_notify: closed, close_notify answered (RFC 5246 7.2.1)"] =
            new(At.ServerConnected, a => a.PeerAlert(AlertLevel.Warning, AlertDescription.CloseNotify), new ClosedByPeer(Answers: 1));
        c["ClientConnected: protected close_notify: closed, close_notify answered (RFC 5246 7.2.1)"] =
            new(At.ClientConnected, a => a.PeerAlert(AlertLevel.Warning, AlertDescription.CloseNotify), new ClosedByPeer(Answers: 1));
        c["ClientConnected: protected fatal internal_error: PeerAlert, nothing sent back"] =
            new(At.ClientConnected, a => a.PeerAlert(AlertLevel.Fatal, AlertDescription.InternalError), new Fatal(DtlsFailureReason.PeerAlert, AlertDescription.InternalError, AlertSent: false));

        return c;
    }

    private static Dictionary<string, ScriptedAttack> BuildScriptedCases()
    {
        var c = new Dictionary<string, ScriptedAttack>();
        var overflow = new Fatal(DtlsFailureReason.DecodeError, AlertDescription.RecordOverflow);

        // ---- a Finished with the right verify_data, but unprotected: bound to epoch 1, never accepted in epoch 0
        c["ServerAwaitsFinished: the genuine client Finished in an unprotected epoch 0 record: dropped (wrong epoch), handshake completes"] =
            new(ScriptedAt.ServerAwaitsFinished, a => [a.Peer.Plain(a.Client.Finished!)], new Dropped(Counter.Epoch));
        c["ServerAwaitsFinished: ChangeCipherSpec, then the genuine client Finished unprotected: dropped (wrong epoch), handshake completes"] =
            new(ScriptedAt.ServerAwaitsFinished, a => [[.. a.Peer.ChangeCipherSpec(), .. a.Peer.Plain(a.Client.Finished!)]], new Dropped(Counter.Epoch));
        c["ClientAwaitsFinished: the genuine server Finished in an unprotected epoch 0 record: dropped (wrong epoch), handshake completes"] =
            new(ScriptedAt.ClientAwaitsFinished, a => [a.Peer.Plain(a.Server.Finished!)], new Dropped(Counter.Epoch));

        // ---- record_overflow (RFC 5246 6.2.3): only the authenticated peer can produce it, so it is fatal
        c["ServerConnected: protected application data of 2^14 + 1 bytes: record_overflow"] =
            new(ScriptedAt.ServerConnected, a => [a.Peer.Sealed(ContentType.ApplicationData, new byte[16385])], overflow);
        c["ClientConnected: protected application data of 2^14 + 1 bytes: record_overflow"] =
            new(ScriptedAt.ClientConnected, a => [a.Peer.Sealed(ContentType.ApplicationData, new byte[16385])], overflow);
        c["ServerAwaitsFinished: protected handshake record of 2^14 + 12 bytes: record_overflow"] =
            new(ScriptedAt.ServerAwaitsFinished, a => [a.Peer.Sealed(ContentType.Handshake, [.. a.Client.Finished!.ToTranscriptBytes(), .. new byte[16384]])], overflow);

        // ---- protected content where it does not belong
        c["ServerAwaitsFinished: protected application data before the client Finished: dropped (unexpected), handshake completes"] =
            new(ScriptedAt.ServerAwaitsFinished, a => [a.Peer.Sealed(ContentType.ApplicationData, "early"u8)], new Dropped(Counter.Unexpected));
        c["ServerAwaitsFinished: protected Finished with 13 bytes of verify_data: decode_error"] =
            new(ScriptedAt.ServerAwaitsFinished, a => [a.Peer.SealedHandshake(a.Client.Finished! with { Body = [.. a.Client.Finished.Body, 0] })],
                new Fatal(DtlsFailureReason.DecodeError, AlertDescription.DecodeError));
        c["ServerAwaitsFinished: protected Finished with one verify_data bit flipped: decrypt_error"] =
            new(ScriptedAt.ServerAwaitsFinished, a => [a.Peer.SealedHandshake(a.Client.Finished! with { Body = WireEdit.Mutated(a.Client.Finished.Body, b => b[0] ^= 1) })],
                new Fatal(DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError));
        c["ServerConnected: protected record of unknown content type 99: dropped as malformed"] =
            new(ScriptedAt.ServerConnected, a => [a.Peer.Sealed(new ContentType(99), "?"u8)], new Dropped(Counter.Malformed));
        c["ServerConnected: protected heartbeat request (content type 24): dropped as malformed"] =
            new(ScriptedAt.ServerConnected, a => [a.Peer.Sealed(new ContentType(24), [1, 0x40, 0x00, .. new byte[16]])], new Dropped(Counter.Malformed));
        c["ServerConnected: a record sealed for epoch 2: dropped (wrong epoch)"] =
            new(ScriptedAt.ServerConnected, a => [a.Peer.Sealed(ContentType.ApplicationData, "epoch 2"u8, epoch: 2)], new Dropped(Counter.Epoch));
        c["ServerConnected: protected alert of 3 bytes: dropped as malformed"] =
            new(ScriptedAt.ServerConnected, a => [a.Peer.Sealed(ContentType.Alert, [2, 40, 0])], new Dropped(Counter.Malformed));
        c["ServerConnected: protected empty alert: dropped as malformed"] =
            new(ScriptedAt.ServerConnected, a => [a.Peer.Sealed(ContentType.Alert, [])], new Dropped(Counter.Malformed));
        c["ClientConnected: protected ChangeCipherSpec after the handshake: absorbed"] =
            new(ScriptedAt.ClientConnected, a => [a.Peer.Sealed(ContentType.ChangeCipherSpec, [1])], new Dropped(Counter.None));

        // ---- empty client certificates, answered honestly (no CertificateVerify): what the configuration allows
        var requestOnly = (DtlsOptions o) => o with { ClientCertificate = ClientCertificateMode.Request };
        c["ServerAwaitsFlight5, Require: an empty client Certificate: handshake_failure"] =
            new(ScriptedAt.ServerAwaitsFlight5, a => a.Rest, new Fatal(DtlsFailureReason.BadCertificate, AlertDescription.HandshakeFailure), WithoutClientCertificate: true);
        c["ServerAwaitsFlight5, Request with an expected fingerprint: an empty client Certificate: handshake_failure (issue 10 item 3)"] =
            new(ScriptedAt.ServerAwaitsFlight5, a => a.Rest, new Fatal(DtlsFailureReason.BadCertificate, AlertDescription.HandshakeFailure), Server: requestOnly, WithoutClientCertificate: true);
        c["ServerAwaitsFlight5, Request without a fingerprint (AllowAnyPeerCertificate): an empty client Certificate is accepted, no peer certificate reported"] =
            new(ScriptedAt.ServerAwaitsFlight5, a => a.Rest, new Completes(),
                Server: o => requestOnly(o) with { ExpectedPeerFingerprint = null, AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] }, WithoutClientCertificate: true,
                Also: a => Assert.Empty(a.Events.OfType<DtlsPeerCertificate>()));
        c["ServerAwaitsFlight5, Request with a PeerCertificateValidator: an empty client Certificate is accepted without calling it"] =
            new(ScriptedAt.ServerAwaitsFlight5, a => a.Rest, new Completes(),
                Server: o => requestOnly(o) with { ExpectedPeerFingerprint = null, PeerCertificateValidator = _ => throw new InvalidOperationException("called for an empty certificate") },
                WithoutClientCertificate: true);

        // ---- certificate chains: the pinned leaf authenticates; what follows it is carried, never parsed, so it cannot hurt
        var leaf = Dtls.TestCertificates.Ecdsa.ChainDer[0];
        foreach (var (what, intermediate) in new (string, byte[])[]
        {
            ("an RSA-typed intermediate with malformed key bytes", Forge.RsaCertificateWithMalformedKey),
            ("an ECDSA intermediate whose key is off the curve", Forge.EcdsaCertificateWithOffCurvePoint),
            ("an intermediate that is not DER", Forge.GarbageDer),
        })
        {
            c[$"ClientAwaitsFinished: the pinned server leaf followed by {what}: connects, chain reported as sent"] =
                new(ScriptedAt.ClientAwaitsFinished, a => a.Rest, new Completes(), ServerChain: [leaf, intermediate],
                    Also: a => Assert.Equal(intermediate, Assert.Single(a.Events.OfType<DtlsPeerCertificate>()).ChainDer[1]));
        }

        return c;
    }

    /// <summary>The (single) epoch-1 record of a flight, changed.</summary>
    private static byte[] Relabel(IEnumerable<byte[]> datagrams, Func<TestRecord, TestRecord> change) =>
        WireEdit.Join([change(Assert.Single(WireEdit.Records(datagrams), r => r.Epoch == 1))]);
}
