using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Airlift.Tests.Dtls.Certificates;

/// <summary>In-memory root -> intermediate -> leaf chains built with CertificateRequest, generated once per test run.</summary>
internal static class TestChains
{
    private static readonly Lazy<Chain> RsaChain = new(() => Build(rsa: true));
    private static readonly Lazy<Chain> EcChain = new(() => Build(rsa: false));

    public static Chain Rsa => RsaChain.Value;

    public static Chain Ec => EcChain.Value;

    public sealed record Chain(X509Certificate2 Root, X509Certificate2 Intermediate, X509Certificate2 Leaf);

    private static Chain Build(bool rsa)
    {
        var notBefore = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var notAfter = notBefore.AddYears(20);

        var root = SelfSignedCa("CN=Airlift Test Root", rsa, notBefore, notAfter);
        var intermediate = Issue("CN=Airlift Test Intermediate", rsa, root, isCa: true, notBefore, notAfter, serial: 2);
        var leaf = Issue("CN=airlift.test", rsa, intermediate, isCa: false, notBefore, notAfter, serial: 3);
        return new Chain(root, intermediate, leaf);
    }

    private static CertificateRequest Request(string subject, AsymmetricAlgorithm key) => key switch
    {
        RSA r => new CertificateRequest(subject, r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        ECDsa e => new CertificateRequest(subject, e, HashAlgorithmName.SHA256),
        _ => throw new NotSupportedException(),
    };

    private static AsymmetricAlgorithm NewKey(bool rsa) => rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private static X509Certificate2 SelfSignedCa(string subject, bool rsa, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = NewKey(rsa);
        var request = Request(subject, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    private static X509Certificate2 Issue(string subject, bool rsa, X509Certificate2 issuer, bool isCa, DateTimeOffset notBefore, DateTimeOffset notAfter, byte serial)
    {
        using var key = NewKey(rsa);
        var request = Request(subject, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
        using var unsigned = request.Create(issuer, notBefore, notAfter, [serial]);
        return key switch
        {
            RSA r => unsigned.CopyWithPrivateKey(r),
            ECDsa e => unsigned.CopyWithPrivateKey(e),
            _ => throw new NotSupportedException(),
        };
    }
}
