using System.Collections.Concurrent;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Net;
using Airlift.WebRtc;
using Microsoft.Extensions.Logging;

namespace Airlift.Cli.Serve;

/// <summary>Makes the transport of one accepted offer (the echo server's shared host); the error is an HTTP status and body.</summary>
internal delegate TransportSession? TransportFactory(SdpOffer offer, DtlsRole actPassRole, out EchoCreateResult? error);

/// <summary>
/// WHIP (RFC 9725) publishers and WHEP (WISH draft) viewers of <c>airlift serve</c>, on the echo server's transport host:
/// <c>POST /whip</c> answers a publisher's sendonly offer (answer recvonly), <c>POST /whep[/{publisher}]</c> a viewer's
/// recvonly offer (answer sendonly, with the publisher's codecs); <c>DELETE</c> on the resource ends it; a publisher
/// leaving ends its viewers. Thread-safe.
/// </summary>
internal sealed class BroadcastHub
{
    private readonly BroadcastLimits _limits;
    private readonly IReadOnlyList<IceCandidate> _candidates;
    private readonly TransportFactory _transports;
    private readonly TimeSpan _connectTimeout;
    private readonly CancellationToken _stop;
    private readonly ILogger? _logger;
    private readonly ConcurrentDictionary<string, Publisher> _publishers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Viewer> _viewers = new(StringComparer.Ordinal);
    private readonly Lock _createGate = new();
    private readonly Func<uint> _newSsrc;

    // Live (not finished) publishers and viewers, kept as counts: counting the dictionaries walked every peer, finished ones
    // kept for their stats included, on every offer and under the create lock (O(n) per offer, O(n^2) for a storm).
    private int _livePublishers;
    private int _liveViewers;

    public BroadcastHub(BroadcastLimits limits, IReadOnlyList<IceCandidate> candidates, TransportFactory transports, Func<uint> newSsrc, TimeSpan connectTimeout, CancellationToken stop, ILogger? logger)
    {
        limits.Validate();
        _limits = limits;
        _candidates = candidates;
        _transports = transports;
        _newSsrc = newSsrc;
        _connectTimeout = connectTimeout;
        _stop = stop;
        _logger = logger;
    }

    public IEnumerable<BroadcastPeer> All => _publishers.Values.Cast<BroadcastPeer>().Concat(_viewers.Values);

    /// <summary>Publishers and viewers not finished (what <see cref="EchoServerOptions.MaxSessions"/> counts besides the echoes).</summary>
    public int LiveCount => Volatile.Read(ref _livePublishers) + Volatile.Read(ref _liveViewers);

    public BroadcastPeer? Get(string id) => _publishers.TryGetValue(id, out var p) ? p : _viewers.GetValueOrDefault(id);

    /// <summary>The publishers live now, newest first.</summary>
    public IReadOnlyList<Publisher> LivePublishers => [.. _publishers.Values.Where(p => !p.IsFinished).Reverse()];

    public EchoCreateResult Publish(string offerText, DtlsRole role)
    {
        if (!SdpOffer.TryParse(offerText, out var offer, out var parseError))
        {
            return new(400, "bad offer: " + parseError + "\n", null);
        }

        lock (_createGate)
        {
            if (Volatile.Read(ref _livePublishers) >= _limits.MaxPublishers)
            {
                ServeMetrics.Refuse("max_publishers");
                return new(503, $"the server serves its maximum of {_limits.MaxPublishers} publishers (--max-publishers); retry later\n", null, 5);
            }

            if (_transports(offer, role, out var error) is not { } session)
            {
                return error!;
            }

            var options = Answer(session, offer) with { ChooseDirection = _ => MediaDirection.RecvOnly };
            if (!SdpAnswerBuilder.TryBuild(offer, options, out var answer, out var answerError) || !answer.Streams.Any(s => s.Receive))
            {
                session.Close();
                return new(400, "bad offer: " + (answerError?.ToString() ?? "a WHIP offer must send audio or video (a=sendonly or a=sendrecv)") + "\n", null);
            }

            var id = EchoAnswer.NewToken();
            var publisher = new Publisher(id, session, answer, _limits, TimeProvider.System, _logger)
            {
                Finished = () => Interlocked.Decrement(ref _livePublishers),
            };
            _publishers[id] = publisher;
            Interlocked.Increment(ref _livePublishers);
            Start(publisher, () => _publishers.TryRemove(id, out _));
            if (_logger?.IsEnabled(LogLevel.Information) == true)
            {
                _logger.LogInformation("WHIP {Id}: publishing {Streams}", id, string.Join(", ", answer.Streams.Select(s => s.Kind + " " + s.Codec.Name)));
            }
            return new(201, answer.Sdp, id);
        }
    }

    public EchoCreateResult View(string offerText, DtlsRole role, string? publisherId)
    {
        if (!SdpOffer.TryParse(offerText, out var offer, out var parseError))
        {
            return new(400, "bad offer: " + parseError + "\n", null);
        }

        var publisher = publisherId is null ? LivePublishers.FirstOrDefault() : _publishers.GetValueOrDefault(publisherId);
        if (publisher is null || publisher.IsFinished)
        {
            return new(404, publisherId is null ? "nobody is publishing: POST a WHIP offer to /whip first\n" : "no such publisher\n", null);
        }

        lock (_createGate)
        {
            if (publisher.LiveViewers >= _limits.MaxViewersPerPublisher)
            {
                ServeMetrics.Refuse("max_viewers");
                return new(503, $"this publisher has its maximum of {_limits.MaxViewersPerPublisher} viewers (--max-viewers); retry later\n", null, 5);
            }

            if (_transports(offer, role, out var error) is not { } session)
            {
                return error!;
            }

            var options = Answer(session, offer) with
            {
                ChooseDirection = _ => MediaDirection.SendOnly,
                ChooseCodec = m => publisher.Codec(m.Kind) is { } sent
                    ? m.Codecs.Where(c => Same(c, sent)).OrderByDescending(c => c.Fmtp == sent.Fmtp).FirstOrDefault()
                    : null,
                NewSsrc = _newSsrc,
            };
            if (!SdpAnswerBuilder.TryBuild(offer, options, out var answer, out var answerError) || !answer.Streams.Any(s => s.Send))
            {
                session.Close();
                return new(400, "bad offer: " + (answerError?.ToString() ?? "a WHEP offer must receive audio or video (a=recvonly) with a codec the publisher sends") + "\n", null);
            }

            var id = EchoAnswer.NewToken();
            var viewer = new Viewer(id, session, answer, publisher, _limits, TimeProvider.System, _logger)
            {
                Finished = () => Interlocked.Decrement(ref _liveViewers),
            };
            if (!publisher.TryAdd(viewer))
            {
                session.Close();
                return new(500, "internal error\n", null);
            }

            _viewers[id] = viewer;
            Interlocked.Increment(ref _liveViewers);
            Start(viewer, () => _viewers.TryRemove(id, out _));
            if (publisher.IsFinished)
            {
                viewer.Close("the publisher left");
            }

            return new(201, answer.Sdp, id);
        }
    }

    public async Task<bool> DeleteAsync(string id)
    {
        if (Get(id) is not { } peer)
        {
            return false;
        }

        peer.Close("closed by DELETE");
        try
        {
            await peer.Closed.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        return true;
    }

    public void CloseAll(string reason)
    {
        foreach (var p in All)
        {
            p.Close(reason);
        }
    }

    private static bool Same(SdpCodec a, SdpCodec b) =>
        string.Equals(a.Name, b.Name, StringComparison.OrdinalIgnoreCase) && a.ClockRate == b.ClockRate && a.Channels == b.Channels;

    private SdpAnswerOptions Answer(TransportSession session, SdpOffer offer) => new()
    {
        Ufrag = session.LocalUfrag,
        Password = session.LocalPassword,
        Fingerprint = session.LocalFingerprint.ToString(),
        Setup = session.LocalSetup,
        Candidates = _candidates,
        SessionId = (ulong)Random.Shared.NextInt64(1, long.MaxValue),
        SessionName = "airlift serve",
        Cname = "airlift-" + EchoAnswer.NewToken(6),
        StreamId = "airlift-broadcast",
        Extensions = new HashSet<string>(StringComparer.Ordinal),
    };

    private void Start(BroadcastPeer peer, Action forget) => _ = Task.Run(async () =>
    {
        try
        {
            await peer.RunAsync(_connectTimeout, _stop).ConfigureAwait(false);
        }
        finally
        {
            // Kept for a while so GET .../stats still answers after the end; then forgotten.
            await Task.Delay(TimeSpan.FromSeconds(30), CancellationToken.None).ConfigureAwait(false);
            forget();
        }
    });
}
