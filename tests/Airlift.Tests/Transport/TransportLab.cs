using System.Net;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.NetEm;
using Airlift.Tests.Dtls;
using Airlift.Transport;

namespace Airlift.Tests.Transport;

/// <summary>One candidate pair between the test peer and the transport, with its own emulated network
/// (ClientToServer = peer to transport).</summary>
internal sealed class LabPath(string name, IceTuple serverTuple, NetworkEmulator network)
{
    public string Name { get; } = name;

    /// <summary>The tuple as the transport sees it: Local = transport address, Remote = peer address.</summary>
    public IceTuple ServerTuple { get; } = serverTuple;

    public NetworkEmulator Network { get; } = network;

    public static LabPath Create(string name, string serverAddress, string peerAddress, LinkImpairment up, LinkImpairment down, ulong seed) =>
        new(name,
            new IceTuple(new IPEndPoint(IPAddress.Parse(serverAddress), 3478), new IPEndPoint(IPAddress.Parse(peerAddress), 50000), IceProtocol.Udp),
            new NetworkEmulator(new NetEmOptions(up, down, [], seed)));
}

/// <summary>
/// Runs a <see cref="WebRtcTransport"/> against a scripted ICE controlling peer with its own DTLS endpoint, over several
/// emulated paths, in virtual time. Deterministic (seeded certificates' randomness and networks), bounded in steps and time.
/// </summary>
internal sealed class TransportLab
{
    public const string PeerUfrag = "peerUfrg";
    public const string PeerPassword = "peerPasswordPeerPassword";

    private readonly List<(TimeSpan At, Action<TransportLab> Action)> _script = [];
    private readonly byte[] _buffer = new byte[65535];
    private TimeSpan _transportDeadline = TimeSpan.MaxValue;
    private TimeSpan _peerDeadline = TimeSpan.MaxValue;

    public TransportLab(WebRtcTransport transport, params LabPath[] paths)
    {
        Transport = transport;
        Paths = paths;
        Ice = new TestIceClient(PeerUfrag, PeerPassword, transport.LocalUfrag, transport.LocalPassword);
        Drain();
    }

    public WebRtcTransport Transport { get; }

    public IReadOnlyList<LabPath> Paths { get; }

    public TestIceClient Ice { get; }

    public DtlsEndpoint? PeerDtls { get; private set; }

    /// <summary>Path index the peer's DTLS datagrams take (its selected pair).</summary>
    public int PeerDtlsPath { get; set; }

    public TimeSpan Now { get; private set; }

    public List<(TimeSpan At, WebRtcTransportEvent Event)> Events { get; } = [];

    /// <summary>Every datagram the transport sent: when, on which tuple, the bytes.</summary>
    public List<(TimeSpan At, IceTuple Tuple, byte[] Bytes)> Sent { get; } = [];

    /// <summary>STUN responses the peer received: path index and bytes.</summary>
    public List<(TimeSpan At, int Path, byte[] Bytes)> StunReceivedByPeer { get; } = [];

    public TimeSpan? PeerConnectedAt { get; private set; }

    public TimeSpan? TransportConnectedAt => Events.Where(e => e.Event is DtlsStateChange { State: TransportDtlsState.Connected }).Select(e => (TimeSpan?)e.At).FirstOrDefault();

    public byte[]? PeerKeyingMaterial { get; private set; }

    public List<byte[]> PeerApplicationData { get; } = [];

    /// <summary>Called when the peer gets an authenticated success response on a path.</summary>
    public Action<TransportLab, int>? OnCheckSucceeded { get; set; }

    public static WebRtcTransport NewTransport(SdpSetupRole remoteSetup, Func<WebRtcTransportOptions, WebRtcTransportOptions>? configure = null, ulong seed = 7)
    {
        var options = NewOptions(remoteSetup, seed);
        return new WebRtcTransport(configure is null ? options : configure(options), TimeSpan.Zero);
    }

    public static WebRtcTransportOptions NewOptions(SdpSetupRole remoteSetup, ulong seed = 7)
    {
        var dtls = new DtlsOptions(TestCertificates.Ecdsa)
        {
            Random = RandomSource.Seeded(seed),
            SrtpProfiles = [SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80],
            ProtocolVersions = ProtocolVersionsUnderTest,
        };
        return new WebRtcTransportOptions(dtls, remoteSetup, TestCertificates.EcdsaPeer.GetFingerprint())
        {
            RemoteUfrag = PeerUfrag,
            RemotePassword = PeerPassword,
        };
    }

    public static DtlsOptions PeerDtlsOptions(ulong seed = 11) => new(TestCertificates.EcdsaPeer)
    {
        Random = RandomSource.Seeded(seed),
        SrtpProfiles = [SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80],
        ExpectedPeerFingerprint = TestCertificates.Ecdsa.GetFingerprint(),
        ProtocolVersions = ProtocolVersionsUnderTest,
    };

    /// <summary>
    /// The transport tests script the DTLS 1.2 engine's flights and timings; DTLS 1.3 through the transport is proved by the
    /// browser tests (serve) and the 1.3 field failures (Scenarios/Dtls13FieldFailureTests, F3 included).
    /// </summary>
    internal static IReadOnlyList<ProtocolVersion> ProtocolVersionsUnderTest { get; } = [ProtocolVersion.Dtls12];

    public void At(TimeSpan at, Action<TransportLab> action) => _script.Add((at, action));

    public void StartPeerDtls(DtlsRole role)
    {
        PeerDtls = role == DtlsRole.Client ? DtlsEndpoint.CreateClient(PeerDtlsOptions(), Now) : DtlsEndpoint.CreateServer(PeerDtlsOptions(), Now);
        DrainPeer();
    }

    public void SendCheck(int path, bool useCandidate, bool controlled = false, string? password = null) =>
        Paths[path].Network.Send(Now, LinkDirection.ClientToServer, Ice.BuildCheck(useCandidate, controlled, password));

    /// <summary>Hands a datagram straight to the transport as if it arrived on <paramref name="tuple"/> now.</summary>
    public void Inject(IceTuple tuple, byte[] datagram)
    {
        Transport.HandleDatagram(Now, tuple, datagram);
        Drain();
    }

    /// <summary>Steps until <paramref name="done"/> holds, virtual time passes <paramref name="limit"/>, or nothing is pending.</summary>
    public bool RunUntil(Func<TransportLab, bool> done, TimeSpan limit, int maxSteps = 100_000)
    {
        for (var step = 0; step < maxSteps; step++)
        {
            if (done(this))
            {
                return true;
            }

            var next = Min(_transportDeadline, _peerDeadline);
            foreach (var p in Paths)
            {
                next = Min(next, p.Network.NextDeliveryTime ?? TimeSpan.MaxValue);
            }

            foreach (var s in _script)
            {
                next = Min(next, s.At);
            }

            if (next == TimeSpan.MaxValue || next > limit)
            {
                Now = limit > Now ? limit : Now;
                return done(this);
            }

            Now = next > Now ? next : Now;
            Step();
        }

        return done(this);
    }

    private void Step()
    {
        foreach (var s in _script.Where(s => s.At <= Now).ToList())
        {
            _script.Remove(s);
            s.Action(this);
            Drain();
        }

        for (var i = 0; i < Paths.Count; i++)
        {
            var path = Paths[i];
            while (path.Network.TryReceive(Now, out var delivery))
            {
                if (delivery.Direction == LinkDirection.ClientToServer)
                {
                    Transport.HandleDatagram(Now, path.ServerTuple, delivery.Datagram);
                    Drain();
                }
                else if (delivery.Datagram.Length > 0 && delivery.Datagram[0] <= 3)
                {
                    StunReceivedByPeer.Add((Now, i, delivery.Datagram));
                    if (Ice.IsAuthenticatedSuccess(delivery.Datagram))
                    {
                        OnCheckSucceeded?.Invoke(this, i);
                        Drain();
                    }
                }
                else if (PeerDtls is not null)
                {
                    PeerDtls.HandleDatagram(Now, delivery.Datagram);
                    DrainPeer();
                }
            }
        }

        if (Now >= _transportDeadline)
        {
            Transport.HandleTimeout(Now);
            Drain();
        }

        if (PeerDtls is not null && Now >= _peerDeadline)
        {
            PeerDtls.HandleTimeout(Now);
            DrainPeer();
        }
    }

    public void Drain()
    {
        while (true)
        {
            var output = Transport.PollOutput(_buffer);
            switch (output.Kind)
            {
                case WebRtcOutputKind.Transmit:
                    var bytes = _buffer.AsSpan(0, output.Length).ToArray();
                    Sent.Add((Now, output.Tuple, bytes));
                    // A tuple of no path (an injected stranger) goes nowhere; it stays in Sent for assertions.
                    Paths.FirstOrDefault(p => p.ServerTuple == output.Tuple)?.Network.Send(Now, LinkDirection.ServerToClient, bytes);
                    break;
                case WebRtcOutputKind.Event:
                    Events.Add((Now, output.Event!));
                    break;
                case WebRtcOutputKind.RtpReceived:
                    Events.Add((Now, new RtpPacketReceived(output.Tuple, _buffer.AsSpan(0, output.Length).ToArray())));
                    break;
                case WebRtcOutputKind.RtcpReceived:
                    Events.Add((Now, new RtcpPacketReceived(output.Tuple, _buffer.AsSpan(0, output.Length).ToArray())));
                    break;
                default:
                    _transportDeadline = output.Deadline;
                    return;
            }
        }
    }

    private void DrainPeer()
    {
        while (true)
        {
            var output = PeerDtls!.PollOutput(_buffer);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    Paths[PeerDtlsPath].Network.Send(Now, LinkDirection.ClientToServer, _buffer.AsSpan(0, output.DatagramLength));
                    break;
                case DtlsOutputKind.Event:
                    switch (output.Event)
                    {
                        case DtlsConnected:
                            PeerConnectedAt ??= Now;
                            break;
                        case DtlsKeyingMaterial km:
                            PeerKeyingMaterial = km.Material;
                            break;
                        case DtlsApplicationData data:
                            PeerApplicationData.Add(data.Data);
                            break;
                    }

                    break;
                default:
                    _peerDeadline = output.Deadline;
                    return;
            }
        }
    }

    /// <summary>Datagrams the transport sent that were DTLS (first byte 20..63), with their tuples.</summary>
    public IEnumerable<(TimeSpan At, IceTuple Tuple, byte[] Bytes)> SentDtls => Sent.Where(s => s.Bytes.Length > 0 && s.Bytes[0] is >= 20 and <= 63);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
