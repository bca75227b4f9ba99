using Airlift.Dtls;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Where in a genuine handshake an attack lands: the target and the state it is in, named for what it awaits. Each
/// stage is reached by delivering the peer's genuine flight one handshake message at a time (each in its own record),
/// so that every state of both roles can be attacked.
/// </summary>
internal enum At
{
    ClientExpectServerHello,
    ClientExpectCertificate,
    ClientExpectServerKeyExchange,
    ClientExpectCertificateRequestOrDone,
    ClientExpectServerHelloDone,
    ClientExpectFinished,
    ClientConnected,
    ServerExpectClientHello,
    ServerExpectClientCertificate,
    ServerExpectClientKeyExchange,
    ServerExpectCertificateVerify,
    ServerExpectFinished,
    ServerConnected,
}

/// <summary>
/// A real client and a real server (mutually authenticated by fingerprint, as in WebRTC) in virtual time, stopped at
/// one <see cref="At"/> stage. The genuine datagrams the target has not received yet are in <see cref="Rest"/>; an
/// attack feeds its own datagrams first and then the runner proves the genuine ones still work.
/// </summary>
internal sealed class DtlsArena
{
    private ulong _craftedRecordSeq = 5_000;

    private DtlsArena(VirtualLink link, DtlsEndpoint target, At stage)
    {
        Link = link;
        Target = target;
        Stage = stage;
    }

    public VirtualLink Link { get; }

    public DtlsEndpoint Target { get; }

    public DtlsEndpoint Peer => Link.PeerOf(Target);

    public At Stage { get; }

    public bool TargetIsServer => Target == Link.Server;

    /// <summary>Genuine datagrams still to reach the target (single-message records, then the CCS and epoch 1 tail).</summary>
    public List<byte[]> Rest { get; private set; } = [];

    /// <summary>Flight 1 (ClientHello), as the client sent it.</summary>
    public List<byte[]> Flight1 { get; private set; } = [];

    /// <summary>Flight 4 (ServerHello .. ServerHelloDone), once the server sent it.</summary>
    public List<byte[]> Flight4 { get; private set; } = [];

    /// <summary>Flight 5 (Certificate .. Finished), once the client sent it.</summary>
    public List<byte[]> Flight5 { get; private set; } = [];

    /// <summary>Flight 6 (ChangeCipherSpec, Finished), once the server sent it.</summary>
    public List<byte[]> Flight6 { get; private set; } = [];

    /// <summary>The message_seq the target expects next.</summary>
    public ushort NextSeq => Target.Engine.Reassembler.NextSeq;

    public static DtlsOptions ClientOptions(ulong seed) => new(TestCertificates.EcdsaPeer)
    {
        Random = RandomSource.Seeded(seed),
        SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
        ExpectedPeerFingerprint = TestCertificates.Ecdsa.GetFingerprint(),
        ProtocolVersions = [ProtocolVersion.Dtls12], // the adversarial tables script DTLS 1.2 flights
    };

    public static DtlsOptions ServerOptions(ulong seed) => new(TestCertificates.Ecdsa)
    {
        Random = RandomSource.Seeded(seed),
        SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
        ExpectedPeerFingerprint = TestCertificates.EcdsaPeer.GetFingerprint(),
        ProtocolVersions = [ProtocolVersion.Dtls12],
    };

    /// <summary>Builds the arena at <paramref name="stage"/>; <paramref name="client"/>/<paramref name="server"/> adjust the options.</summary>
    public static DtlsArena Create(At stage, Func<DtlsOptions, DtlsOptions>? client = null, Func<DtlsOptions, DtlsOptions>? server = null, ulong seed = 1)
    {
        var clientOptions = ClientOptions(seed * 2 + 1);
        var serverOptions = ServerOptions(seed * 2 + 2);
        var link = new VirtualLink(client?.Invoke(clientOptions) ?? clientOptions, server?.Invoke(serverOptions) ?? serverOptions);
        var isServer = stage >= At.ServerExpectClientHello;
        var arena = new DtlsArena(link, isServer ? link.Server : link.Client, stage);
        arena.Flight1 = link.Poll(link.Client);
        if (stage == At.ServerExpectClientHello)
        {
            arena.Rest = arena.Flight1;
            return arena;
        }

        arena.Flight4 = arena.FeedGenuine(link.Server, arena.Flight1);
        if (!isServer && stage < At.ClientExpectFinished)
        {
            var messages = Split(arena.Flight4);
            var k = stage - At.ClientExpectServerHello;
            arena.DeliverGenuine(messages.Take(k));
            arena.Rest = [.. messages.Skip(k)];
            return arena;
        }

        arena.Flight5 = arena.FeedGenuine(link.Client, arena.Flight4);
        if (isServer && stage < At.ServerConnected)
        {
            var messages = Split(arena.Flight5);
            var k = stage - At.ServerExpectClientCertificate;
            arena.DeliverGenuine(messages.Take(k));
            arena.Rest = [.. messages.Skip(k)];
            return arena;
        }

        arena.Flight6 = arena.FeedGenuine(link.Server, arena.Flight5);
        if (stage == At.ClientExpectFinished)
        {
            arena.Rest = arena.Flight6;
            return arena;
        }

        Assert.Empty(arena.FeedGenuine(link.Client, arena.Flight6));
        Assert.True(link.BothConnected, link.Client.Trace + link.Server.Trace);
        return arena;
    }

    /// <summary>
    /// A flight re-cut so that each epoch-0 handshake message travels alone in its own record and datagram (in order),
    /// followed by one datagram with everything else (ChangeCipherSpec and epoch-1 records), if any.
    /// </summary>
    public static List<byte[]> Split(IEnumerable<byte[]> flight)
    {
        var single = new List<byte[]>();
        var tail = new List<TestRecord>();
        foreach (var record in WireEdit.Records(flight))
        {
            if (record.Epoch != 0 || record.Type != ContentType.Handshake)
            {
                tail.Add(record);
                continue;
            }

            foreach (var (header, bytes) in WireEdit.Fragments(record))
            {
                Assert.True(header.IsComplete, $"{header.Type} is fragmented in the genuine flight; the arena needs whole messages");
                single.Add(WireEdit.Join([record with { Fragment = WireEdit.Fragment(header.Type, header.Length, header.MessageSeq, 0, bytes) }]));
            }
        }

        if (tail.Count > 0)
        {
            single.Add(WireEdit.Join(tail));
        }

        return single;
    }

    /// <summary>The body of the genuine message of <paramref name="type"/> in any flight seen so far.</summary>
    public byte[] GenuineBody(HandshakeType type) =>
        WireEdit.Messages([.. Flight1, .. Flight4, .. Flight5]).First(m => m.Header.Type == type).Body;

    /// <summary>An unprotected (epoch 0) record from "the peer" holding one whole handshake message.</summary>
    public byte[] Plain(HandshakeType type, ushort seq, byte[] body) =>
        WireEdit.HandshakeRecord(type, seq, body, _craftedRecordSeq++).Encode();

    /// <summary>An unprotected (epoch 0) record of any content type.</summary>
    public byte[] PlainRecord(ContentType type, byte[] fragment, ushort epoch = 0) =>
        new TestRecord(type, ProtocolVersion.Dtls12, epoch, _craftedRecordSeq++, fragment).Encode();

    /// <summary>
    /// A handshake message protected with the real peer's epoch-1 write keys (the peer must have them). The peer's engine
    /// writes it as if it were a flight; its own flight bookkeeping is then put back to "nothing to retransmit".
    /// </summary>
    public List<byte[]> Sealed(HandshakeType type, ushort seq, byte[] body) => SealedBy(Peer, type, seq, body);

    public List<byte[]> SealedBy(DtlsEndpoint sender, HandshakeType type, ushort seq, byte[] body)
    {
        sender.Engine.SendFlight(Link.Now, [new FlightEntry(1, new HandshakeMessage(type, seq, body))], final: false);
        var sealedDatagrams = Link.Poll(sender);
        sender.Engine.FinalFlightReceived();
        Link.Poll(sender);
        return sealedDatagrams;
    }

    /// <summary>An alert from the peer, protected when the peer has epoch-1 write keys.</summary>
    public List<byte[]> PeerAlert(AlertLevel level, AlertDescription description)
    {
        Peer.Engine.SendAlert(level, description);
        return Link.Poll(Peer);
    }

    private List<byte[]> FeedGenuine(DtlsEndpoint endpoint, List<byte[]> datagrams)
    {
        var answers = Link.Feed(endpoint, datagrams);
        Assert.Empty(Link.EventsOf(endpoint).OfType<DtlsFailed>());
        return answers;
    }

    private void DeliverGenuine(IEnumerable<byte[]> datagrams)
    {
        foreach (var datagram in datagrams)
        {
            Assert.Empty(FeedGenuine(Target, [datagram]));
        }
    }
}
