using System.Net;
using System.Text;

namespace Airlift.Tests.EndToEnd;

/// <summary>The HTTP side of WHIP (RFC 9725) and WHEP in <c>airlift serve</c>, with a real Chromium offer made sendonly / recvonly.</summary>
public class WhipHttpTests(ServeHttpFixture fixture) : IClassFixture<ServeHttpFixture>
{
    private static readonly string ChromiumOffer = CapturedOffers.Crlf(CapturedOffers.Chromium156);

    private static StringContent Sdp(string text, string type = "application/sdp") => new(text, Encoding.UTF8, type);

    [Fact]
    public async Task Whip_Publish_Is201_WithLocationETagAndRecvonlyAnswer_ThenWhepViews_AndDeleteEndsBoth()
    {
        var http = fixture.Serve.Http;
        using var publish = await http.PostAsync("whip", Sdp(ChromiumOffer.Replace("a=sendrecv", "a=sendonly", StringComparison.Ordinal)));
        var answer = await publish.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Created, publish.StatusCode);
        Assert.Equal("application/sdp", publish.Content.Headers.ContentType?.MediaType);
        var location = publish.Headers.Location!.ToString();
        Assert.Matches("^/whip/[A-Za-z0-9]+$", location);
        Assert.NotNull(publish.Headers.ETag);
        Assert.False(publish.Headers.Contains("Link")); // no ICE servers configured
        Assert.Contains("a=recvonly\r\n", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("a=ssrc:", answer, StringComparison.Ordinal);

        using var view = await http.PostAsync("whep", Sdp(ChromiumOffer.Replace("a=sendrecv", "a=recvonly", StringComparison.Ordinal)));
        var viewAnswer = await view.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Created, view.StatusCode);
        var viewLocation = view.Headers.Location!.ToString();
        Assert.Matches("^/whep/[A-Za-z0-9]+$", viewLocation);
        Assert.Contains("a=sendonly\r\n", viewAnswer, StringComparison.Ordinal);
        Assert.Contains("a=ssrc:", viewAnswer, StringComparison.Ordinal);

        using var patch = await http.PatchAsync(location.TrimStart('/'), Sdp("a=candidate:1 1 udp 1 127.0.0.1 9 typ host", "application/trickle-ice-sdpfrag"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, patch.StatusCode);

        using var deleted = await http.DeleteAsync(location.TrimStart('/'));
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        string? reason = null;
        for (var i = 0; i < 50 && reason is null; i++)
        {
            var stats = await fixture.Serve.StatsAsync(viewLocation);
            reason = stats.GetProperty("state").GetString() == "closed" ? stats.GetProperty("closeReason").GetString() : null;
            await Task.Delay(100);
        }

        Assert.Equal("the publisher left", reason);
        using var gone = await http.DeleteAsync(location.TrimStart('/') + "x");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Whip_RefusesOtherContentTypes_415_AndBadOffers_400_WithAReason()
    {
        var http = fixture.Serve.Http;
        using var json = await http.PostAsync("whip", Sdp(ChromiumOffer, "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        Assert.Contains("application/sdp", await json.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var bad = await http.PostAsync("whip", Sdp("v=0\r\nnot an offer\r\n"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.StartsWith("bad offer: ", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var noMedia = await http.PostAsync("whip", Sdp(ChromiumOffer.Replace("a=sendrecv", "a=recvonly", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.BadRequest, noMedia.StatusCode);
    }
}
