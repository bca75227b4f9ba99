using Airlift.Dtls;

namespace Airlift.Bench.Dtls;

/// <summary>In-memory lockstep helpers for the DTLS benchmarks: no link, no delay, virtual time.</summary>
internal static class BenchPair
{
    public static readonly TimeSpan T0 = TimeSpan.FromSeconds(1);

    public static (DtlsOptions Client, DtlsOptions Server) Options()
    {
        // ECDSA P-256 on both sides, AES-128-GCM, mutual authentication as in WebRTC. Production randomness.
        var clientCert = DtlsCertificate.GenerateEcdsa("bench-client");
        var serverCert = DtlsCertificate.GenerateEcdsa("bench-server");
        var client = new DtlsOptions(clientCert) { CipherSuites = [CipherSuite.EcdheEcdsaWithAes128GcmSha256], ExpectedPeerFingerprint = serverCert.GetFingerprint() };
        var server = new DtlsOptions(serverCert) { CipherSuites = [CipherSuite.EcdheEcdsaWithAes128GcmSha256], ExpectedPeerFingerprint = clientCert.GetFingerprint() };
        return (client, server);
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
