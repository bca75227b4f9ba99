using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Airlift.Tests.Cli;
using Airlift.Tests.Interop;
using Airlift.Tests.WebRtc;
using Xunit.Abstractions;

namespace Airlift.Tests.Docs;

/// <summary>
/// samples/WhipIngest, run as its own process on loopback port 0 (the test project references it for build order only):
/// the WHIP rules of RFC 9725 4.2 that it shows, on the captured browser and aiortc offers.
/// </summary>
public sealed class WhipIngestSampleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Whip_sample_answers_415_to_a_non_sdp_body_400_to_a_bad_offer_and_201_with_an_ice_lite_answer_to_real_offers()
    {
        await using var sample = PeerProcess.Start("whip-ingest", AirliftCli.Host, [SampleDll(), "0"], null, output.WriteLine);
        var ready = await sample.WaitForAsync(@"^WHIP endpoint: (http://\S+/whip),", TimeSpan.FromSeconds(30));
        var whip = new Uri(ready.Groups[1].Value);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        using (var response = await PostAsync(http, whip, SdpFixtureTests.Load("chromium-balanced"), "text/plain"))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        }

        using (var response = await PostAsync(http, whip, "this is not SDP\r\n", "application/sdp"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("not an SDP offer: the first line must be v=0 (RFC 8866 5), got 'this is not SDP'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach (var fixture in new[] { "chromium-balanced", "chromium-max-bundle", "firefox-balanced", "firefox-max-bundle", "aiortc" })
        {
            using var response = await PostAsync(http, whip, SdpFixtureTests.Load(fixture), "application/sdp");
            var answer = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{fixture}: {(int)response.StatusCode} {answer}");
            Assert.Equal("application/sdp", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("a=ice-lite\r\n", answer, StringComparison.Ordinal);
            Assert.Matches(@"a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r\n", answer);
            Assert.Contains("a=recvonly\r\n", answer, StringComparison.Ordinal);
            Assert.DoesNotContain("a=sendrecv", answer, StringComparison.Ordinal);

            // RFC 9725 4.2: the Location names the session; DELETE on it ends the session, a second DELETE finds nothing.
            var location = new Uri(whip, response.Headers.Location ?? throw new InvalidOperationException($"{fixture}: no Location"));
            Assert.StartsWith("/whip/", location.AbsolutePath, StringComparison.Ordinal);
            using (var deleted = await http.DeleteAsync(location))
            {
                Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            }

            using (var again = await http.DeleteAsync(location))
            {
                Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
            }

            var id = location.AbsolutePath["/whip/".Length..];
            await sample.WaitForAsync($"^{id}: ended after 0 RTP packets$", TimeSpan.FromSeconds(10));
        }

        Assert.False(sample.HasExited);
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, Uri whip, string body, string contentType)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return await http.PostAsync(whip, content);
    }

    /// <summary>samples/WhipIngest/bin/CONFIGURATION/net10.0/WhipIngest.dll, in the configuration these tests were built in.</summary>
    private static string SampleDll()
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var dll = Path.Combine(ReadmeSamplesTests.RepoRoot(), "samples", "WhipIngest", "bin", tfm.Parent!.Name, tfm.Name, "WhipIngest.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution (the test project builds the sample first)");
        return dll;
    }
}
