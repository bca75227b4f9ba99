using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls.Certificates;

public sealed class DtlsCertificateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("airlift-cert-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void Generated_ecdsa_certificate_is_compact_p256_self_signed_like_browsers()
    {
        using var cert = DtlsCertificate.GenerateEcdsa();
        Assert.InRange(cert.Leaf.RawData.Length, 200, 399);
        Assert.Equal(CertificateKeyType.Ecdsa, cert.KeyType);
        Assert.True(cert.Leaf.HasPrivateKey);
        Assert.Equal("CN=airlift", cert.Leaf.Subject);
        Assert.Equal(cert.Leaf.Subject, cert.Leaf.Issuer);
        Assert.Empty(cert.Leaf.Extensions);
        using var pub = cert.Leaf.GetECDsaPublicKey();
        Assert.Equal(256, pub!.KeySize);
        Assert.Single(cert.ChainDer);
        Assert.Equal(cert.Leaf.RawData, cert.ChainDer[0]);
        Assert.Equal(new[] { SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp384r1Sha384 }, cert.SignatureSchemes);

        // notBefore is one day before notAfter - validity (both from the same instant).
        var span = cert.Leaf.NotAfter - cert.Leaf.NotBefore;
        Assert.InRange(span, TimeSpan.FromDays(31) - TimeSpan.FromSeconds(1), TimeSpan.FromDays(31) + TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void Generated_certificate_honours_common_name_and_validity()
    {
        using var cert = DtlsCertificate.GenerateEcdsa("example", TimeSpan.FromDays(2));
        Assert.Equal("CN=example", cert.Leaf.Subject);
        var span = cert.Leaf.NotAfter - cert.Leaf.NotBefore;
        Assert.InRange(span, TimeSpan.FromDays(3) - TimeSpan.FromSeconds(1), TimeSpan.FromDays(3) + TimeSpan.FromSeconds(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DtlsCertificate.GenerateEcdsa("x", TimeSpan.Zero));
    }

    [Fact]
    public void Ecdsa_pem_round_trip_keeps_certificate_and_key()
    {
        using var original = DtlsCertificate.GenerateEcdsa();
        original.ExportPem(PathOf("c.pem"), PathOf("k.pem"));
        Assert.Contains("-----BEGIN PRIVATE KEY-----", File.ReadAllText(PathOf("k.pem")), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathOf("k.pem")));
        }

        using var loaded = DtlsCertificate.LoadPem(PathOf("c.pem"), PathOf("k.pem"));
        Assert.Equal(original.Leaf.RawData, loaded.Leaf.RawData);
        Assert.Equal(CertificateKeyType.Ecdsa, loaded.KeyType);
        var data = new byte[] { 1, 2, 3 };
        Assert.True(SignatureVerifier.Verify(original.Leaf, SignatureScheme.EcdsaSecp256r1Sha256, data, loaded.Sign(SignatureScheme.EcdsaSecp256r1Sha256, data)));
    }

    [Fact]
    public void Rsa_pem_round_trip_keeps_the_chain_leaf_first()
    {
        var chain = TestChains.Rsa;
        using var original = DtlsCertificate.FromCertificate(chain.Leaf, [chain.Intermediate, chain.Root]);
        Assert.Equal(CertificateKeyType.Rsa, original.KeyType);
        original.ExportPem(PathOf("c.pem"), PathOf("k.pem"));

        using var loaded = DtlsCertificate.LoadPem(PathOf("c.pem"), PathOf("k.pem"));
        Assert.Equal(CertificateKeyType.Rsa, loaded.KeyType);
        Assert.Equal(new[] { chain.Leaf.RawData, chain.Intermediate.RawData, chain.Root.RawData }, loaded.ChainDer);
        Assert.Equal(
            new[] { SignatureScheme.RsaPssRsaeSha256, SignatureScheme.RsaPssRsaeSha384, SignatureScheme.RsaPkcs1Sha256, SignatureScheme.RsaPkcs1Sha384 },
            loaded.SignatureSchemes);
        var data = new byte[] { 9, 8, 7 };
        Assert.True(SignatureVerifier.Verify(chain.Leaf, SignatureScheme.RsaPssRsaeSha256, data, loaded.Sign(SignatureScheme.RsaPssRsaeSha256, data)));
    }

    [Fact]
    public void Pem_chain_file_is_ordered_by_issuer_and_pkcs1_rsa_key_loads()
    {
        var chain = TestChains.Rsa;
        File.WriteAllText(PathOf("leaf.pem"), chain.Leaf.ExportCertificatePem());
        // Root before intermediate: the loader follows issuer links instead of file order.
        File.WriteAllText(PathOf("chain.pem"), chain.Root.ExportCertificatePem() + "\n" + chain.Intermediate.ExportCertificatePem());
        File.WriteAllText(PathOf("key.pem"), chain.Leaf.GetRSAPrivateKey()!.ExportRSAPrivateKeyPem());
        Assert.Contains("BEGIN RSA PRIVATE KEY", File.ReadAllText(PathOf("key.pem")), StringComparison.Ordinal);

        using var loaded = DtlsCertificate.LoadPem(PathOf("leaf.pem"), PathOf("key.pem"), PathOf("chain.pem"));
        Assert.Equal(new[] { chain.Leaf.RawData, chain.Intermediate.RawData, chain.Root.RawData }, loaded.ChainDer);
    }

    [Fact]
    public void Sec1_ec_key_after_an_ec_parameters_block_loads()
    {
        var chain = TestChains.Ec;
        File.WriteAllText(PathOf("c.pem"), chain.Leaf.ExportCertificatePem() + "\n" + chain.Intermediate.ExportCertificatePem());
        // `openssl ecparam -genkey` writes an EC PARAMETERS block (prime256v1 OID) before the key.
        var ecParameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
        File.WriteAllText(PathOf("k.pem"), ecParameters + chain.Leaf.GetECDsaPrivateKey()!.ExportECPrivateKeyPem());

        using var loaded = DtlsCertificate.LoadPem(PathOf("c.pem"), PathOf("k.pem"));
        Assert.Equal(CertificateKeyType.Ecdsa, loaded.KeyType);
        Assert.Equal(new[] { chain.Leaf.RawData, chain.Intermediate.RawData }, loaded.ChainDer);
    }

    [Fact]
    public void Load_pem_reports_file_and_reason_for_bad_input()
    {
        using var cert = DtlsCertificate.GenerateEcdsa();
        using var other = DtlsCertificate.GenerateEcdsa();
        cert.ExportPem(PathOf("c.pem"), PathOf("k.pem"));
        other.ExportPem(PathOf("oc.pem"), PathOf("ok.pem"));

        Assert.Throws<FileNotFoundException>(() => DtlsCertificate.LoadPem(PathOf("missing.pem"), PathOf("k.pem")));

        File.WriteAllText(PathOf("empty.pem"), "no pem here");
        var e = Assert.Throws<InvalidDataException>(() => DtlsCertificate.LoadPem(PathOf("empty.pem"), PathOf("k.pem")));
        Assert.Contains(PathOf("empty.pem"), e.Message, StringComparison.Ordinal);
        Assert.Contains("CERTIFICATE", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<InvalidDataException>(() => DtlsCertificate.LoadPem(PathOf("c.pem"), PathOf("empty.pem")));
        Assert.Contains(PathOf("empty.pem"), e.Message, StringComparison.Ordinal);

        e = Assert.Throws<InvalidDataException>(() => DtlsCertificate.LoadPem(PathOf("c.pem"), PathOf("ok.pem")));
        Assert.Contains(PathOf("ok.pem"), e.Message, StringComparison.Ordinal);
        Assert.Contains("match", e.Message, StringComparison.Ordinal);

        File.WriteAllText(PathOf("enc.pem"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
        e = Assert.Throws<InvalidDataException>(() => DtlsCertificate.LoadPem(PathOf("c.pem"), PathOf("enc.pem")));
        Assert.Contains("encrypted", e.Message, StringComparison.Ordinal);

        File.WriteAllText(PathOf("junk.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        e = Assert.Throws<InvalidDataException>(() => DtlsCertificate.LoadPem(PathOf("junk.pem"), PathOf("k.pem")));
        Assert.Contains(PathOf("junk.pem"), e.Message, StringComparison.Ordinal);

        // RSA key for an EC certificate.
        File.WriteAllText(PathOf("rsa.pem"), TestChains.Rsa.Leaf.GetRSAPrivateKey()!.ExportRSAPrivateKeyPem());
        e = Assert.Throws<InvalidDataException>(() => DtlsCertificate.LoadPem(PathOf("c.pem"), PathOf("rsa.pem")));
        Assert.Contains("RSA", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pfx_round_trip_finds_the_key_holder_and_orders_the_chain()
    {
        var chain = TestChains.Rsa;
        var collection = new X509Certificate2Collection { chain.Root, chain.Leaf, chain.Intermediate };
        File.WriteAllBytes(PathOf("c.pfx"), collection.Export(X509ContentType.Pkcs12, "pw")!);

        using var loaded = DtlsCertificate.LoadPfx(PathOf("c.pfx"), "pw");
        Assert.Equal(CertificateKeyType.Rsa, loaded.KeyType);
        Assert.Equal(new[] { chain.Leaf.RawData, chain.Intermediate.RawData, chain.Root.RawData }, loaded.ChainDer);

        var e = Assert.Throws<InvalidDataException>(() => DtlsCertificate.LoadPfx(PathOf("c.pfx"), "wrong"));
        Assert.Contains(PathOf("c.pfx"), e.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => DtlsCertificate.LoadPfx(PathOf("none.pfx")));
    }

    [Fact]
    public void From_certificate_requires_a_private_key_and_leaves_caller_objects_alive()
    {
        var chain = TestChains.Ec;
        using var publicOnly = X509CertificateLoader.LoadCertificate(chain.Leaf.RawData);
        Assert.Throws<ArgumentException>(() => DtlsCertificate.FromCertificate(publicOnly));

        var wrapped = DtlsCertificate.FromCertificate(chain.Leaf, [chain.Intermediate]);
        Assert.Same(chain.Leaf, wrapped.Leaf);
        Assert.Equal(2, wrapped.ChainDer.Count);
        wrapped.Dispose();
        using var key = chain.Leaf.GetECDsaPrivateKey();
        Assert.NotNull(key);
        Assert.NotEmpty(key.SignData([1], HashAlgorithmName.SHA256));
    }

    [Fact]
    public void P384_certificate_prefers_its_own_curve_hash()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var leaf = new CertificateRequest("CN=p384", key, HashAlgorithmName.SHA384).CreateSelfSigned(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddYears(100));
        using var cert = DtlsCertificate.FromCertificate(leaf);
        Assert.Equal(new[] { SignatureScheme.EcdsaSecp384r1Sha384, SignatureScheme.EcdsaSecp256r1Sha256 }, cert.SignatureSchemes);
    }

    [Fact]
    public void Get_fingerprint_hashes_the_leaf_der()
    {
        using var cert = DtlsCertificate.GenerateEcdsa();
        var fp = cert.GetFingerprint();
        Assert.Equal("sha-256", fp.Algorithm);
        Assert.Equal(SHA256.HashData(cert.Leaf.RawData), fp.Value.ToArray());
        Assert.Equal(SHA1.HashData(cert.Leaf.RawData), cert.GetFingerprint("SHA-1").Value.ToArray());
    }
}
