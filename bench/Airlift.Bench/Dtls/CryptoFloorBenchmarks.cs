using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace Airlift.Bench.Dtls;

/// <summary>
/// The crypto under one handshake, per operation, run beside <see cref="HandshakeBenchmarks"/> (same job):
/// <list type="bullet">
/// <item>Key exchange per group through Airlift's <c>KeyExchange</c> (BouncyCastle X25519 and ML-KEM-768, the
/// platform's ECDH for P-256): <see cref="KeyGenerate"/> (an ephemeral key pair and its share: both sides in 1.2, the
/// client in 1.3), <see cref="Respond"/> (the 1.3 server: its key plus the agreement, or for the hybrid the ML-KEM
/// encapsulation plus X25519), <see cref="Complete"/> (the agreement with the peer's share: both sides in 1.2, the
/// client in 1.3; for the hybrid the ML-KEM decapsulation plus X25519).</item>
/// <item>Signatures and certificates, identical in every case: ECDSA P-256 sign and verify of a 1.3
/// CertificateVerify-sized input (130 bytes), parse of the peer's DER certificate.</item>
/// <item><see cref="EcdhP256PlatformFloor"/>: the platform's bare P-256 keygen + export + import + derive, the floor
/// under <c>KeyGenerate(P256)</c> + <c>Complete(P256)</c>.</item>
/// </list>
/// A server's floor per handshake: 1.2 = KeyGenerate + Complete + sign + verify + parse; 1.3 = Respond + sign + verify
/// + parse. A client's: KeyGenerate + Complete + sign + verify + parse in both versions.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 20, iterationCount: 200)]
public class CryptoFloorBenchmarks
{
    private readonly Dictionary<Group, KeyExchangeKeyPair> _clientPairs = [];
    private readonly Dictionary<Group, byte[]> _serverShares = [];
    private ECParameters _peerPoint;
    private ECDsa _signingKey = null!;
    private ECDsa _verifyKey = null!;
    private byte[] _certificateDer = null!;
    private byte[] _signedContent = null!;
    private byte[] _signature = null!;

    public static IEnumerable<Group> Groups => Enum.GetValues<Group>();

    [GlobalSetup]
    public void Setup()
    {
        foreach (var group in Groups)
        {
            var pair = KeyExchange.Generate(group.ToNamedGroup());
            if (!KeyExchange.TryRespond(group.ToNamedGroup(), pair.PublicShare, out var serverShare, out var serverSecret)
                || !pair.TryComplete(serverShare, out var clientSecret)
                || !serverSecret.AsSpan().SequenceEqual(clientSecret))
            {
                throw new InvalidOperationException($"{group}: key exchange does not agree");
            }

            _clientPairs[group] = pair;
            _serverShares[group] = serverShare;
        }

        using var peer = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        _peerPoint = peer.ExportParameters(includePrivateParameters: false);

        var server = DtlsCertificate.GenerateEcdsa("bench-server");
        var client = DtlsCertificate.GenerateEcdsa("bench-client");
        _signingKey = server.Leaf.GetECDsaPrivateKey()!;
        _verifyKey = client.Leaf.GetECDsaPublicKey()!;
        _certificateDer = client.ChainDer[0];

        // RFC 8446 4.4.3: 64 spaces, the context string, a zero byte, the transcript hash.
        _signedContent = [.. Enumerable.Repeat((byte)0x20, 64), .. Encoding.ASCII.GetBytes("TLS 1.3, client CertificateVerify"), 0, .. SHA256.HashData("transcript"u8)];
        using var clientKey = client.Leaf.GetECDsaPrivateKey()!;
        _signature = clientKey.SignData(_signedContent, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var pair in _clientPairs.Values)
        {
            pair.Dispose();
        }

        _signingKey.Dispose();
        _verifyKey.Dispose();
    }

    /// <summary>An ephemeral key pair and its public share (disposed).</summary>
    [Benchmark]
    [ArgumentsSource(nameof(Groups))]
    public int KeyGenerate(Group group)
    {
        using var pair = KeyExchange.Generate(group.ToNamedGroup());
        return pair.PublicShare.Length;
    }

    /// <summary>The DTLS 1.3 server's key exchange: its share and the shared secret from the client's share.</summary>
    [Benchmark]
    [ArgumentsSource(nameof(Groups))]
    public int Respond(Group group) =>
        KeyExchange.TryRespond(group.ToNamedGroup(), _clientPairs[group].PublicShare, out var share, out var secret) ? share.Length + secret.Length : 0;

    /// <summary>The agreement with the peer's share on an existing key pair.</summary>
    [Benchmark]
    [ArgumentsSource(nameof(Groups))]
    public int Complete(Group group) =>
        _clientPairs[group].TryComplete(_serverShares[group], out var secret) ? secret.Length : 0;

    /// <summary>The platform's bare ECDH P-256: keygen with public point export, peer point import, derive.</summary>
    [Benchmark]
    public int EcdhP256PlatformFloor()
    {
        using var key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var q = key.ExportParameters(includePrivateParameters: false);
        using var peer = ECDiffieHellman.Create(_peerPoint);
        using var peerPublic = peer.PublicKey;
        return key.DeriveRawSecretAgreement(peerPublic).Length + q.Q.X!.Length;
    }

    /// <summary>ECDSA P-256 signature (SHA-256, DER) of a CertificateVerify input.</summary>
    [Benchmark]
    public int EcdsaP256Sign() => _signingKey.SignData(_signedContent, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence).Length;

    /// <summary>ECDSA P-256 verification of the peer's CertificateVerify.</summary>
    [Benchmark]
    public bool EcdsaP256Verify() => _verifyKey.VerifyData(_signedContent, _signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

    /// <summary>Parse of the peer's DER certificate.</summary>
    [Benchmark]
    public int CertificateParse()
    {
        using var certificate = X509CertificateLoader.LoadCertificate(_certificateDer);
        return certificate.RawDataMemory.Length;
    }

    /// <summary>What the handshake does instead of <see cref="CertificateParse"/> since issue #13: the SubjectPublicKeyInfo
    /// read from the DER and imported once as the verification key (<c>PeerPublicKey</c>).</summary>
    [Benchmark]
    public bool PeerKeyFromDer()
    {
        var ok = PeerPublicKey.TryCreate(_certificateDer, out var key, out _);
        key?.Dispose();
        return ok;
    }

    internal bool PeerKeyD2iOnly()
    {
        PeerPublicKey.TryReadSubjectPublicKeyInfo(_certificateDer, out var spki, out _);
        return OperatingSystem.IsLinux() && OpenSslPublicKey.DecodeOnly(spki);
    }
}
