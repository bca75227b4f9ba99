using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls;

/// <summary>Certificates shared by the in-process tests (generated once per test run).</summary>
internal static class TestCertificates
{
    private static readonly Lazy<DtlsCertificate> LazyEcdsa = new(() => DtlsCertificate.GenerateEcdsa("airlift-test"));
    private static readonly Lazy<DtlsCertificate> LazyEcdsa2 = new(() => DtlsCertificate.GenerateEcdsa("airlift-test-peer"));
    private static readonly Lazy<DtlsCertificate> LazyRsa = new(() => CreateRsa());
    private static readonly Lazy<DtlsCertificate> LazyRsaChain = new(() => LoadFixtureChain());

    public static DtlsCertificate Ecdsa => LazyEcdsa.Value;

    public static DtlsCertificate EcdsaPeer => LazyEcdsa2.Value;

    public static DtlsCertificate Rsa => LazyRsa.Value;

    /// <summary>The 2.7 KB RSA chain of SCENARIOS.md F1/F4 (leaf 2048 + intermediate 4096), from tests/fixtures/certs.</summary>
    public static DtlsCertificate RsaChain => LazyRsaChain.Value;

    public static string FixturePath(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "fixtures", .. parts]);

    private static DtlsCertificate CreateRsa()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=airlift-rsa-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return DtlsCertificate.FromCertificate(cert); // FromCertificate does not take ownership; the certificate lives for the test run
    }

    private static DtlsCertificate LoadFixtureChain() =>
        DtlsCertificate.LoadPem(FixturePath("certs", "rsa-chain", "leaf.pem"), FixturePath("certs", "rsa-chain", "leaf.key"), FixturePath("certs", "rsa-chain", "intermediate.pem"));
}
