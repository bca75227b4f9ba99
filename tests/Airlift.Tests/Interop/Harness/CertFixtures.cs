namespace Airlift.Tests.Interop;

/// <summary>A certificate fixture: PEM paths of the certificate (or leaf), its PKCS#8 key, and any chain to send.</summary>
/// <param name="CertPath">PEM certificate (the leaf for chains).</param>
/// <param name="KeyPath">PEM PKCS#8 private key, unencrypted.</param>
/// <param name="ChainPath">PEM intermediates to send after the leaf (openssl -cert_chain), or null.</param>
/// <param name="FullChainPath">PEM leaf followed by intermediates (gnutls --x509certfile), or the certificate alone.</param>
internal sealed record CertFixture(string CertPath, string KeyPath, string? ChainPath, string FullChainPath);

/// <summary>
/// The committed test-only certificates in tests/fixtures/certs (copied next to the test assembly as
/// fixtures/certs). See tests/fixtures/certs/README.md for how they were made and their sizes.
/// </summary>
internal static class CertFixtures
{
    /// <summary>Absolute path of the fixtures/certs directory next to the test assembly.</summary>
    public static string Directory { get; } = Path.Combine(AppContext.BaseDirectory, "fixtures", "certs");

    /// <summary>RSA 2048 leaf (CN=airlift-test) + RSA 4096 intermediate: leaf+intermediate DER ~2.77 KB (field case F4).</summary>
    public static CertFixture RsaChain { get; } = new(
        At("rsa-chain/leaf.pem"), At("rsa-chain/leaf.key"), At("rsa-chain/intermediate.pem"), At("rsa-chain/chain.pem"));

    /// <summary>The self-signed RSA 4096 root of <see cref="RsaChain"/> (for peers asked to verify).</summary>
    public static string RsaChainRoot { get; } = At("rsa-chain/root.pem");

    /// <summary>P-256 self-signed, CN=WebRTC: what browsers generate.</summary>
    public static CertFixture Ecdsa { get; } = new(At("ecdsa/cert.pem"), At("ecdsa/key.pem"), null, At("ecdsa/cert.pem"));

    /// <summary>RSA 2048 self-signed, CN=airlift-test: for peers that dislike chains.</summary>
    public static CertFixture RsaSingle { get; } = new(At("rsa-single/cert.pem"), At("rsa-single/key.pem"), null, At("rsa-single/cert.pem"));

    private static string At(string relative) => Path.Combine(Directory, relative);
}
