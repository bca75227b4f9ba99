using System.Text;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Ice.Stun;
using Airlift.Transport;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>transport</c>: the RFC 7983 classifier and <see cref="WebRtcTransport"/> (ICE-lite agent and DTLS endpoint on
/// one demultiplexed port) with a real Airlift DTLS peer. Header bit 0 picks the Chromium or Firefox capture's ICE
/// credentials; bit 1 makes the transport the DTLS client (peer <c>a=setup:passive</c>); bit 2 allows two tuples only.
/// Each step uses tuple <c>control &amp; 3</c> and does, by control bits 2-3: 0 deliver the payload as a datagram; 1 deliver
/// the peer's next DTLS datagram XOR-masked by the payload; 2 deliver a valid ICE check built here (payload bit 0:
/// USE-CANDIDATE), so the fuzzer reaches a selected tuple without forging an HMAC; 3 deliver the transport's next DTLS
/// datagram to the peer, XOR-masked. Control bit 4 advances time to the next deadline, bit 5 sends the payload as media,
/// bit 6 as DTLS application data, bit 7 closes the transport.
/// Checked: no exception, no internal error, transmits within the buffer, polling ends.
/// </summary>
internal static class TransportTarget
{
    public static void Run(ReadOnlySpan<byte> input)
    {
        FuzzLogger.Reset();
        var script = new FuzzScript(input);
        var credentials = IceTarget.Credentials[script.Header & 1];
        var transportIsClient = (script.Header & 2) != 0;
        var transportRole = transportIsClient ? DtlsRole.Client : DtlsRole.Server;
        var peerRole = transportIsClient ? DtlsRole.Server : DtlsRole.Client;
        var v = new DtlsVariant(0);

        // The transport holds the "server" certificate whatever its DTLS role; the peer the "client" one.
        var dtls = DtlsPair.Options(DtlsRole.Server, v, underTest: true, seed: 31) with { ExpectedPeerFingerprint = null, ClientCertificate = ClientCertificateMode.Require };
        var options = new WebRtcTransportOptions(dtls, transportIsClient ? SdpSetupRole.Passive : SdpSetupRole.Active, FuzzCertificates.Client.GetFingerprint())
        {
            LocalUfrag = credentials.Ufrag,
            LocalPassword = credentials.Password,
            RemoteUfrag = credentials.RemoteUfrag,
            RemotePassword = credentials.RemotePassword,
            MaxTuples = (script.Header & 4) != 0 ? 2 : 16,
            LoggerFactory = FuzzLogger.Factory,
        };
        var transport = new WebRtcTransport(options, TimeSpan.Zero);
        if (transport.DtlsRole != transportRole)
        {
            throw new FuzzFindingException($"a=setup gave role {transport.DtlsRole}, expected {transportRole}");
        }

        var peerOptions = new DtlsOptions(FuzzCertificates.Client)
        {
            ExpectedPeerFingerprint = transport.LocalFingerprint,
            Random = RandomSource.Seeded(32),
            LoggerFactory = FuzzLogger.Factory,
            SrtpProfiles = dtls.SrtpProfiles,
        };
        var peerEndpoint = peerRole == DtlsRole.Client ? DtlsEndpoint.CreateClient(peerOptions, TimeSpan.Zero) : DtlsEndpoint.CreateServer(peerOptions, TimeSpan.Zero);
        using var disposePeer = peerEndpoint;
        var peer = new DtlsSide("peer", peerEndpoint, peerOptions);
        DtlsDriver.Drain(peer);
        var toPeer = new Queue<byte[]>();
        var buffer = new byte[transport.PollBufferSize];
        var now = TimeSpan.Zero;
        var deadline = Drain(transport, buffer, toPeer);
        uint transaction = 0;
        while (script.TryNext(out var control, out var payload))
        {
            var tuple = IceTarget.Tuples[control & 3];
            _ = PacketClassifier.Classify(payload);
            switch ((control >> 2) & 3)
            {
                case 0:
                    transport.HandleDatagram(now, tuple, payload);
                    break;
                case 1:
                    if (peer.Out.TryDequeue(out var fromPeer))
                    {
                        transport.HandleDatagram(now, tuple, DtlsDriver.Mask(fromPeer, payload));
                    }

                    break;
                case 2:
                    var check = BuildCheck(credentials.Ufrag, credentials.Password, credentials.RemoteUfrag, useCandidate: payload.Length > 0 && (payload[0] & 1) != 0, ++transaction);
                    transport.HandleDatagram(now, tuple, check);
                    break;
                default:
                    if (toPeer.TryDequeue(out var fromTransport))
                    {
                        DtlsDriver.Deliver(peer, now, DtlsDriver.Mask(fromTransport, payload));
                    }

                    break;
            }

            deadline = Drain(transport, buffer, toPeer);
            if ((control & 16) != 0)
            {
                var next = deadline < peer.Deadline ? deadline : peer.Deadline;
                now = next == DtlsOutput.NoDeadline ? now + TimeSpan.FromSeconds(1) : (next > now ? next : now);
                transport.HandleTimeout(now);
                deadline = Drain(transport, buffer, toPeer);
                peer.Endpoint.HandleTimeout(now);
                DtlsDriver.Drain(peer);
            }

            if ((control & 32) != 0)
            {
                _ = transport.SendMedia(payload);
            }

            if ((control & 64) != 0)
            {
                _ = transport.SendApplicationData(payload);
            }

            if ((control & 128) != 0)
            {
                transport.Close(now);
            }

            deadline = Drain(transport, buffer, toPeer);
        }

        FuzzTrace.Write($"transport ICE {transport.IceState}, DTLS {transport.DtlsState}, peer {peer.Endpoint.State}, stats {transport.Stats}");
    }

    /// <summary>A Binding request as the controlling browser sends it (RFC 8445 7.2.2), authenticated with our password.</summary>
    public static byte[] BuildCheck(string localUfrag, string localPassword, string remoteUfrag, bool useCandidate, uint transaction)
    {
        var buffer = new byte[256];
        var w = new StunWriter(buffer, StunMessageType.BindingRequest, new StunTransactionId(0xF0F1F2F3F4F5F6F7, transaction));
        w.AddUsername($"{localUfrag}:{remoteUfrag}");
        w.AddPriority(0x6E001EFF);
        w.AddIceControlling(0x1122334455667788);
        if (useCandidate)
        {
            w.AddUseCandidate();
        }

        w.AddMessageIntegrity(Encoding.UTF8.GetBytes(localPassword));
        w.AddFingerprint();
        return w.Written.ToArray();
    }

    private static TimeSpan Drain(WebRtcTransport transport, byte[] buffer, Queue<byte[]> toPeer)
    {
        FuzzLogger.ThrowIfCaptured();
        if (transport.Stats.InternalErrors > 0)
        {
            throw new FuzzFindingException($"the transport counted {transport.Stats.InternalErrors} internal error(s)");
        }

        for (var i = 0; i < DtlsDriver.MaxOutputsPerDrain; i++)
        {
            var output = transport.PollOutput(buffer);
            switch (output.Kind)
            {
                case WebRtcOutputKind.Transmit:
                    if (output.Length <= 0 || output.Length > buffer.Length)
                    {
                        throw new FuzzFindingException($"transmit of {output.Length} bytes");
                    }

                    if (PacketClassifier.Classify(buffer.AsSpan(0, output.Length)) == PacketKind.Dtls)
                    {
                        if (toPeer.Count >= DtlsDriver.MaxQueued)
                        {
                            toPeer.Dequeue();
                        }

                        toPeer.Enqueue(buffer.AsSpan(0, output.Length).ToArray());
                    }

                    break;
                case WebRtcOutputKind.Event:
                    if (output.Event is TransportFailed { Reason: TransportFailureReason.InternalError } or TransportFailed { Dtls.Reason: DtlsFailureReason.InternalError })
                    {
                        throw new FuzzFindingException($"transport failed with an internal error: {((TransportFailed)output.Event).Message}");
                    }

                    break;
                case WebRtcOutputKind.RtpReceived or WebRtcOutputKind.RtcpReceived:
                    break;
                case WebRtcOutputKind.BufferTooSmall:
                    throw new FuzzFindingException($"the poll buffer of {buffer.Length} bytes is too small ({output.Length} needed)");
                default:
                    return output.Deadline;
            }
        }

        throw new FuzzFindingException($"PollOutput did not return Timeout within {DtlsDriver.MaxOutputsPerDrain} outputs");
    }
}
