using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.V12;

/// <summary>
/// DTLS 1.2 server (RFC 6347 4.2, RFC 5246 7). The stateless cookie exchange happens before this object exists
/// (see <see cref="DtlsServerListener"/>); here the first ClientHello is answered directly.
/// </summary>
internal sealed class ServerHandshake : IHandshakeHandler
{
    private static readonly byte[] CertificateTypes = [CertificateRequest.EcdsaSign, CertificateRequest.RsaSign];

    private readonly DtlsEngine _engine;
    private readonly DtlsOptions _options;
    private readonly Transcript _transcript = new();
    private readonly byte[] _serverRandom = new byte[32];

    private State _state = State.ExpectClientHello;
    private byte[]? _clientRandom;
    private CipherSuiteInfo? _suite;
    private SrtpProtectionProfile? _srtp;
    private bool _ems;
    private KeyExchangeKeyPair? _keyShare;
    private PeerPublicKey? _clientLeaf;
    private byte[]? _master;
    private RecordProtection? _serverWrite;

    public ServerHandshake(DtlsEngine engine)
    {
        _engine = engine;
        _options = engine.Options;
    }

    private enum State
    {
        ExpectClientHello,
        ExpectClientCertificate,
        ExpectClientKeyExchange,
        ExpectCertificateVerify,
        ExpectFinished,
        Done,
    }

    public string StateName => _state.ToString();

    public void Start(TimeSpan now) => _options.Random.Fill(_serverRandom);

    public void Release()
    {
        if (_master is not null)
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(_master);
        }

        _keyShare?.Dispose();
        _clientLeaf?.Dispose();
        _clientLeaf = null;
        _serverWrite?.Dispose();
        _transcript.Release();
    }

    public void OnMessage(TimeSpan now, HandshakeMessage message)
    {
        switch (_state)
        {
            case State.ExpectClientHello when message.Type == HandshakeType.ClientHello:
                OnClientHello(now, message);
                break;
            case State.ExpectClientCertificate when message.Type == HandshakeType.Certificate:
                OnClientCertificate(now, message);
                break;
            case State.ExpectClientKeyExchange when message.Type == HandshakeType.ClientKeyExchange:
                OnClientKeyExchange(now, message);
                break;
            case State.ExpectCertificateVerify when message.Type == HandshakeType.CertificateVerify:
                OnCertificateVerify(now, message);
                break;
            case State.ExpectFinished when message.Type == HandshakeType.Finished:
                OnFinished(now, message);
                break;
            default:
                _engine.Fail(now, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, $"unexpected {message.Type} while in {_state}");
                break;
        }
    }

    private void OnClientHello(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<ClientHello>(_engine, now, message, ClientHello.TryDecode, out var ch))
        {
            return;
        }

        // Version negotiation (RFC 8446 4.2.1): a hello that offers DTLS 1.3 continues in the DTLS 1.3 engine.
        if (_options.AllowsDtls13 && V13.Negotiation13.OffersDtls13(ch!))
        {
            _engine.Endpoint!.SwitchToDtls13Server(now, _engine, message, ch!);
            return;
        }

        if (!_options.AllowsDtls12)
        {
            _engine.Fail(now, DtlsFailureReason.ProtocolVersion, AlertDescription.ProtocolVersion, "client does not offer DTLS 1.3, the only version this server allows");
            return;
        }

        // A 1.3-capable server that negotiates 1.2 says so in its random (RFC 8446 4.1.3), so a 1.3 client can detect a downgrade.
        if (_options.AllowsDtls13)
        {
            V13.Wire13.DowngradeSentinel12.CopyTo(_serverRandom.AsSpan(24));
        }

        // DTLS versions count down: FEFD (1.2) or lower values are 1.2-capable; FEFF (1.0) is not.
        if (ch!.ClientVersion.Value > ProtocolVersion.Dtls12.Value)
        {
            _engine.Fail(now, DtlsFailureReason.ProtocolVersion, AlertDescription.ProtocolVersion, $"client offers only {ch.ClientVersion}; DTLS 1.2 is required");
            return;
        }

        if (!ch.CompressionMethods.Contains((byte)0))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "client does not offer null compression");
            return;
        }

        var certificate = _options.Certificate;
        var wantSignature = certificate.KeyType == CertificateKeyType.Rsa ? KeyExchangeSignature.Rsa : KeyExchangeSignature.Ecdsa;
        CipherSuiteInfo? suite = null;
        for (var i = 0; i < _options.CipherSuites.Count; i++)
        {
            var candidate = _options.CipherSuites[i];
            if (ch.CipherSuites.Contains(candidate) && CipherSuiteInfo.TryGet(candidate, out var info) && info.Signature == wantSignature)
            {
                suite = info;
                break;
            }
        }

        if (suite is null)
        {
            _engine.Fail(now, DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure, $"no common cipher suite for a {certificate.KeyType} certificate");
            return;
        }

        // Extensions that are present must decode (RFC 5246 7.4.1.4: a malformed one is decode_error), and the lists
        // must not be empty (RFC 8422 5.1.1, RFC 5246 7.4.1.4.1); only an absent one falls back to the default.
        List<NamedGroup> groups = [NamedGroup.Secp256r1];
        if (FindExtension(ch, ExtensionType.SupportedGroups) is { } g)
        {
            if (!Extensions.TryDecodeSupportedGroups(g.Data, out var offeredGroups) || offeredGroups.Count == 0)
            {
                _engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "malformed or empty supported_groups");
                return;
            }

            groups = offeredGroups;
        }

        // Only groups with a DTLS 1.2 ECDHE form (RFC 8422): a hello that offers both versions also lists X25519MLKEM768.
        NamedGroup? group = null;
        for (var i = 0; i < _options.Groups.Count; i++)
        {
            var candidate = _options.Groups[i];
            if (groups.Contains(candidate) && KeyExchange.IsSupportedInDtls12(candidate))
            {
                group = candidate;
                break;
            }
        }

        if (group is null)
        {
            _engine.Fail(now, DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure, "no common ECDHE group");
            return;
        }

        IReadOnlyList<SignatureScheme> offeredSchemes = certificate.SignatureSchemes;
        if (FindExtension(ch, ExtensionType.SignatureAlgorithms) is { } sa)
        {
            if (!Extensions.TryDecodeSignatureAlgorithms(sa.Data, out var s) || s.Count == 0)
            {
                _engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "malformed or empty signature_algorithms");
                return;
            }

            offeredSchemes = s;
        }

        SignatureScheme? scheme = null;
        for (var i = 0; i < certificate.SignatureSchemes.Count; i++)
        {
            var candidate = certificate.SignatureSchemes[i];
            if (offeredSchemes.Contains(candidate))
            {
                scheme = candidate;
                break;
            }
        }

        if (scheme is null)
        {
            _engine.Fail(now, DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure, "no common signature scheme for the server certificate");
            return;
        }

        var emsExtension = FindExtension(ch, ExtensionType.ExtendedMasterSecret);
        if (emsExtension is { } e && !Extensions.TryDecodeExtendedMasterSecret(e.Data))
        {
            _engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "extended_master_secret with a body (RFC 7627 5.1)");
            return;
        }

        _ems = emsExtension is not null;
        if (!_ems && _options.RequireExtendedMasterSecret)
        {
            _engine.Fail(now, DtlsFailureReason.InsufficientSecurity, AlertDescription.HandshakeFailure, "client does not offer extended_master_secret (RFC 7627), which is required");
            return;
        }

        var renegotiation = FindExtension(ch, ExtensionType.RenegotiationInfo);
        if (renegotiation is { } ri && (!Extensions.TryDecodeRenegotiationInfo(ri.Data, out var verify) || verify!.Length != 0))
        {
            _engine.Fail(now, DtlsFailureReason.Renegotiation, AlertDescription.HandshakeFailure, "renegotiation_info is not empty on an initial handshake (RFC 5746 3.6)");
            return;
        }

        var secureRenegotiation = renegotiation is not null || ch.CipherSuites.Contains(CipherSuite.EmptyRenegotiationInfoScsv);

        if (FindExtension(ch, ExtensionType.UseSrtp) is { } us)
        {
            if (!Extensions.TryDecodeUseSrtp(us.Data, out var offeredProfiles, out _))
            {
                _engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "malformed use_srtp");
                return;
            }

            if (_options.SrtpProfiles.Count > 0)
            {
                for (var i = 0; i < _options.SrtpProfiles.Count; i++)
                {
                    var candidate = _options.SrtpProfiles[i];
                    if (offeredProfiles.Contains(candidate))
                    {
                        _srtp = candidate;
                        break;
                    }
                }
            }
        }

        _suite = suite;
        _clientRandom = ch.Random;
        _transcript.Add(message);

        // Flight 4: ServerHello, Certificate, ServerKeyExchange, [CertificateRequest], ServerHelloDone.
        var extensions = new List<Extension>();
        if (_ems)
        {
            extensions.Add(Extensions.CreateExtendedMasterSecret());
        }

        if (secureRenegotiation)
        {
            extensions.Add(Extensions.CreateRenegotiationInfo([]));
        }

        if (FindExtension(ch, ExtensionType.EcPointFormats) is not null)
        {
            extensions.Add(Extensions.CreateEcPointFormats([0]));
        }

        if (_srtp is { } profile)
        {
            extensions.Add(Extensions.CreateUseSrtp([profile], []));
        }

        var flight = new List<FlightEntry>(5);
        var sh = new ServerHello(ProtocolVersion.Dtls12, _serverRandom, [], suite.Suite, 0, extensions);
        Add(flight, HandshakeType.ServerHello, (ref Codec.WireWriter w) => sh.Encode(ref w));

        HandshakeCommon.AddToFlight(_engine, _transcript, flight, HandshakeType.Certificate, HandshakeCommon.CertificateBody(certificate));

        _keyShare = KeyExchange.Generate(group.Value);
        var ske = new ServerKeyExchangeEcdhe(group.Value, _keyShare.PublicShare, scheme.Value, []);
        ske = ske with { Signature = certificate.Sign(scheme.Value, HandshakeCommon.ServerKeyExchangeSignedData(_clientRandom, _serverRandom, ske)) };
        Add(flight, HandshakeType.ServerKeyExchange, (ref Codec.WireWriter w) => ske.Encode(ref w));

        if (_options.ClientCertificate != ClientCertificateMode.None)
        {
            var cr = new CertificateRequest(CertificateTypes, [.. _options.SignatureSchemes], []);
            Add(flight, HandshakeType.CertificateRequest, (ref Codec.WireWriter w) => cr.Encode(ref w));
            _state = State.ExpectClientCertificate;
        }
        else
        {
            _state = State.ExpectClientKeyExchange;
        }

        Add(flight, HandshakeType.ServerHelloDone, (ref Codec.WireWriter _) => { });
        _engine.LogNegotiated(now, suite.Suite, group.Value, scheme.Value, _ems, _srtp?.Name ?? "none");
        _engine.SendFlight(now, flight, final: false);
    }

    private void Add(List<FlightEntry> flight, HandshakeType type, HandshakeCommon.BodyEncoder encode, int capacity = 1024) =>
        HandshakeCommon.AddToFlight(_engine, _transcript, flight, type, encode, capacity);

    private static Extension? FindExtension(ClientHello ch, ExtensionType type) =>
        Extensions.TryFind(ch.Extensions, type, out var e) ? e : null;

    private void OnClientCertificate(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<CertificateMessage>(_engine, now, message, CertificateMessage.TryDecode, out var cert))
        {
            return;
        }

        if (cert!.Certificates.Count == 0)
        {
            if (_options.RequiresClientCertificate)
            {
                var why = _options.ExpectedPeerFingerprint is { } expected ? $"one matching {expected.Algorithm} fingerprint is expected" : "one is required";
                _engine.Fail(now, DtlsFailureReason.BadCertificate, AlertDescription.HandshakeFailure, $"client sent no certificate, but {why}");
                return;
            }
        }
        else if (!HandshakeCommon.AcceptPeerCertificate(_engine, now, cert.Certificates, out _clientLeaf))
        {
            return;
        }

        _transcript.Add(message);
        _state = State.ExpectClientKeyExchange;
    }

    private void OnClientKeyExchange(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<ClientKeyExchangeEcdhe>(_engine, now, message, ClientKeyExchangeEcdhe.TryDecode, out var cke))
        {
            return;
        }

        if (!_keyShare!.TryComplete(cke!.PublicPoint, out var preMaster))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "client ECDHE point is invalid");
            return;
        }

        _keyShare.Dispose();
        _transcript.Add(message);
        var (master, clientWrite, serverWrite) = HandshakeCommon.DeriveKeys(_suite!, preMaster, _ems, _transcript, _clientRandom!, _serverRandom);
        _master = master;
        _serverWrite = serverWrite;
        _state = _clientLeaf is not null ? State.ExpectCertificateVerify : State.ExpectFinished;
        _engine.InstallReadKeys(now, clientWrite);
    }

    private void OnCertificateVerify(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<CertificateVerify>(_engine, now, message, CertificateVerify.TryDecode, out var cv))
        {
            return;
        }

        if (!_options.SignatureSchemes.Contains(cv!.Scheme) || !_clientLeaf!.IsCompatible(cv.Scheme))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"client signed with {cv.Scheme}, not requested or not usable with its key");
            return;
        }

        // RFC 5246 7.4.8: the signature covers every handshake message before this one.
        if (!_clientLeaf!.Verify(cv.Scheme, _transcript.Bytes, cv.Signature))
        {
            _engine.Fail(now, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "CertificateVerify signature does not verify");
            return;
        }

        _transcript.Add(message);
        _clientLeaf!.Dispose();
        _clientLeaf = null;
        _state = State.ExpectFinished;
    }

    private void OnFinished(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<Finished>(_engine, now, message, Finished.TryDecode, out var finished))
        {
            return;
        }

        if (!HandshakeCommon.VerifyFinished(_suite!, _master!, fromClient: true, _transcript.Hash(_suite!.PrfHash), finished!.VerifyData))
        {
            _engine.Fail(now, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "client Finished does not verify");
            return;
        }

        _transcript.Add(message);
        var verifyData = KeySchedule.VerifyData(_suite.PrfHash, _master!, fromClient: false, _transcript.Hash(_suite.PrfHash));
        var ours = new Finished(verifyData);
        var finishedMessage = _engine.CreateMessage(HandshakeType.Finished, HandshakeCommon.Encode((ref Codec.WireWriter w) => ours.Encode(ref w)));
        _engine.InstallWriteKeys(_serverWrite!);
        _state = State.Done;
        _transcript.Release();

        // Flight 6 is final: the engine keeps it to answer a retransmitted flight 5 (RFC 6347 4.2.4, field failure F2).
        _engine.SendFlight(now, [FlightEntry.ChangeCipherSpec, new FlightEntry(1, finishedMessage)], final: true);
        _engine.CompleteDtls12(now, _suite, _srtp, _ems, _master!, _clientRandom!, _serverRandom);
    }
}
