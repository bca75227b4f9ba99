using System.Buffers.Binary;
using System.Security.Cryptography;
using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.V13;

/// <summary>
/// DTLS 1.3 client (RFC 9147, RFC 8446 4). The ClientHello offering both versions is sent by the DTLS 1.2 client (one
/// hello serves both); when the server answers with a DTLS 1.3 ServerHello or a HelloRetryRequest, the endpoint switches
/// to this state machine, handing over the hello as sent and the key pairs behind its key shares.
/// </summary>
internal sealed class Dtls13ClientHandshake : IHandshake13
{
    private readonly Dtls13Engine _engine;
    private readonly DtlsOptions _options;
    private readonly Transcript13 _transcript = new();
    private readonly Dictionary<NamedGroup, KeyExchangeKeyPair> _keyPairs;

    private HandshakeMessage _clientHelloMessage;
    private ClientHello _clientHello;
    private State _state = State.ExpectServerHello;
    private bool _retried;
    private NamedGroup? _retryGroup;
    private Tls13CipherSuiteInfo? _suite;
    private Tls13KeySchedule? _schedule;
    private byte[]? _clientHandshakeSecret;
    private byte[]? _serverHandshakeSecret;
    private SrtpProtectionProfile? _srtp;
    private CertificateRequest13? _certificateRequest;
    private List<SignatureScheme>? _acceptedSchemes;
    private PeerPublicKey? _serverLeaf;

    public Dtls13ClientHandshake(Dtls13Engine engine, HandshakeMessage clientHelloMessage, ClientHello clientHello, Dictionary<NamedGroup, KeyExchangeKeyPair> keyPairs)
    {
        _engine = engine;
        _options = engine.Options;
        _clientHelloMessage = clientHelloMessage;
        _clientHello = clientHello;
        _keyPairs = keyPairs;
        _transcript.Add(clientHelloMessage);
    }

    private enum State
    {
        ExpectServerHello,
        ExpectEncryptedExtensions,
        ExpectCertificateRequestOrCertificate,
        ExpectCertificate,
        ExpectCertificateVerify,
        ExpectFinished,
        Done,
    }

    public string StateName => _state.ToString();

    public void Release()
    {
        foreach (var pair in _keyPairs.Values)
        {
            pair.Dispose();
        }

        _keyPairs.Clear();
        Secrets.Zero(_clientHandshakeSecret);
        Secrets.Zero(_serverHandshakeSecret);
        _schedule?.Dispose();
        _serverLeaf?.Dispose();
        _serverLeaf = null;
        _transcript.Release();
    }


    public void OnMessage(TimeSpan now, HandshakeMessage message, ulong epoch)
    {
        switch (_state)
        {
            case State.ExpectServerHello when message.Type == HandshakeType.ServerHello:
                if (HandshakeCommon.TryDecode<ServerHello>(_engine, now, message, ServerHello.TryDecode, out var sh))
                {
                    OnServerHello(now, message, sh!);
                }

                break;
            case State.ExpectEncryptedExtensions when message.Type == Wire13.EncryptedExtensions:
                OnEncryptedExtensions(now, message);
                break;
            case State.ExpectCertificateRequestOrCertificate when message.Type == HandshakeType.CertificateRequest:
                OnCertificateRequest(now, message);
                break;
            case State.ExpectCertificateRequestOrCertificate or State.ExpectCertificate when message.Type == HandshakeType.Certificate:
                OnCertificate(now, message);
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

    /// <summary>A ServerHello or HelloRetryRequest, decoded once (by the DTLS 1.2 client that saw it select DTLS 1.3, or here after a retry).</summary>
    public void OnServerHello(TimeSpan now, HandshakeMessage message, ServerHello sh)
    {
        if (!Extensions.TryFind(sh.Extensions, ExtensionType.SupportedVersions, out var sv)
            || !Extensions13.TryDecodeSelectedVersion(sv.Data, out var version) || version != ProtocolVersion.Dtls13)
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "ServerHello does not select DTLS 1.3");
            return;
        }

        if (sh.ServerVersion != ProtocolVersion.Dtls12 || sh.CompressionMethod != 0 || !sh.SessionId.AsSpan().SequenceEqual(_clientHello.SessionId))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "ServerHello legacy fields do not match DTLS 1.3 (version, compression or session id echo)");
            return;
        }

        if (!_options.Dtls13CipherSuites.Contains(sh.CipherSuite) || !Tls13CipherSuiteInfo.TryGet(sh.CipherSuite, out var suite)
            || (_suite is not null && _suite.Suite != sh.CipherSuite))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"server chose cipher suite {sh.CipherSuite} that was not offered");
            return;
        }

        foreach (var ext in sh.Extensions)
        {
            if (ext.Type != ExtensionType.SupportedVersions && ext.Type != Wire13.KeyShare && ext.Type != Wire13.Cookie)
            {
                _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.UnsupportedExtension, $"server sent extension {ext.Type.Value} in its ServerHello");
                return;
            }
        }

        _suite = suite;
        if (sh.Random.AsSpan().SequenceEqual(Wire13.HelloRetryRequestRandom))
        {
            OnHelloRetryRequest(now, message, sh);
            return;
        }

        if (!Extensions.TryFind(sh.Extensions, Wire13.KeyShare, out var ks) || !Extensions13.TryDecodeServerShare(ks.Data, out var share)
            || !_keyPairs.TryGetValue(share.Group, out var pair) || (_retryGroup is { } asked && share.Group != asked))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "server key share is missing or for a group we sent no share for");
            return;
        }

        _engine.FlightDone();
        if (!pair.TryComplete(share.KeyExchange, out var shared))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"server {share.Group} key share is invalid");
            return;
        }

        foreach (var p in _keyPairs.Values)
        {
            p.Dispose();
        }

        _keyPairs.Clear();
        _transcript.Add(message);
        _schedule = new Tls13KeySchedule(suite.Hash);
        _schedule.SetSharedSecret(shared);
        CryptographicOperations.ZeroMemory(shared);
        (_clientHandshakeSecret, _serverHandshakeSecret) = _schedule.HandshakeTrafficSecrets(_transcript.Hash(suite.Hash, stackalloc byte[Transcript13.MaxHashLength]));
        _engine.InstallReadKeys(now, 2, _schedule.CreateProtection(suite, _serverHandshakeSecret));
        _engine.InstallWriteKeys(2, _schedule.CreateProtection(suite, _clientHandshakeSecret), current: false);

        _engine.LogNegotiated(now, suite.Suite, share.Group, null, null);
        _state = State.ExpectEncryptedExtensions;
    }

    private void OnHelloRetryRequest(TimeSpan now, HandshakeMessage message, ServerHello hrr)
    {
        if (_retried)
        {
            _engine.Fail(now, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, "second HelloRetryRequest (RFC 8446 4.1.4)");
            return;
        }

        // The retry asks for a key share (key_share: selected_group), or only for the cookie (a stateless server that liked our shares).
        NamedGroup? group = null;
        if (Extensions.TryFind(hrr.Extensions, Wire13.KeyShare, out var ks))
        {
            if (!Extensions13.TryDecodeSelectedGroup(ks.Data, out var selected)
                || !_options.Dtls13Groups.Contains(selected) || _keyPairs.ContainsKey(selected) || !KeyExchange.IsSupported(selected))
            {
                _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "HelloRetryRequest asks for a group we did not offer or already sent a share for");
                return;
            }

            group = selected;
        }

        byte[]? cookie = null;
        if (Extensions.TryFind(hrr.Extensions, Wire13.Cookie, out var cookieExtension) && !Extensions13.TryDecodeCookie(cookieExtension.Data, out cookie))
        {
            _engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, "malformed cookie in HelloRetryRequest");
            return;
        }

        if (group is null && cookie is null)
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "HelloRetryRequest that changes nothing (RFC 8446 4.1.4)");
            return;
        }

        _engine.FlightDone();
        _retried = true;
        _retryGroup = group;
        _transcript.ReplaceWithMessageHash(_suite!.Hash);
        _transcript.Add(message);

        // RFC 8446 4.1.2: the same hello with the new key share (if asked) and the cookie, nothing else changed.
        var extensions = new List<Extension>();
        if (group is { } asked)
        {
            foreach (var p in _keyPairs.Values)
            {
                p.Dispose();
            }

            _keyPairs.Clear();
            var pair = KeyExchange.Generate(asked);
            _keyPairs[asked] = pair;
            foreach (var e in _clientHello.Extensions)
            {
                extensions.Add(e.Type == Wire13.KeyShare ? Extensions13.CreateClientShares([new KeyShareEntry(asked, pair.PublicShare)]) : e);
            }
        }
        else
        {
            extensions.AddRange(_clientHello.Extensions.Where(e => e.Type != Wire13.Cookie));
        }

        if (cookie is not null)
        {
            extensions.Add(Extensions13.CreateCookie(cookie));
        }

        _clientHello = _clientHello with { Extensions = extensions };
        var hello = _clientHello;
        _clientHelloMessage = _engine.CreateMessage(HandshakeType.ClientHello, HandshakeCommon.Encode((ref WireWriter w) => hello.Encode(ref w), 2048));
        _transcript.Add(_clientHelloMessage);
        _engine.Log(now, $"HelloRetryRequest: resending ClientHello{(group is { } g ? $" with a {g} key share" : "")}{(cookie is null ? "" : " with the cookie")}");
        _engine.SendFlight(now, [new Outgoing13(0, _clientHelloMessage)], awaitsAck: false);
    }

    private void OnEncryptedExtensions(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<EncryptedExtensions>(_engine, now, message, EncryptedExtensions.TryDecode, out var ee))
        {
            return;
        }

        foreach (var ext in ee!.Extensions)
        {
            if (ext.Type == ExtensionType.SupportedVersions || ext.Type == Wire13.KeyShare || ext.Type == Wire13.Cookie || !Offered(ext.Type))
            {
                _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.UnsupportedExtension, $"server sent extension {ext.Type.Value} in EncryptedExtensions that does not belong there or was not offered");
                return;
            }
        }

        if (Extensions.TryFind(ee.Extensions, ExtensionType.UseSrtp, out var srtpExt))
        {
            // RFC 5764 4.1.1: the server's use_srtp names exactly one profile (read in place: two bytes in a vector), then the MKI.
            var r = new WireReader(srtpExt.Data);
            if (!r.TryReadVector16(out var chosen) || chosen.Length != 2 || !r.TryReadVector8(out _) || !r.IsEmpty
                || !_options.SrtpProfiles.Contains(new SrtpProtectionProfile(BinaryPrimitives.ReadUInt16BigEndian(chosen))))
            {
                _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "server chose an SRTP profile that was not offered");
                return;
            }

            _srtp = new SrtpProtectionProfile(BinaryPrimitives.ReadUInt16BigEndian(chosen));
        }

        _transcript.Add(message);
        _state = State.ExpectCertificateRequestOrCertificate;
    }

    /// <summary>True when our ClientHello carried an extension of this type (a loop: no closure per extension checked).</summary>
    private bool Offered(ExtensionType type)
    {
        foreach (var e in _clientHello.Extensions)
        {
            if (e.Type == type)
            {
                return true;
            }
        }

        return false;
    }

    private void OnCertificateRequest(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<CertificateRequest13>(_engine, now, message, CertificateRequest13.TryDecode, out var cr))
        {
            return;
        }

        if (!Extensions.TryFind(cr!.Extensions, ExtensionType.SignatureAlgorithms, out var sa) || !Extensions.TryDecodeSignatureAlgorithms(sa.Data, out _acceptedSchemes))
        {
            _engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.MissingExtension, "CertificateRequest without signature_algorithms (RFC 8446 4.3.2)");
            return;
        }

        _certificateRequest = cr;
        _transcript.Add(message);
        _state = State.ExpectCertificate;
    }

    private void OnCertificate(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<Certificate13>(_engine, now, message, Certificate13.TryDecode, out var cert))
        {
            return;
        }

        if (cert!.Context.Length != 0 || cert.Certificates.Count == 0)
        {
            _engine.Fail(now, DtlsFailureReason.BadCertificate, AlertDescription.DecodeError, "server Certificate is empty or carries a request context");
            return;
        }

        if (!HandshakeCommon.AcceptPeerCertificate(_engine, now, cert.Certificates, out _serverLeaf))
        {
            return;
        }

        _transcript.Add(message);
        _state = State.ExpectCertificateVerify;
    }

    private void OnCertificateVerify(TimeSpan now, HandshakeMessage message)
    {
        if (!HandshakeCommon.TryDecode<CertificateVerify>(_engine, now, message, CertificateVerify.TryDecode, out var cv))
        {
            return;
        }

        if (!Negotiation13.IsScheme13(cv!.Scheme) || !_options.SignatureSchemes.Contains(cv.Scheme) || !_serverLeaf!.IsCompatible(cv.Scheme))
        {
            _engine.Fail(now, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, $"server signed with {cv.Scheme}, not offered or not usable with its key in DTLS 1.3");
            return;
        }

        Span<byte> transcriptHash = stackalloc byte[Transcript13.MaxHashLength];
        Span<byte> signed = stackalloc byte[Negotiation13.MaxSignedContentLength];
        var content = Negotiation13.SignedContent(Negotiation13.ServerVerifyContext, _transcript.Hash(_suite!.Hash, transcriptHash), signed);
        if (!_serverLeaf!.Verify(cv.Scheme, content, cv.Signature))
        {
            _engine.Fail(now, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "server CertificateVerify signature does not verify");
            return;
        }

        _serverLeaf!.Dispose();
        _serverLeaf = null;
        _transcript.Add(message);
        _state = State.ExpectFinished;
    }

    private void OnFinished(TimeSpan now, HandshakeMessage message)
    {
        var suite = _suite!;
        Span<byte> transcriptHash = stackalloc byte[Transcript13.MaxHashLength];
        Span<byte> expected = stackalloc byte[Transcript13.MaxHashLength];
        expected = expected[.._schedule!.HashLength];
        _schedule.FinishedVerifyData(_serverHandshakeSecret!, _transcript.Hash(suite.Hash, transcriptHash), expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, message.Body))
        {
            _engine.Fail(now, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "server Finished does not verify");
            return;
        }

        _transcript.Add(message);
        var (clientApp, serverApp, exporter) = _schedule.ApplicationTrafficSecrets(_transcript.Hash(suite.Hash, transcriptHash));

        var flight = new List<Outgoing13>(3);
        if (_certificateRequest is { } cr)
        {
            if (cr.Context.Length == 0)
            {
                Add(flight, HandshakeType.Certificate, Certificate13.OwnBody(_options.Certificate));
            }
            else
            {
                var certificate = new Certificate13(cr.Context, [.. _options.Certificate.ChainDer]);
                Add(flight, HandshakeType.Certificate, HandshakeCommon.Encode((ref WireWriter w) => certificate.Encode(ref w), 8192));
            }

            if (!Negotiation13.TryChooseScheme13(_options.Certificate, _acceptedSchemes!, out var scheme))
            {
                _engine.Fail(now, DtlsFailureReason.NoCommonParameters, AlertDescription.HandshakeFailure, "the server accepts no signature scheme our certificate can make in DTLS 1.3");
                return;
            }

            Span<byte> signed = stackalloc byte[Negotiation13.MaxSignedContentLength];
            var signature = _options.Certificate.Sign(scheme, Negotiation13.SignedContent(Negotiation13.ClientVerifyContext, _transcript.Hash(suite.Hash, transcriptHash), signed));
            Add(flight, HandshakeType.CertificateVerify, Messages13.CertificateVerifyBody(scheme, signature));
        }

        // Finished is verify_data alone (RFC 8446 4.4.4).
        Add(flight, HandshakeType.Finished, _schedule.FinishedVerifyData(_clientHandshakeSecret!, _transcript.Hash(suite.Hash, transcriptHash)));
        _state = State.Done;
        _transcript.Release();

        _engine.InstallReadKeys(now, 3, _schedule.CreateProtection(suite, serverApp));
        _engine.InstallWriteKeys(3, _schedule.CreateProtection(suite, clientApp), current: true);

        _engine.SetTrafficSecrets(suite, _schedule, serverApp, clientApp);
        _engine.Complete(now, suite.Suite, _srtp, suite.Hash, exporter);

        // RFC 9147 7: the final flight waits for the server's ACK (resent on the timer until then), then it is released.
        _engine.SendFlight(now, flight, awaitsAck: true);
    }

    private void Add(List<Outgoing13> flight, HandshakeType type, byte[] body)
    {
        var message = _engine.CreateMessage(type, body);
        _transcript.Add(message);
        flight.Add(new Outgoing13(2, message));
    }
}
