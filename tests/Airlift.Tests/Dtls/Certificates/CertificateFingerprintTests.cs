using System.Security.Cryptography;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls.Certificates;

public class CertificateFingerprintTests
{
    private static readonly byte[] Der = TestChains.Ec.Leaf.RawData;

    public static TheoryData<string, int> ComputableAlgorithms => new()
    {
        { "sha-1", 20 },
        { "sha-256", 32 },
        { "sha-384", 48 },
        { "sha-512", 64 },
    };

    private static byte[] Reference(string algorithm) => algorithm switch
    {
        "sha-1" => SHA1.HashData(Der),
        "sha-256" => SHA256.HashData(Der),
        "sha-384" => SHA384.HashData(Der),
        _ => SHA512.HashData(Der),
    };

    [Theory]
    [MemberData(nameof(ComputableAlgorithms))]
    public void Compute_format_parse_and_match_round_trip_rfc8122_section5(string algorithm, int length)
    {
        var fp = CertificateFingerprint.Compute(algorithm.ToUpperInvariant(), Der);
        Assert.Equal(algorithm, fp.Algorithm);
        Assert.Equal(length, fp.Value.Length);
        Assert.Equal(Reference(algorithm), fp.Value.ToArray());

        var text = fp.ToString();
        Assert.Equal(algorithm + " " + string.Join(':', Reference(algorithm).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture))), text);

        var parsed = CertificateFingerprint.Parse(text);
        Assert.Equal(fp, parsed);
        Assert.Equal(fp.GetHashCode(), parsed.GetHashCode());
        Assert.True(parsed.Matches(Der));
        Assert.False(parsed.Matches(TestChains.Ec.Intermediate.RawData));

        // Both parts are case-insensitive (RFC 8122 5 / RFC 4572 5).
        Assert.True(CertificateFingerprint.TryParse(text.ToUpperInvariant(), out var upper));
        Assert.Equal(fp, upper);
        Assert.True(CertificateFingerprint.TryParse(text.ToLowerInvariant(), out var lower));
        Assert.Equal(fp, lower);
    }

    [Fact]
    public void Sha224_parses_and_formats_but_cannot_be_computed_or_matched_without_platform_support()
    {
        var text = "sha-224 " + string.Join(':', Enumerable.Repeat("AB", 28));
        var fp = CertificateFingerprint.Parse(text);
        Assert.Equal("sha-224", fp.Algorithm);
        Assert.Equal(28, fp.Value.Length);
        Assert.Equal(text, fp.ToString());
        Assert.False(fp.Matches(Der));
        Assert.Throws<NotSupportedException>(() => CertificateFingerprint.Compute("sha-224", Der));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("sha-256")]
    [InlineData("md5 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89")]
    [InlineData("sha256 AB:CD")]
    [InlineData("sha-1 AB:CD:EF")]
    [InlineData("sha-1 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:")]
    [InlineData("sha-1 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23")]
    [InlineData("sha-1 AB-CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01")]
    [InlineData("sha-1 GG:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01")]
    [InlineData("sha-1 +1:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01")]
    [InlineData("sha-1 ABCDEF0123456789ABCDEF0123456789ABCDEF01")]
    public void Malformed_fingerprints_are_rejected_with_a_reason(string? text)
    {
        Assert.False(CertificateFingerprint.TryParse(text, out var fp));
        Assert.Null(fp);
        if (text is not null)
        {
            var e = Assert.Throws<FormatException>(() => CertificateFingerprint.Parse(text));
            Assert.StartsWith("Invalid certificate fingerprint: ", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Surrounding_whitespace_is_tolerated()
    {
        var fp = CertificateFingerprint.Compute("sha-256", Der);
        Assert.True(CertificateFingerprint.TryParse("  " + fp + " \r\n", out var parsed));
        Assert.Equal(fp, parsed);
    }

    [Fact]
    public void Fingerprints_differ_by_algorithm_or_value()
    {
        var a = CertificateFingerprint.Compute("sha-256", Der);
        var b = CertificateFingerprint.Compute("sha-256", TestChains.Ec.Root.RawData);
        var c = CertificateFingerprint.Compute("sha-1", Der);
        Assert.NotEqual(a, b);
        Assert.NotEqual(a, c);
        Assert.False(a.Equals(null));
        Assert.Throws<NotSupportedException>(() => CertificateFingerprint.Compute("md5", Der));
    }
}
