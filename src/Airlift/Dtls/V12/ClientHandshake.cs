using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.V12;

/// <summary>
/// DTLS 1.2 client (RFC 6347 4.2, RFC 5246 7). States are named for what they await; each handler method
/// validates one message and moves to the next state.
/// </summary>
internal sealed class ClientHandshake : IHandshakeHandler
{
    private readonly DtlsEngine _engine;
    private readonly DtlsOptions _options;
    private readonly Transcript _transcript = new();
    private readonly byte[] _clientRandom = new byte[32];

    private State _state = State.ExpectServerHello;
    private byte[] _cookie = [];
    private int _helloVerifyRequests;
    private ClientHello? _clientHello;
    private HandshakeMessage? _clientHelloMessage;
    private Dictionary<NamedGroup, KeyExchangeKeyPair>? _shares13;
    private byte[]? _serverRandom;
    private CipherSuiteInfo? _suite;
    private SrtpProtectionProfile? _srtp;
    private bool _ems;
    private PeerPublicKey? _serverLeaf;
    private KeyExchangeKeyPair? _keyShare;
    private byte[]? _serverPoint;
    private CertificateRequest? _certificateRequest;
    private byte[]? _master;

    public ClientHandshake(DtlsEngine engine)
    {
        _engine = engine;
        _options = engine.Options;
    }

    private enum State
    {
        ExpectServerHello,
        ExpectCertificate,
        ExpectServerKeyExchange,
        ExpectCertificateRequestOrDone,
        ExpectServerHelloDone,
        ExpectFinished,
        Done,
    }

    public string StateName => _state.ToString();

    public void Start(TimeSpan now)
    {
        _options.Random.Fill(_clientRandom);
        SendClientHello(now);
    }

    private void SendClientHello(TimeSpan now)
    {
        var extensions = new List<Extension>
        {
            Extensions.CreateSupportedGroups(_options.Groups),
            Extensions.CreateEcPointFormats([0]),
            Extensions.CreateSignatureAlgorithms(_options.SignatureSchemes),
            Extensions.CreateExtendedMasterSecret(),
            Extensions.CreateRenegotiationInfo([]),
        };
        if (_options.SrtpProfiles.Count > 0)
        {
            extensions.Add(Extensions.CreateUseSrtp(_options.SrtpProfiles, []));
        }

        List<CipherSuite> suites = _options.AllowsDtls12 ? [.. _options.CipherSuites] : [];
        if (_options.AllowsDtls13)
        {
            // One hello offers both versions (RFC 8446 4.2.1, RFC 9147 5.3): DTLS 1.2 servers ignore what they do not know.
            suites.InsertRange(0, _options.Dtls13CipherSuites);
            extensions[0] = Extensions.CreateSupportedGroups([.. _options.Dtls13Groups.Concat(_options.Groups).Distinct()]);
            extensions.Add(Extensions.CreateSupportedVersions(_options.AllowsDtls12 ? [ProtocolVersion.Dtls13, ProtocolVersion.Dtls12] : [ProtocolVersion.Dtls13]));
            _shares13 ??= _options.EffectiveKeyShares.ToDictionary(g => g, KeyExchange.Generate);
            extensions.Add(V13.Extensions13.CreateClientShares([.. _shares13.Select(s => new V13.KeyShareEntry(s.Key, s.Value.PublicShare))]));
        }

        _clientHello = new ClientHello(ProtocolVersion.Dtls12, _clientRandom, [], _cookie, suites, [0], extensions);
        var hello = _clientHello;
        var message = _engine.CreateMessage(HandshakeType.ClientHello, HandshakeCommon.Encode((ref Codec.WireWriter w) => hello.Encode(ref w), 2048));
        _clientHelloMessage = message;
        _transcript.Reset();
        _transcript.Add(message);
        _engine.SendFlight(now, [new FlightEntry(0, message)], final: false);
    }

    public void Release()
    {
        if (_master is not null)
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(_master);
        }

        _keyShare?.Dispose();
        if (_shares13 is not null)
        {
            foreach (var pair in _shares13.Values)
            {
                pair.Dispose();
            }
        }

        _serverLeaf?.Dispose();
        _serverLeaf = null;
        _transcript.Release();
    }

    public void OnMessage(TimeSpan now, HandshakeMessage message)
    {
        switch (_state)
        {
            case State.ExpectServerHello when message.Type == HandshakeType.HelloVerifyRequest:
                OnHelloVerifyRequest(now, message);
                break;
            case State.ExpectServerHello when message.Type == HandshakeType.ServerHello:
                OnServerHello(now, message);
                break;
            case State.ExpectCertificate when message.Type == HandshakeType.Certificate:
                OnCertificate(now, message);
                break;
            case State.ExpectServerKeyExchange when message.Type == HandshakeType.ServerKeyExchange:
                OnServerKeyExchange(now, message);
                break;
            case State.ExpectCertificateRequestOrDone when message.Type == HandshakeType.CertificateRequest:
                OnCertificateRequest(now, message);
                break;
            case State.ExpectCertificateRequestOrDone or State.ExpectServerHelloDone when message.Type == HandshakeType.ServerHelloDone:
                OnServerHelloDone(now, message);
                break;
            case State.ExpectFinished when message.Type == HandshakeType.Finished:
                OnFinished(now, message);
                break;
            default:
                _engine.Fail(now, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, $"unexpected {message.Type} while in {_state}");
                break;
        }
    }

    private void OnHelloVerifyRequest(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<HelloVerifyRequest>(_engine, now, message, HelloVerifyRequest.TryDecode, out var hvr))
        {
            return;
        }

        if (_cookie.Length > 0 && hvr!.Cookie.AsSpan().SequenceEqual(_cookie))
        {
            return;
        }

        if (++_helloVerifyRequests > _options.MaxHelloVerifyRequests)
        {
            // A server that keeps asking for new cookies never lets the handshake progress; stop feeding it ClientHellos.
            _engine.Fail(now, DtlsFailureReason.UnexpectedMessage, AlertDescription.HandshakeFailure, $"server sent {_helloVerifyRequests} HelloVerifyRequests with new cookies (limit {_options.MaxHelloVerifyRequests}): cookie loop");
            return;
        }

        // RFC 6347 4.2.1: the cookie is echoed in a new ClientHello with the same random; neither hello enters the transcript.
        _cookie = hvr!.Cookie;
        _engine.Log(now, $"cookie of {_cookie.Length} bytes received; resending ClientHello");

        // The server's answer to the hello with the cookie cannot have arrived before that hello is sent: handshake messages
        // already buffered ahead of the HelloVerifyRequest are another association's (the flight of the server's previous
        // session for our address and port, when this client restarted on it), never ours.
        if (_engine.Reassembler.DiscardBuffered() is > 0 and var stale)
        {
            _engine.Log(now, $"dropped {stale} buffered handshake message(s) received before the cookie exchange (not an answer to this hello)");
        }

        SendClientHello(now);
    }

    private void OnServerHello(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<ServerHello>(_engine, now, message, ServerHello.TryDecode, out var sh))
        {
            return;
        }

        if (_shares13 is not null && Extensions.TryFind(sh!.Extensions, ExtensionType.SupportedVersions, out _))
        {
            // A DTLS 1.3 ServerHello or HelloRetryRequest: the DTLS 1.3 client takes over with the hello as sent and its key pairs.
            var shares = _shares13;
            _shares13 = null;
            _engine.Endpoint!.SwitchToDtls13Client(now, _engine, _clientHelloMessage!, _clientHello!, shares, message, sh);
            return;
        }

        if (_options.AllowsDtls13)
        {
            if (!_options.AllowsDtls12)
            {
                _engine.Fail(now, DtlsFailureReason.ProtocolVersion, AlertDescription.ProtocolVersion, "server chose DTLS 1.2; only DTLS 1.3 is allowed");
                return;
            }

            // RFC 8446 4.1.3: a server able to do 1.3 that answers 1.2 marks its random; seeing the mark, someone removed 1.3 from our offer.
            if (sh!.Random.AsSpan(24).SequenceEqual(V13.Wire13.DowngradeSentinel12))
            {
                _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "DTLS 1.2 ServerHello carries the downgrade sentinel although we offered DTLS 1.3");
                return;
            }
        }

        if (sh!.ServerVersion != ProtocolVersion.Dtls12)
        {
            _engine.Fail(now, DtlsFailureReason.ProtocolVersion, AlertDescription.ProtocolVersion, $"server chose {sh.ServerVersion}; only DTLS 1.2 is offered");
            return;
        }

        if (!_options.CipherSuites.Contains(sh.CipherSuite) || !CipherSuiteInfo.TryGet(sh.CipherSuite, out var suite))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"server chose cipher suite {sh.CipherSuite} that was not offered");
            return;
        }

        if (sh.CompressionMethod != 0)
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "server chose a compression method that was not offered");
            return;
        }

        foreach (var ext in sh.Extensions)
        {
            if (!Extensions.TryFind(_clientHello!.Extensions, ext.Type, out _))
            {
                _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.UnsupportedExtension, $"server sent extension {ext.Type.Value} that was not offered");
                return;
            }
        }

        if (Extensions.TryFind(sh.Extensions, ExtensionType.ExtendedMasterSecret, out var emsExt) && !Extensions.TryDecodeExtendedMasterSecret(emsExt.Data))
        {
            _engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "extended_master_secret with a body (RFC 7627 5.1)");
            return;
        }

        // RFC 5746 3.4: on an initial handshake the server's renegotiation_info must be empty.
        if (Extensions.TryFind(sh.Extensions, ExtensionType.RenegotiationInfo, out var riExt)
            && (!Extensions.TryDecodeRenegotiationInfo(riExt.Data, out var renegotiated) || renegotiated.Length != 0))
        {
            _engine.Fail(now, DtlsFailureReason.Renegotiation, AlertDescription.HandshakeFailure, "renegotiation_info is not empty on an initial handshake (RFC 5746 3.4)");
            return;
        }

        _ems = Extensions.TryFind(sh.Extensions, ExtensionType.ExtendedMasterSecret, out _);
        if (!_ems && _options.RequireExtendedMasterSecret)
        {
            _engine.Fail(now, DtlsFailureReason.InsufficientSecurity, AlertDescription.HandshakeFailure, "server does not support extended_master_secret (RFC 7627), which is required");
            return;
        }

        if (Extensions.TryFind(sh.Extensions, ExtensionType.UseSrtp, out var srtpExt))
        {
            if (!Extensions.TryDecodeUseSrtp(srtpExt.Data, out var profiles, out _) || profiles!.Count != 1 || !_options.SrtpProfiles.Contains(profiles[0]))
            {
                _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "server chose an SRTP profile that was not offered");
                return;
            }

            _srtp = profiles[0];
        }

        _suite = suite;
        _serverRandom = sh.Random;
        _transcript.Add(message);
        _state = State.ExpectCertificate;
    }

    private void OnCertificate(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<CertificateMessage>(_engine, now, message, CertificateMessage.TryDecode, out var cert))
        {
            return;
        }

        if (cert!.Certificates.Count == 0)
        {
            _engine.Fail(now, DtlsFailureReason.BadCertificate, AlertDescription.BadCertificate, "server sent no certificate");
            return;
        }

        if (!HandshakeCommon.AcceptPeerCertificate(_engine, now, cert.Certificates, out _serverLeaf))
        {
            return;
        }

        var wantRsa = _suite!.Signature == KeyExchangeSignature.Rsa;
        if (_serverLeaf!.IsRsa != wantRsa)
        {
            _engine.Fail(now, DtlsFailureReason.BadCertificate, AlertDescription.UnsupportedCertificate, $"server certificate key type does not match {_suite.Suite}");
            return;
        }

        _transcript.Add(message);
        _state = State.ExpectServerKeyExchange;
    }

    private void OnServerKeyExchange(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<ServerKeyExchangeEcdhe>(_engine, now, message, ServerKeyExchangeEcdhe.TryDecode, out var ske))
        {
            return;
        }

        // Any group our hello listed that works as DTLS 1.2 ECDHE (the hybrid is DTLS 1.3 only); the hello lists the DTLS 1.3
        // groups too when it offers 1.3, and a DTLS 1.2 server may pick X25519 from them (aiortc does).
        var listed = _options.AllowsDtls13 ? _options.Dtls13Groups.Concat(_options.Groups) : _options.Groups;
        if (!listed.Contains(ske!.Group) || !KeyExchange.IsSupportedInDtls12(ske.Group))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"server chose group {ske.Group} that was not offered");
            return;
        }

        if (!_options.SignatureSchemes.Contains(ske.Scheme) || !_serverLeaf!.IsCompatible(ske.Scheme))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"server signed with {ske.Scheme}, not offered or not usable with its key");
            return;
        }

        if (!_serverLeaf!.Verify(ske.Scheme, HandshakeCommon.ServerKeyExchangeSignedData(_clientRandom, _serverRandom!, ske), ske.Signature))
        {
            _engine.Fail(now, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "ServerKeyExchange signature does not verify");
            return;
        }

        _serverPoint = ske.PublicPoint;
        _keyShare = KeyExchange.Generate(ske.Group);
        _transcript.Add(message);
        _state = State.ExpectCertificateRequestOrDone;
    }

    private void OnCertificateRequest(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<CertificateRequest>(_engine, now, message, CertificateRequest.TryDecode, out var cr))
        {
            return;
        }

        _certificateRequest = cr;
        _transcript.Add(message);
        _state = State.ExpectServerHelloDone;
    }

    private void OnServerHelloDone(TimeSpan now, HandshakeMessage message)
    {
        if (message.Body.Length != 0)
        {
            _engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "malformed ServerHelloDone");
            return;
        }

        _transcript.Add(message);
        if (!_keyShare!.TryComplete(_serverPoint, out var preMaster))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "server ECDHE point is invalid");
            return;
        }

        var flight = new List<FlightEntry>(5);
        SignatureScheme? clientScheme = null;
        if (_certificateRequest is not null)
        {
            var ownSchemes = _options.Certificate.SignatureSchemes;
            for (var i = 0; i < ownSchemes.Count && clientScheme is null; i++)
            {
                if (_certificateRequest.SignatureSchemes.Contains(ownSchemes[i]))
                {
                    clientScheme = ownSchemes[i];
                }
            }

            // No usable scheme: send an empty certificate list and let the server decide (RFC 5246 7.4.6).
            var certificateBody = clientScheme is null
                ? HandshakeCommon.Encode((ref Codec.WireWriter w) => new CertificateMessage([]).Encode(ref w))
                : HandshakeCommon.CertificateBody(_options.Certificate);
            HandshakeCommon.AddToFlight(_engine, _transcript, flight, HandshakeType.Certificate, certificateBody);
        }

        var cke = new ClientKeyExchangeEcdhe(_keyShare.PublicShare);

        // The ephemeral key and the server's certificate are not needed past this point; do not hold them per connection.
        _keyShare.Dispose();
        _serverLeaf?.Dispose();
        _serverLeaf = null;
        HandshakeCommon.AddToFlight(_engine, _transcript, flight, HandshakeType.ClientKeyExchange, (ref Codec.WireWriter w) => cke.Encode(ref w));

        // RFC 7627: the session hash covers the messages through ClientKeyExchange.
        var (master, clientWrite, serverWrite) = HandshakeCommon.DeriveKeys(_suite!, preMaster, _ems, _transcript, _clientRandom, _serverRandom!);
        _master = master;

        if (clientScheme is { } scheme)
        {
            var signature = _options.Certificate.Sign(scheme, _transcript.Bytes);
            var cv = new CertificateVerify(scheme, signature);
            HandshakeCommon.AddToFlight(_engine, _transcript, flight, HandshakeType.CertificateVerify, (ref Codec.WireWriter w) => cv.Encode(ref w));
        }

        flight.Add(FlightEntry.ChangeCipherSpec);
        var verifyData = KeySchedule.VerifyData(_suite!.PrfHash, _master, fromClient: true, _transcript.Hash(_suite.PrfHash));
        var finished = new Finished(verifyData);
        HandshakeCommon.AddToFlight(_engine, _transcript, flight, HandshakeType.Finished, (ref Codec.WireWriter w) => finished.Encode(ref w), epoch: 1);

        _engine.InstallWriteKeys(clientWrite);
        _state = State.ExpectFinished;
        _engine.SendFlight(now, flight, final: false);
        _engine.InstallReadKeys(now, serverWrite);
    }

    private void OnFinished(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<Finished>(_engine, now, message, Finished.TryDecode, out var finished))
        {
            return;
        }

        if (!HandshakeCommon.VerifyFinished(_suite!, _master!, fromClient: false, _transcript.Hash(_suite!.PrfHash), finished!.VerifyData))
        {
            _engine.Fail(now, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "server Finished does not verify");
            return;
        }

        _state = State.Done;
        _transcript.Release();
        _engine.FinalFlightReceived();
        _engine.CompleteDtls12(now, _suite, _srtp, _ems, _master!, _clientRandom, _serverRandom!);
    }
}
