using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;

namespace Airlift.Cli.Lab;

/// <summary>
/// The certificates of one lab run, generated in memory once: a compact ECDSA P-256 certificate (what browsers use)
/// and a leaf RSA 2048 + intermediate RSA 4096 chain of about 2.7-2.8 KB DER, the size of the CA-issued chain in
/// field failures F1 and F4.
/// </summary>
internal sealed class LabCertificates : IDisposable
{
    private readonly X509Certificate2 _leaf;
    private readonly X509Certificate2 _intermediate;

    private LabCertificates(DtlsCertificate ecdsa, X509Certificate2 leaf, X509Certificate2 intermediate)
    {
        Ecdsa = ecdsa;
        _leaf = leaf;
        _intermediate = intermediate;

        // FromCertificate does not take ownership: _leaf and _intermediate are disposed here, after RsaChain.
        RsaChain = DtlsCertificate.FromCertificate(leaf, [intermediate]);
    }

    /// <summary>A fresh self-signed P-256 certificate (a few hundred bytes).</summary>
    public DtlsCertificate Ecdsa { get; }

    /// <summary>The 2.7 KB RSA chain: leaf (2048) then intermediate (4096).</summary>
    public DtlsCertificate RsaChain { get; }

    /// <summary>Total DER bytes of the RSA chain as sent in a Certificate message (without the 3-byte length prefixes).</summary>
    public int RsaChainDerBytes => RsaChain.ChainDer.Sum(c => c.Length);

    /// <summary>The certificate named by <c>--cert</c>: "ecdsa" or "rsa-chain".</summary>
    public DtlsCertificate ByName(string name) => name == LabOptions.CertRsaChain ? RsaChain : Ecdsa;

    /// <summary>Generates both (the RSA 4096 key takes most of the time, typically well under a second).</summary>
    public static LabCertificates Create()
    {
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        var notAfter = notBefore.AddDays(31);
        using var intermediateKey = RSA.Create(4096);
        var intermediateRequest = new CertificateRequest(
            "CN=Airlift Lab Intermediate CA R1, OU=Lab Only - Not Trusted, O=Airlift Lab Fixtures, C=ZZ",
            intermediateKey,
            HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1);
        intermediateRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        intermediateRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        intermediateRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(intermediateRequest.PublicKey, false));

        // Self-signed with its own 4096-bit key: the signature has the size a 4096-bit root's would have.
        var intermediate = intermediateRequest.CreateSelfSigned(notBefore, notAfter);

        using var leafKey = RSA.Create(2048);
        var leafRequest = new CertificateRequest(
            "CN=airlift-lab.example.com, OU=Lab Only, O=Airlift Lab Fixtures, C=ZZ",
            leafKey,
            HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1);
        leafRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        leafRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        leafRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(leafRequest.PublicKey, false));
        leafRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(intermediate, true, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("airlift-lab.example.com");
        san.AddDnsName("media.airlift-lab.example.com");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        leafRequest.CertificateExtensions.Add(san.Build());
        using var unsigned = leafRequest.Create(intermediate, notBefore, notAfter.AddDays(-1), [0x4C, 0x61, 0x62, 0x01]);
        var leaf = unsigned.CopyWithPrivateKey(leafKey);
        try
        {
            return new LabCertificates(DtlsCertificate.GenerateEcdsa("airlift-lab"), leaf, intermediate);
        }
        catch
        {
            leaf.Dispose();
            intermediate.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        RsaChain.Dispose();
        Ecdsa.Dispose();
        _leaf.Dispose();
        _intermediate.Dispose();
    }
}
