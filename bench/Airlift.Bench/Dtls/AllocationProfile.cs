using System.Globalization;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;

namespace Airlift.Bench.Dtls;

/// <summary>
/// Where a handshake's managed allocations come from, per side and per call into the endpoint: every
/// <c>Create*</c>, <c>HandleDatagram</c> and <c>PollOutput</c> of a lockstep pair is wrapped in
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> deltas (exact, not sampled), the harness's own copies outside the
/// windows. `dotnet run -c Release --project bench/Airlift.Bench -- cpu --alloc-profile [--iterations N] [--filter TEXT]`.
/// Prints, per handshake case, one row per (side, stage) with the mean bytes per handshake, and the per-side totals.
/// </summary>
internal static class AllocationProfile
{
    private static readonly TimeSpan T0 = BenchPair.T0;

    public static int Run(int iterations, string? filter)
    {
        Console.WriteLine($"Allocation per handshake by side and stage: mean of {iterations} handshakes after {iterations / 5 + 20} warm-up ones; thread-allocated bytes.");
        Console.WriteLine();
        foreach (var handshake in Enum.GetValues<HandshakeCase>())
        {
            if (filter is not null && !handshake.ToString().Contains(filter, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var (clientOptions, serverOptions) = BenchPair.Options(handshake);
            var profile = new Profile();
            for (var i = 0; i < iterations / 5 + 20; i++)
            {
                OneHandshake(clientOptions, serverOptions, null);
            }

            for (var i = 0; i < iterations; i++)
            {
                OneHandshake(clientOptions, serverOptions, profile);
            }

            profile.Print(handshake.ToString(), iterations);
        }

        CallSites(iterations);
        return 0;
    }

    /// <summary>
    /// The calls a DTLS 1.2 handshake makes outside the message path, each measured alone with the inputs of a real
    /// handshake (mean bytes per call): what the crypto and certificate layers cost, so the stage totals above can be split
    /// into "ours" and "theirs".
    /// </summary>
    private static void CallSites(int iterations)
    {
        var (clientOptions, serverOptions) = BenchPair.Options(HandshakeCase.V12_X25519);
        var buffer = new byte[2048];
        var client = DtlsEndpoint.CreateClient(clientOptions, T0);
        var helloDatagram = client.PollOutput(buffer);
        var helloBody = buffer.AsSpan(13 + 12, helloDatagram.DatagramLength - 13 - 12).ToArray();
        var serverCertificate = serverOptions.Certificate;
        var clientDer = clientOptions.Certificate.ChainDer[0];
        var expected = serverOptions.ExpectedPeerFingerprint!;
        var signedData = new byte[32 + 32 + 4 + 32];
        var transcript = new byte[1400];
        var signature = serverCertificate.Sign(SignatureScheme.EcdsaSecp256r1Sha256, transcript);
        using var peerKey = PeerPublicKey.TryCreate(serverCertificate.ChainDer[0], out var k, out _) ? k : throw new InvalidOperationException();
        var master = new byte[48];
        var random = new byte[32];
        var hash = new byte[32];
        var sites = new (string Site, Action Call)[]
        {
            ("ClientHello.TryDecode (server, received hello)", () => ClientHello.TryDecode(helloBody, out _)),
            ("KeyExchange.Generate X25519", () => KeyExchange.Generate(NamedGroup.X25519).Dispose()),
            ("KeyExchange.Generate + TryComplete X25519", () =>
            {
                using var a = KeyExchange.Generate(NamedGroup.X25519);
                using var b = KeyExchange.Generate(NamedGroup.X25519);
                a.TryComplete(b.PublicShare, out _);
            }),
            ("KeyExchange.Generate P-256", () => KeyExchange.Generate(NamedGroup.Secp256r1).Dispose()),
            ("DtlsCertificate.Sign ECDSA P-256 (SKE or CertificateVerify)", () => serverCertificate.Sign(SignatureScheme.EcdsaSecp256r1Sha256, signedData)),
            ("PeerPublicKey.TryCreate + Dispose (peer leaf)", () =>
            {
                if (PeerPublicKey.TryCreate(clientDer, out var key, out _))
                {
                    key.Dispose();
                }
            }),
            ("PeerPublicKey.Verify ECDSA", () => peerKey.Verify(SignatureScheme.EcdsaSecp256r1Sha256, transcript, signature)),
            ("CertificateFingerprint.Matches (pinned)", () => expected.Matches(clientDer)),
            ("CertificateFingerprint.Compute sha-256 (DtlsPeerCertificate event)", () => CertificateFingerprint.Compute("sha-256", clientDer)),
            ("KeySchedule.ExtendedMasterSecret", () => KeySchedule.ExtendedMasterSecret(System.Security.Cryptography.HashAlgorithmName.SHA256, random, hash)),
            ("KeySchedule.DeriveKeyBlock + 2 RecordProtection.Create", () =>
            {
                CipherSuiteInfo.TryGet(CipherSuite.EcdheEcdsaWithAes128GcmSha256, out var suite);
                using var block = KeySchedule.DeriveKeyBlock(suite!, master, random, random);
                RecordProtection.Create(suite!, block.ClientWriteKey, block.ClientWriteIv).Dispose();
                RecordProtection.Create(suite!, block.ServerWriteKey, block.ServerWriteIv).Dispose();
            }),
            ("KeySchedule.VerifyData", () => KeySchedule.VerifyData(System.Security.Cryptography.HashAlgorithmName.SHA256, master, true, hash)),
        };

        Console.WriteLine("| DTLS 1.2 call site, measured alone | bytes per call |");
        Console.WriteLine("|---|---:|");
        foreach (var (site, call) in sites)
        {
            for (var i = 0; i < 20; i++)
            {
                call();
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < iterations; i++)
            {
                call();
            }

            var bytes = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)iterations;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {site} | {bytes:0} |"));
        }

        Console.WriteLine();
    }

    private sealed class Profile
    {
        private readonly List<(string Side, string Stage)> _order = [];
        private readonly Dictionary<(string Side, string Stage), long> _bytes = [];

        public void Add(string side, string stage, long bytes)
        {
            var key = (side, stage);
            if (!_bytes.TryGetValue(key, out var sum))
            {
                _order.Add(key);
            }

            _bytes[key] = sum + bytes;
        }

        public void Print(string name, int iterations)
        {
            Console.WriteLine($"| {name} | side | stage | bytes per handshake |");
            Console.WriteLine("|---|---|---|---:|");
            var totals = new Dictionary<string, long>();
            foreach (var key in _order)
            {
                var bytes = _bytes[key];
                totals[key.Side] = totals.GetValueOrDefault(key.Side) + bytes;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| | {key.Side} | {key.Stage} | {bytes / (double)iterations:0} |"));
            }

            foreach (var (side, bytes) in totals)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| | **{side}** | **total** | **{bytes / (double)iterations:0}** |"));
            }

            Console.WriteLine();
        }
    }

    /// <summary>One lockstep handshake; every endpoint call measured apart and named by what it did.</summary>
    private static void OneHandshake(DtlsOptions clientOptions, DtlsOptions serverOptions, Profile? profile)
    {
        var buffer = new byte[65535];
        var toServer = new List<byte[]>(16);
        var toClient = new List<byte[]>(16);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var client = DtlsEndpoint.CreateClient(clientOptions, T0);
        profile?.Add("client", "CreateClient", GC.GetAllocatedBytesForCurrentThread() - before);
        before = GC.GetAllocatedBytesForCurrentThread();
        var server = DtlsEndpoint.CreateServer(serverOptions, T0);
        profile?.Add("server", "CreateServer", GC.GetAllocatedBytesForCurrentThread() - before);
        Drain(client, "client", 1, buffer, toServer, profile);
        for (var round = 1; round <= 8 && (client.State != DtlsState.Connected || server.State != DtlsState.Connected); round++)
        {
            Deliver(server, "server", round, toServer, profile);
            Drain(server, "server", round, buffer, toClient, profile);
            Deliver(client, "client", round, toClient, profile);
            Drain(client, "client", round + 1, buffer, toServer, profile);
        }

        if (client.State != DtlsState.Connected || server.State != DtlsState.Connected)
        {
            throw new InvalidOperationException($"handshake did not complete: client {client.State}, server {server.State}");
        }

        client.Dispose();
        server.Dispose();
    }

    private static void Deliver(DtlsEndpoint to, string side, int round, List<byte[]> datagrams, Profile? profile)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var d in datagrams)
        {
            to.HandleDatagram(T0, d);
        }

        profile?.Add(side, $"round {round}: HandleDatagram x{datagrams.Count}", GC.GetAllocatedBytesForCurrentThread() - before);
        datagrams.Clear();
    }

    private static void Drain(DtlsEndpoint from, string side, int round, byte[] buffer, List<byte[]> into, Profile? profile)
    {
        long bytes = 0;
        var datagrams = 0;
        var events = 0;
        while (true)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var output = from.PollOutput(buffer);
            bytes += GC.GetAllocatedBytesForCurrentThread() - before;
            if (output.Kind == DtlsOutputKind.Timeout)
            {
                break;
            }

            if (output.Kind == DtlsOutputKind.Datagram)
            {
                datagrams++;
                into.Add(buffer.AsSpan(0, output.DatagramLength).ToArray());
            }
            else
            {
                events++;
            }
        }

        profile?.Add(side, $"round {round}: PollOutput ({datagrams} datagrams, {events} events)", bytes);
    }
}
