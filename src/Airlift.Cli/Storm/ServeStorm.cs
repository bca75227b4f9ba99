using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Ice.Stun;
using Airlift.Transport;
using Airlift.WebRtc;

namespace Airlift.Cli.Storm;

/// <summary>What a <see cref="ServeStorm"/> runs.</summary>
/// <param name="Url">The signalling endpoint each session POSTs its offer to (WHIP: <c>http://HOST:PORT/whip</c>).</param>
/// <param name="Client">The sessions' DTLS options (one certificate for all; the expected fingerprint comes from each answer).</param>
/// <param name="ClientFingerprint">That certificate's fingerprint, put in every offer.</param>
/// <param name="Connections">Sessions open at once.</param>
/// <param name="Total">Sessions in all.</param>
/// <param name="Rate">New sessions per second at most (0: no ramp).</param>
/// <param name="PerAddress">Sessions per local 127.x.y.z address (loopback servers).</param>
/// <param name="MediaPackets">SRTP packets each connected session sends (0: none).</param>
/// <param name="Timeout">Deadline of one session from its POST to DTLS Connected.</param>
/// <param name="Route">Where the media of a session whose answer names this server candidate goes (the impairment proxy), or null: straight there.</param>
internal sealed record ServeStormSettings(
    Uri Url,
    DtlsOptions Client,
    CertificateFingerprint ClientFingerprint,
    int Connections,
    int Total,
    double Rate,
    int PerAddress,
    int MediaPackets,
    TimeSpan Timeout,
    Func<IPEndPoint, CancellationToken, Task<IPEndPoint>>? Route = null);

/// <summary>What the sessions of a <c>storm --serve</c> saw beyond the DTLS handshake.</summary>
internal sealed class ServeTally
{
    /// <summary>POST to 201 with a readable answer, ms, per session that got one.</summary>
    public List<double> SignallingMs { get; } = [];

    /// <summary>First Binding request to the authenticated success response, ms.</summary>
    public List<double> IceMs { get; } = [];

    /// <summary>First DTLS flight to Connected, ms.</summary>
    public List<double> DtlsMs { get; } = [];

    /// <summary>STUN Binding requests sent (checks and their retransmissions, consent refreshes).</summary>
    public long StunRequests { get; set; }

    /// <summary>SRTP packets the sessions sent.</summary>
    public long MediaSent { get; set; }

    /// <summary>SRTP packets that came back to the sessions and unprotected (an echo endpoint returns them; WHIP does not).</summary>
    public long MediaReceived { get; set; }

    /// <summary>Packets the server said it received (<c>rtpIn</c> or <c>rtp.packetsIn</c> of <c>GET LOCATION/stats</c>), over the sessions it told.</summary>
    public long MediaAccepted { get; set; }

    /// <summary>Sessions whose stats the server gave (<see cref="MediaAccepted"/> is over these).</summary>
    public int MediaStatsRead { get; set; }

    /// <summary>Sessions whose stats could not be read (no stats resource, no count in it).</summary>
    public int MediaStatsMissing { get; set; }

    /// <summary>Sessions ended with DELETE of their Location and a 2xx.</summary>
    public int Deleted { get; set; }

    /// <summary>DELETE outcomes other than 2xx, by reason.</summary>
    public SortedDictionary<string, int> DeleteFailures { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// <c>airlift storm --serve URL</c>: full WebRTC sessions through a server's signalling. Each session opens a UDP socket,
/// POSTs an SDP offer (sendonly VP8, its ICE credentials, the storm certificate's fingerprint, a=setup:actpass, its host
/// candidate) to the URL (WHIP, RFC 9725), reads the 201 answer with <see cref="SdpOffer"/>, runs the controlling side of
/// ICE against the answer's candidate (Binding requests with USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
/// MESSAGE-INTEGRITY and FINGERPRINT; RFC 8445 7.2.2), then DTLS in the role the answer's a=setup gives, checking the
/// answer's fingerprint, then optionally sends SRTP packets, and at the end closes DTLS and DELETEs its Location.
/// One task per session (a storm through HTTP signalling is hundreds to a few thousand sessions, not tens of thousands):
/// memory is bounded by <see cref="ServeStormSettings.Connections"/>.
/// </summary>
internal sealed class ServeStorm : IStormDriver, IDisposable
{
    /// <summary>Most sessions one serve storm runs in all (one task and one settle signal each are kept to the end).</summary>
    public const int MaxTotal = 100_000;

    /// <summary>First Binding request retransmission interval (RFC 8445 14.3 paces checks; 100 ms doubling to 1.6 s here).</summary>
    private static readonly TimeSpan IceRto = TimeSpan.FromMilliseconds(100);

    private static readonly TimeSpan IceRtoMax = TimeSpan.FromMilliseconds(1600);

    /// <summary>Consent refresh while a session holds its connection (RFC 7675: every 5 s on average).</summary>
    private static readonly TimeSpan ConsentInterval = TimeSpan.FromSeconds(5);

    /// <summary>Pacing of the media packets (50 per second, a video stream's order).</summary>
    private static readonly TimeSpan MediaInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Wait after the last media packet before the server's stats are first read, and between reads.</summary>
    private static readonly TimeSpan MediaSettle = TimeSpan.FromMilliseconds(250);

    /// <summary>How long after the last media packet the server's count may take to reach what was sent (a busy server lags).</summary>
    private static readonly TimeSpan MediaSettleMax = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan HttpTimeout = TimeSpan.FromSeconds(10);

    private const int PayloadBytes = 1000;

    private readonly ServeStormSettings _settings;
    private readonly HttpClient _http;
    private readonly StormTally _tally = new() { Serve = new ServeTally() };
    private readonly CancellationTokenSource _release = new();
    private readonly bool _spread;
    private long _start;
    private TimeSpan _firstStart = TimeSpan.MinValue;
    private TimeSpan _lastOutcome;
    private int _started;
    private int _connected;
    private int _failed;
    private int _inFlight;
    private int _held;
    private int _open;

    /// <summary>Creates the driver and its HTTP client; nothing runs before <see cref="Run"/>.</summary>
    public ServeStorm(ServeStormSettings settings)
    {
        _settings = settings;
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        _spread = IPAddress.TryParse(settings.Url.Host.Trim('[', ']'), out var host) ? IPAddress.IsLoopback(host) && host.AddressFamily == AddressFamily.InterNetwork : settings.Url.IsLoopback;
    }

    /// <inheritdoc/>
    public StormProgress Progress => new(Volatile.Read(ref _started), Volatile.Read(ref _connected), Volatile.Read(ref _failed), Volatile.Read(ref _inFlight), Volatile.Read(ref _held));

    private TimeSpan Now => Stopwatch.GetElapsedTime(_start);

    /// <inheritdoc/>
    public StormTally Run(CancellationToken ct, Action? beforeClose = null) => RunAsync(ct, beforeClose).GetAwaiter().GetResult();

    /// <inheritdoc/>
    public void Dispose()
    {
        _http.Dispose();
        _release.Dispose();
    }

    private async Task<StormTally> RunAsync(CancellationToken ct, Action? beforeClose)
    {
        _start = Stopwatch.GetTimestamp();
        var sessions = new List<Task>();
        var settled = new List<Task>();
        using var slots = new SemaphoreSlim(_settings.Connections, _settings.Connections);
        var next = TimeSpan.Zero;
        try
        {
            for (var i = 0; i < _settings.Total; i++)
            {
                await slots.WaitAsync(ct).ConfigureAwait(false);
                if (_settings.Rate > 0)
                {
                    var now = Now;
                    next = (next < now - TimeSpan.FromMilliseconds(100) ? now - TimeSpan.FromMilliseconds(100) : next) + TimeSpan.FromSeconds(1 / _settings.Rate);
                    if (next - TimeSpan.FromSeconds(1 / _settings.Rate) > now)
                    {
                        await Task.Delay(next - TimeSpan.FromSeconds(1 / _settings.Rate) - now, ct).ConfigureAwait(false);
                    }
                }

                // Counted here, not in the session's task: the slot arithmetic of SlotNeeded must see every slot taken.
                Started();
                var session = new Session(this, i, slots);
                settled.Add(session.Settled.Task);
                sessions.Add(Task.Run(() => session.RunAsync(ct), CancellationToken.None));
            }

            await Task.WhenAll(settled).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _tally.Interrupted = true;
        }

        lock (_tally)
        {
            _tally.DrainSeconds = _firstStart == TimeSpan.MinValue ? 0 : Math.Max(0, (_lastOutcome - _firstStart).TotalSeconds);
            _tally.HeldAtEnd = Volatile.Read(ref _held);
        }

        try
        {
            beforeClose?.Invoke();
        }
        finally
        {
            await _release.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(sessions).ConfigureAwait(false);
            _tally.NotStarted = Math.Max(0, _settings.Total - _tally.Started);
        }

        return _tally;
    }

    private void Started()
    {
        var now = Now;
        lock (_tally)
        {
            _tally.Started++;
            if (_firstStart == TimeSpan.MinValue)
            {
                _firstStart = now;
            }
        }

        Interlocked.Increment(ref _started);
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _open);
    }

    private void Connected(string version, double connectMs, double iceMs, double dtlsMs)
    {
        var now = Now;
        lock (_tally)
        {
            _tally.Connected++;
            _tally.ConnectMs.Add(Math.Round(connectMs, 2));
            _tally.Serve!.IceMs.Add(Math.Round(iceMs, 2));
            _tally.Serve.DtlsMs.Add(Math.Round(dtlsMs, 2));
            _tally.Versions[version] = _tally.Versions.GetValueOrDefault(version) + 1;
            _lastOutcome = now;
        }

        Interlocked.Increment(ref _connected);
        Interlocked.Decrement(ref _inFlight);
    }

    private void Failed(string reason)
    {
        var now = Now;
        lock (_tally)
        {
            _tally.Failed++;
            _tally.FailuresByReason[reason] = _tally.FailuresByReason.GetValueOrDefault(reason) + 1;
            _lastOutcome = now;
        }

        Interlocked.Increment(ref _failed);
        Interlocked.Decrement(ref _inFlight);
    }

    private void Tally(Action<StormTally> update)
    {
        lock (_tally)
        {
            update(_tally);
        }
    }

    /// <summary>Would a slot of a session that just connected be needed by a session not yet started?</summary>
    private bool SlotNeeded() => _settings.Total - Volatile.Read(ref _started) > _settings.Connections - Volatile.Read(ref _open);

    /// <summary>The SDP offer of one session: one sendonly VP8 m-section, BUNDLE, rtcp-mux, our ICE credentials, fingerprint and candidate.</summary>
    internal static string Offer(string ufrag, string password, CertificateFingerprint fingerprint, IPEndPoint candidate, uint ssrc, ulong sessionId)
    {
        var ip = candidate.AddressFamily == AddressFamily.InterNetworkV6 ? "IP6" : "IP4";
        var any = candidate.AddressFamily == AddressFamily.InterNetworkV6 ? "::" : "0.0.0.0";
        var c = IceCandidate.CreateHost(candidate, IceProtocol.Udp, foundation: "1");
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"v=0\r\no=airlift-storm {sessionId} 2 IN {ip} {candidate.Address}\r\ns=-\r\nt=0 0\r\n");
        sb.Append("a=group:BUNDLE 0\r\na=msid-semantic: WMS storm\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN {ip} {any}\r\na=rtcp:9 IN {ip} {any}\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"a=ice-ufrag:{ufrag}\r\na=ice-pwd:{password}\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"a=fingerprint:{fingerprint}\r\na=setup:actpass\r\na=mid:0\r\na=sendonly\r\n");
        sb.Append("a=msid:storm video\r\na=rtcp-mux\r\na=rtcp-rsize\r\n");
        sb.Append("a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"a=ssrc:{ssrc} cname:airlift-storm\r\n");
        sb.Append(c.ToSdpLine()).Append("\r\na=end-of-candidates\r\n");
        return sb.ToString();
    }

    private static string Token(int length)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return RandomNumberGenerator.GetString(Alphabet, length);
    }

    private static string Reason(DtlsFailed f) => f.Reason switch
    {
        DtlsFailureReason.Timeout => "DTLS timeout",
        DtlsFailureReason.PeerAlert => $"DTLS: alert {f.Alert?.ToString() ?? "(none)"} from the server",
        _ when f.Alert is { } a => $"DTLS: {f.Reason} (sent alert {a})",
        _ => $"DTLS: {f.Reason}",
    };

    /// <summary>A session failed with this reason (the message is the failure reason).</summary>
    private sealed class SessionFailed(string reason) : Exception(reason);

    /// <summary>One session: its socket, receive pump, ICE check, DTLS endpoint and SRTP contexts.</summary>
    private sealed class Session(ServeStorm storm, int sequence, SemaphoreSlim slots)
    {
        private readonly Channel<byte[]> _inbox = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        private readonly byte[] _out = new byte[65536];
        private readonly string _ufrag = Token(8);
        private readonly string _password = Token(24);
        private readonly HashSet<StunTransactionId> _outstanding = [];
        private readonly ulong _tieBreaker = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        private readonly uint _ssrc = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4)) | 1;
        private Socket? _socket;
        private DtlsEndpoint? _dtls;
        private MediaSession? _media;
        private string? _remoteUfrag;
        private byte[] _remoteKey = [];
        private bool _iceDone;
        private bool _answered;
        private bool _refused;
        private bool _slotReleased;
        private DtlsRole _role;

        public TaskCompletionSource Settled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ServeStormSettings S => storm._settings;

        public async Task RunAsync(CancellationToken ct)
        {
            var outcome = false; // connected or failed
            Uri? location = null;
            var holding = false;
            try
            {
                var startedAt = storm.Now;
                var deadline = startedAt + S.Timeout;
                _socket = OpenSocket();
                var local = (IPEndPoint)_socket.LocalEndPoint!;

                // Signalling: POST the offer, 201 + Location + answer.
                var (answer, where) = await SignalAsync(local, deadline, ct).ConfigureAwait(false);
                location = where;
                var signalled = storm.Now;
                storm.Tally(t => t.Serve!.SignallingMs.Add(Math.Round((signalled - startedAt).TotalMilliseconds, 2)));
                var (server, fingerprint, role) = ReadAnswer(answer);
                _role = role;
                if (S.Route is { } route)
                {
                    server = await route(server, ct).ConfigureAwait(false);
                }

                _socket.Connect(server);
                _ = PumpAsync(ct);

                // ICE: the controlling side's check with USE-CANDIDATE until an authenticated success response.
                await IceAsync(deadline, ct).ConfigureAwait(false);
                var iceDone = storm.Now;

                // DTLS in the answer's role, its fingerprint checked.
                var version = await DtlsAsync(fingerprint, deadline, ct).ConfigureAwait(false);
                var connected = storm.Now;
                storm.Connected(version, (connected - startedAt).TotalMilliseconds, (iceDone - signalled).TotalMilliseconds, (connected - iceDone).TotalMilliseconds);
                outcome = true;

                holding = !storm.SlotNeeded();
                if (holding)
                {
                    Interlocked.Increment(ref storm._held);
                }

                if (S.MediaPackets > 0)
                {
                    await MediaAsync(location, ct).ConfigureAwait(false);
                }

                Settled.TrySetResult();
                if (holding)
                {
                    await HoldAsync(ct).ConfigureAwait(false);
                }
            }
            catch (SessionFailed f)
            {
                storm.Failed(f.Message);
                outcome = true;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is SocketException or IOException or HttpRequestException or InvalidOperationException)
            {
                if (!outcome)
                {
                    storm.Failed($"{e.GetType().Name}: {e.Message}");
                    outcome = true;
                }
            }
            finally
            {
                if (!outcome)
                {
                    storm.Tally(t => t.Unfinished++);
                    Interlocked.Decrement(ref storm._inFlight);
                }

                if (holding)
                {
                    Interlocked.Decrement(ref storm._held);
                }

                Settled.TrySetResult();
                await EndAsync(location).ConfigureAwait(false);
            }
        }

        private Socket OpenSocket()
        {
            var v6 = IPAddress.TryParse(S.Url.Host.Trim('[', ']'), out var host) && host.AddressFamily == AddressFamily.InterNetworkV6;
            var socket = new Socket(v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                var address = storm._spread ? StormDriver.AddressFor(sequence, S.PerAddress)
                    : S.Url.IsLoopback ? (v6 ? IPAddress.IPv6Loopback : IPAddress.Loopback)
                    : v6 ? IPAddress.IPv6Any : IPAddress.Any;
                socket.Bind(new IPEndPoint(address, 0));
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        private async Task<(string Answer, Uri Location)> SignalAsync(IPEndPoint local, TimeSpan deadline, CancellationToken ct)
        {
            var offer = Offer(_ufrag, _password, S.ClientFingerprint, local, _ssrc, (ulong)sequence + 1);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(Remaining(deadline));
            using var content = new StringContent(offer, Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/sdp");
            HttpResponseMessage response;
            try
            {
                response = await storm._http.PostAsync(S.Url, content, limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new SessionFailed("signalling: no answer within the timeout");
            }
            catch (HttpRequestException e)
            {
                throw new SessionFailed($"signalling: {e.HttpRequestError} ({e.InnerException?.Message ?? e.Message})");
            }

            using (response)
            {
                string body;
                try
                {
                    body = await response.Content.ReadAsStringAsync(limit.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new SessionFailed("signalling: no answer within the timeout");
                }

                if (response.StatusCode != HttpStatusCode.Created)
                {
                    var first = body.Split('\n', 2)[0].Trim();
                    first = first.Length > 120 ? first[..120] + "..." : first;
                    throw new SessionFailed(F($"signalling: HTTP {(int)response.StatusCode} {response.ReasonPhrase}{(first.Length > 0 ? ": " + first : string.Empty)}"));
                }

                if (response.Headers.Location is not { } location)
                {
                    throw new SessionFailed("signalling: 201 without Location");
                }

                return (body, location.IsAbsoluteUri ? location : new Uri(S.Url, location));
            }
        }

        private (IPEndPoint Server, CertificateFingerprint Fingerprint, DtlsRole Role) ReadAnswer(string sdp)
        {
            if (!SdpOffer.TryParse(sdp, out var answer, out var error))
            {
                throw new SessionFailed("signalling: unreadable answer: " + error.Kind);
            }

            var ice = answer.Ice;
            if (ice.Ufrag is not { } ufrag || ice.Password is not { } password)
            {
                throw new SessionFailed("signalling: answer without a=ice-ufrag / a=ice-pwd");
            }

            var fp = ice.Fingerprints.FirstOrDefault(f => string.Equals(f.Algorithm, "sha-256", StringComparison.OrdinalIgnoreCase));
            if (fp == default || !CertificateFingerprint.TryParse(fp.ToString(), out var fingerprint))
            {
                throw new SessionFailed("signalling: answer without a sha-256 a=fingerprint");
            }

            var role = ice.Setup switch
            {
                SdpSetupRole.Passive => DtlsRole.Client,
                SdpSetupRole.Active => DtlsRole.Server,
                _ => throw new SessionFailed($"signalling: answer a=setup is {ice.Setup?.ToString() ?? "missing"} (passive or active expected)"),
            };

            var family = _socket!.AddressFamily;
            var candidate = ice.Candidates
                .Where(c => c.Protocol == IceProtocol.Udp && IPAddress.TryParse(c.Address, out var a) && a.AddressFamily == family)
                .OrderByDescending(c => c.Priority)
                .FirstOrDefault() ?? throw new SessionFailed("signalling: answer has no UDP candidate of our address family");
            _remoteUfrag = ufrag;
            _remoteKey = Encoding.UTF8.GetBytes(password);
            return (new IPEndPoint(IPAddress.Parse(candidate.Address), candidate.Port), fingerprint, role);
        }

        /// <summary>Receives on the thread pool into the session's inbox (bounded: a flood is dropped, not buffered).</summary>
        private async Task PumpAsync(CancellationToken ct)
        {
            var buffer = new byte[65536];
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    var n = await _socket!.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
                    _answered = true;
                    _inbox.Writer.TryWrite(buffer.AsSpan(0, n).ToArray());
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    _refused = true;
                    storm.Tally(t => t.PortUnreachable++);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
                {
                    storm.Tally(t => t.Truncated++);
                }
                catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException or SocketException)
                {
                    break;
                }
            }

            _inbox.Writer.TryComplete();
        }

        /// <summary>The next datagram, or null when <paramref name="until"/> passed first.</summary>
        private async ValueTask<byte[]?> NextAsync(TimeSpan until, CancellationToken ct)
        {
            if (_inbox.Reader.TryRead(out var ready))
            {
                return ready;
            }

            var wait = until - storm.Now;
            if (wait <= TimeSpan.Zero)
            {
                return null;
            }

            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(wait);
            try
            {
                return await _inbox.Reader.ReadAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return null;
            }
            catch (ChannelClosedException)
            {
                await Task.Delay(wait, ct).ConfigureAwait(false);
                return null;
            }
        }

        private void Send(ReadOnlySpan<byte> datagram)
        {
            try
            {
                _socket!.Send(datagram, SocketFlags.None);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                _refused = true;
                storm.Tally(t => t.PortUnreachable++);
            }
            catch (SocketException)
            {
                storm.Tally(t => t.SendErrors++);
            }
        }

        private void SendCheck(bool useCandidate)
        {
            Span<byte> id = stackalloc byte[StunTransactionId.Length];
            RandomNumberGenerator.Fill(id);
            var txid = StunTransactionId.Read(id);
            var w = new StunWriter(_out, StunMessageType.BindingRequest, txid);
            w.AddUsername($"{_remoteUfrag}:{_ufrag}");
            w.AddPriority(IceCandidate.ComputePriority(IceCandidate.HostTypePreference, IceCandidate.DefaultUdpLocalPreference, 1));
            w.AddIceControlling(_tieBreaker);
            if (useCandidate)
            {
                w.AddUseCandidate();
            }

            w.AddMessageIntegrity(_remoteKey);
            w.AddFingerprint();
            if (_outstanding.Count > 64)
            {
                _outstanding.Clear();
            }

            _outstanding.Add(txid);
            storm.Tally(t => t.Serve!.StunRequests++);
            Send(w.Written);
        }

        /// <summary>Handles a STUN datagram: true for an authenticated success response to one of our checks.</summary>
        private bool OnStun(byte[] datagram)
        {
            if (!StunMessage.TryDecode(datagram, out var m, out _) || m is null || !_outstanding.Contains(m.TransactionId))
            {
                return false;
            }

            if (m.Type == StunMessageType.BindingError && m.HasMessageIntegrity && m.VerifyMessageIntegrity(datagram, _remoteKey))
            {
                throw new SessionFailed(F($"ICE: Binding error {m.ErrorCode?.Code ?? 0}"));
            }

            return m.Type == StunMessageType.BindingSuccess && m.VerifyMessageIntegrity(datagram, _remoteKey);
        }

        private async Task IceAsync(TimeSpan deadline, CancellationToken ct)
        {
            var rto = IceRto;
            var nextSend = storm.Now;
            while (true)
            {
                var now = storm.Now;
                if (now >= deadline)
                {
                    throw new SessionFailed(_refused && !_answered ? "ICE timeout: port unreachable" : _answered ? "ICE timeout: no authenticated Binding success" : "ICE timeout: no answer");
                }

                if (now >= nextSend)
                {
                    SendCheck(useCandidate: true);
                    nextSend = now + rto;
                    rto = rto * 2 > IceRtoMax ? IceRtoMax : rto * 2;
                }

                var datagram = await NextAsync(nextSend < deadline ? nextSend : deadline, ct).ConfigureAwait(false);
                if (datagram is { Length: > 0 } && datagram[0] < 4 && OnStun(datagram))
                {
                    _iceDone = true;
                    return;
                }
            }
        }

        private async Task<string> DtlsAsync(CertificateFingerprint fingerprint, TimeSpan deadline, CancellationToken ct)
        {
            var options = S.Client with
            {
                ExpectedPeerFingerprint = fingerprint,
                AllowAnyPeerCertificate = false,
                SrtpProfiles = S.MediaPackets > 0 || S.Client.SrtpProfiles.Count == 0
                    ? [SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80]
                    : S.Client.SrtpProfiles,
                HandshakeTimeout = Remaining(deadline) > TimeSpan.FromSeconds(1) ? Remaining(deadline) : TimeSpan.FromSeconds(1),
            };
            var now = storm.Now;
            _dtls = _role == DtlsRole.Client ? DtlsEndpoint.CreateClient(options, now) : DtlsEndpoint.CreateServer(options, now);
            string? version = null;
            var timer = Drain(now, ref version);
            while (version is null)
            {
                now = storm.Now;
                if (now >= deadline)
                {
                    throw new SessionFailed(_answered ? "DTLS timeout" : "DTLS timeout: no answer");
                }

                var datagram = await NextAsync(timer < deadline ? timer : deadline, ct).ConfigureAwait(false);
                now = storm.Now;
                if (datagram is null)
                {
                    if (now >= timer)
                    {
                        _dtls.HandleTimeout(now);
                    }
                }
                else
                {
                    OnDatagram(datagram, now);
                }

                timer = Drain(now, ref version);
            }

            return version;
        }

        /// <summary>Routes one datagram by its first byte (RFC 7983): STUN, DTLS, or SRTP/SRTCP.</summary>
        private void OnDatagram(byte[] datagram, TimeSpan now)
        {
            if (datagram.Length == 0)
            {
                return;
            }

            var first = datagram[0];
            if (first < 4)
            {
                OnStun(datagram);
            }
            else if (first is >= 20 and <= 63)
            {
                _dtls?.HandleDatagram(now, datagram);
            }
            else if (first is >= 128 and <= 191 && _media is { IsKeyed: true } media && datagram.Length >= 2)
            {
                // RTCP packet types 192..223 (RFC 5761 4): the server's reports and feedback; the rest is RTP coming back.
                var pt = datagram[1];
                if (pt is < 192 or > 223 && media.UnprotectRtp(datagram).Status == MediaStatus.Ok)
                {
                    storm.Tally(t => t.Serve!.MediaReceived++);
                }
            }
        }

        /// <summary>Drains the DTLS endpoint: sends, acts on events, returns its next deadline.</summary>
        private TimeSpan Drain(TimeSpan now, ref string? connectedVersion)
        {
            while (true)
            {
                var output = _dtls!.PollOutput(_out);
                switch (output.Kind)
                {
                    case DtlsOutputKind.Datagram:
                        Send(_out.AsSpan(0, output.DatagramLength));
                        break;
                    case DtlsOutputKind.Event:
                        switch (output.Event)
                        {
                            case DtlsConnected c:
                                connectedVersion = c.Version.ToString();
                                break;
                            case DtlsKeyingMaterial km:
                                _media ??= new MediaSession();
                                _media.SetKeys(new KeyingMaterial(km.Profile, km.Material, _role));
                                break;
                            case DtlsFailed f when connectedVersion is null:
                                throw new SessionFailed(Reason(f));
                        }

                        break;
                    default:
                        return output.Deadline == DtlsOutput.NoDeadline ? TimeSpan.MaxValue : output.Deadline;
                }
            }
        }

        private async Task MediaAsync(Uri location, CancellationToken ct)
        {
            if (_media is not { IsKeyed: true } media)
            {
                storm.Tally(t => t.Serve!.MediaStatsMissing++);
                return;
            }

            var packet = new byte[PayloadBytes + 12 + 64];
            var sent = 0;
            var next = storm.Now;
            for (var i = 0; i < S.MediaPackets; i++)
            {
                // RTP header (RFC 3550 5.1): V=2, marker on the last, PT 96, sequence, 90 kHz timestamp, our SSRC; a dummy payload.
                packet.AsSpan(12, PayloadBytes).Fill((byte)i);
                packet[0] = 0x80;
                packet[1] = (byte)(96 | (i == S.MediaPackets - 1 ? 0x80 : 0));
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)i);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), (uint)(i * 1800));
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), _ssrc);
                var r = media.ProtectRtp(packet, 12 + PayloadBytes);
                if (r.Status == MediaStatus.Ok)
                {
                    Send(packet.AsSpan(0, r.Length));
                    sent++;
                }

                next += MediaInterval;
                await ServeUntilAsync(next, ct).ConfigureAwait(false);
            }

            storm.Tally(t => t.Serve!.MediaSent += sent);
            var settleEnd = storm.Now + MediaSettleMax;
            long? accepted;
            do
            {
                await ServeUntilAsync(storm.Now + MediaSettle, ct).ConfigureAwait(false);
                accepted = await AcceptedAsync(location, ct).ConfigureAwait(false);
            }
            while (accepted is { } so && so < sent && storm.Now < settleEnd);

            storm.Tally(t =>
            {
                if (accepted is { } n)
                {
                    t.Serve!.MediaAccepted += n;
                    t.Serve.MediaStatsRead++;
                }
                else
                {
                    t.Serve!.MediaStatsMissing++;
                }
            });
        }

        /// <summary>The server's count of our packets from <c>GET LOCATION/stats</c> (serve: <c>rtpIn</c> for WHIP, <c>rtp.packetsIn</c> for echo).</summary>
        private async Task<long?> AcceptedAsync(Uri location, CancellationToken ct)
        {
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
                limit.CancelAfter(HttpTimeout);
                using var response = await storm._http.GetAsync(new Uri(location.AbsoluteUri.TrimEnd('/') + "/stats"), limit.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    return null;
                }

                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(limit.Token).ConfigureAwait(false));
                var root = doc.RootElement;
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("rtpIn", out var rtpIn) && rtpIn.TryGetInt64(out var a))
                {
                    return a;
                }

                return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("rtp", out var rtp) && rtp.ValueKind == JsonValueKind.Object
                    && rtp.TryGetProperty("packetsIn", out var p) && p.TryGetInt64(out var b) ? b : null;
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                return null;
            }
        }

        /// <summary>Handles what arrives (DTLS timers, STUN, media) until <paramref name="until"/>.</summary>
        private async Task ServeUntilAsync(TimeSpan until, CancellationToken ct)
        {
            string? ignored = "connected";
            while (storm.Now < until)
            {
                var timer = Drain(storm.Now, ref ignored);
                var datagram = await NextAsync(timer < until ? timer : until, ct).ConfigureAwait(false);
                var now = storm.Now;
                if (datagram is not null)
                {
                    OnDatagram(datagram, now);
                }
                else if (now >= timer)
                {
                    _dtls!.HandleTimeout(now);
                }
            }

            Drain(storm.Now, ref ignored);
        }

        /// <summary>Holds the connection (consent refreshes every <see cref="ConsentInterval"/>) until the storm ends.</summary>
        private async Task HoldAsync(CancellationToken ct)
        {
            using var hold = CancellationTokenSource.CreateLinkedTokenSource(ct, storm._release.Token);
            try
            {
                while (true)
                {
                    await ServeUntilAsync(storm.Now + ConsentInterval, hold.Token).ConfigureAwait(false);
                    if (_iceDone)
                    {
                        SendCheck(useCandidate: false);
                    }
                }
            }
            catch (OperationCanceledException) when (storm._release.IsCancellationRequested && !ct.IsCancellationRequested)
            {
            }
        }

        /// <summary>close_notify, then DELETE of the Location; releases the slot, socket and keys.</summary>
        private async Task EndAsync(Uri? location)
        {
            try
            {
                if (_dtls is not null)
                {
                    _dtls.Close(storm.Now);
                    string? ignored = "closing";
                    try
                    {
                        Drain(storm.Now, ref ignored);
                    }
                    catch (SessionFailed)
                    {
                    }
                }

                if (location is not null)
                {
                    string? failure = null;
                    try
                    {
                        using var limit = new CancellationTokenSource(HttpTimeout);
                        using var response = await storm._http.DeleteAsync(location, limit.Token).ConfigureAwait(false);
                        failure = response.IsSuccessStatusCode ? null : F($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
                    }
                    catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
                    {
                        failure = e is OperationCanceledException ? "no answer" : $"{e.GetType().Name}: {e.Message}";
                    }

                    storm.Tally(t =>
                    {
                        if (failure is null)
                        {
                            t.Serve!.Deleted++;
                        }
                        else
                        {
                            t.Serve!.DeleteFailures[failure] = t.Serve.DeleteFailures.GetValueOrDefault(failure) + 1;
                        }
                    });
                }
            }
            finally
            {
                if (_dtls is not null)
                {
                    var stats = _dtls.Stats;
                    storm.Tally(t =>
                    {
                        t.DatagramsSent += stats.DatagramsSent;
                        t.DatagramsReceived += stats.DatagramsReceived;
                        t.Retransmissions += stats.Retransmissions;
                    });
                    _dtls.Dispose();
                }

                _media?.Dispose();
                _socket?.Dispose();
                if (!_slotReleased)
                {
                    _slotReleased = true;
                    Interlocked.Decrement(ref storm._open);
                    slots.Release();
                }
            }
        }

        private TimeSpan Remaining(TimeSpan deadline)
        {
            var left = deadline - storm.Now;
            return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
        }
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
