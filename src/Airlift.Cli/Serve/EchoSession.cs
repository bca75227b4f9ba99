using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Net;
using Airlift.Srtp;
using Airlift.Transport;
using Microsoft.Extensions.Logging;

namespace Airlift.Cli.Serve;

/// <summary>
/// One echo: a <see cref="TransportSession"/> and the loop that reads its events in order, keys SRTP from the DTLS-SRTP
/// keying material, and sends every RTP packet (and the mirrored RTCP) back on the same transport. The loop is the only
/// user of the SRTP contexts and the router; counters are read by the HTTP side at any time.
/// </summary>
internal sealed class EchoSession
{
    private readonly TransportHost _host;
    private readonly TransportSession _session;
    private readonly EchoMedia _media;
    private readonly ILogger? _logger;
    private readonly TimeProvider _time;
    private readonly long _createdAt;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SrtpStats? _protectStats;
    private SrtpStats? _unprotectStats;

    // State strings, written under _gate.
    private string _iceState = nameof(IceState.New);
    private string _dtlsState = nameof(TransportDtlsState.New);
    private string? _tuple;
    private string? _cipherSuite;
    private string? _dtlsVersion;
    private string? _srtpProfile;
    private string? _closeReason;
    private double? _connectedAfterMs;
    private bool _finished;

    public EchoSession(string id, string client, TransportHost host, TransportSession session, EchoPlan plan, EchoLimits limits, ILogger? logger, TimeProvider? time = null)
    {
        Id = id;
        Client = client;
        _host = host;
        _session = session;
        Plan = plan;
        _time = time ?? TimeProvider.System;
        _createdAt = _time.GetTimestamp();
        _media = new EchoMedia(plan.Streams, limits, session.SendMedia, TimeSpan.Zero);
        _logger = logger;
        DtlsRole = session.LocalSetup == Ice.Sdp.SdpSetupRole.Active ? DtlsRole.Client : DtlsRole.Server;
    }

    public string Id { get; }

    /// <summary>The transport this session echoes on.</summary>
    internal TransportSession Transport => _session;

    /// <summary>Who asked for it: the HTTP client's address key (<see cref="EchoServer.ClientKey"/>).</summary>
    public string Client { get; }

    /// <summary>Called once when the loop has ended, before <see cref="Closed"/> completes (the server's open counts).</summary>
    internal Action? Finished { get; init; }

    /// <summary>Test hook: called before each transport event is handled (an exception from it stands for a bug in the handling).</summary>
    internal Action<WebRtcTransportEvent>? BeforeEvent { get; init; }

    public EchoPlan Plan { get; }

    public DtlsRole DtlsRole { get; }

    /// <summary>Completes when the loop has ended and the transport is closed.</summary>
    public Task Closed => _closed.Task;

    public bool IsFinished
    {
        get
        {
            lock (_gate)
            {
                return _finished;
            }
        }
    }

    /// <summary>Closes the transport (close_notify); the loop then ends.</summary>
    public void Close(string reason)
    {
        SetCloseReason(reason);
        _session.Close();
    }

    /// <summary>The first reason given is the one reported; the loop's <c>finally</c> closes the transport.</summary>
    private void SetCloseReason(string reason)
    {
        lock (_gate)
        {
            _closeReason ??= reason;
        }
    }

    /// <summary>Reads the transport's events until it closes, fails, or does not connect within <paramref name="connectTimeout"/>.</summary>
    public async Task RunAsync(TimeSpan connectTimeout, CancellationToken stop)
    {
        var events = _session.Events;
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(stop);
        connect.CancelAfter(connectTimeout);
        var connected = false;
        try
        {
            while (await events.WaitToReadAsync(connected ? stop : connect.Token).ConfigureAwait(false))
            {
                while (events.TryRead(out var e))
                {
                    if (Handle(e) && !connected)
                    {
                        // The connect deadline is over: free its timer and its registration on the stop token now.
                        connect.Dispose();
                        connected = true;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            SetCloseReason(stop.IsCancellationRequested ? "server stopping" : $"not connected within {connectTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex)
        {
            // A bug here must not take the server (or any other session) down: close this session and say why.
            ServeMetrics.InternalErrors.Add(1);
            _logger?.LogError(ex, "Echo session {Id} failed", Id);
            SetCloseReason("internal error: " + ex.GetType().Name + ": " + ex.Message);
        }
        finally
        {
            try
            {
                _session.Close();
            }
            catch (Exception ex)
            {
                _logger?.LogError(ex, "Echo session {Id}: closing the transport failed", Id);
            }

            lock (_gate)
            {
                _finished = true;
                _closeReason ??= "closed";
                _media.Dispose();
            }

            Finished?.Invoke();
            _closed.TrySetResult();
        }
    }

    /// <summary>Time since the session was created: the clock the media path is driven by.</summary>
    private TimeSpan Now => _time.GetElapsedTime(_createdAt);

    /// <summary>Handles one event; true once DTLS is connected.</summary>
    private bool Handle(WebRtcTransportEvent e)
    {
        BeforeEvent?.Invoke(e);
        switch (e)
        {
            case IceStateChange ice:
                lock (_gate)
                {
                    _iceState = ice.State.ToString();
                }

                break;
            case SelectedTupleChange tuple:
                lock (_gate)
                {
                    _tuple = tuple.Tuple?.ToString();
                }

                break;
            case DtlsStateChange dtls:
                OnDtlsState(dtls.State);
                if (dtls.State == TransportDtlsState.Closed)
                {
                    // close_notify from the peer: nothing more will be echoed. (A failure ends the transport by itself,
                    // and its TransportFailed event carries the reason.)
                    Close("closed by the peer (close_notify)");
                }

                break;
            case KeyingMaterial km:
                lock (_gate)
                {
                    _media.SetKeys(km);
                    (_protectStats, _unprotectStats) = (_media.Srtp.ProtectStats, _media.Srtp.UnprotectStats);
                    _srtpProfile = km.Profile.Name;
                }

                break;
            case RtpPacketReceived rtp:
                _media.HandleRtp(Now, rtp.Packet);
                break;
            case RtcpPacketReceived rtcp:
                _media.HandleRtcp(Now, rtcp.Packet);
                break;
            case TransportFailed failed:
                lock (_gate)
                {
                    _closeReason ??= $"{failed.Reason}: {failed.Message}";
                }

                break;
        }

        lock (_gate)
        {
            return _dtlsState == nameof(TransportDtlsState.Connected);
        }
    }

    private void OnDtlsState(TransportDtlsState state)
    {
        string? cipher = null;
        string? version = null;
        if (state == TransportDtlsState.Connected)
        {
            cipher = _host.WithTransport(_session, t => t.DtlsConnection?.CipherSuite.Name);
            version = _host.WithTransport(_session, t => t.DtlsConnection?.Version.ToString());
        }

        lock (_gate)
        {
            _dtlsState = state.ToString();
            if (state == TransportDtlsState.Connected)
            {
                _cipherSuite = cipher;
                _dtlsVersion = version;
                _connectedAfterMs = Now.TotalMilliseconds;
            }
        }

        _logger?.LogInformation("Echo {Id}: DTLS {State}", Id, state);
    }

    /// <summary>A JSON-ready snapshot for <c>GET /echo/{id}/stats</c>.</summary>
    public Dictionary<string, object?> Snapshot(bool includeTrace)
    {
        var transport = _session.Stats;
        var iceStats = _session.IceStats;
        string? trace = includeTrace ? _host.WithTransport(_session, t => t.DtlsTrace) : null;
        var m = _media.Snapshot();
        var router = _media.Router;
        lock (_gate)
        {
            var streams = new List<Dictionary<string, object?>>();
            for (var i = 0; i < router.Streams.Count; i++)
            {
                var s = router.Streams[i];
                streams.Add(new()
                {
                    ["mid"] = s.Mid,
                    ["kind"] = s.Kind,
                    ["payloadType"] = s.PayloadTypes.First(),
                    ["localSsrc"] = s.LocalSsrc,
                    ["remoteSsrc"] = router.RemoteSsrc(i),
                    ["packetsIn"] = m.StreamIn[i],
                    ["packetsOut"] = m.StreamOut[i],
                });
            }

            var unprotect = _unprotectStats;
            var protect = _protectStats;
            return new Dictionary<string, object?>
            {
                ["id"] = Id,
                ["state"] = _finished || _dtlsState is nameof(TransportDtlsState.Closed) or nameof(TransportDtlsState.Failed) ? "closed"
                    : _dtlsState == nameof(TransportDtlsState.Connected) ? "connected" : "connecting",
                ["closeReason"] = _closeReason,
                ["uptimeMs"] = Math.Round(Now.TotalMilliseconds),
                ["ice"] = new Dictionary<string, object?>
                {
                    ["state"] = _iceState,
                    ["selectedTuple"] = _tuple,
                    ["checksAnswered"] = iceStats.ChecksAnswered,
                },
                ["dtls"] = new Dictionary<string, object?>
                {
                    ["state"] = _dtlsState,
                    ["role"] = DtlsRole == DtlsRole.Client ? "client" : "server",
                    ["version"] = _dtlsVersion,
                    ["cipherSuite"] = _cipherSuite,
                    ["connectedAfterMs"] = _connectedAfterMs is { } ms ? Math.Round(ms, 1) : null,
                    ["trace"] = trace,
                },
                ["srtp"] = new Dictionary<string, object?>
                {
                    ["profile"] = _srtpProfile,
                    ["unprotectDrops"] = unprotect?.Dropped ?? 0,
                    ["authFailures"] = unprotect?.DroppedAuthentication ?? 0,
                    ["replays"] = (unprotect?.DroppedReplay ?? 0) + (unprotect?.DroppedTooOld ?? 0),
                    ["protectDrops"] = protect?.Dropped ?? 0,
                },
                ["rtp"] = new Dictionary<string, object?>
                {
                    ["packetsIn"] = m.RtpIn,
                    ["bytesIn"] = m.RtpInBytes,
                    ["packetsOut"] = m.RtpOut,
                    ["bytesOut"] = m.RtpOutBytes,
                },
                ["rtcp"] = new Dictionary<string, object?>
                {
                    ["packetsIn"] = m.RtcpIn,
                    ["packetsOut"] = m.RtcpOut,
                    ["pli"] = m.Rtcp.Pli,
                    ["fir"] = m.Rtcp.Fir,
                    ["nack"] = m.Rtcp.Nack,
                    ["nackServed"] = m.Rtcp.NackServed,
                    ["retransmitted"] = m.Retransmitted,
                    ["retransmittedBytes"] = m.RetransmittedBytes,
                    ["reports"] = m.Rtcp.Reports,
                    ["discarded"] = m.Rtcp.Discarded,
                },
                ["drops"] = new Dictionary<string, object?>
                {
                    ["beforeKeys"] = m.BeforeKeys,
                    ["unknownStream"] = m.UnknownStream,
                    ["notSending"] = m.NotSending,
                    ["tooLarge"] = m.TooLarge,
                    ["sendFailed"] = m.SendFailed,
                    ["ssrcLimit"] = m.SsrcLimit,
                    ["amplifying"] = m.Amplifying,
                    ["nackDuplicate"] = m.Rtcp.NackDuplicate,
                    ["nackTooSoon"] = m.Rtcp.NackTooSoon,
                    ["nackOverCap"] = m.Rtcp.NackOverCap,
                    ["nackOverBudget"] = m.Rtcp.NackOverBudget,
                    ["transportQueueFull"] = transport.QueueOverflowDrops,
                    ["mediaFromOtherTuple"] = transport.MediaFromUnselectedTuple,
                },
                ["budget"] = new Dictionary<string, object?>
                {
                    // Wire bytes (28 bytes of IPv4 + UDP header per datagram) of authenticated media in and of all media out.
                    ["mediaBytesIn"] = m.BytesIn,
                    ["mediaBytesOut"] = m.BytesOut,
                    ["amplification"] = m.BytesIn == 0 ? null : Math.Round((double)m.BytesOut / m.BytesIn, 3),
                    ["resendAvailable"] = _media.ResendBudgetAvailable,
                },
                ["transport"] = new Dictionary<string, object?>
                {
                    ["datagramsIn"] = transport.DatagramsReceived,
                    ["datagramsOut"] = transport.DatagramsSent,
                    ["dtlsIn"] = transport.DtlsReceived,
                    ["tupleChanges"] = transport.TupleChanges,
                },
                ["streams"] = streams,
            };
        }
    }
}
