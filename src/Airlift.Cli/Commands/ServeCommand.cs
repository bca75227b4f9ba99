using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Airlift.Cli.Serve;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.WebRtc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Airlift.Cli.Commands;

/// <summary>
/// <c>airlift serve</c>: a WebRTC echo server. Kestrel serves the page and the signaling (<c>POST /echo</c> with an SDP offer,
/// <c>GET /echo/{id}/stats</c>, <c>DELETE /echo/{id}</c>); media runs over Airlift's ICE-lite, DTLS-SRTP and SRTP.
/// </summary>
internal static class ServeCommand
{
    /// <summary>Largest request body accepted (an SDP offer).</summary>
    private const int MaxBody = SdpOffer.MaxLength;

    /// <summary>Most HTTP connections at once (a browser opens a few; beyond it Kestrel refuses the connection).</summary>
    private const int MaxHttpConnections = 256;

    public static Command Create()
    {
        var http = new Option<string>("--http") { Description = "ADDRESS:PORT of the web page and signaling. Loopback unless you type an explicit address: the page has NO authentication, anyone who reaches it can use the echo.", DefaultValueFactory = _ => "127.0.0.1:8080" };
        var udp = new Option<string[]>("--udp") { Description = "UDP ADDRESS:PORT for media, repeatable; port 0 picks one. Every address is a host candidate. Default 127.0.0.1:0; 'none' (with --tcp) serves ICE-TCP only.", AllowMultipleArgumentsPerToken = false };
        var tcp = new Option<string?>("--tcp") { Description = "TCP ADDRESS:PORT for ICE-TCP (passive candidate, RFC 6544/4571)." };
        var announce = new Option<string?>("--announce") { Description = "IP address to put in the candidates instead of the bound one (a server behind a 1:1 NAT)." };
        var maxSessions = new Option<int>("--max-sessions") { Description = "Most echo sessions at once; beyond it an offer gets 503 with Retry-After.", DefaultValueFactory = _ => 64 };
        var perClient = new Option<int>("--max-sessions-per-client") { Description = "Most live sessions one HTTP client (an IPv4 address, or an IPv6 /64) may hold; beyond it an offer gets 429 with Retry-After. Behind a reverse proxy all clients share its address.", DefaultValueFactory = _ => EchoServerOptions.DefaultMaxSessionsPerClient };
        var allowedHost = new Option<string[]>("--allowed-host") { Description = "Host name (or IP) the page may be requested as, repeatable. Requests with any other Host header get 421 (DNS rebinding protection). Always allowed: localhost, 127.0.0.1, ::1, the --http address and the --announce address.", AllowMultipleArgumentsPerToken = false };
        var nackBudget = new Option<double>("--nack-budget") { Description = "NACK answers (packets resent from history) may use at most RATIO x the bytes this session received, IP/UDP headers counted.", DefaultValueFactory = _ => NackAnswerOptions.Default.ResendBudgetRatio };
        var nackBurst = new Option<int>("--nack-burst") { Description = "Most bytes of NACK answers sent at once (the budget's bucket size).", DefaultValueFactory = _ => NackAnswerOptions.Default.ResendBurstBytes };
        var nackRate = new Option<int>("--nack-rate") { Description = "Most bytes per second of NACK answers per session, whatever the budget.", DefaultValueFactory = _ => NackAnswerOptions.Default.ResendBytesPerSecond };
        var nackInterval = new Option<double>("--nack-interval") { Description = "A packet is resent for NACKs at most once within this many milliseconds.", DefaultValueFactory = _ => NackAnswerOptions.Default.NackResendInterval.TotalMilliseconds };
        var nackMax = new Option<int>("--nack-max") { Description = "Most packets resent because of one RTCP packet (repeated sequence numbers count once).", DefaultValueFactory = _ => NackAnswerOptions.Default.MaxResendsPerRtcp };
        var connectTimeout = new Option<double>("--connect-timeout") { Description = "Close a session whose DTLS has not connected this many seconds after the answer.", DefaultValueFactory = _ => 30 };
        var impairLoss = new Option<double?>("--impair-loss") { Description = "Demo/test: put Airlift's impairment proxy (loopback only) in front of the first UDP address, dropping PERCENT of the datagrams each way; the candidates then point at the proxy." };
        var impairMax = new Option<int?>("--impair-max-datagram") { Description = "Demo/test: the proxy also drops datagrams larger than BYTES each way (implies the proxy)." };
        var impairSeed = new Option<ulong>("--impair-seed") { Description = "Seed of the proxy's loss.", DefaultValueFactory = _ => 1 };
        var maxPublishers = new Option<int>("--max-publishers") { Description = "Most WHIP publishers (POST /whip) at once; beyond it 503.", DefaultValueFactory = _ => new BroadcastLimits().MaxPublishers };
        var maxViewers = new Option<int>("--max-viewers") { Description = "Most WHEP viewers (POST /whep) of one publisher; beyond it 503.", DefaultValueFactory = _ => new BroadcastLimits().MaxViewersPerPublisher };
        var verbose = CliCommon.VerboseOption();
        var rcvbuf = DtlsServerCommand.RcvbufOption();
        var command = new Command("serve", "A WebRTC echo server: open the page, your camera comes back over Airlift's ICE-lite + DTLS-SRTP. The page has no authentication.")
        {
            http, udp, tcp, announce, CliCommon.CertOption(), CliCommon.KeyOption(), CliCommon.ChainOption(), CliCommon.MtuOption(), CliCommon.SrtpOption(), CliCommon.DtlsVersionOption(),
            maxSessions, perClient, allowedHost, connectTimeout, nackBudget, nackBurst, nackRate, nackInterval, nackMax, impairLoss, impairMax, impairSeed, maxPublishers, maxViewers, rcvbuf, verbose,
        };
        command.SetAction(async (parse, ct) =>
        {
            var httpEndpoint = ParseHttp(parse.GetValue(http)!);
            var udpText = parse.GetValue(udp) is { Length: > 0 } u ? u : ["127.0.0.1:0"];
            var tcpEndpoint = parse.GetValue(tcp) is { } t ? ParseEndpoint(t, "--tcp") : null;
            var udpEndpoints = udpText is ["none"] && tcpEndpoint is not null ? [] : udpText.Select(t => ParseEndpoint(t, "--udp")).ToList();
            IPAddress? announced = null;
            if (parse.GetValue(announce) is { } a && !IPAddress.TryParse(a, out announced))
            {
                throw new CliException($"--announce '{a}' is not an IP address");
            }

            var sessions = parse.GetValue(maxSessions);
            if (sessions is < 1 or > 1024)
            {
                throw new CliException("--max-sessions must be within 1..1024");
            }

            var sessionsPerClient = parse.GetValue(perClient);
            if (sessionsPerClient is < 1 or > 1024)
            {
                throw new CliException("--max-sessions-per-client must be within 1..1024");
            }

            var broadcast = new BroadcastLimits { MaxPublishers = parse.GetValue(maxPublishers), MaxViewersPerPublisher = parse.GetValue(maxViewers) };
            if (broadcast.MaxPublishers is < 0 or > 1024 || broadcast.MaxViewersPerPublisher is < 0 or > 1024)
            {
                throw new CliException("--max-publishers and --max-viewers must be within 0..1024");
            }

            var limits = ParseLimits(parse.GetValue(nackBudget), parse.GetValue(nackBurst), parse.GetValue(nackRate), parse.GetValue(nackInterval), parse.GetValue(nackMax));

            var connectSeconds = parse.GetValue(connectTimeout);
            if (connectSeconds is < 0.1 or > 3600 || double.IsNaN(connectSeconds))
            {
                throw new CliException("--connect-timeout must be within 0.1..3600 seconds");
            }

            EchoImpairment? impairment = null;
            if (parse.GetValue(impairLoss) is { } loss || parse.GetValue(impairMax) is not null)
            {
                var lossPercent = parse.GetValue(impairLoss) ?? 0;
                if (lossPercent is < 0 or > 100 || double.IsNaN(lossPercent))
                {
                    throw new CliException("--impair-loss must be a percentage within 0..100");
                }

                if (parse.GetValue(impairMax) is { } m && m is < 228 or > 65507)
                {
                    throw new CliException("--impair-max-datagram must be within 228..65507");
                }

                if (udpEndpoints.Count == 0 || !IPAddress.IsLoopback(udpEndpoints[0].Address))
                {
                    throw new CliException("the impairment proxy runs on loopback only: give a loopback --udp address first");
                }

                impairment = new EchoImpairment(lossPercent, parse.GetValue(impairMax), parse.GetValue(impairSeed));
            }

            using var certificate = CliCommon.LoadCertificate(parse.GetValue<string?>("--cert"), parse.GetValue<string?>("--key"), parse.GetValue<string?>("--chain"));
            var mtu = parse.GetValue<int>("--mtu");
            if (mtu < Dtls.DtlsOptions.MinimumDatagramSize || mtu > 65507)
            {
                throw new CliException($"--mtu {mtu} is outside {Dtls.DtlsOptions.MinimumDatagramSize}..65507");
            }

            var extraHosts = parse.GetValue(allowedHost) ?? [];
            foreach (var h in extraHosts)
            {
                if (!HostAllowList.TryParseAllowed(h, out _))
                {
                    throw new CliException($"--allowed-host '{h}' is not a host name or IP address (one name per option, no wildcards)");
                }
            }

            var hosts = new HostAllowList(httpEndpoint.Address, announced, extraHosts);

            var srtp = CliCommon.ParseSrtp(parse.GetValue<string?>("--srtp"));
            using var logging = CliCommon.CreateLogging(parse.GetValue(verbose));
            var logger = logging.CreateLogger("airlift.serve");
            var options = new EchoServerOptions
            {
                Udp = udpEndpoints,
                Tcp = tcpEndpoint,
                Announce = announced,
                Certificate = certificate,
                MaxDatagramSize = mtu,
                MaxSessions = sessions,
                MaxSessionsPerClient = sessionsPerClient,
                Limits = limits,
                Broadcast = broadcast,
                ConnectTimeout = TimeSpan.FromSeconds(connectSeconds),
                Impairment = impairment,
                DtlsVersions = CliCommon.ParseDtlsVersions(parse.GetValue<string?>("--dtls")),
                ReceiveBufferSize = DtlsServerCommand.ParseRcvbuf(parse.GetValue(rcvbuf)),
            };
            if (srtp.Count > 0)
            {
                options = options with { SrtpProfiles = srtp };
            }

            EchoServer echo;
            try
            {
                echo = await EchoServer.StartAsync(options, logger, logging).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new CliException($"cannot bind the media sockets: {ex.Message}");
            }

            await using (echo.ConfigureAwait(false))
            {
                var app = BuildApp(echo, httpEndpoint, hosts);
                try
                {
                    await app.StartAsync(ct).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    throw new CliException($"cannot listen on http://{httpEndpoint}: {ex.Message}");
                }

                var url = app.Urls.FirstOrDefault() ?? $"http://{httpEndpoint}";
                if (!IPAddress.IsLoopback(httpEndpoint.Address))
                {
                    Console.Error.WriteLine($"airlift serve: warning: {url}/ is reachable beyond this machine and has no authentication: anyone who reaches it can open echo sessions.");
                }

                Console.Error.WriteLine(
                    $"airlift serve: {url}/ (no authentication); media " +
                    string.Join(", ", echo.Candidates.Select(c => $"{(c.Protocol == Ice.IceProtocol.Udp ? "udp" : "tcp")} {c.Address}:{c.Port.ToString(CultureInfo.InvariantCulture)}")) +
                    (echo.ProxyEndpoint is { } proxy ? $" via impairment proxy {proxy} -> {echo.UdpEndpoints[0]}" : "") +
                    $"; {certificate.GetFingerprint()}");
                Console.Error.WriteLine($"airlift serve: {DtlsServerCommand.DescribeBuffers(echo.SocketBuffers)}");
                var dropsBefore = KernelUdpCounters.ReadReceiveBufferErrors();
                try
                {
                    using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct, app.Lifetime.ApplicationStopping);
                    await Task.Delay(Timeout.Infinite, stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }

                if (DtlsServerCommand.DescribeKernelDrops(dropsBefore) is { } drops)
                {
                    Console.Error.WriteLine($"airlift serve: {drops}");
                }

                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await app.StopAsync(grace.Token).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    internal static WebApplication BuildApp(EchoServer echo, IPEndPoint httpEndpoint, HostAllowList hosts)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        // Signals are the CLI's (CliInterrupt): the host's console lifetime would race it for SIGTERM and stop the app
        // before the CLI knew it was a SIGTERM ("stopped (SIGTERM)" then missing).
        builder.Services.AddSingleton<IHostLifetime, SignalFreeLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(httpEndpoint);
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = MaxBody;
            k.Limits.MaxConcurrentConnections = MaxHttpConnections;
        });
        var app = builder.Build();

        // DNS rebinding protection: before any endpoint, refuse a Host that is not one of our names.
        app.Use(async (context, next) =>
        {
            var host = context.Request.Headers.Host.ToString();
            if (!hosts.IsAllowed(host))
            {
                ServeMetrics.Refuse("host_not_allowed");
                context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                context.Response.ContentType = "text/plain; charset=utf-8";
                var shown = host.Length > 100 ? host[..100] + "..." : host;
                await context.Response.WriteAsync(
                    $"Host '{shown}' is not a name of this server (DNS rebinding protection); allowed: {string.Join(", ", hosts.Hosts)}. " +
                    "Start airlift serve with --allowed-host NAME to serve the page under another name.\n").ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });

        app.MapGet("/", () => Results.Content(ServePage.Html, "text/html; charset=utf-8"));
        app.MapGet("/favicon.ico", () => Results.NoContent());
        app.MapPost("/echo", async (HttpRequest request, HttpResponse response) =>
        {
            var (offer, bad) = await ReadOfferAsync(request).ConfigureAwait(false);
            if (bad is not null)
            {
                return bad;
            }

            var client = EchoServer.ClientKey(request.HttpContext.Connection.RemoteIpAddress);
            var result = echo.CreateSession(offer, request.Query["setup"].FirstOrDefault(), client);
            if (result.Id is { } id)
            {
                response.Headers.Location = "/echo/" + id;
                return Results.Text(result.Body, "application/sdp", statusCode: StatusCodes.Status201Created);
            }

            if (result.RetryAfter is { } seconds)
            {
                response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }

            return Results.Text(result.Body, statusCode: result.Status);
        });
        app.MapGet("/echo/{id}/stats", (string id, HttpRequest request) =>
            echo.Get(id) is { } session
                ? Results.Json(session.Snapshot(includeTrace: request.Query.ContainsKey("trace")), CliCommon.Json)
                : Results.Text("no such session\n", statusCode: StatusCodes.Status404NotFound));
        app.MapDelete("/echo/{id}", async (string id) =>
            await echo.DeleteAsync(id).ConfigureAwait(false) ? Results.NoContent() : Results.Text("no such session\n", statusCode: StatusCodes.Status404NotFound));
        MapBroadcast(app, echo.Broadcast);
        return app;
    }

    /// <summary>
    /// WHIP (RFC 9725) and WHEP (WISH draft): POST an application/sdp offer, get 201 Created with the answer, Location and
    /// ETag; DELETE the Location ends the session (200). No ICE servers are configured, so no Link headers are sent
    /// (RFC 9725 4.6); trickle ICE and ICE restarts (PATCH) are not supported: 405 with Allow (RFC 9725 4.3.1).
    /// <c>?setup=active</c> makes the server the DTLS client when the offer says actpass.
    /// </summary>
    private static void MapBroadcast(WebApplication app, BroadcastHub hub)
    {
        async Task<IResult> Create(HttpRequest request, HttpResponse response, string resource, Func<string, DtlsRole, EchoCreateResult> create)
        {
            var (offer, bad) = await ReadOfferAsync(request).ConfigureAwait(false);
            if (bad is not null)
            {
                return bad;
            }

            var role = request.Query["setup"].FirstOrDefault() switch
            {
                null or "" or "passive" => DtlsRole.Server,
                "active" => DtlsRole.Client,
                _ => (DtlsRole?)null,
            };
            if (role is null)
            {
                return Results.Text("setup must be passive (we are the DTLS server) or active (we are the DTLS client)\n", statusCode: StatusCodes.Status400BadRequest);
            }

            var result = create(offer, role.Value);
            if (result.Id is { } id)
            {
                response.Headers.Location = $"/{resource}/{id}";
                response.Headers.ETag = $"\"{id}\"";
                return Results.Text(result.Body, "application/sdp", statusCode: StatusCodes.Status201Created);
            }

            if (result.RetryAfter is { } seconds)
            {
                response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }

            return Results.Text(result.Body, statusCode: result.Status);
        }

        app.MapPost("/whip", (HttpRequest request, HttpResponse response) => Create(request, response, "whip", hub.Publish));
        app.MapPost("/whep", (HttpRequest request, HttpResponse response) => Create(request, response, "whep", (o, r) => hub.View(o, r, null)));
        app.MapPost("/whep/{publisher}", (string publisher, HttpRequest request, HttpResponse response) => Create(request, response, "whep", (o, r) => hub.View(o, r, publisher)));
        app.MapGet("/whip", () => Results.Json(hub.LivePublishers.Select(p => p.Snapshot()).ToList(), CliCommon.Json));
        foreach (var resource in new[] { "whip", "whep" })
        {
            app.MapDelete($"/{resource}/{{id}}", async (string id) =>
                await hub.DeleteAsync(id).ConfigureAwait(false) ? Results.Ok() : Results.Text("no such session\n", statusCode: StatusCodes.Status404NotFound));
            app.MapMethods($"/{resource}/{{id}}", ["PATCH"], (HttpResponse response) =>
            {
                response.Headers.Allow = "DELETE";
                return Results.Text("trickle ICE and ICE restarts are not supported: send every candidate in the offer\n", statusCode: StatusCodes.Status405MethodNotAllowed);
            });
            app.MapGet($"/{resource}/{{id}}/stats", (string id) =>
                hub.Get(id) is { } peer ? Results.Json(peer.Snapshot(), CliCommon.Json) : Results.Text("no such session\n", statusCode: StatusCodes.Status404NotFound));
        }
    }

    /// <summary>Reads an application/sdp body of at most <see cref="MaxBody"/> characters; 415/413/400 results otherwise.</summary>
    private static async Task<(string Offer, IResult? Error)> ReadOfferAsync(HttpRequest request)
    {
        if (request.ContentType is not { } type || !type.StartsWith("application/sdp", StringComparison.OrdinalIgnoreCase))
        {
            return ("", Results.Text("the offer must be sent as Content-Type: application/sdp\n", statusCode: StatusCodes.Status415UnsupportedMediaType));
        }

        // A pooled buffer: a fresh char[MaxBody + 1] was 128 KB on the large object heap for every offer (a gen-2 collection
        // every few dozen offers under a storm), for offers of a few KB.
        var buffer = ArrayPool<char>.Shared.Rent(MaxBody + 1);
        var read = 0;
        try
        {
            using var reader = new StreamReader(request.Body);
            read = 0;
            int n;
            while (read <= MaxBody && (n = await reader.ReadAsync(buffer.AsMemory(read, MaxBody + 1 - read), request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
            {
                read += n;
            }

            return read > MaxBody
                ? ("", Results.Text($"offer larger than {MaxBody} characters\n", statusCode: StatusCodes.Status413PayloadTooLarge))
                : (new string(buffer, 0, read), null);
        }
        catch (BadHttpRequestException ex)
        {
            return ("", Results.Text(ex.Message + "\n", statusCode: ex.StatusCode));
        }
        finally
        {
            // The offer carries the peer's ice-pwd: wipe what was read before the buffer goes back to the pool.
            buffer.AsSpan(0, Math.Min(read, buffer.Length)).Clear();
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    /// <summary>The NACK limits from the command line, each checked against its documented range.</summary>
    private static EchoLimits ParseLimits(double budget, int burst, int rate, double intervalMs, int max)
    {
        if (!double.IsFinite(budget) || budget is < 0 or > 4)
        {
            throw new CliException("--nack-budget must be a ratio within 0..4");
        }

        if (burst is < 0 or > 16 * 1024 * 1024)
        {
            throw new CliException("--nack-burst must be within 0..16777216 bytes");
        }

        if (rate is < 0 or > 1024 * 1024 * 1024)
        {
            throw new CliException("--nack-rate must be within 0..1073741824 bytes per second");
        }

        if (!double.IsFinite(intervalMs) || intervalMs is < 0 or > 10_000)
        {
            throw new CliException("--nack-interval must be within 0..10000 ms");
        }

        if (max is < 0 or > RtpHistory.Capacity)
        {
            throw new CliException($"--nack-max must be within 0..{RtpHistory.Capacity}");
        }

        var limits = EchoLimits.Default with
        {
            Nack = new NackAnswerOptions
            {
                ResendBudgetRatio = budget,
                ResendBurstBytes = burst,
                ResendBytesPerSecond = rate,
                NackResendInterval = TimeSpan.FromMilliseconds(intervalMs),
                MaxResendsPerRtcp = max,
            },
        };
        limits.Validate();
        return limits;
    }

    /// <summary>
    /// The page has no authentication, so it is served on loopback unless the user typed the one address to serve on:
    /// wildcard addresses (every interface) and host names other than localhost are refused.
    /// </summary>
    internal static IPEndPoint ParseHttp(string text)
    {
        var endpoint = ParseEndpoint(text, "--http");
        if (endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any))
        {
            throw new CliException($"--http {text}: refusing to serve the unauthenticated page on every interface; give loopback or the one address to serve on");
        }

        return endpoint;
    }

    /// <summary>ADDRESS:PORT with an IP literal (or localhost); port 0 allowed (pick one).</summary>
    internal static IPEndPoint ParseEndpoint(string text, string what)
    {
        if (IPEndPoint.TryParse(text, out var endpoint) && (text.Contains(':', StringComparison.Ordinal) && (text.Count(c => c == ':') == 1 || text.StartsWith('['))))
        {
            return endpoint;
        }

        var colon = text.LastIndexOf(':');
        if (colon > 0 && string.Equals(text[..colon], "localhost", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535)
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        throw new CliException($"{what} '{text}' is not ADDRESS:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)");
    }
}

/// <summary>A host lifetime that registers no signal handlers: the CLI's <c>CliInterrupt</c> owns SIGINT and SIGTERM.</summary>
internal sealed class SignalFreeLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
