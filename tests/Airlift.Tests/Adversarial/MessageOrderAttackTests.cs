using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Message order violations at every state of both roles (BoringSSL runner "UnexpectedMessage", tlsfuzzer
/// test-message-skipping / test-message-duplication): every DTLS 1.2 handshake message type, plus NewSessionTicket and an
/// unassigned type, is injected at the message_seq the target expects next, in each state that does not expect it.
/// A handshake in progress must end with unexpected_message (RFC 5246 7.4, 7.2.2); after the handshake a new message is
/// renegotiation and is refused without ending the connection (RFC 5746 4.4). Duplicates under the same message_seq are
/// retransmissions (RFC 6347 4.2.4), under a new one they are out of order.
/// </summary>
public class MessageOrderAttackTests
{
    private static readonly HandshakeType NewSessionTicket = new(4);
    private static readonly HandshakeType Unassigned = new(99);

    private static readonly HandshakeType[] AllTypes =
    [
        HandshakeType.HelloRequest, HandshakeType.ClientHello, HandshakeType.ServerHello, HandshakeType.HelloVerifyRequest, NewSessionTicket,
        HandshakeType.Certificate, HandshakeType.ServerKeyExchange, HandshakeType.CertificateRequest, HandshakeType.ServerHelloDone,
        HandshakeType.CertificateVerify, HandshakeType.ClientKeyExchange, HandshakeType.Finished, Unassigned,
    ];

    /// <summary>What each handshake state accepts; every other type is a violation there.</summary>
    private static readonly Dictionary<At, HandshakeType[]> Accepts = new()
    {
        [At.ClientExpectServerHello] = [HandshakeType.ServerHello, HandshakeType.HelloVerifyRequest],
        [At.ClientExpectCertificate] = [HandshakeType.Certificate],
        [At.ClientExpectServerKeyExchange] = [HandshakeType.ServerKeyExchange],
        [At.ClientExpectCertificateRequestOrDone] = [HandshakeType.CertificateRequest, HandshakeType.ServerHelloDone],
        [At.ClientExpectServerHelloDone] = [HandshakeType.ServerHelloDone],
        [At.ClientExpectFinished] = [HandshakeType.Finished],
        [At.ServerExpectClientHello] = [HandshakeType.ClientHello],
        [At.ServerExpectClientCertificate] = [HandshakeType.Certificate],
        [At.ServerExpectClientKeyExchange] = [HandshakeType.ClientKeyExchange],
        [At.ServerExpectCertificateVerify] = [HandshakeType.CertificateVerify],
        [At.ServerExpectFinished] = [HandshakeType.Finished],
    };

    private static readonly Lazy<Dictionary<HandshakeType, byte[]>> Bodies = new(DonorBodies);

    private static readonly Dictionary<string, DtlsAttack> Cases = BuildCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    /// <summary>Number of rows (for the docs table).</summary>
    internal static int Count => Cases.Count;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Message_order_attack_ends_in_the_stated_outcome_and_nothing_else_breaks(string name) => Cases[name].Run();

    private static Fatal Unexpected => new(DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage);

    private static Dictionary<string, DtlsAttack> BuildCases()
    {
        var c = new Dictionary<string, DtlsAttack>();

        // ---- every type in every handshake state, at the expected message_seq. A state that reads epoch 1 (only Finished
        // follows ChangeCipherSpec in DTLS 1.2) drops any other message type found there, even authentic: it is bound to epoch 0.
        foreach (var (stage, accepted) in Accepts)
        {
            var protectedState = stage is At.ClientExpectFinished or At.ServerExpectFinished;
            foreach (var type in AllTypes.Where(t => !accepted.Contains(t) && t != HandshakeType.Finished))
            {
                if (protectedState)
                {
                    c[$"{stage}: {Name(type)} at the next message_seq in epoch 1: dropped (bound to epoch 0), handshake completes"] =
                        new(stage, a => a.Sealed(type, a.NextSeq, Bodies.Value[type]), new Dropped(Counter.Epoch));
                }
                else
                {
                    c[$"{stage}: {Name(type)} at the next message_seq: unexpected_message"] =
                        new(stage, a => a.Plain(type, a.NextSeq, Bodies.Value[type]), Unexpected);
                }
            }
        }

        // ---- out of epoch: in the states that read epoch 1, every type sent unprotected. A Finished in epoch 0 is never
        // taken (RFC 5246 7.4.9: Finished follows ChangeCipherSpec), so a forged one cannot end the handshake.
        foreach (var stage in new[] { At.ClientExpectFinished, At.ServerExpectFinished })
        {
            foreach (var type in AllTypes)
            {
                if (type == HandshakeType.Finished)
                {
                    c[$"{stage}: Finished in an unprotected epoch 0 record: dropped (bound to epoch 1), handshake completes"] =
                        new(stage, a => a.Plain(type, a.NextSeq, Bodies.Value[type]), new Dropped(Counter.Epoch));
                }
                else
                {
                    c[$"{stage}: {Name(type)} in an unprotected epoch 0 record: unexpected_message"] =
                        new(stage, a => a.Plain(type, a.NextSeq, Bodies.Value[type]), Unexpected);
                }
            }
        }

        // ---- a Finished where epoch 0 is read: dropped whatever it says (it must come protected, after ChangeCipherSpec)
        foreach (var stage in Accepts.Keys.Where(s => s is not (At.ClientExpectFinished or At.ServerExpectFinished)))
        {
            c[$"{stage}: Finished at the next message_seq in epoch 0: dropped (bound to epoch 1), handshake completes"] =
                new(stage, a => a.Plain(HandshakeType.Finished, a.NextSeq, Bodies.Value[HandshakeType.Finished]), new Dropped(Counter.Epoch));
        }

        // ---- after the handshake: any new message is renegotiation, refused; the connection stays up (RFC 5746 4.4)
        foreach (var stage in new[] { At.ClientConnected, At.ServerConnected })
        {
            foreach (var type in AllTypes)
            {
                c[$"{stage}: {Name(type)} in epoch 0 (renegotiation, unauthenticated): dropped, no answer"] =
                    new(stage, a => a.Plain(type, a.NextSeq, Bodies.Value[type]), new Dropped(Counter.Unexpected));
                c[$"{stage}: {Name(type)} in epoch 1 (renegotiation): no_renegotiation warning, connection stays up"] =
                    new(stage, a => a.Sealed(type, a.NextSeq, Bodies.Value[type]), new Dropped(Counter.Unexpected, Answers: 1));
            }
        }

        // ---- duplicates (RFC 6347 4.2.4: a message_seq already processed is a retransmission)
        c["ClientExpectCertificate: ServerHello again under its own message_seq: absorbed as a retransmission"] =
            new(At.ClientExpectCertificate, a => a.Plain(HandshakeType.ServerHello, 0, a.GenuineBody(HandshakeType.ServerHello)), new Dropped(Counter.None));
        c["ClientExpectCertificate: ServerHello again under the next message_seq: unexpected_message"] =
            new(At.ClientExpectCertificate, a => a.Plain(HandshakeType.ServerHello, a.NextSeq, a.GenuineBody(HandshakeType.ServerHello)), Unexpected);
        c["ClientExpectServerKeyExchange: Certificate twice in one flight: unexpected_message"] =
            new(At.ClientExpectServerKeyExchange, a => a.Plain(HandshakeType.Certificate, a.NextSeq, a.GenuineBody(HandshakeType.Certificate)), Unexpected);
        c["ClientExpectServerHelloDone: CertificateRequest twice: unexpected_message"] =
            new(At.ClientExpectServerHelloDone, a => a.Plain(HandshakeType.CertificateRequest, a.NextSeq, a.GenuineBody(HandshakeType.CertificateRequest)), Unexpected);
        c["ServerExpectClientCertificate: ClientHello again under its own message_seq: absorbed as a retransmission"] =
            new(At.ServerExpectClientCertificate, a => a.Plain(HandshakeType.ClientHello, 0, a.GenuineBody(HandshakeType.ClientHello)), new Dropped(Counter.None));
        c["ServerExpectClientCertificate: a different ClientHello under the adopted message_seq: absorbed, not re-negotiated"] =
            new(At.ServerExpectClientCertificate, a =>
            {
                Assert.True(ClientHello.TryDecode(a.GenuineBody(HandshakeType.ClientHello), out var hello));
                var other = hello with { Random = [.. Enumerable.Repeat((byte)0x5A, 32)], CipherSuites = [CipherSuite.EcdheEcdsaWithAes256GcmSha384] };
                return a.Plain(HandshakeType.ClientHello, 0, Dtls.BadInput.WireEdit.EncodeClientHello(other));
            }, new Dropped(Counter.None));
        c["ServerExpectCertificateVerify: ClientKeyExchange twice: unexpected_message"] =
            new(At.ServerExpectCertificateVerify, a => a.Plain(HandshakeType.ClientKeyExchange, a.NextSeq, a.GenuineBody(HandshakeType.ClientKeyExchange)), Unexpected);
        c["ServerExpectClientKeyExchange: client Certificate twice: unexpected_message"] =
            new(At.ServerExpectClientKeyExchange, a => a.Plain(HandshakeType.Certificate, a.NextSeq, Bodies.Value[HandshakeType.Certificate]), Unexpected);
        c["ServerConnected: client Finished re-sent under its own message_seq (epoch 1): the final flight is resent once"] =
            new(At.ServerConnected, a => a.Sealed(HandshakeType.Finished, (ushort)(a.NextSeq - 1), new byte[12]), new Dropped(Counter.None, Answers: 1));
        c["ClientConnected: server Finished re-sent under its own message_seq (epoch 1): absorbed, nothing to resend"] =
            new(At.ClientConnected, a => a.Sealed(HandshakeType.Finished, (ushort)(a.NextSeq - 1), new byte[12]), new Dropped(Counter.None));

        return c;
    }

    private static string Name(HandshakeType type) => type == NewSessionTicket ? "NewSessionTicket" : type == Unassigned ? "unassigned type 99" : type.ToString();

    /// <summary>A plausible body for every type, taken from a genuine handshake where the type occurs in one.</summary>
    private static Dictionary<HandshakeType, byte[]> DonorBodies()
    {
        var donor = DtlsArena.Create(At.ServerConnected, seed: 99);
        var bodies = Dtls.BadInput.WireEdit.Messages([.. donor.Flight1, .. donor.Flight4, .. donor.Flight5])
            .GroupBy(m => m.Header.Type)
            .ToDictionary(g => g.Key, g => g.Last().Body);
        bodies[HandshakeType.HelloRequest] = [];
        bodies[HandshakeType.HelloVerifyRequest] = [0xFE, 0xFF, 32, .. Enumerable.Range(0, 32).Select(i => (byte)i)];
        bodies[NewSessionTicket] = [0, 0, 0x0E, 0x10, 0, 4, 1, 2, 3, 4];
        bodies[HandshakeType.Finished] = [.. Enumerable.Range(0, 12).Select(i => (byte)(0xA0 + i))];
        bodies[Unassigned] = [1, 2, 3, 4];
        return bodies;
    }
}
