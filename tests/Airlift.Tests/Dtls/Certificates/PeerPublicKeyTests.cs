using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls.Certificates;

/// <summary>The peer key read straight from the certificate DER (RFC 5280 4.1) instead of a full X509Certificate2 parse.</summary>
public class PeerPublicKeyTests
{
    private static readonly byte[] Data = "client_random || server_random || ServerECDHParams"u8.ToArray();

    public static TheoryData<bool> Imports => new() { true, false };

    [Fact]
    public void The_openssl_ec_import_is_in_use_on_linux_with_openssl3()
    {
        var platformOnOpenSsl3 = OperatingSystem.IsLinux() && SafeEvpPKeyHandle.OpenSslVersion >= 0x30000000;
        Assert.Equal(platformOnOpenSsl3, Airlift.Dtls.Crypto.OpenSslPublicKey.Enabled);
    }

    [Theory]
    [MemberData(nameof(Imports))]
    public void Ecdsa_key_from_the_der_equals_the_platform_certificate_key_and_verifies_rfc5280_section4_1(bool openSslImport)
    {
        using var cert = DtlsCertificate.GenerateEcdsa();
        Assert.True(PeerPublicKey.TryCreate(cert.ChainDer[0], openSslImport, out var key, out var error), error);
        using (key)
        {
            Assert.False(key.IsRsa);
            Assert.True(PeerPublicKey.TryReadSubjectPublicKeyInfo(cert.ChainDer[0], out var spki, out var oid));
            Assert.Equal("1.2.840.10045.2.1", oid);
            using var platform = X509CertificateLoader.LoadCertificate(cert.ChainDer[0]);
            Assert.Equal(platform.PublicKey.ExportSubjectPublicKeyInfo(), spki.ToArray());

            var signature = cert.Sign(SignatureScheme.EcdsaSecp256r1Sha256, Data);
            Assert.True(key.IsCompatible(SignatureScheme.EcdsaSecp256r1Sha256));
            Assert.False(key.IsCompatible(SignatureScheme.RsaPssRsaeSha256));
            Assert.True(key.Verify(SignatureScheme.EcdsaSecp256r1Sha256, Data, signature));
            Assert.False(key.Verify(SignatureScheme.EcdsaSecp256r1Sha256, Data.AsSpan(1), signature));
            Assert.False(key.Verify(SignatureScheme.EcdsaSecp384r1Sha384, Data, signature));
            Assert.False(key.Verify(SignatureScheme.RsaPkcs1Sha256, Data, signature));
            Assert.False(key.Verify(SignatureScheme.EcdsaSecp256r1Sha256, Data, [0x30, 0x03, 0x02, 0x01]));
        }
    }

    [Fact]
    public void Rsa_key_from_the_der_verifies_pss_and_pkcs1_rfc8446_section4_2_3()
    {
        using var cert = DtlsCertificate.FromCertificate(TestChains.Rsa.Leaf);
        Assert.True(PeerPublicKey.TryCreate(TestChains.Rsa.Leaf.RawData, out var key, out var error), error);
        using (key)
        {
            Assert.True(key.IsRsa);
            foreach (var scheme in new[] { SignatureScheme.RsaPssRsaeSha256, SignatureScheme.RsaPkcs1Sha256 })
            {
                Assert.True(key.IsCompatible(scheme));
                Assert.True(key.Verify(scheme, Data, cert.Sign(scheme, Data)));
            }

            Assert.False(key.IsCompatible(SignatureScheme.EcdsaSecp256r1Sha256));
        }
    }

    [Theory]
    [MemberData(nameof(Imports))]
    public void Truncated_trailing_garbage_or_altered_key_bytes_are_refused_without_throwing(bool openSslImport)
    {
        using var cert = DtlsCertificate.GenerateEcdsa();
        var der = cert.ChainDer[0];
        Assert.False(PeerPublicKey.TryCreate([], openSslImport, out _, out _));
        Assert.False(PeerPublicKey.TryCreate(der.AsSpan(0, der.Length - 1), openSslImport, out _, out _));
        Assert.False(PeerPublicKey.TryCreate([.. der, 0x00], openSslImport, out _, out _));
        Assert.False(PeerPublicKey.TryCreate(RandomBytes(300, seed: 13), openSslImport, out _, out var error));
        Assert.NotEmpty(error);

        // Flip a byte of the EC point (the last 64 bytes of the SubjectPublicKeyInfo): off the curve, refused at import.
        Assert.True(PeerPublicKey.TryReadSubjectPublicKeyInfo(der, out var spki, out _));
        var offset = der.AsSpan().IndexOf(spki) + spki.Length - 1;
        var offCurve = (byte[])der.Clone();
        offCurve[offset] ^= 0x01;
        Assert.False(PeerPublicKey.TryCreate(offCurve, openSslImport, out _, out error));
        Assert.NotEmpty(error);

        // The point at infinity (a lone 00) as the key: refused before any import (SEC 1 2.3.4).
        byte[] infinity = [0x30, 0x1a, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x02, 0x00, 0x00];
        if (openSslImport && Airlift.Dtls.Crypto.OpenSslPublicKey.Enabled)
        {
            Assert.False(Airlift.Dtls.Crypto.OpenSslPublicKey.TryImportEcdsa(infinity, out _, out error));
            Assert.NotEmpty(error);
        }
    }

    [Theory]
    [MemberData(nameof(Imports))]
    public void Every_single_byte_corruption_of_a_certificate_is_a_false_or_a_usable_key_never_an_exception(bool openSslImport)
    {
        using var cert = DtlsCertificate.GenerateEcdsa();
        var der = cert.ChainDer[0];
        for (var i = 0; i < der.Length; i++)
        {
            var copy = (byte[])der.Clone();
            copy[i] ^= 0xA5;
            if (PeerPublicKey.TryCreate(copy, openSslImport, out var key, out _))
            {
                key.Dispose();
            }
        }
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0x30;
        return bytes;
    }
}
