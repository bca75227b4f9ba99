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
}
