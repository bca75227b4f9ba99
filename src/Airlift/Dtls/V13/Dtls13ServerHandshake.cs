using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.V13;

/// <summary>
/// DTLS 1.3 server (RFC 9147, RFC 8446 4). Created when a ClientHello offers DTLS 1.3 (the version switch in
/// <see cref="DtlsEndpoint"/>), or by the listener after a stateless HelloRetryRequest cookie verified. Each state is named
/// for what it awaits and carries what it needs.
/// </summary>
internal sealed class Dtls13ServerHandshake : IHandshake13
{
    private static readonly ConditionalWeakTable<DtlsOptions, byte[]> CertificateRequestBodies = new();

    private readonly Dtls13Engine _engine;
    private readonly DtlsOptions _options;
    private readonly Transcript13 _transcript = new();
    private readonly byte[] _serverRandom = new byte[32];

    private State _state = State.ExpectClientHello;
    private Selection13? _retryFor;
    private Tls13KeySchedule? _schedule;
    private byte[]? _clientHandshakeSecret;
    private byte[]? _clientAppSecret;
    private byte[]? _serverAppSecret;
    private byte[]? _exporterSecret;
    private Selection13? _selection;
    private PeerPublicKey? _clientLeaf;

    public Dtls13ServerHandshake(Dtls13Engine engine)
    {
        _engine = engine;
        _options = engine.Options;
        _options.Random.Fill(_serverRandom);
    }

    private enum State
    {
        ExpectClientHello,
        ExpectClientCertificate,
        ExpectClientCertificateVerify,
        ExpectClientFinished,
        Done,
    }

    public string StateName => _state.ToString();

    /// <summary>After a stateless HelloRetryRequest: the transcript starts with message_hash(ClientHello1) and the HelloRetryRequest the listener sent.</summary>
    public void ResumeAfterRetry(ReadOnlySpan<byte> clientHello1Hash, HandshakeMessage helloRetryRequest, Selection13 retryFor)
    {
        _transcript.StartFromMessageHash(clientHello1Hash);
        _transcript.Add(helloRetryRequest);
        _retryFor = retryFor;
    }

    public void Release()
    {
        Secrets.Zero(_clientHandshakeSecret);
        Secrets.Zero(_clientAppSecret);
        Secrets.Zero(_serverAppSecret);
        Secrets.Zero(_exporterSecret);
        _schedule?.Dispose();
        _clientLeaf?.Dispose();
        _clientLeaf = null;
        _transcript.Release();
    }


    public void OnMessage(TimeSpan now, HandshakeMessage message, ulong epoch)
    {
        switch (_state)
        {
            case State.ExpectClientHello when message.Type == HandshakeType.ClientHello:
                if (HandshakeCommon.TryDecode<ClientHello>(_engine, now, message, ClientHello.TryDecode, out var ch))
                {
                    OnClientHello(now, message, ch!);
                }

                break;
            case State.ExpectClientCertificate when message.Type == HandshakeType.Certificate:
                OnCertificate(now, message);
                break;
            case State.ExpectClientCertificateVerify when message.Type == HandshakeType.CertificateVerify:
                OnCertificateVerify(now, message);
                break;
            case State.ExpectClientFinished when message.Type == HandshakeType.Finished:
                OnFinished(now, message);
                break;
            default:
                _engine.Fail(now, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, $"unexpected {message.Type} while in {_state}");
                break;
        }
    }

    /// <summary>A ClientHello that offers DTLS 1.3 (the first, or the second after our HelloRetryRequest).</summary>
    public void OnClientHello(TimeSpan now, HandshakeMessage message, ClientHello ch)
    {
        if (!Negotiation13.TrySelect(_options, ch, out var selection, out var refusal))
        {
            _engine.Fail(now, refusal!.Reason, refusal.Alert, refusal.Message);
            return;
        }

        if (_retryFor is { } asked)
        {
            // RFC 8446 4.1.2: the second ClientHello answers our HelloRetryRequest: same suite, a share for the group asked for.
            if (selection!.Suite.Suite != asked.Suite.Suite || selection.Group != asked.Group || selection.ClientShare is null)
            {
                _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"second ClientHello does not answer the HelloRetryRequest (asked {asked.Group}, {asked.Suite.Suite})");
                return;
            }
        }
        else if (selection!.ClientShare is null)
        {
            SendHelloRetryRequest(now, message, ch, selection);
            return;
        }

        _engine.FlightDone();
        if (!KeyExchange.TryRespond(selection.Group, selection.ClientShare, out var serverShare, out var shared))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"client {selection.Group} key share is invalid");
            return;
        }

        _selection = selection;
        var suite = selection.Suite;
        var hash = suite.Hash;
        _transcript.Add(message);
        Span<byte> transcriptHash = stackalloc byte[Transcript13.MaxHashLength];

        var flight = new List<Outgoing13>(6);
        Add(flight, 0, HandshakeType.ServerHello, Messages13.ServerHelloBody(_serverRandom, ch.SessionId, suite.Suite, selection.Group, serverShare));

        _schedule = new Tls13KeySchedule(hash);
        _schedule.SetSharedSecret(shared);
        CryptographicOperations.ZeroMemory(shared);
        var (clientHs, serverHs) = _schedule.HandshakeTrafficSecrets(_transcript.Hash(hash, transcriptHash));
        _clientHandshakeSecret = clientHs;
        _engine.InstallWriteKeys(2, _schedule.CreateProtection(suite, serverHs), current: false);
        _engine.InstallReadKeys(now, 2, _schedule.CreateProtection(suite, clientHs));

        var extensions = new List<Extension>();
        if (selection.Srtp is { } profile)
        {
            extensions.Add(Extensions.CreateUseSrtp([profile], []));
        }

        var ee = new EncryptedExtensions(extensions);
        Add(flight, 2, Wire13.EncryptedExtensions, (ref WireWriter w) => ee.Encode(ref w));
        if (_options.ClientCertificate != ClientCertificateMode.None)
        {
            Add(flight, 2, HandshakeType.CertificateRequest, CertificateRequestBody(_options));
            _state = State.ExpectClientCertificate;
        }
        else
        {
            _state = State.ExpectClientFinished;
        }

        Add(flight, 2, HandshakeType.Certificate, Certificate13.OwnBody(_options.Certificate));
        Span<byte> signed = stackalloc byte[Negotiation13.MaxSignedContentLength];
        var signature = _options.Certificate.Sign(selection.Scheme, Negotiation13.SignedContent(Negotiation13.ServerVerifyContext, _transcript.Hash(hash, transcriptHash), signed));
        Add(flight, 2, HandshakeType.CertificateVerify, Messages13.CertificateVerifyBody(selection.Scheme, signature));
        var verifyData = _schedule.FinishedVerifyData(serverHs, _transcript.Hash(hash, transcriptHash));
        CryptographicOperations.ZeroMemory(serverHs);
        Add(flight, 2, HandshakeType.Finished, verifyData); // Finished is verify_data alone (RFC 8446 4.4.4)

        (_clientAppSecret, _serverAppSecret, _exporterSecret) = _schedule.ApplicationTrafficSecrets(_transcript.Hash(hash, transcriptHash));
        _engine.LogNegotiated(now, suite.Suite, selection.Group, selection.Scheme, selection.Srtp);
        _engine.SendFlight(now, flight, awaitsAck: false);
    }

    /// <summary>
    /// Our CertificateRequest (RFC 8446 4.3.2): an empty context and signature_algorithms with the configured schemes allowed
    /// in DTLS 1.3. The same bytes for every handshake of one options object, so encoded once per options and shared.
    /// </summary>
    private static byte[] CertificateRequestBody(DtlsOptions options) =>
        CertificateRequestBodies.GetValue(options, static o =>
        {
            var schemes = new List<SignatureScheme>(o.SignatureSchemes.Count);
            for (var i = 0; i < o.SignatureSchemes.Count; i++)
            {
                if (Negotiation13.IsScheme13(o.SignatureSchemes[i]))
                {
                    schemes.Add(o.SignatureSchemes[i]);
                }
            }

            var cr = new CertificateRequest13([], [Extensions.CreateSignatureAlgorithms(schemes)]);
            return HandshakeCommon.Encode((ref WireWriter w) => cr.Encode(ref w));
        });

    private void SendHelloRetryRequest(TimeSpan now, HandshakeMessage message, ClientHello ch, Selection13 selection)
    {
        // Stateful retry (the endpoint already exists, e.g. after ICE verified the peer): ask for a share of the group we prefer.
        _transcript.Add(message);
        _transcript.ReplaceWithMessageHash(selection.Suite.Hash);
        var hrr = HelloRetry13.Build(ch.SessionId, selection.Suite.Suite, selection.Group, cookie: null);
        var hrrMessage = _engine.CreateMessage(HandshakeType.ServerHello, hrr);
        _transcript.Add(hrrMessage);
        _retryFor = selection;
        _engine.Log(now, $"HelloRetryRequest for a {selection.Group} key share");
        _engine.SendFlight(now, [new Outgoing13(0, hrrMessage)], awaitsAck: false);
    }

    private void Add(List<Outgoing13> flight, ulong epoch, HandshakeType type, HandshakeCommon.BodyEncoder encode) =>
        Add(flight, epoch, type, HandshakeCommon.Encode(encode));

    private void Add(List<Outgoing13> flight, ulong epoch, HandshakeType type, byte[] body)
    {
        var message = _engine.CreateMessage(type, body);
        _transcript.Add(message);
        flight.Add(new Outgoing13(epoch, message));
    }

    private void OnCertificate(TimeSpan now, HandshakeMessage message)
    {
        _engine.FlightDone();
        if (!HandshakeCommon.TryDecode<Certificate13>(_engine, now, message, Certificate13.TryDecode, out var cert))
        {
            return;
        }

        if (cert!.Context.Length != 0)
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "client Certificate with a request context we did not send");
            return;
        }

        _transcript.Add(message);
        if (cert.Certificates.Count == 0)
        {
            if (_options.RequiresClientCertificate)
            {
                var why = _options.ExpectedPeerFingerprint is { } expected ? $"one matching {expected.Algorithm} fingerprint is expected" : "one is required";
                _engine.Fail(now, DtlsFailureReason.BadCertificate, AlertDescription.HandshakeFailure, $"client sent no certificate, but {why}");
                return;
            }

            _state = State.ExpectClientFinished;
            return;
        }

        if (!HandshakeCommon.AcceptPeerCertificate(_engine, now, cert.Certificates, out _clientLeaf))
        {
            return;
        }

        _state = State.ExpectClientCertificateVerify;
    }

    private void OnCertificateVerify(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<CertificateVerify>(_engine, now, message, CertificateVerify.TryDecode, out var cv))
        {
            return;
        }

        if (!Negotiation13.IsScheme13(cv!.Scheme) || !_options.SignatureSchemes.Contains(cv.Scheme) || !_clientLeaf!.IsCompatible(cv.Scheme))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"client signed with {cv.Scheme}, not requested or not usable with its key in DTLS 1.3");
            return;
        }

        Span<byte> transcriptHash = stackalloc byte[Transcript13.MaxHashLength];
        Span<byte> signed = stackalloc byte[Negotiation13.MaxSignedContentLength];
        var content = Negotiation13.SignedContent(Negotiation13.ClientVerifyContext, _transcript.Hash(_selection!.Suite.Hash, transcriptHash), signed);
        if (!_clientLeaf!.Verify(cv.Scheme, content, cv.Signature))
        {
            _engine.Fail(now, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "CertificateVerify signature does not verify");
            return;
        }

        _transcript.Add(message);
        _clientLeaf!.Dispose();
        _clientLeaf = null;
        _state = State.ExpectClientFinished;
    }

    private void OnFinished(TimeSpan now, HandshakeMessage message)
    {
        _engine.FlightDone();
        var suite = _selection!.Suite;
        Span<byte> transcriptHash = stackalloc byte[Transcript13.MaxHashLength];
        Span<byte> expected = stackalloc byte[Transcript13.MaxHashLength];
        expected = expected[.._schedule!.HashLength];
        _schedule.FinishedVerifyData(_clientHandshakeSecret!, _transcript.Hash(suite.Hash, transcriptHash), expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, message.Body))
        {
            _engine.Fail(now, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "client Finished does not verify");
            return;
        }

        _state = State.Done;
        _transcript.Release();
        _engine.InstallWriteKeys(3, _schedule.CreateProtection(suite, _serverAppSecret!), current: true);
        _engine.InstallReadKeys(now, 3, _schedule.CreateProtection(suite, _clientAppSecret!));

        // RFC 9147 7: the client's final flight is acknowledged explicitly, so the client can stop resending it.
        _engine.SendAck(now);
        _engine.SetTrafficSecrets(suite, _schedule, _clientAppSecret!, _serverAppSecret!);
        _clientAppSecret = _serverAppSecret = null;
        var exporter = _exporterSecret!;
        _exporterSecret = null;
        _engine.Complete(now, suite.Suite, _selection.Srtp, suite.Hash, exporter);
    }
}

/// <summary>Building the HelloRetryRequest (RFC 8446 4.1.4): a ServerHello with the special random, identical for the stateful and the stateless server.</summary>
internal static class HelloRetry13
{
    public static byte[] Build(byte[] sessionId, CipherSuite suite, NamedGroup? group, byte[]? cookie)
    {
        var extensions = new List<Extension> { Extensions13.CreateSelectedVersion(ProtocolVersion.Dtls13) };
        if (group is { } asked)
        {
            extensions.Add(Extensions13.CreateSelectedGroup(asked));
        }

        if (cookie is not null)
        {
            extensions.Add(Extensions13.CreateCookie(cookie));
        }

        var hrr = new ServerHello(ProtocolVersion.Dtls12, Wire13.HelloRetryRequestRandom.ToArray(), sessionId, suite, 0, extensions);
        return HandshakeCommon.Encode((ref WireWriter w) => hrr.Encode(ref w));
    }
}
