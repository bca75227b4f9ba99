using System.Buffers.Binary;
using System.Collections.Concurrent;
using Airlift.Dtls;
using Airlift.Ice.Sdp;
using Airlift.Net;
using Airlift.Transport;
using Airlift.WebRtc;
using Airlift.WebRtc.Rtcp;
using Microsoft.Extensions.Logging;

namespace Airlift.Cli.Serve;

/// <summary>Caps and rates of WHIP publishing and WHEP viewing in <c>airlift serve</c>.</summary>
internal sealed record BroadcastLimits
{
    /// <summary>Most live WHIP publishers. Default 4.</summary>
    public int MaxPublishers { get; init; } = 4;

    /// <summary>Most live WHEP viewers of one publisher. Default 16.</summary>
    public int MaxViewersPerPublisher { get; init; } = 16;

    /// <summary>Keyframe requests (PLI/FIR from viewers, and one per new viewer) forwarded to a publisher at most once per this. Default 500 ms.</summary>
    public TimeSpan KeyframeRequestInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Bounds on viewers' NACK answers (per viewer, from its own history).</summary>
    public NackAnswerOptions Nack { get; init; } = NackAnswerOptions.Default;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxPublishers is < 0 or > 1024 || MaxViewersPerPublisher is < 0 or > 1024)
        {
            throw new ArgumentException("MaxPublishers and MaxViewersPerPublisher must be within 0..1024.", nameof(MaxPublishers));
        }

        if (KeyframeRequestInterval < TimeSpan.Zero || KeyframeRequestInterval > TimeSpan.FromSeconds(60))
        {
            throw new ArgumentException("KeyframeRequestInterval must be within 0..60 s.", nameof(KeyframeRequestInterval));
        }

        Nack.Validate();
    }
}

/// <summary>One WHIP publisher or WHEP viewer: a transport, its SRTP and its event loop.</summary>
internal abstract class BroadcastPeer
{
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _created;
    private string? _closeReason;

    protected BroadcastPeer(string id, TransportSession session, WebRtcAnswer answer, TimeProvider time, ILogger? logger)
    {
        Id = id;
        Session = session;
        // The SDP text went out in the 201; a held session needs only the streams (the text is 1-2 KB a session).
        Answer = answer with { Sdp = string.Empty };
        Time = time;
        Logger = logger;
        _created = time.GetTimestamp();
    }

    public string Id { get; }

    /// <summary>The ETag of the resource (RFC 9725 4.2: changes when the session's ICE changes; ours never restarts).</summary>
    public string ETag => "\"" + Id + "\"";

    public TransportSession Session { get; }

    /// <summary>The answer's streams and bundle (its SDP text is not kept: <see cref="WebRtcAnswer.Sdp"/> is empty).</summary>
    public WebRtcAnswer Answer { get; }

    /// <summary>Called once when the loop has ended, before <see cref="Closed"/> completes (the hub's live counts).</summary>
    internal Action? Finished { get; set; }

    /// <summary>The SRTP of this peer; used under <see cref="Gate"/> (the publisher's fan-out and the viewer's own loop both use a viewer's).</summary>
    public MediaSession Media { get; } = new();

    public Lock Gate { get; } = new();

    public Task Closed => _closed.Task;

    public bool IsFinished => _closed.Task.IsCompleted;

    public string State { get; private set; } = "connecting";

    public string? CloseReason => Volatile.Read(ref _closeReason);

    protected TimeProvider Time { get; }

    protected ILogger? Logger { get; }

    protected TimeSpan Now => Time.GetElapsedTime(_created);

    public void Close(string reason)
    {
        Interlocked.CompareExchange(ref _closeReason, reason, null);
        Session.Close();
    }

    public async Task RunAsync(TimeSpan connectTimeout, CancellationToken stop)
    {
        var events = Session.Events;
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(stop);
        connect.CancelAfter(connectTimeout);
        var connected = false;
        try
        {
            while (await events.WaitToReadAsync(connected ? stop : connect.Token).ConfigureAwait(false))
            {
                while (events.TryRead(out var e))
                {
                    switch (e)
                    {
                        case DtlsStateChange { State: TransportDtlsState.Connected }:
                            if (!connected)
                            {
                                // The connect deadline is over: free its timer and its registration on the stop token now
                                // rather than when the session ends (a held session kept both, and the timer still fired).
                                connect.Dispose();
                            }

                            connected = true;
                            State = "connected";
                            break;
                        case DtlsStateChange { State: TransportDtlsState.Closed }:
                            Close("closed by the peer (close_notify)");
                            break;
                        case KeyingMaterial km:
                            lock (Gate)
                            {
                                Media.SetKeys(km);
                            }

                            OnKeyed();
                            break;
                        case RtpPacketReceived rtp:
                            OnRtp(rtp.Packet);
                            break;
                        case RtcpPacketReceived rtcp:
                            OnRtcp(rtcp.Packet);
                            break;
                        case TransportFailed failed:
                            Interlocked.CompareExchange(ref _closeReason, $"{failed.Reason}: {failed.Message}", null);
                            break;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            Interlocked.CompareExchange(ref _closeReason, stop.IsCancellationRequested ? "server stopping" : "not connected in time", null);
        }
        catch (Exception ex)
        {
            ServeMetrics.InternalErrors.Add(1);
            Logger?.LogError(ex, "Broadcast session {Id} failed", Id);
            Interlocked.CompareExchange(ref _closeReason, "internal error: " + ex.GetType().Name, null);
        }
        finally
        {
            try
            {
                Session.Close();
            }
            catch (Exception ex)
            {
                Logger?.LogError(ex, "Broadcast session {Id}: closing the transport failed", Id);
            }

            Interlocked.CompareExchange(ref _closeReason, "closed", null);
            State = "closed";
            lock (Gate)
            {
                Media.Dispose();
            }

            OnClosed();
            Finished?.Invoke();
            _closed.TrySetResult();
        }
    }

    protected virtual void OnKeyed()
    {
    }

    protected abstract void OnRtp(byte[] packet);

    protected abstract void OnRtcp(byte[] packet);

    protected virtual void OnClosed()
    {
    }

    public abstract Dictionary<string, object?> Snapshot();
}

/// <summary>
/// A WHIP publisher (RFC 9725): receives its audio and video and hands each authenticated RTP packet, plain, to every
/// viewer. Keyframe requests from viewers reach it as PLI, at most once per <see cref="BroadcastLimits.KeyframeRequestInterval"/>.
/// When it ends, its viewers are closed.
/// </summary>
internal sealed class Publisher : BroadcastPeer
{
    /// <summary>The SSRC our PLIs are sent from: the answer declares no sending SSRC for a receive-only session (RFC 4585 allows any).</summary>
    private const uint FeedbackSsrc = 1;

    private readonly BroadcastLimits _limits;
    // Small: most publishers have few viewers (the default concurrency level and capacity cost about 1 KB per publisher).
    private readonly ConcurrentDictionary<string, Viewer> _viewers = new(concurrencyLevel: 1, capacity: 1, StringComparer.Ordinal);
    private readonly byte[] _rtcp = new byte[64];
    private long _lastKeyframeRequestTicks = long.MinValue;
    private uint _videoSsrc;
    private long _rtpIn;
    private long _keyframeRequests;
    private long _keyframeRequestsLimited;

    public Publisher(string id, TransportSession session, WebRtcAnswer answer, BroadcastLimits limits, TimeProvider time, ILogger? logger)
        : base(id, session, answer, time, logger)
    {
        _limits = limits;
    }

    public IReadOnlyCollection<Viewer> Viewers => (IReadOnlyCollection<Viewer>)_viewers.Values;

    /// <summary>Viewers not finished: a viewer leaves the set in its <see cref="BroadcastPeer.OnClosed"/>, before it is finished.</summary>
    public int LiveViewers => _viewers.Count;

    public bool TryAdd(Viewer viewer) => _viewers.TryAdd(viewer.Id, viewer);

    public void Remove(Viewer viewer) => _viewers.TryRemove(viewer.Id, out _);

    /// <summary>The codec the publisher sends for <paramref name="kind"/>, once answered.</summary>
    public SdpCodec? Codec(string kind) => Answer.Streams.FirstOrDefault(s => s.Kind == kind && s.Receive)?.Codec;

    protected override void OnRtp(byte[] packet)
    {
        int plain;
        lock (Gate)
        {
            var r = Media.UnprotectRtp(packet);
            if (r.Status != MediaStatus.Ok)
            {
                return;
            }

            plain = r.Length;
        }

        Interlocked.Increment(ref _rtpIn);
        if (plain < 12)
        {
            return;
        }

        var pt = packet[1] & 0x7F;
        var stream = Answer.Streams.FirstOrDefault(s => s.Codec.PayloadType == pt);
        if (stream is null)
        {
            ServeMetrics.Drop("whip_unknown_payload_type");
            return;
        }

        if (stream.Kind == "video")
        {
            _videoSsrc = BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan(8));
        }

        foreach (var viewer in _viewers.Values)
        {
            viewer.Forward(stream.Kind, packet.AsSpan(0, plain), Now);
        }
    }

    protected override void OnRtcp(byte[] packet)
    {
        // The publisher's sender reports are not forwarded (each viewer's leg has its own timing); only authenticated, then dropped.
        lock (Gate)
        {
            _ = Media.UnprotectRtcp(packet);
        }
    }

    /// <summary>Asks the publisher for a keyframe (PLI, RFC 4585 6.3.1), at most once per <see cref="BroadcastLimits.KeyframeRequestInterval"/>.</summary>
    public void RequestKeyframe()
    {
        var now = Now.Ticks;
        var last = Interlocked.Read(ref _lastKeyframeRequestTicks);
        if (_videoSsrc == 0 || (last != long.MinValue && now - last < _limits.KeyframeRequestInterval.Ticks) || Interlocked.CompareExchange(ref _lastKeyframeRequestTicks, now, last) != last)
        {
            Interlocked.Increment(ref _keyframeRequestsLimited);
            return;
        }

        lock (Gate)
        {
            if (!RtcpPli.TryWrite(_rtcp, FeedbackSsrc, _videoSsrc, out var written) || Media.ProtectRtcp(_rtcp, written) is not { Status: MediaStatus.Ok } r)
            {
                return;
            }

            if (Session.SendMedia(_rtcp.AsSpan(0, r.Length)))
            {
                Interlocked.Increment(ref _keyframeRequests);
            }
        }
    }

    protected override void OnClosed()
    {
        foreach (var viewer in _viewers.Values)
        {
            viewer.Close("the publisher left");
        }
    }

    public override Dictionary<string, object?> Snapshot() => new()
    {
        ["id"] = Id,
        ["kind"] = "whip",
        ["state"] = State,
        ["closeReason"] = CloseReason,
        ["rtpIn"] = Interlocked.Read(ref _rtpIn),
        ["viewers"] = LiveViewers,
        ["keyframeRequests"] = Interlocked.Read(ref _keyframeRequests),
        ["keyframeRequestsLimited"] = Interlocked.Read(ref _keyframeRequestsLimited),
        ["streams"] = Answer.Streams.Select(s => new Dictionary<string, object?> { ["mid"] = s.Mid, ["kind"] = s.Kind, ["codec"] = s.Codec.Name }).ToList(),
    };
}

/// <summary>
/// A WHEP viewer: each packet of its publisher is rewritten to the viewer's SSRC and payload type, protected with the
/// viewer's keys and sent; video is kept in an <see cref="RtpHistory"/> and NACKs are answered from it within the viewer's
/// <see cref="NackResponder"/> budget; PLI and FIR go to the publisher (rate-limited there).
/// </summary>
internal sealed class Viewer : BroadcastPeer
{
    private readonly Publisher _publisher;
    private readonly RtpHistory?[] _histories;
    private readonly NackResponder _nacks;
    private readonly byte[] _work = new byte[RtpHistory.MaxPacket + 64];
    private readonly ushort[] _lost = new ushort[256];
    private long _rtpOut;
    private long _nackResent;
    private long _keyframeRequests;

    public Viewer(string id, TransportSession session, WebRtcAnswer answer, Publisher publisher, BroadcastLimits limits, TimeProvider time, ILogger? logger)
        : base(id, session, answer, time, logger)
    {
        _publisher = publisher;
        _histories = [.. answer.Streams.Select(s => s.Kind == "video" && s.Send ? new RtpHistory() : null)];
        _nacks = new NackResponder(_histories, limits.Nack, TimeSpan.Zero);
    }

    public Publisher Publisher => _publisher;

    protected override void OnKeyed() => _publisher.RequestKeyframe();

    /// <summary>Called on the publisher's loop: one plain RTP packet of <paramref name="kind"/>.</summary>
    public void Forward(string kind, ReadOnlySpan<byte> plain, TimeSpan now)
    {
        var index = -1;
        for (var i = 0; i < Answer.Streams.Count; i++)
        {
            if (Answer.Streams[i].Kind == kind && Answer.Streams[i].Send)
            {
                index = i;
                break;
            }
        }

        if (index < 0 || plain.Length + 32 > _work.Length)
        {
            return;
        }

        var stream = Answer.Streams[index];
        lock (Gate)
        {
            if (!Media.IsKeyed)
            {
                return;
            }

            plain.CopyTo(_work);
            _work[1] = (byte)((_work[1] & 0x80) | stream.Codec.PayloadType);
            BinaryPrimitives.WriteUInt32BigEndian(_work.AsSpan(8), stream.LocalSsrc);
            var r = Media.ProtectRtp(_work, plain.Length);
            if (r.Status != MediaStatus.Ok)
            {
                return;
            }

            _histories[index]?.Store(BinaryPrimitives.ReadUInt16BigEndian(_work.AsSpan(2)), _work.AsSpan(0, r.Length));
            _nacks.Budget.Earn(r.Length + NackAnswerOptions.DatagramOverhead);
            if (Session.SendMedia(_work.AsSpan(0, r.Length)))
            {
                Interlocked.Increment(ref _rtpOut);
            }
        }
    }

    protected override void OnRtcp(byte[] packet)
    {
        int plain;
        lock (Gate)
        {
            var r = Media.UnprotectRtcp(packet);
            if (r.Status != MediaStatus.Ok)
            {
                return;
            }

            plain = r.Length;
        }

        var keyframe = false;
        var rest = packet.AsSpan(0, plain);
        while (RtcpHeader.TryRead(rest, out var fmt, out var type, out var length))
        {
            var one = rest[..length];
            if (type == RtcpHeader.PayloadFeedbackType && fmt is RtcpPli.Format or RtcpFir.Format)
            {
                keyframe = true;
            }
            else if (type == RtcpHeader.TransportFeedbackType && RtcpNack.TryRead(one, out _, out var media, _lost, out var count))
            {
                AnswerNack(media, count);
            }

            rest = rest[length..];
        }

        if (keyframe)
        {
            Interlocked.Increment(ref _keyframeRequests);
            _publisher.RequestKeyframe();
        }
    }

    private void AnswerNack(uint mediaSsrc, int count)
    {
        var index = -1;
        for (var i = 0; i < Answer.Streams.Count; i++)
        {
            if (Answer.Streams[i].LocalSsrc == mediaSsrc)
            {
                index = i;
            }
        }

        if (index < 0)
        {
            return;
        }

        lock (Gate)
        {
            _nacks.Begin(Now);
            for (var i = 0; i < count; i++)
            {
                _ = _nacks.TryAnswer(index, _lost[i]);
            }

            foreach (var (stream, seq) in _nacks.Accepted)
            {
                if (_histories[stream]!.TryGet(seq, out var again) && Session.SendMedia(again))
                {
                    Interlocked.Increment(ref _nackResent);
                }
            }
        }
    }

    protected override void OnRtp(byte[] packet) => ServeMetrics.Drop("whep_rtp_from_viewer");

    protected override void OnClosed() => _publisher.Remove(this);

    public override Dictionary<string, object?> Snapshot() => new()
    {
        ["id"] = Id,
        ["kind"] = "whep",
        ["publisher"] = _publisher.Id,
        ["state"] = State,
        ["closeReason"] = CloseReason,
        ["rtpOut"] = Interlocked.Read(ref _rtpOut),
        ["nackResent"] = Interlocked.Read(ref _nackResent),
        ["keyframeRequests"] = Interlocked.Read(ref _keyframeRequests),
    };
}
