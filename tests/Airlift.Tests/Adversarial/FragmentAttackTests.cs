using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Fragment bombs against handshake reassembly (RFC 6347 4.2.3; tlsfuzzer test-dtls-fragmentation style; the classic
/// DTLS reassembly DoS shapes): huge declared lengths, lengths that exhaust the per-connection budget, far-future
/// message_seq, overlapping fragments that agree (harmless) or conflict (discarded), thousands of one-byte or empty
/// fragments, and fragments that disagree on type or length. Memory stays within
/// <see cref="DtlsOptions.MaxHandshakeMessageSize"/> and <see cref="DtlsOptions.MaxBufferedHandshakeBytes"/>, every
/// dropped fragment is counted, and the genuine handshake still completes (after the peer's retransmission when the
/// attack cost it a genuine fragment).
/// </summary>
public class FragmentAttackTests
{
    private static readonly Dictionary<string, DtlsAttack> Cases = BuildCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    internal static int Count => Cases.Count;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Fragment_attack_ends_in_the_stated_outcome_and_nothing_else_breaks(string name) => Cases[name].Run();

    private static Dictionary<string, DtlsAttack> BuildCases()
    {
        var c = new Dictionary<string, DtlsAttack>();
        const At Hello = At.ServerExpectClientHello;
        const At Flight5 = At.ServerExpectClientCertificate;

        // ---- huge declared lengths
        c["ClientHello first fragment declaring 16 MiB: dropped (over MaxHandshakeMessageSize), nothing allocated"] =
            new(Hello, a => Records(a, [Fragment(HandshakeType.ClientHello, 0xFFFFFF, 0, 0, HelloBody(a)[..40])]), new Dropped(Counter.HandshakeFragments));
        c["ClientHello first fragment declaring MaxHandshakeMessageSize + 1: dropped, nothing allocated"] =
            new(Hello, a => Records(a, [Fragment(HandshakeType.ClientHello, 64 * 1024 + 1, 0, 0, HelloBody(a)[..40])]), new Dropped(Counter.HandshakeFragments));
        c["Certificate fragment declaring 16 MiB at the next message_seq: dropped, nothing allocated"] =
            new(Flight5, a => Records(a, [Fragment(HandshakeType.Certificate, 0xFFFFFF, a.NextSeq, 0, new byte[100])]), new Dropped(Counter.HandshakeFragments));
        c["seven future messages declaring 64 KiB each: two held within the 128 KiB budget, five dropped; handshake completes after a retransmission"] =
            new(Flight5, a => Records(a, [.. Enumerable.Range(1, 7).Select(i => Fragment(HandshakeType.Certificate, 64 * 1024, (ushort)(a.NextSeq + i), 0, [1]))]),
                new Dropped(Counter.HandshakeFragments, Count: 5, Buffered: true));
        c["twenty future messages: the seven inside MaxFutureMessages held, thirteen dropped; handshake completes"] =
            new(Flight5, a => Records(a, [.. Enumerable.Range(1, 20).Select(i => Fragment(HandshakeType.Certificate, 100, (ushort)(a.NextSeq + i), 0, [1]))]),
                new Dropped(Counter.HandshakeFragments, Count: 13, Buffered: true));
        c["a fragment whose offset + length passes its declared length: dropped as malformed"] =
            new(Flight5, a => Records(a, [Fragment(HandshakeType.Certificate, 100, a.NextSeq, 0xFFFFF0, new byte[32])]), new Dropped(Counter.Malformed));
        c["a fragment claiming more bytes than its record holds: dropped as malformed"] =
            new(Flight5, a => Records(a, [Fragment(HandshakeType.Certificate, 100, a.NextSeq, 0, new byte[32])[..30]]), new Dropped(Counter.Malformed));

        // ---- the genuine message cut up by an attacker: harmless when the bytes agree
        c["the genuine ClientHello in three overlapping fragments, last first: accepted, handshake completes"] =
            new(Hello, a =>
            {
                var body = HelloBody(a);
                int third = body.Length / 3, half = body.Length / 2;
                return new Injection(
                    Records(a, [
                        Fragment(HandshakeType.ClientHello, body.Length, 0, half, body[half..]),
                        Fragment(HandshakeType.ClientHello, body.Length, 0, 0, body[..(2 * third)]),
                        Fragment(HandshakeType.ClientHello, body.Length, 0, third, body[third..(2 * third + 5)]),
                    ]),
                    Follow: []);
            }, new Completes());
        c["the genuine ClientHello in one-byte fragments, one record each: accepted, handshake completes"] =
            new(Hello, a =>
            {
                var body = HelloBody(a);
                return new Injection([.. Enumerable.Range(0, body.Length).Select(i => a.PlainRecord(ContentType.Handshake, Fragment(HandshakeType.ClientHello, body.Length, 0, i, body[i..(i + 1)])))], Follow: []);
            }, new Completes());
        c["a thousand empty fragments of the next message: absorbed within the budget, handshake completes"] =
            new(Flight5, a => Records(a, [.. Enumerable.Range(0, 1000).Select(_ => Fragment(HandshakeType.Certificate, CertificateLength(a), a.NextSeq, 0, []))]),
                new Dropped(Counter.None, Buffered: true));

        // ---- the genuine message contradicted: the partial message is discarded, never corrupted
        c["overlapping fragment with conflicting content: partial message discarded; handshake completes after a retransmission"] =
            new(Hello, a =>
            {
                var body = HelloBody(a);
                int third = body.Length / 3, half = body.Length / 2;
                var forged = body[third..];
                forged[half - third] ^= 0xFF;
                return Records(a, [
                    Fragment(HandshakeType.ClientHello, body.Length, 0, 0, body[..(2 * third)]),
                    Fragment(HandshakeType.ClientHello, body.Length, 0, third, forged),
                ]);
            }, new Dropped(Counter.HandshakeFragments));
        c["second fragment of the next message with another type: partial message discarded; handshake completes"] =
            new(Flight5, a =>
            {
                var length = CertificateLength(a);
                return Records(a, [
                    Fragment(HandshakeType.Certificate, length, a.NextSeq, 0, new byte[10]),
                    Fragment(HandshakeType.ClientKeyExchange, length, a.NextSeq, 10, new byte[10]),
                ]);
            }, new Dropped(Counter.HandshakeFragments));
        c["second fragment of the next message with another total length: partial message discarded; handshake completes"] =
            new(Flight5, a =>
            {
                var length = CertificateLength(a);
                return Records(a, [
                    Fragment(HandshakeType.Certificate, length, a.NextSeq, 0, new byte[10]),
                    Fragment(HandshakeType.Certificate, length + 1, a.NextSeq, 10, new byte[10]),
                ]);
            }, new Dropped(Counter.HandshakeFragments));
        c["a 2.7 KB certificate in 1-byte fragments at every other offset (over 256 disjoint ranges): discarded, counted, handshake completes"] =
            new(At.ClientExpectCertificate, a =>
            {
                var body = a.GenuineBody(HandshakeType.Certificate);
                Assert.True(body.Length > 2 * 256, $"certificate of {body.Length} bytes");
                var fragments = Enumerable.Range(0, body.Length / 2).Select(i => Fragment(HandshakeType.Certificate, body.Length, a.NextSeq, 2 * i, body[(2 * i)..(2 * i + 1)])).ToList();
                return Records(a, fragments, perRecord: 80);
            }, new Dropped(Counter.HandshakeFragments, Count: 1, AtLeast: true, Buffered: true),
            Server: o => o with { Certificate = TestCertificates.RsaChain, MaxDatagramSize = 8000 },
            Client: o => o with { ExpectedPeerFingerprint = TestCertificates.RsaChain.GetFingerprint() });

        return c;
    }

    private static byte[] HelloBody(DtlsArena a) => WireEdit.Body(a.Rest, HandshakeType.ClientHello);

    private static int CertificateLength(DtlsArena a) => WireEdit.Messages([a.Rest[0]]).Single().Body.Length;

    private static byte[] Fragment(HandshakeType type, int length, ushort seq, int offset, byte[] bytes) => WireEdit.Fragment(type, length, seq, offset, bytes);

    /// <summary>Packs fragments into epoch-0 handshake records of <paramref name="perRecord"/> fragments, one record per datagram.</summary>
    private static List<byte[]> Records(DtlsArena a, List<byte[]> fragments, int perRecord = 1) =>
        [.. fragments.Chunk(perRecord).Select(chunk => a.PlainRecord(ContentType.Handshake, [.. chunk.SelectMany(f => f)]))];
}
