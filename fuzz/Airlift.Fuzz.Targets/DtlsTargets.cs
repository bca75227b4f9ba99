using Airlift.Dtls;

namespace Airlift.Fuzz;

/// <summary>
/// The options variant a DTLS input selects with its header byte.
/// Bits 0-1: the state the endpoint under test is driven to with a real peer before the fuzzed steps
/// (0 fresh, 1 after the peer's first flight, 2 connected, 3 halfway through the peer's second flight);
/// bit 2: the server asks for no client certificate; bit 3: 228-byte datagrams (every flight fragmented);
/// bits 4-5: the endpoint's suites (0 defaults, 1 AES-256-GCM only, 2 ChaCha20-Poly1305 only, 3 extended master secret
/// not required); bit 6: no DTLS-SRTP; bit 7: the tightest buffering limits.
/// </summary>
internal readonly record struct DtlsVariant(byte Header)
{
    public int State => Header & 3;

    public bool NoClientCertificate => (Header & 4) != 0;

    public bool SmallDatagrams => (Header & 8) != 0;

    public int Suites => (Header >> 4) & 3;

    public bool NoSrtp => (Header & 0x40) != 0;

    public bool TightLimits => (Header & 0x80) != 0;
}

/// <summary>A client and a server endpoint of Airlift with fixed certificates and seeded randomness, in virtual time.</summary>
internal sealed class DtlsPair : IDisposable
{
    private static readonly Lazy<CertificateFingerprint> ServerFingerprint = new(() => FuzzCertificates.Server.GetFingerprint());
    private static readonly Lazy<CertificateFingerprint> ClientFingerprint = new(() => FuzzCertificates.Client.GetFingerprint());

    private DtlsPair(DtlsSide client, DtlsSide server)
    {
        Client = client;
        Server = server;
    }

    public DtlsSide Client { get; }

    public DtlsSide Server { get; }

    public TimeSpan Now { get; private set; }

    public static DtlsOptions Options(DtlsRole role, DtlsVariant v, bool underTest, ulong seed, bool dtls13 = false)
    {
        var own = role == DtlsRole.Client ? FuzzCertificates.Client : FuzzCertificates.Server;
        var o = new DtlsOptions(own)
        {
            ExpectedPeerFingerprint = role == DtlsRole.Client ? ServerFingerprint.Value : ClientFingerprint.Value,
            Random = RandomSource.Seeded(seed),
            LoggerFactory = FuzzLogger.Factory,
            SrtpProfiles = v.NoSrtp ? [] : [SrtpProtectionProfile.Aes128CmHmacSha1_80, SrtpProtectionProfile.AeadAes128Gcm],
            MaxDatagramSize = v.SmallDatagrams ? DtlsOptions.MinimumDatagramSize : 1200,
            DatagramSizeFallbacks = v.SmallDatagrams ? [] : [1200, 1000, 576],
            ProtocolVersions = dtls13 ? [ProtocolVersion.Dtls13] : [ProtocolVersion.Dtls12],
        };
        if (role == DtlsRole.Server && v.NoClientCertificate)
        {
            o = o with { ClientCertificate = ClientCertificateMode.None, ExpectedPeerFingerprint = null };
        }

        if (!underTest)
        {
            return o;
        }

        o = v.Suites switch
        {
            1 => o with { CipherSuites = [CipherSuite.EcdheEcdsaWithAes256GcmSha384] },
            2 => o with { CipherSuites = [CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256] },
            3 => o with { RequireExtendedMasterSecret = false },
            _ => o,
        };
        return v.TightLimits
            ? o with { MaxHandshakeMessageSize = 1024, MaxBufferedHandshakeBytes = 2048, MaxFutureMessages = 5, MaxEarlyRecords = 1, MaxPendingEvents = 1 }
            : o;
    }

    public static DtlsPair Create(DtlsVariant v, DtlsRole underTest, bool dtls13 = false)
    {
        var clientOptions = Options(DtlsRole.Client, v, underTest == DtlsRole.Client, seed: 1, dtls13);
        var serverOptions = Options(DtlsRole.Server, v, underTest == DtlsRole.Server, seed: 2, dtls13);
        var client = new DtlsSide("client", DtlsEndpoint.CreateClient(clientOptions, TimeSpan.Zero), clientOptions);
        var server = new DtlsSide("server", DtlsEndpoint.CreateServer(serverOptions, TimeSpan.Zero), serverOptions);
        DtlsDriver.Drain(client);
        DtlsDriver.Drain(server);
        return new DtlsPair(client, server);
    }

    public void Dispose()
    {
        Client.Endpoint.Dispose();
        Server.Endpoint.Dispose();
    }

    public DtlsSide Other(DtlsSide side) => ReferenceEquals(side, Client) ? Server : Client;

    /// <summary>Delivers what <paramref name="from"/> sent to its peer: all of it, or only the first half.</summary>
    public void Move(DtlsSide from, bool half = false)
    {
        var to = Other(from);
        var count = half ? from.Out.Count / 2 : from.Out.Count;
        for (var i = 0; i < count && from.Out.TryDequeue(out var datagram); i++)
        {
            DtlsDriver.Deliver(to, Now, datagram);
        }
    }

    /// <summary>Moves time to the earliest deadline (or one second on) and runs both endpoints' timers.</summary>
    public void AdvanceTime()
    {
        var next = Client.Deadline < Server.Deadline ? Client.Deadline : Server.Deadline;
        Now = next == DtlsOutput.NoDeadline ? Now + TimeSpan.FromSeconds(1) : (next > Now ? next : Now);
        Client.Endpoint.HandleTimeout(Now);
        DtlsDriver.Drain(Client);
        Server.Endpoint.HandleTimeout(Now);
        DtlsDriver.Drain(Server);
    }
}

/// <summary>
/// Targets <c>dtls-client</c> and <c>dtls-server</c>: one Airlift endpoint under test and a real Airlift peer. The header
/// byte (<see cref="DtlsVariant"/>) picks the options and the state reached with the peer; each step then does, by its
/// control bits 0-1: 0 deliver the payload to the endpoint as a datagram; 1 deliver the peer's next real datagram with
/// the payload XORed over its start; 2 advance virtual time to the next deadline; 3 deliver the endpoint's next datagram
/// to the peer, XOR-masked the same way. Control bit 2 sends the payload as application data when connected, bit 3
/// closes the endpoint, bit 4 asks it to resend its flight (what an ICE tuple change does).
/// </summary>
internal static class DtlsTargets
{
    public static void Run(ReadOnlySpan<byte> input, DtlsRole underTest, bool dtls13 = false) => _ = RunAndReport(input, underTest, dtls13);

    /// <summary>Runs one input; returns whether the endpoint under test and its peer ended connected (for tests).</summary>
    public static (bool EndpointConnected, bool PeerConnected) RunAndReport(ReadOnlySpan<byte> input, DtlsRole underTest, bool dtls13 = false)
    {
        FuzzLogger.Reset();
        var script = new FuzzScript(input);
        var v = new DtlsVariant(script.Header);
        using var pair = DtlsPair.Create(v, underTest, dtls13);
        var eut = underTest == DtlsRole.Client ? pair.Client : pair.Server;
        var peer = pair.Other(eut);
        switch (v.State)
        {
            case 1:
                pair.Move(pair.Client);
                pair.Move(pair.Server);
                break;
            case 2:
                pair.Move(pair.Client);
                pair.Move(pair.Server);
                pair.Move(pair.Client);
                pair.Move(pair.Server);
                break;
            case 3 when underTest == DtlsRole.Client:
                pair.Move(pair.Client);
                pair.Move(pair.Server, half: true);
                break;
            case 3:
                pair.Move(pair.Client);
                pair.Move(pair.Server);
                pair.Move(pair.Client, half: true);
                break;
        }

        while (script.TryNext(out var control, out var payload))
        {
            switch (control & 3)
            {
                case 0:
                    DtlsDriver.Deliver(eut, pair.Now, payload);
                    break;
                case 1:
                    if (peer.Out.TryDequeue(out var fromPeer))
                    {
                        DtlsDriver.Deliver(eut, pair.Now, DtlsDriver.Mask(fromPeer, payload));
                    }

                    break;
                case 2:
                    pair.AdvanceTime();
                    break;
                default:
                    if (eut.Out.TryDequeue(out var fromEut))
                    {
                        DtlsDriver.Deliver(peer, pair.Now, DtlsDriver.Mask(fromEut, payload));
                    }

                    break;
            }

            if ((control & 4) != 0 && eut.Endpoint.State == DtlsState.Connected && payload.Length <= eut.Endpoint.MaxApplicationDataSize)
            {
                eut.Endpoint.Send(payload);
                DtlsDriver.Drain(eut);
            }

            if ((control & 8) != 0)
            {
                eut.Endpoint.Close(pair.Now);
                DtlsDriver.Drain(eut);
            }

            if ((control & 16) != 0)
            {
                eut.Endpoint.ResendFlight(pair.Now);
                DtlsDriver.Drain(eut);
            }
        }

        // Let the timers run a little: retransmissions, the handshake deadline, final-flight retention.
        for (var i = 0; i < 3; i++)
        {
            pair.AdvanceTime();
        }

        FuzzTrace.Write($"{eut.Name} {eut.Endpoint.State} (connected {eut.Connected}), {peer.Name} {peer.Endpoint.State} (connected {peer.Connected})");
        FuzzTrace.Write(eut.Endpoint.Trace);
        FuzzLogger.ThrowIfCaptured();
        return (eut.Connected, peer.Connected);
    }
}
