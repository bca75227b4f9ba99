using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Airlift.Tests.Cli;
using Airlift.Tests.Interop;

namespace Airlift.Tests.EndToEnd;

/// <summary>An <c>airlift serve</c> child process and an HTTP client for its signaling.</summary>
internal sealed class ServeProcess : IAsyncDisposable
{
    private ServeProcess(PeerProcess process, Uri baseUri, string readiness)
    {
        Process = process;
        BaseUri = baseUri;
        Readiness = readiness;
        Http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(10) };
    }

    public PeerProcess Process { get; }

    public Uri BaseUri { get; }

    /// <summary>The line serve prints once listening.</summary>
    public string Readiness { get; }

    public HttpClient Http { get; }

    /// <summary>Starts <c>airlift serve ARGS</c> (add --http 127.0.0.1:0 to pick a port) and waits for its readiness line.</summary>
    public static async Task<ServeProcess> StartAsync(Action<string>? echo, params string[] args)
    {
        var process = AirliftCli.Start(echo, ["serve", .. args]);
        try
        {
            var ready = await process.WaitForAsync(@"^airlift serve: (http://\S+)/ .*$", TimeSpan.FromSeconds(30));
            return new ServeProcess(process, new Uri(ready.Groups[1].Value + "/"), ready.Value);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public async Task<HttpResponseMessage> PostOfferAsync(string sdp, string? setup = null, string contentType = "application/sdp")
    {
        using var content = new StringContent(sdp, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return await Http.PostAsync("echo" + (setup is null ? "" : "?setup=" + setup), content);
    }

    public async Task<JsonElement> StatsAsync(string location)
    {
        using var response = await Http.GetAsync(location.TrimStart('/') + "/stats");
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    /// <summary>Polls the session's stats until <paramref name="done"/> holds (bounded).</summary>
    public async Task<JsonElement> WaitForStatsAsync(string location, Func<JsonElement, bool> done, TimeSpan timeout)
    {
        var stats = await StatsAsync(location);
        for (var waited = TimeSpan.Zero; waited < timeout && !done(stats); waited += TimeSpan.FromMilliseconds(100))
        {
            await Task.Delay(100);
            stats = await StatsAsync(location);
        }

        return stats;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
    }
}
