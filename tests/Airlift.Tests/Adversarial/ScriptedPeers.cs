using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// The record layer and key schedule of a scripted DTLS 1.2 peer, built from the engine's own internal pieces
/// (<see cref="Transcript"/>, <see cref="HandshakeCommon.DeriveKeys"/>, <see cref="RecordProtection"/>). A scripted peer
/// knows its keys, so it can send what a real endpoint never would: a Finished in epoch 0, a record over 2^14 bytes, a
/// protected alert or handshake message at any moment (BoringSSL's runner does the same with its Go stack's bug flags).
/// </summary>
internal abstract class ScriptedPeer
{
    private ulong _epoch0Seq = 9_000;
    private ulong _epoch1Seq;

    protected Transcript Transcript { get; } = new();

    public CipherSuiteInfo? Suite { get; protected set; }

    public RecordProtection? Write { get; protected set; }

    public RecordProtection? Read { get; protected set; }

    public byte[] ClientRandom { get; protected set; } = [];

    public byte[] ServerRandom { get; protected set; } = [];

    public byte[]? Master { get; protected set; }

    /// <summary>An unprotected record holding one whole handshake message.</summary>
    public byte[] Plain(HandshakeMessage m) => WireEdit.HandshakeRecord(m.Type, m.MessageSeq, m.Body, _epoch0Seq++).Encode();

    /// <summary>An unprotected ChangeCipherSpec record.</summary>
    public byte[] ChangeCipherSpec() => new TestRecord(ContentType.ChangeCipherSpec, ProtocolVersion.Dtls12, 0, _epoch0Seq++, [1]).Encode();

    /// <summary>A record protected with our epoch-1 write keys (any content, any length up to 65535).</summary>
    public byte[] Sealed(ContentType type, ReadOnlySpan<byte> plaintext, ushort epoch = 1, ulong? sequence = null)
    {
        var seq = sequence ?? _epoch1Seq++;
        var fragment = new byte[plaintext.Length + Write!.Overhead];
        var written = Write.Seal(((ulong)epoch << 48) | seq, type, ProtocolVersion.Dtls12, plaintext, fragment);
        return new TestRecord(type, ProtocolVersion.Dtls12, epoch, seq, fragment[..written]).Encode();
    }

    /// <summary>A protected record holding one whole handshake message.</summary>
    public byte[] SealedHandshake(HandshakeMessage m) => Sealed(ContentType.Handshake, m.ToTranscriptBytes());

    /// <summary>The plaintext of every epoch-1 record in <paramref name="datagrams"/> we can open, with its type.</summary>
    public List<(ContentType Type, byte[] Plaintext)> Open(IEnumerable<byte[]> datagrams)
    {
        var opened = new List<(ContentType, byte[])>();
        foreach (var record in WireEdit.Records(datagrams).Where(r => r.Epoch == 1))
        {
            var plaintext = new byte[record.Fragment.Length];
            if (Read!.TryOpen((1UL << 48) | record.Sequence, record.Type, record.Version, record.Fragment, plaintext, out var written))
            {
                opened.Add((record.Type, plaintext[..written]));
            }
        }

        return opened;
    }

    protected static List<HandshakeMessage> PlainMessages(IEnumerable<byte[]> flight) =>
        [.. WireEdit.Messages(flight).Select(m => new HandshakeMessage(m.Header.Type, m.Header.MessageSeq, m.Body))];

    protected static HandshakeMessage ParseOne(byte[] plaintext)
    {
        var r = new WireReader(plaintext);
        Assert.True(HandshakeHeader.TryRead(ref r, out var h) && h.IsComplete);
        Assert.True(r.TryReadBytes(h.FragmentLength, out var body) && r.IsEmpty);
        return new HandshakeMessage(h.Type, h.MessageSeq, body.ToArray());
    }

    protected void DeriveKeys(byte[] preMaster, bool clientSide)
    {
        var (master, clientWrite, serverWrite) = HandshakeCommon.DeriveKeys(Suite!, preMaster, extendedMasterSecret: true, Transcript, ClientRandom, ServerRandom);
        Master = master;
        Write = clientSide ? clientWrite : serverWrite;
        Read = clientSide ? serverWrite : clientWrite;
    }

    protected byte[] VerifyData(bool fromClient) => KeySchedule.VerifyData(Suite!.PrfHash, Master!, fromClient, Transcript.Hash(Suite.PrfHash));
}

/// <summary>
/// A scripted client against a real server: it adopts a real client's ClientHello (flight 1), reads the real server's
/// flight 4, and builds a correct flight 5 (Certificate, ClientKeyExchange, CertificateVerify, Finished) with its own
/// ECDHE key, which the test then delivers in whatever records, epochs and order the attack needs.
/// </summary>
internal sealed class ScriptedClient : ScriptedPeer
{
    private readonly DtlsCertificate? _certificate;

    /// <summary>Adopts <paramref name="realClientHello"/>; <paramref name="withoutCertificate"/> answers a CertificateRequest with an empty Certificate and no CertificateVerify.</summary>
    public ScriptedClient(List<byte[]> realClientHello, DtlsCertificate? certificate = null, bool withoutCertificate = false)
    {
        _certificate = withoutCertificate ? null : certificate ?? TestCertificates.EcdsaPeer;
        var hello = Assert.Single(PlainMessages(realClientHello));
        Assert.True(Airlift.Dtls.Messages.ClientHello.TryDecode(hello.Body, out var ch));
        ClientRandom = ch.Random;
        Transcript.Add(hello);
        NextSeq = (ushort)(hello.MessageSeq + 1);
    }

    public ushort NextSeq { get; private set; }

    public HandshakeMessage? Certificate { get; private set; }

    public HandshakeMessage? ClientKeyExchange { get; private set; }

    public HandshakeMessage? CertificateVerify { get; private set; }

    public HandshakeMessage? Finished { get; private set; }

    /// <summary>Reads flight 4 and builds flight 5. <paramref name="publicPoint"/> replaces our ECDHE point (keys are then not derivable).</summary>
    public void Answer(List<byte[]> flight4, byte[]? publicPoint = null)
    {
        ServerKeyExchangeEcdhe? ske = null;
        foreach (var m in PlainMessages(flight4))
        {
            Transcript.Add(m);
            if (m.Type == HandshakeType.ServerHello)
            {
                Assert.True(ServerHello.TryDecode(m.Body, out var sh));
                ServerRandom = sh.Random;
                Assert.True(CipherSuiteInfo.TryGet(sh.CipherSuite, out var suite));
                Suite = suite;
            }
            else if (m.Type == HandshakeType.ServerKeyExchange)
            {
                Assert.True(ServerKeyExchangeEcdhe.TryDecode(m.Body, out ske));
            }
        }

        using var share = KeyExchange.Generate(ske!.Group);
        Certificate = Next(HandshakeType.Certificate, Encode((ref WireWriter w) => new CertificateMessage(_certificate is null ? [] : [.. _certificate.ChainDer]).Encode(ref w)));
        Transcript.Add(Certificate);
        ClientKeyExchange = Next(HandshakeType.ClientKeyExchange, Encode((ref WireWriter w) => new ClientKeyExchangeEcdhe(publicPoint ?? share.PublicShare).Encode(ref w)));
        Transcript.Add(ClientKeyExchange);
        Assert.True(share.TryComplete(ske.PublicPoint, out var preMaster));
        DeriveKeys(preMaster, clientSide: true);
        if (_certificate is { } signer)
        {
            var scheme = SignatureScheme.EcdsaSecp256r1Sha256;
            CertificateVerify = Next(HandshakeType.CertificateVerify, Encode((ref WireWriter w) => new CertificateVerify(scheme, signer.Sign(scheme, Transcript.Bytes)).Encode(ref w)));
            Transcript.Add(CertificateVerify);
        }

        Finished = Next(HandshakeType.Finished, VerifyData(fromClient: true));
        Transcript.Add(Finished);
    }

    /// <summary>Flight 5 as a real client sends it: the epoch-0 messages, then ChangeCipherSpec and the protected Finished.</summary>
    public List<byte[]> GenuineFlight5() =>
        [Plain(Certificate!), Plain(ClientKeyExchange!), .. CertificateVerify is null ? Array.Empty<byte[]>() : [Plain(CertificateVerify)], [.. ChangeCipherSpec(), .. SealedHandshake(Finished!)]];

    /// <summary>A new message of ours under the next message_seq.</summary>
    public HandshakeMessage Next(HandshakeType type, byte[] body) => new(type, NextSeq++, body);

    internal static byte[] Encode(HandshakeCommon.BodyEncoder encode) => HandshakeCommon.Encode(encode);
}

/// <summary>
/// A scripted server against a real client: it keeps the real server's ServerHello, Certificate, CertificateRequest and
/// ServerHelloDone (whose certificate the client expects), replaces the ServerKeyExchange with one of its own ECDHE key
/// (signed with the real server key), reads the client's flight 5, and builds a correct server Finished.
/// </summary>
internal sealed class ScriptedServer : ScriptedPeer
{
    private readonly KeyExchangeKeyPair _share;
    private readonly List<HandshakeMessage> _flight4 = [];

    /// <summary>Takes the real hellos; <paramref name="chain"/>, when given, replaces the certificate list (the leaf must stay the real one).</summary>
    public ScriptedServer(List<byte[]> realClientHello, List<byte[]> realFlight4, DtlsCertificate? certificate = null, byte[][]? chain = null)
    {
        certificate ??= TestCertificates.Ecdsa;
        var hello = Assert.Single(PlainMessages(realClientHello));
        Assert.True(Airlift.Dtls.Messages.ClientHello.TryDecode(hello.Body, out var ch));
        ClientRandom = ch.Random;
        Transcript.Add(hello);
        foreach (var m in PlainMessages(realFlight4))
        {
            var message = m;
            if (m.Type == HandshakeType.ServerHello)
            {
                Assert.True(ServerHello.TryDecode(m.Body, out var sh));
                ServerRandom = sh.Random;
                Assert.True(CipherSuiteInfo.TryGet(sh.CipherSuite, out var suite));
                Suite = suite;
            }
            else if (m.Type == HandshakeType.Certificate && chain is not null)
            {
                message = m with { Body = ScriptedClient.Encode((ref WireWriter w) => new CertificateMessage([.. chain]).Encode(ref w)) };
            }
            else if (m.Type == HandshakeType.ServerKeyExchange)
            {
                Assert.True(ServerKeyExchangeEcdhe.TryDecode(m.Body, out var real));
                _share = KeyExchange.Generate(real.Group);
                var ske = new ServerKeyExchangeEcdhe(real.Group, _share.PublicShare, real.Scheme, []);
                ske = ske with { Signature = certificate.Sign(real.Scheme, HandshakeCommon.ServerKeyExchangeSignedData(ClientRandom, ServerRandom, ske)) };
                message = m with { Body = ScriptedClient.Encode((ref WireWriter w) => ske.Encode(ref w)) };
            }

            _flight4.Add(message);
            Transcript.Add(message);
        }

        Assert.NotNull(_share);
        NextSeq = (ushort)(_flight4[^1].MessageSeq + 1);
    }

    public ushort NextSeq { get; private set; }

    /// <summary>Our flight 4, one message per record.</summary>
    public List<byte[]> Flight4() => [.. _flight4.Select(Plain)];

    public HandshakeMessage? Finished { get; private set; }

    /// <summary>Reads the client's flight 5 (opening its Finished) and builds our Finished.</summary>
    public void Answer(List<byte[]> flight5)
    {
        foreach (var m in PlainMessages(flight5))
        {
            Transcript.Add(m);
            if (m.Type == HandshakeType.ClientKeyExchange)
            {
                Assert.True(ClientKeyExchangeEcdhe.TryDecode(m.Body, out var cke));
                Assert.True(_share.TryComplete(cke.PublicPoint, out var preMaster));
                DeriveKeys(preMaster, clientSide: false);
            }
        }

        var (type, plaintext) = Assert.Single(Open(flight5));
        Assert.Equal(ContentType.Handshake, type);
        var clientFinished = ParseOne(plaintext);
        Assert.Equal(HandshakeType.Finished, clientFinished.Type);
        Transcript.Add(clientFinished);
        Finished = new HandshakeMessage(HandshakeType.Finished, NextSeq++, VerifyData(fromClient: false));
    }

    /// <summary>A new message of ours under the next message_seq.</summary>
    public HandshakeMessage Next(HandshakeType type, byte[] body) => new(type, NextSeq++, body);
}
