using System.Buffers.Binary;
using System.Diagnostics;
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
    // Room for the largest media packet the transport delivers plus any SRTP/SRTCP trailer.
    private const int WorkBufferSize = 2048;

    private readonly TransportHost _host;
    private readonly TransportSession _session;
    private readonly EchoRouter _router;
    private readonly ILogger? _logger;
    private readonly long _createdAt = Stopwatch.GetTimestamp();
    private readonly byte[] _work = new byte[WorkBufferSize];
    private readonly long[] _streamIn;
    private readonly long[] _streamOut;
    private readonly RtpHistory?[] _histories;
    private readonly List<(int Stream, ushort Seq)> _resend = [];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SrtpContext? _protect;
    private SrtpContext? _unprotect;
    private SrtpStats? _protectStats;
    private SrtpStats? _unprotectStats;
    private RtcpCounts _rtcp;
    private C _c;

    // State strings, written under _gate.
    private string _iceState = nameof(IceState.New);
    private string _dtlsState = nameof(TransportDtlsState.New);
    private string? _tuple;
    private string? _cipherSuite;
    private string? _srtpProfile;
    private string? _closeReason;
    private double? _connectedAfterMs;
    private bool _finished;

    public EchoSession(string id, TransportHost host, TransportSession session, EchoPlan plan, ILogger? logger)
    {
        Id = id;
        _host = host;
        _session = session;
        Plan = plan;
        _router = new EchoRouter(plan.Streams);
        _streamIn = new long[plan.Streams.Count];
        _streamOut = new long[plan.Streams.Count];
        _histories = [.. plan.Streams.Select(s => s.Send && s.Kind == "video" ? new RtpHistory() : null)];
        _logger = logger;
        DtlsRole = session.LocalSetup == Ice.Sdp.SdpSetupRole.Active ? DtlsRole.Client : DtlsRole.Server;
    }

    public string Id { get; }

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
        lock (_gate)
        {
            _closeReason ??= reason;
        }

        _session.Close();
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
                    connected |= Handle(e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            Close(stop.IsCancellationRequested ? "server stopping" : $"not connected within {connectTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex)
        {
            // A bug here must not take the server down: close this session and say why.
            _logger?.LogError(ex, "Echo session {Id} failed", Id);
            Close("internal error: " + ex.Message);
        }
        finally
        {
            _session.Close();
            lock (_gate)
            {
                _finished = true;
                _closeReason ??= "closed";
                _protect?.Dispose();
                _unprotect?.Dispose();
                _protect = _unprotect = null;
            }

            _closed.TrySetResult();
        }
    }

    /// <summary>Handles one event; true once DTLS is connected.</summary>
    private bool Handle(WebRtcTransportEvent e)
    {
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
                var keys = SrtpKeys.FromKeyingMaterial(km.Profile, km.Material, km.Role);
                lock (_gate)
                {
                    _protect?.Dispose();
                    _unprotect?.Dispose();
                    _protect = keys.CreateProtectContext();
                    _unprotect = keys.CreateUnprotectContext();
                    (_protectStats, _unprotectStats) = (_protect.Stats, _unprotect.Stats);
                    _srtpProfile = km.Profile.Name;
                }

                break;
            case RtpPacketReceived rtp:
                EchoRtp(rtp.Packet);
                break;
            case RtcpPacketReceived rtcp:
                EchoRtcp(rtcp.Packet);
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
        if (state == TransportDtlsState.Connected)
        {
            cipher = _host.WithTransport(_session, t => t.DtlsConnection?.CipherSuite.Name);
        }

        lock (_gate)
        {
            _dtlsState = state.ToString();
            if (state == TransportDtlsState.Connected)
            {
                _cipherSuite = cipher;
                _connectedAfterMs = Stopwatch.GetElapsedTime(_createdAt).TotalMilliseconds;
            }
        }

        _logger?.LogInformation("Echo {Id}: DTLS {State}", Id, state);
    }

    private void EchoRtp(byte[] packet)
    {
        Interlocked.Increment(ref _c.RtpIn);
        Interlocked.Add(ref _c.RtpInBytes, packet.Length);
        SrtpContext? protect, unprotect;
        lock (_gate)
        {
            (protect, unprotect) = (_protect, _unprotect);
        }

        if (protect is null || unprotect is null)
        {
            Interlocked.Increment(ref _c.BeforeKeys);
            return;
        }

        if (unprotect.UnprotectRtp(packet, out var plain) != SrtpStatus.Ok)
        {
            return; // counted in the context's stats
        }

        if (plain + protect.RtpTrailerLength > _work.Length)
        {
            Interlocked.Increment(ref _c.TooLarge);
            return;
        }

        var buffer = _work.AsSpan();
        packet.AsSpan(0, plain).CopyTo(buffer);
        var index = _router.RewriteRtp(buffer[..plain], out var drop);
        if (index < 0)
        {
            Interlocked.Increment(ref drop == EchoDrop.NotSending ? ref _c.NotSending : ref _c.UnknownStream);
            return;
        }

        Interlocked.Increment(ref _streamIn[index]);
        if (protect.ProtectRtp(buffer, plain, out var length) != SrtpStatus.Ok)
        {
            return;
        }

        _histories[index]?.Store(BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]), buffer[..length]);
        if (!_session.SendMedia(buffer[..length]))
        {
            Interlocked.Increment(ref _c.SendFailed);
            return;
        }

        Interlocked.Increment(ref _streamOut[index]);
        Interlocked.Increment(ref _c.RtpOut);
        Interlocked.Add(ref _c.RtpOutBytes, length);
    }

    private void EchoRtcp(byte[] packet)
    {
        Interlocked.Increment(ref _c.RtcpIn);
        SrtpContext? protect, unprotect;
        lock (_gate)
        {
            (protect, unprotect) = (_protect, _unprotect);
        }

        if (protect is null || unprotect is null)
        {
            Interlocked.Increment(ref _c.BeforeKeys);
            return;
        }

        if (unprotect.UnprotectRtcp(packet, out var plain) != SrtpStatus.Ok)
        {
            return;
        }

        if (plain + protect.RtcpTrailerLength > _work.Length)
        {
            Interlocked.Increment(ref _c.TooLarge);
            return;
        }

        var counts = default(RtcpCounts);
        _resend.Clear();
        var length = _router.TranslateRtcp(packet.AsSpan(0, plain), _work, ref counts, _histories, _resend);
        lock (_gate)
        {
            _rtcp.Pli += counts.Pli;
            _rtcp.Fir += counts.Fir;
            _rtcp.Nack += counts.Nack;
            _rtcp.NackServed += counts.NackServed;
            _rtcp.Reports += counts.Reports;
            _rtcp.Discarded += counts.Discarded;
        }

        foreach (var (stream, seq) in _resend)
        {
            // The identical SRTP packet again: the browser never received this index, so it is no replay there.
            if (_histories[stream]!.TryGet(seq, out var again) && _session.SendMedia(again))
            {
                Interlocked.Increment(ref _c.Retransmitted);
            }
        }

        if (length == 0 || protect.ProtectRtcp(_work, length, out var protectedLength) != SrtpStatus.Ok)
        {
            return;
        }

        if (_session.SendMedia(_work.AsSpan(0, protectedLength)))
        {
            Interlocked.Increment(ref _c.RtcpOut);
        }
        else
        {
            Interlocked.Increment(ref _c.SendFailed);
        }
    }

    /// <summary>A JSON-ready snapshot for <c>GET /echo/{id}/stats</c>.</summary>
    public Dictionary<string, object?> Snapshot(bool includeTrace)
    {
        var transport = _session.Stats;
        var iceStats = _session.IceStats;
        string? trace = includeTrace ? _host.WithTransport(_session, t => t.DtlsTrace) : null;
        lock (_gate)
        {
            var streams = new List<Dictionary<string, object?>>();
            for (var i = 0; i < _router.Streams.Count; i++)
            {
                var s = _router.Streams[i];
                streams.Add(new()
                {
                    ["mid"] = s.Mid,
                    ["kind"] = s.Kind,
                    ["payloadType"] = s.PayloadTypes.First(),
                    ["localSsrc"] = s.LocalSsrc,
                    ["remoteSsrc"] = _router.RemoteSsrc(i),
                    ["packetsIn"] = Interlocked.Read(ref _streamIn[i]),
                    ["packetsOut"] = Interlocked.Read(ref _streamOut[i]),
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
                ["uptimeMs"] = Math.Round(Stopwatch.GetElapsedTime(_createdAt).TotalMilliseconds),
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
                    ["version"] = _cipherSuite is null ? null : ProtocolVersion.Dtls12.ToString(),
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
                    ["packetsIn"] = Interlocked.Read(ref _c.RtpIn),
                    ["bytesIn"] = Interlocked.Read(ref _c.RtpInBytes),
                    ["packetsOut"] = Interlocked.Read(ref _c.RtpOut),
                    ["bytesOut"] = Interlocked.Read(ref _c.RtpOutBytes),
                },
                ["rtcp"] = new Dictionary<string, object?>
                {
                    ["packetsIn"] = Interlocked.Read(ref _c.RtcpIn),
                    ["packetsOut"] = Interlocked.Read(ref _c.RtcpOut),
                    ["pli"] = _rtcp.Pli,
                    ["fir"] = _rtcp.Fir,
                    ["nack"] = _rtcp.Nack,
                    ["nackServed"] = _rtcp.NackServed,
                    ["retransmitted"] = Interlocked.Read(ref _c.Retransmitted),
                    ["reports"] = _rtcp.Reports,
                    ["discarded"] = _rtcp.Discarded,
                },
                ["drops"] = new Dictionary<string, object?>
                {
                    ["beforeKeys"] = Interlocked.Read(ref _c.BeforeKeys),
                    ["unknownStream"] = Interlocked.Read(ref _c.UnknownStream),
                    ["notSending"] = Interlocked.Read(ref _c.NotSending),
                    ["tooLarge"] = Interlocked.Read(ref _c.TooLarge),
                    ["sendFailed"] = Interlocked.Read(ref _c.SendFailed),
                    ["transportQueueFull"] = transport.QueueOverflowDrops,
                    ["mediaFromOtherTuple"] = transport.MediaFromUnselectedTuple,
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

    private struct C
    {
        public long RtpIn;
        public long RtpInBytes;
        public long RtpOut;
        public long RtpOutBytes;
        public long RtcpIn;
        public long RtcpOut;
        public long BeforeKeys;
        public long UnknownStream;
        public long NotSending;
        public long TooLarge;
        public long SendFailed;
        public long Retransmitted;
    }
}
