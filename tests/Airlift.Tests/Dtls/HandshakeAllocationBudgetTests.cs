using Airlift.Dtls;
using Xunit.Abstractions;

namespace Airlift.Tests.Dtls;

/// <summary>
/// Managed bytes allocated per DTLS handshake per side (issue #13: at most 16 KB), counted with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> around every call into each endpoint of a lockstep pair, so the
/// harness's own copies are not counted. WebRTC's handshake: ECDSA P-256 certificates both ways with pinned fingerprints,
/// use_srtp, AES-128-GCM; X25519 as the browsers offer first. The budget is a regression guard, not a measurement:
/// `cpu --alloc-profile` in bench/Airlift.Bench gives the breakdown by stage.
/// </summary>
public class HandshakeAllocationBudgetTests(ITestOutputHelper output)
{
    /// <summary>Bytes per side per DTLS 1.2 X25519 handshake that a change must not exceed (measured 10.5-10.7 KB; issue #13's target is 16 KB).</summary>
    private const long Dtls12X25519BudgetPerSide = 16 * 1024;

    /// <summary>Bytes per side per DTLS 1.3 X25519 handshake that a change must not exceed: issue #13's target (measured
    /// 15.9 KB client, 14.5 KB server in the profile; 28.9 KB and 24.4 KB before the s19 cuts).</summary>
    private const long Dtls13X25519BudgetPerSide = 16 * 1024;

    /// <summary>Bytes per side per DTLS 1.3 P-256 handshake that a change must not exceed (measured 16.5 KB client, 15.2 KB
    /// server: the client is just over the 16 KB target, so the guard is the measurement + about 25 %).</summary>
    private const long Dtls13P256BudgetPerSide = 20 * 1024;

    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(1);

    private static (DtlsOptions Client, DtlsOptions Server) WebRtcOptions(NamedGroup group, ProtocolVersion? version = null)
    {
        var protocol = version ?? ProtocolVersion.Dtls12;
        DtlsOptions Side(DtlsCertificate own, DtlsCertificate peer, ulong seed) => new(own)
        {
            Random = RandomSource.Seeded(seed),
            ExpectedPeerFingerprint = peer.GetFingerprint(),
            SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
            ProtocolVersions = [protocol],
            CipherSuites = [CipherSuite.EcdheEcdsaWithAes128GcmSha256],
            Groups = [group],
            Dtls13CipherSuites = [CipherSuite.Tls13Aes128GcmSha256],
            Dtls13Groups = [group],
        };

        return (Side(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 1801), Side(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, 1802));
    }

    /// <summary>One lockstep handshake; returns the bytes each side allocated inside its own calls.</summary>
    private static (long Client, long Server) Handshake(DtlsOptions clientOptions, DtlsOptions serverOptions)
    {
        long client = 0, server = 0;
        var buffer = new byte[2048];
        var toServer = new List<byte[]>(8);
        var toClient = new List<byte[]>(8);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var c = DtlsEndpoint.CreateClient(clientOptions, T0);
        client += GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        var s = DtlsEndpoint.CreateServer(serverOptions, T0);
        server += GC.GetAllocatedBytesForCurrentThread() - before;

        client += Drain(c, buffer, toServer);
        for (var round = 0; round < 6 && (c.State != DtlsState.Connected || s.State != DtlsState.Connected); round++)
        {
            server += Deliver(s, toServer) + Drain(s, buffer, toClient);
            client += Deliver(c, toClient) + Drain(c, buffer, toServer);
        }

        Assert.Equal(DtlsState.Connected, c.State);
        Assert.Equal(DtlsState.Connected, s.State);
        c.Dispose();
        s.Dispose();
        return (client, server);
    }

    private static long Deliver(DtlsEndpoint to, List<byte[]> datagrams)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var datagram in datagrams)
        {
            to.HandleDatagram(T0, datagram);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        datagrams.Clear();
        return allocated;
    }

    private static long Drain(DtlsEndpoint from, byte[] buffer, List<byte[]> into)
    {
        long allocated = 0;
        for (var i = 0; i < 64; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var output = from.PollOutput(buffer);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            if (output.Kind == DtlsOutputKind.Timeout)
            {
                break;
            }

            if (output.Kind == DtlsOutputKind.Datagram)
            {
                into.Add(buffer.AsSpan(0, output.DatagramLength).ToArray());
            }
        }

        return allocated;
    }

    /// <summary>Mean bytes per side over ten handshakes after five warm-up ones (JIT, first-use caches).</summary>
    private static (long Client, long Server) Measure(DtlsOptions clientOptions, DtlsOptions serverOptions)
    {
        for (var i = 0; i < 5; i++)
        {
            Handshake(clientOptions, serverOptions);
        }

        const int handshakes = 10;
        long client = 0, server = 0;
        for (var i = 0; i < handshakes; i++)
        {
            var (c, s) = Handshake(clientOptions, serverOptions);
            client += c;
            server += s;
        }

        return (client / handshakes, server / handshakes);
    }

    [Fact]
    public void A_dtls13_x25519_webrtc_handshake_allocates_at_most_16_KB_per_side()
    {
        var (clientOptions, serverOptions) = WebRtcOptions(NamedGroup.X25519, ProtocolVersion.Dtls13);
        var (client, server) = Measure(clientOptions, serverOptions);
        output.WriteLine($"DTLS 1.3 X25519: client {client} B, server {server} B per handshake");
        Assert.True(client <= Dtls13X25519BudgetPerSide, $"client allocated {client} B per handshake; budget {Dtls13X25519BudgetPerSide} B");
        Assert.True(server <= Dtls13X25519BudgetPerSide, $"server allocated {server} B per handshake; budget {Dtls13X25519BudgetPerSide} B");
    }

    [Fact]
    public void A_dtls13_p256_webrtc_handshake_stays_within_its_allocation_budget()
    {
        var (clientOptions, serverOptions) = WebRtcOptions(NamedGroup.Secp256r1, ProtocolVersion.Dtls13);
        var (client, server) = Measure(clientOptions, serverOptions);
        output.WriteLine($"DTLS 1.3 P-256: client {client} B, server {server} B per handshake");
        Assert.True(client <= Dtls13P256BudgetPerSide, $"client allocated {client} B per handshake; budget {Dtls13P256BudgetPerSide} B");
        Assert.True(server <= Dtls13P256BudgetPerSide, $"server allocated {server} B per handshake; budget {Dtls13P256BudgetPerSide} B");
    }

    [Fact]
    public void A_dtls12_x25519_webrtc_handshake_allocates_at_most_16_KB_per_side()
    {
        var (clientOptions, serverOptions) = WebRtcOptions(NamedGroup.X25519);
        var (client, server) = Measure(clientOptions, serverOptions);

        output.WriteLine($"DTLS 1.2 X25519: client {client} B, server {server} B per handshake");
        Assert.True(client <= Dtls12X25519BudgetPerSide, $"client allocated {client} B per handshake; budget {Dtls12X25519BudgetPerSide} B");
        Assert.True(server <= Dtls12X25519BudgetPerSide, $"server allocated {server} B per handshake; budget {Dtls12X25519BudgetPerSide} B");
    }
}
