using System.Threading.Channels;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Transport;

namespace Airlift.Net;

/// <summary>
/// One <see cref="WebRtcTransport"/> served by a <see cref="TransportHost"/>: its signaling values, its events and the
/// calls an application makes. All calls are thread-safe (they run under the lock of the host loop that owns it).
/// </summary>
public sealed class TransportSession
{
    /// <summary>Room kept above the capacity for state events, so that a flood of media never pushes out the keys or a failure.</summary>
    internal const int StateEventReserve = 64;

    private readonly TransportHost _host;
    private readonly int _eventCapacity;
    private readonly Channel<WebRtcTransportEvent> _events;
    private long _eventsDropped;

    internal TransportSession(TransportHost host, WebRtcTransport transport, int eventCapacity, int mediaBufferSize = 0)
    {
        _host = host;
        Media = mediaBufferSize > 0 ? new SessionReceiveBuffer(mediaBufferSize) : null;
        Transport = transport;
        LocalUfrag = transport.LocalUfrag;
        LocalPassword = transport.LocalPassword;
        LocalFingerprint = transport.LocalFingerprint;
        LocalSetup = transport.LocalSetup;
        _eventCapacity = eventCapacity;
        _events = Channel.CreateBounded<WebRtcTransportEvent>(new BoundedChannelOptions(eventCapacity + StateEventReserve)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Local ICE ufrag to signal (and the key this session is found by on a shared port).</summary>
    public string LocalUfrag { get; }

    /// <summary>Local ICE password to signal.</summary>
    public string LocalPassword { get; }

    /// <summary>Local certificate fingerprint to signal.</summary>
    public CertificateFingerprint LocalFingerprint { get; }

    /// <summary>Local <c>a=setup</c> to signal.</summary>
    public SdpSetupRole LocalSetup { get; }

    /// <summary>
    /// Events of the transport, in order. Bounded, with this overflow policy: when <see cref="TransportHostOptions.EventQueueCapacity"/>
    /// events are unread, received media and application data (<see cref="RtpPacketReceived"/>, <see cref="RtcpPacketReceived"/>,
    /// <see cref="ApplicationDataReceived"/>) are dropped and counted in <see cref="EventsDropped"/>; state events (ICE and DTLS
    /// state, selected tuple, certificate, keying material, failure) still fit in a reserve of 64 beyond it, and only beyond
    /// that are they dropped and counted too. So a peer flooding media before the reader catches up cannot push out the keys.
    /// </summary>
    public ChannelReader<WebRtcTransportEvent> Events => _events.Reader;

    /// <summary>Events dropped because <see cref="Events"/> was full.</summary>
    public long EventsDropped => Interlocked.Read(ref _eventsDropped);

    /// <summary>Received RTP/RTCP packets dropped because the session's media buffer (<see cref="TransportHostOptions.MediaReceiveBufferSize"/>)
    /// was full; always 0 when <see cref="TransportHostOptions.MediaAsEvents"/> is true (media then counts in <see cref="EventsDropped"/>).</summary>
    public long MediaDropped => Media?.Dropped ?? 0;

    /// <summary>A snapshot of the transport counters.</summary>
    public WebRtcTransportStats Stats => _host.WithTransport(this, t => t.Stats);

    /// <summary>A snapshot of the ICE counters.</summary>
    public IceLiteStats IceStats => _host.WithTransport(this, t => t.IceStats);

    /// <summary>The selected tuple now.</summary>
    public IceTuple? SelectedTuple => _host.WithTransport(this, t => t.SelectedTuple);

    internal WebRtcTransport Transport { get; }

    /// <summary>The host loop that owns this session: its lock guards the transport, its driver runs the timers.</summary>
    internal TransportHost.Loop? Loop { get; init; }

    internal TimeSpan Deadline { get; set; } = DtlsOutput.NoDeadline;

    internal List<IceTuple> Tuples { get; } = [];

    internal bool Removed { get; set; }

    /// <summary>Received media waiting for <see cref="ReceiveMediaAsync"/>; null when it leaves as events instead.</summary>
    internal SessionReceiveBuffer? Media { get; }

    /// <summary>Sends an SRTP/SRTCP packet on the selected tuple; false when there is none or the queue is full.</summary>
    /// <remarks>Allocation-free: the transport copies the packet into a pooled buffer under the loop's lock and the packet
    /// leaves on the loop's socket before this returns (or is queued on an ICE-TCP connection).</remarks>
    public bool SendMedia(ReadOnlySpan<byte> packet) => _host.Send(this, packet, applicationData: false);

    /// <summary>Sends DTLS application data; false when not connected.</summary>
    /// <remarks>No copy, closure or delegate: the record is sealed under the loop's lock and sent before this returns.</remarks>
    public bool SendApplicationData(ReadOnlySpan<byte> data) => _host.Send(this, data, applicationData: true);

    /// <summary>
    /// Receives the next RTP or RTCP packet (as received: SRTP/SRTCP) into <paramref name="destination"/>, waiting while none
    /// is buffered: <see cref="MediaReceiveStatus.Received"/> with its kind and length; <see cref="MediaReceiveStatus.BufferTooSmall"/>
    /// with the size needed (the packet stays for the next call); <see cref="MediaReceiveStatus.None"/> once the session ended
    /// (closed, failed, removed or the host disposed) and every packet before the end was read. Allocates nothing per packet.
    /// One receive at a time. Available when <see cref="TransportHostOptions.MediaAsEvents"/> is false (state events still
    /// come on <see cref="Events"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The host publishes media as events (<see cref="TransportHostOptions.MediaAsEvents"/>),
    /// or another receive is already waiting.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first (nothing is taken).</exception>
    public ValueTask<MediaReceiveResult> ReceiveMediaAsync(Memory<byte> destination, CancellationToken cancellationToken = default) =>
        Media is { } media
            ? ReceiveMediaCoreAsync(media, destination, cancellationToken)
            : throw new InvalidOperationException("This host publishes received media as RtpPacketReceived/RtcpPacketReceived events (TransportHostOptions.MediaAsEvents).");

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<MediaReceiveResult> ReceiveMediaCoreAsync(SessionReceiveBuffer media, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var r = await media.ReceiveAsync(destination, cancellationToken).ConfigureAwait(false);
        return r.Status switch
        {
            DtlsReceiveStatus.Received => new MediaReceiveResult(MediaReceiveStatus.Received, (MediaPacketKind)media.LastTag, r.Length),
            DtlsReceiveStatus.BufferTooSmall => new MediaReceiveResult(MediaReceiveStatus.BufferTooSmall, (MediaPacketKind)media.LastTag, r.Length),
            _ => default,
        };
    }

    /// <summary>Loop: a received packet into the media buffer (counted when it does not fit).</summary>
    internal void BufferMedia(SessionReceiveBuffer media, MediaPacketKind kind, ReadOnlySpan<byte> packet)
    {
        if (!media.TryWrite(packet, (byte)kind) && !Removed)
        {
            _host.Metrics.Drop("media_buffer_full");
        }
    }

    /// <summary>RFC 5705 exporter of the connected DTLS association.</summary>
    /// <exception cref="InvalidOperationException">Not connected.</exception>
    public byte[] ExportKeyingMaterial(string label, byte[]? context, int length) =>
        _host.WithTransport(this, t => t.ExportKeyingMaterial(label, context, length));

    /// <summary>Closes the transport (close_notify), stops routing to it and completes <see cref="Events"/>.</summary>
    public void Close() => _host.CloseSession(this);

    internal void Publish(WebRtcTransportEvent transportEvent)
    {
        var media = transportEvent is RtpPacketReceived or RtcpPacketReceived or ApplicationDataReceived;
        if ((media && _events.Reader.Count >= _eventCapacity) || !_events.Writer.TryWrite(transportEvent))
        {
            Interlocked.Increment(ref _eventsDropped);
            _host.Metrics.Drop("event_queue_full");
        }
    }

    internal void Complete()
    {
        _events.Writer.TryComplete();
        Media?.End();
    }
}
