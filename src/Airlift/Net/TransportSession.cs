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

    internal TransportSession(TransportHost host, WebRtcTransport transport, int eventCapacity)
    {
        _host = host;
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

    /// <summary>Sends an SRTP/SRTCP packet on the selected tuple; false when there is none or the queue is full.</summary>
    public bool SendMedia(ReadOnlySpan<byte> packet)
    {
        var copy = packet.ToArray();
        return _host.WithTransport(this, t => t.SendMedia(copy), drain: true);
    }

    /// <summary>Sends DTLS application data; false when not connected.</summary>
    public bool SendApplicationData(ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        return _host.WithTransport(this, t => t.SendApplicationData(copy), drain: true);
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
            TransportMetrics.Drop("event_queue_full");
        }
    }

    internal void Complete() => _events.Writer.TryComplete();
}
