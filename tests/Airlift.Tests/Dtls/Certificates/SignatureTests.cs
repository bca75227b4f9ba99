using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls.Certificates;

public class SignatureTests
{
    private static readonly byte[] Data = "client_random || server_random || ServerECDHParams"u8.ToArray();

    public static TheoryData<ushort> EcdsaSchemes => new() { 0x0403, 0x0503 };

    private static readonly ushort[] RsaSchemeValues = [0x0804, 0x0805, 0x0401, 0x0501];

    public static TheoryData<ushort> RsaSchemes => new(RsaSchemeValues);

    private static DtlsCertificate RsaCertificate() => DtlsCertificate.FromCertificate(TestChains.Rsa.Leaf);

    [Theory]
    [MemberData(nameof(EcdsaSchemes))]
    public void Ecdsa_sign_verify_round_trip_with_der_signature_rfc5246_section7_4_1_4_1(ushort value)
    {
        var scheme = new SignatureScheme(value);
        using var cert = DtlsCertificate.GenerateEcdsa();
        Assert.Contains(scheme, cert.SignatureSchemes);
        var signature = cert.Sign(scheme, Data);
        Assert.Equal(0x30, signature[0]); // DER SEQUENCE (Ecdsa-Sig-Value)
        Assert.True(SignatureVerifier.IsCompatible(cert.Leaf, scheme));
        Assert.True(SignatureVerifier.Verify(cert.Leaf, scheme, Data, signature));
        Assert.False(SignatureVerifier.Verify(cert.Leaf, scheme, Data.AsSpan(1), signature));

        using var other = DtlsCertificate.GenerateEcdsa();
        Assert.False(SignatureVerifier.Verify(other.Leaf, scheme, Data, signature));

        var otherHash = value == 0x0403 ? SignatureScheme.EcdsaSecp384r1Sha384 : SignatureScheme.EcdsaSecp256r1Sha256;
        Assert.False(SignatureVerifier.Verify(cert.Leaf, otherHash, Data, signature));
        Assert.False(SignatureVerifier.Verify(cert.Leaf, SignatureScheme.RsaPkcs1Sha256, Data, signature));
    }

    [Theory]
    [MemberData(nameof(RsaSchemes))]
    public void Rsa_sign_verify_round_trip_for_pss_and_pkcs1(ushort value)
    {
        var scheme = new SignatureScheme(value);
        using var cert = RsaCertificate();
        var signature = cert.Sign(scheme, Data);
        Assert.Equal(256, signature.Length);
        Assert.True(SignatureVerifier.IsCompatible(cert.Leaf, scheme));
        Assert.True(SignatureVerifier.Verify(cert.Leaf, scheme, Data, signature));
        Assert.False(SignatureVerifier.Verify(cert.Leaf, scheme, Data.AsSpan(1), signature));
        Assert.False(SignatureVerifier.Verify(TestChains.Rsa.Intermediate, scheme, Data, signature));

        // Every other RSA scheme (other hash or other padding) rejects the signature.
        foreach (var other in RsaSchemeValues.Select(v => new SignatureScheme(v)).Where(s => s != scheme))
        {
            Assert.False(SignatureVerifier.Verify(cert.Leaf, other, Data, signature));
        }

        Assert.False(SignatureVerifier.Verify(cert.Leaf, SignatureScheme.EcdsaSecp256r1Sha256, Data, signature));
    }

    [Fact]
    public void Rsa_pss_signature_is_randomized_but_pkcs1_is_deterministic()
    {
        using var cert = RsaCertificate();
        Assert.NotEqual(cert.Sign(SignatureScheme.RsaPssRsaeSha256, Data), cert.Sign(SignatureScheme.RsaPssRsaeSha256, Data));
        Assert.Equal(cert.Sign(SignatureScheme.RsaPkcs1Sha256, Data), cert.Sign(SignatureScheme.RsaPkcs1Sha256, Data));

        // Cross-check PSS with salt length = hash length against the platform's own PSS verifier.
        using var pub = cert.Leaf.GetRSAPublicKey()!;
        Assert.True(pub.VerifyData(Data, cert.Sign(SignatureScheme.RsaPssRsaeSha384, Data), HashAlgorithmName.SHA384, RSASignaturePadding.Pss));
    }

    [Fact]
    public void Signing_with_a_scheme_the_key_cannot_use_throws()
    {
        using var ec = DtlsCertificate.GenerateEcdsa();
        using var rsa = RsaCertificate();
        Assert.Throws<ArgumentException>(() => ec.Sign(SignatureScheme.RsaPssRsaeSha256, Data));
        Assert.Throws<ArgumentException>(() => rsa.Sign(SignatureScheme.EcdsaSecp256r1Sha256, Data));
        Assert.Throws<ArgumentException>(() => ec.Sign(new SignatureScheme(0x0807), Data));
    }

    [Fact]
    public void Incompatible_or_unknown_schemes_and_garbage_signatures_are_rejected_without_throwing()
    {
        using var ec = DtlsCertificate.GenerateEcdsa();
        using var rsa = RsaCertificate();
        Assert.False(SignatureVerifier.IsCompatible(ec.Leaf, SignatureScheme.RsaPssRsaeSha256));
        Assert.False(SignatureVerifier.IsCompatible(rsa.Leaf, SignatureScheme.EcdsaSecp256r1Sha256));
        Assert.False(SignatureVerifier.IsCompatible(ec.Leaf, new SignatureScheme(0x0807))); // ed25519
        Assert.False(SignatureVerifier.Verify(ec.Leaf, new SignatureScheme(0x0807), Data, new byte[64]));

        foreach (var garbage in new[] { Array.Empty<byte>(), new byte[] { 0x30 }, new byte[] { 0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00 }, new byte[72], new byte[600] })
        {
            Assert.False(SignatureVerifier.Verify(ec.Leaf, SignatureScheme.EcdsaSecp256r1Sha256, Data, garbage));
            Assert.False(SignatureVerifier.Verify(rsa.Leaf, SignatureScheme.RsaPssRsaeSha256, Data, garbage));
            Assert.False(SignatureVerifier.Verify(rsa.Leaf, SignatureScheme.RsaPkcs1Sha256, Data, garbage));
        }
    }
}
