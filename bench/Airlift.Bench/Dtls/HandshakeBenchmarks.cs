using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace Airlift.Bench.Dtls;

/// <summary>
/// DTLS 1.2 handshake cost (ECDSA P-256 certificates on both sides, AES-128-GCM, mutual authentication), beside the
/// platform crypto a server cannot avoid, measured in the same run:
/// <list type="bullet">
/// <item><see cref="FullHandshake"/>: client and server in one process, lockstep, no I/O (handshakes/s = 1 / mean).</item>
/// <item><see cref="ServerFlight4"/> + <see cref="ServerFlight6"/>: the server alone. Each iteration gets a fresh client's
/// genuine flight (prepared in an iteration setup, outside the measurement): ClientHello in, flight 4 out; then flight 5
/// in, flight 6 out. Their sum is the server's CPU per handshake; nothing is subtracted.</item>
/// <item><see cref="CryptoFloor"/>: one ECDH P-256 keygen + derive, one ECDSA P-256 sign, one ECDSA verify of a
/// CertificateVerify-sized transcript, one certificate parse, straight on System.Security.Cryptography.
/// Target: server per handshake within 1.5x of this floor.</item>
/// </list>
/// Monitoring strategy (one invocation per iteration) because of the per-iteration setup; 200 iterations.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 20, iterationCount: 200)]
public class HandshakeBenchmarks
{
    private readonly byte[] _buffer = new byte[65535];
    private DtlsOptions _client = null!;
    private DtlsOptions _server = null!;
    private List<byte[]> _flight1 = null!;
    private List<byte[]> _flight5 = null!;
    private DtlsEndpoint _waitingServer = null!;

    private ECParameters _peerPoint;
    private ECDsa _signingKey = null!;
    private ECDsa _verifyKey = null!;
    private byte[] _clientCertificateDer = null!;
    private readonly byte[] _skeSigned = new byte[64 + 69];
    private readonly byte[] _transcript = new byte[1500];
    private byte[] _transcriptSignature = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_client, _server) = BenchPair.Options();
        BenchPair.Connect(_client, _server, _buffer);

        using var peer = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        _peerPoint = peer.ExportParameters(includePrivateParameters: false);
        _signingKey = _server.Certificate.Leaf.GetECDsaPrivateKey()!;
        _verifyKey = _client.Certificate.Leaf.GetECDsaPublicKey()!;
        _clientCertificateDer = _client.Certificate.ChainDer[0];
        RandomNumberGenerator.Fill(_skeSigned);
        RandomNumberGenerator.Fill(_transcript);
        using var clientKey = _client.Certificate.Leaf.GetECDsaPrivateKey()!;
        _transcriptSignature = clientKey.SignData(_transcript, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _signingKey.Dispose();
        _verifyKey.Dispose();
    }

    /// <summary>Client and server, ClientHello to both Connected.</summary>
    [Benchmark]
    public DtlsState FullHandshake() => BenchPair.Connect(_client, _server, _buffer).Server.State;

    [IterationSetup(Target = nameof(ServerFlight4))]
    public void FreshClientHello()
    {
        var client = DtlsEndpoint.CreateClient(_client, BenchPair.T0);
        _flight1 = BenchPair.Drain(client, _buffer);
    }

    /// <summary>Server: created, fed a fresh ClientHello, drained of ServerHello .. ServerHelloDone.</summary>
    [Benchmark]
    public int ServerFlight4()
    {
        var server = DtlsEndpoint.CreateServer(_server, BenchPair.T0);
        return BenchPair.Feed(server, _flight1, BenchPair.T0, _buffer).Count;
    }

    [IterationSetup(Target = nameof(ServerFlight6))]
    public void FreshClientFlight5()
    {
        var client = DtlsEndpoint.CreateClient(_client, BenchPair.T0);
        _waitingServer = DtlsEndpoint.CreateServer(_server, BenchPair.T0);
        var flight4 = BenchPair.Feed(_waitingServer, BenchPair.Drain(client, _buffer), BenchPair.T0, _buffer);
        _flight5 = BenchPair.Feed(client, flight4, BenchPair.T0, _buffer);
    }

    /// <summary>Server: fed Certificate, ClientKeyExchange, CertificateVerify, ChangeCipherSpec, Finished; drained of flight 6 and its events.</summary>
    [Benchmark]
    public DtlsState ServerFlight6()
    {
        BenchPair.Feed(_waitingServer, _flight5, BenchPair.T0, _buffer);
        return _waitingServer.State;
    }

    /// <summary>Platform floor of one ECDH P-256 keygen (with public point export) and derive (with peer point import).</summary>
    [Benchmark]
    public int EcdhP256KeygenAndDerive()
    {
        using var key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var q = key.ExportParameters(includePrivateParameters: false);
        using var peer = ECDiffieHellman.Create(_peerPoint);
        using var peerPublic = peer.PublicKey;
        return key.DeriveRawSecretAgreement(peerPublic).Length + q.Q.X!.Length;
    }

    /// <summary>Platform floor of the ServerKeyExchange signature (SHA-256 over randoms + params, DER signature).</summary>
    [Benchmark]
    public int EcdsaP256Sign() => _signingKey.SignData(_skeSigned, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence).Length;

    /// <summary>Platform floor of verifying the client's CertificateVerify over a 1.5 KB transcript.</summary>
    [Benchmark]
    public bool EcdsaP256Verify() => _verifyKey.VerifyData(_transcript, _transcriptSignature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

    /// <summary>Platform floor of parsing the client's DER certificate.</summary>
    [Benchmark]
    public int CertificateParse()
    {
        using var certificate = X509CertificateLoader.LoadCertificate(_clientCertificateDer);
        return certificate.RawDataMemory.Length;
    }

    /// <summary>The four floor operations in sequence: the crypto a server cannot avoid per handshake.</summary>
    [Benchmark]
    public int CryptoFloor() => EcdhP256KeygenAndDerive() + EcdsaP256Sign() + (EcdsaP256Verify() ? 1 : 0) + CertificateParse();
}
