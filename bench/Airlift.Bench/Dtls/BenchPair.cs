using Airlift.Dtls;

namespace Airlift.Bench.Dtls;

/// <summary>In-memory lockstep helpers for the DTLS benchmarks: no link, no delay, virtual time.</summary>
internal static class BenchPair
{
    public static readonly TimeSpan T0 = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Options for one handshake case. ECDSA P-256 certificates on both sides, mutual authentication and use_srtp as in
    /// WebRTC, AES-128-GCM, production randomness. Each side is pinned to the case's version, and offers (client) or
    /// accepts (server) only the case's group, so the client sends exactly one key share and no HelloRetryRequest happens.
    /// </summary>
    public static (DtlsOptions Client, DtlsOptions Server) Options(HandshakeCase handshake)
    {
        var clientCert = DtlsCertificate.GenerateEcdsa("bench-client");
        var serverCert = DtlsCertificate.GenerateEcdsa("bench-server");
        var client = Pin(new DtlsOptions(clientCert) { ExpectedPeerFingerprint = serverCert.GetFingerprint() }, handshake);
        var server = Pin(new DtlsOptions(serverCert) { ExpectedPeerFingerprint = clientCert.GetFingerprint() }, handshake);
        return (client, server);
    }

    /// <summary>The DTLS 1.2, ECDHE P-256 case (the handshake issue #13 states its targets for).</summary>
    public static (DtlsOptions Client, DtlsOptions Server) Options() => Options(HandshakeCase.V12_P256);

    private static DtlsOptions Pin(DtlsOptions options, HandshakeCase handshake)
    {
        var group = handshake.Group();
        options = options with { SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80] };
        return handshake.IsDtls13()
            ? options with
            {
                ProtocolVersions = [ProtocolVersion.Dtls13],
                Dtls13CipherSuites = [CipherSuite.Tls13Aes128GcmSha256],
                Dtls13Groups = [group],
                Dtls13KeyShares = [group],
            }
            : options with
            {
                ProtocolVersions = [ProtocolVersion.Dtls12],
                CipherSuites = [CipherSuite.EcdheEcdsaWithAes128GcmSha256],
                Groups = [group],
            };
    }

    /// <summary>Drains <paramref name="from"/> (drain rule); returns its datagrams.</summary>
    public static List<byte[]> Drain(DtlsEndpoint from, byte[] buffer)
    {
        var datagrams = new List<byte[]>();
        while (true)
        {
            var output = from.PollOutput(buffer);
            if (output.Kind == DtlsOutputKind.Timeout)
            {
                return datagrams;
            }

            if (output.Kind == DtlsOutputKind.Datagram)
            {
                datagrams.Add(buffer.AsSpan(0, output.DatagramLength).ToArray());
            }
        }
    }

    public static List<byte[]> Feed(DtlsEndpoint to, List<byte[]> datagrams, TimeSpan now, byte[] buffer)
    {
        foreach (var d in datagrams)
        {
            to.HandleDatagram(now, d);
        }

        return Drain(to, buffer);
    }

    /// <summary>Runs a complete handshake between fresh endpoints; throws if it does not connect.</summary>
    public static (DtlsEndpoint Client, DtlsEndpoint Server) Connect(DtlsOptions clientOptions, DtlsOptions serverOptions, byte[] buffer)
    {
        var server = DtlsEndpoint.CreateServer(serverOptions, T0);
        var client = DtlsEndpoint.CreateClient(clientOptions, T0);
        var toServer = Drain(client, buffer);
        for (var round = 0; round < 8 && (client.State != DtlsState.Connected || server.State != DtlsState.Connected); round++)
        {
            var toClient = Feed(server, toServer, T0, buffer);
            toServer = Feed(client, toClient, T0, buffer);
        }

        if (client.State != DtlsState.Connected || server.State != DtlsState.Connected)
        {
            throw new InvalidOperationException($"handshake did not complete: client {client.State}, server {server.State}");
        }

        return (client, server);
    }
}
