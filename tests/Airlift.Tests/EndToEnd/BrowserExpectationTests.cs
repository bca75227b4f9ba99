using Airlift.Dtls;

namespace Airlift.Tests.EndToEnd;

/// <summary>The expectations the browser tests read are well formed (no browser needed).</summary>
public class BrowserExpectationTests
{
    [Theory]
    [InlineData("FEFD", "DTLS 1.2")]
    [InlineData("FEFC", "DTLS 1.3")]
    public void TlsVersion_MapsToServesVersionName(string tlsVersion, string serveName) =>
        Assert.Equal(serveName, EndToEndSupport.ServerDtlsVersionName(tlsVersion));

    [Fact]
    public void ExpectedDtlsVersion_IsDtls12Or13_ForEveryBrowserWithAndWithoutPostQuantum()
    {
        foreach (var browser in Enum.GetValues<BrowserKind>())
        {
            foreach (var postQuantum in new[] { true, false })
            {
                var hex = EndToEndSupport.ExpectedDtlsVersion(browser, postQuantum);
                Assert.Matches("^[0-9A-F]{4}$", hex);
                Assert.Contains(
                    EndToEndSupport.ExpectedServerDtlsVersion(browser, postQuantum),
                    new[] { ProtocolVersion.Dtls12.ToString(), ProtocolVersion.Dtls13.ToString() });
            }
        }
    }

    [Theory]
    [InlineData("FEFC", true, "X25519MLKEM768")]
    [InlineData("FEFC", false, "x25519")]
    [InlineData("FEFD", true, null)]
    [InlineData("FEFD", false, null)]
    public void KeyExchangeGroup_IsTheBrowsersShareInDtls13_AndNotAssertedInDtls12(string tlsVersion, bool postQuantum, string? group) =>
        Assert.Equal(group, EndToEndSupport.KeyExchangeGroupFor(tlsVersion, postQuantum));

    // Lines as serve's DTLS 1.3 engine traces them (captured from a Chromium run), both roles.
    [Theory]
    [InlineData("    65.1 ms  server: negotiated DTLS 1.3, TLS_AES_128_GCM_SHA256, X25519MLKEM768, ecdsa_secp256r1_sha256, SRTP SRTP_AEAD_AES_128_GCM\n", "X25519MLKEM768")]
    [InlineData("    31.0 ms  client: server chose DTLS 1.3, TLS_AES_128_GCM_SHA256, x25519\n", "x25519")]
    [InlineData("    56.0 ms  server: negotiated TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, secp256r1, ecdsa_secp256r1_sha256, EMS True\n", null)]
    public void NegotiatedGroup_IsReadFromServesDtls13TraceLine(string trace, string? group) =>
        Assert.Equal(group, BrowserEchoAssert.NegotiatedGroup(trace));
}
