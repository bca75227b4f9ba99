using System.Globalization;
using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.Reliability;
using Airlift.Dtls.V13;

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

        if (filter is null || !filter.Contains("V13", StringComparison.OrdinalIgnoreCase))
        {
            CallSites(iterations);
        }

        if (filter is null || !filter.Contains("V12", StringComparison.OrdinalIgnoreCase))
        {
            CallSites13(iterations);
        }

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

        PrintSites("DTLS 1.2 call site, measured alone", sites, iterations);
    }

    /// <summary>
    /// The calls a DTLS 1.3 X25519 WebRTC handshake (mutual ECDSA P-256, use_srtp, AES-128-GCM) makes, each measured alone
    /// with a real handshake's inputs (mean bytes per call), with how many times a side makes it: the key schedule steps,
    /// record protection per epoch and direction, message encode/decode, CertificateVerify, the transcript and the trace.
    /// </summary>
    private static void CallSites13(int iterations)
    {
        var (clientOptions, serverOptions) = BenchPair.Options(HandshakeCase.V13_X25519);
        var buffer = new byte[2048];
        var client = DtlsEndpoint.CreateClient(clientOptions, T0);
        var helloDatagram = client.PollOutput(buffer);
        var helloBody = buffer.AsSpan(13 + 12, helloDatagram.DatagramLength - 13 - 12).ToArray();
        client.Dispose();
        ClientHello.TryDecode(helloBody, out var hello);
        Negotiation13.TrySelect(serverOptions, hello!, out var selection, out _);
        var suite = selection!.Suite;
        var hash = suite.Hash;
        var serverCertificate = serverOptions.Certificate;
        var clientDer = clientOptions.Certificate.ChainDer[0];
        using var clientPair = KeyExchange.Generate(NamedGroup.X25519);
        KeyExchange.TryRespond(NamedGroup.X25519, clientPair.PublicShare, out var serverShare, out var shared);
        var serverHelloBody = ServerHelloBody(hello!, selection, serverShare!);
        var certificateBody = HandshakeCommon.Encode((ref WireWriter w) => new Certificate13([], [.. serverCertificate.ChainDer]).Encode(ref w), 8192);
        var eeBody = HandshakeCommon.Encode((ref WireWriter w) => new EncryptedExtensions([Extensions.CreateUseSrtp([SrtpProtectionProfile.Aes128CmHmacSha1_80], [])]).Encode(ref w));
        var crBody = HandshakeCommon.Encode((ref WireWriter w) => new CertificateRequest13([], [Extensions.CreateSignatureAlgorithms([SignatureScheme.EcdsaSecp256r1Sha256])]).Encode(ref w));
        var transcriptHash = new byte[32];
        var secret = new byte[32];
        var content = Negotiation13.SignedContent(Negotiation13.ServerVerifyContext, transcriptHash, new byte[Negotiation13.MaxSignedContentLength]).ToArray();
        var signature = serverCertificate.Sign(SignatureScheme.EcdsaSecp256r1Sha256, content);
        var cvBody = HandshakeCommon.Encode((ref WireWriter w) => new CertificateVerify(SignatureScheme.EcdsaSecp256r1Sha256, signature).Encode(ref w));
        using var peerKey = PeerPublicKey.TryCreate(serverCertificate.ChainDer[0], out var k, out _) ? k : throw new InvalidOperationException();
        using var schedule = new Tls13KeySchedule(hash);
        using var keys = schedule.DeriveTrafficKeys(suite, secret);
        var messages = new (byte Type, byte[] Body)[]
        {
            (1, helloBody), (2, serverHelloBody), (8, eeBody), (13, crBody), (11, certificateBody), (15, cvBody), (20, secret),
            (11, certificateBody), (15, cvBody), (20, secret),
        };
        var metrics = DtlsMetrics.Default;
        var traceEndpoint = DtlsEndpoint.CreateClient(clientOptions, T0);
        var stats = new DtlsStats();
        var fieldsTrace = new EngineTrace(DtlsRole.Server, T0, null, metrics, capacity: 96);
        var sites = new (string Site, Action Call)[]
        {
            ("server x1: ClientHello.TryDecode (a 1.3 hello, one X25519 share)", () => ClientHello.TryDecode(helloBody, out _)),
            ("server x1: Negotiation13.TrySelect", () => Negotiation13.TrySelect(serverOptions, hello!, out _, out _)),
            ("server x1: KeyExchange.TryRespond X25519", () => KeyExchange.TryRespond(NamedGroup.X25519, clientPair.PublicShare, out _, out _)),
            ("server x1: ServerHello body written directly (Messages13.ServerHelloBody)", () =>
                Messages13.ServerHelloBody(new byte[32], hello!.SessionId, suite.Suite, selection.Group, serverShare!)),
            ("server x1: EncryptedExtensions (use_srtp) built and encoded", () =>
            {
                var ee = new EncryptedExtensions([Extensions.CreateUseSrtp([SrtpProtectionProfile.Aes128CmHmacSha1_80], [])]);
                HandshakeCommon.Encode((ref WireWriter w) => ee.Encode(ref w));
            }),
            ("both x1: Certificate13.OwnBody (own chain, encoded once per certificate; the CertificateRequest likewise per options)", () =>
                Certificate13.OwnBody(serverCertificate)),
            ("both x1: CertificateVerify body written directly (Messages13.CertificateVerifyBody)", () =>
                Messages13.CertificateVerifyBody(SignatureScheme.EcdsaSecp256r1Sha256, signature)),
            ("both x1: Tls13KeySchedule new + SetSharedSecret + HandshakeTrafficSecrets + ApplicationTrafficSecrets", () =>
            {
                using var schedule = new Tls13KeySchedule(hash);
                schedule.SetSharedSecret(shared);
                schedule.HandshakeTrafficSecrets(transcriptHash);
                schedule.ApplicationTrafficSecrets(transcriptHash);
            }),
            ("both x1: Tls13KeySchedule.FinishedVerifyData (own Finished, an array: the message body)", () => schedule.FinishedVerifyData(secret, transcriptHash)),
            ("both x1: Tls13KeySchedule.FinishedVerifyData (peer's Finished, checked on the stack)", () => schedule.FinishedVerifyData(secret, transcriptHash, stackalloc byte[32])),
            ("both x4: Tls13KeySchedule.CreateProtection + Dispose (AES-128-GCM keys, record protection, mask cipher)", () => schedule.CreateProtection(suite, secret).Dispose()),
            ("both x1: Negotiation13.SignedContent + DtlsCertificate.Sign (CertificateVerify)", () =>
                serverCertificate.Sign(SignatureScheme.EcdsaSecp256r1Sha256, Negotiation13.SignedContent(Negotiation13.ServerVerifyContext, transcriptHash, stackalloc byte[Negotiation13.MaxSignedContentLength]))),
            ("both x1: Negotiation13.SignedContent + PeerPublicKey.Verify", () =>
                peerKey.Verify(SignatureScheme.EcdsaSecp256r1Sha256, Negotiation13.SignedContent(Negotiation13.ServerVerifyContext, transcriptHash, stackalloc byte[Negotiation13.MaxSignedContentLength]), signature)),
            ("both x1: Transcript13, a handshake's 10 messages added, 6 hashes, released", () =>
            {
                var transcript = new Transcript13();
                Span<byte> digest = stackalloc byte[Transcript13.MaxHashLength];
                for (var i = 0; i < messages.Length; i++)
                {
                    transcript.Add(messages[i].Type, messages[i].Body);
                    if (i is 1 or 4 or 5 or 6 or 8 or 9)
                    {
                        transcript.Hash(hash, digest);
                    }
                }

                transcript.Release();
            }),
            ("client x1: ServerHello.TryDecode + Extensions13.TryDecodeServerShare", () =>
            {
                ServerHello.TryDecode(serverHelloBody, out var sh);
                Extensions.TryFind(sh!.Extensions, Wire13.KeyShare, out var ks);
                Extensions13.TryDecodeServerShare(ks.Data, out _);
            }),
            ("client x1: EncryptedExtensions.TryDecode + CertificateRequest13.TryDecode", () =>
            {
                EncryptedExtensions.TryDecode(eeBody, out _);
                CertificateRequest13.TryDecode(crBody, out _);
            }),
            ("both x1: Certificate13.TryDecode (peer chain)", () => Certificate13.TryDecode(certificateBody, out _)),
            ("both x1: CertificateVerify.TryDecode", () => CertificateVerify.TryDecode(cvBody, out _)),
            ("both x1: PeerPublicKey.TryCreate + Dispose, fingerprint Matches + Compute (peer leaf)", () =>
            {
                if (PeerPublicKey.TryCreate(clientDer, out var key, out _))
                {
                    key.Dispose();
                }

                serverOptions.ExpectedPeerFingerprint!.Matches(clientDer);
                CertificateFingerprint.Compute("sha-256", clientDer);
            }),
            ("both x1: new Dtls13Engine, the 1.2 engine's trace taken over (reassembler, timers, pacing, output, epochs)", () =>
                new Dtls13Engine(serverOptions, DtlsRole.Server, T0, stats, null, traceEndpoint.Engine.Timeline).Dispose()),
            ("server x1: trace entries \"negotiated ...\", \"connected ...\" (fields, formatted when read)", () =>
            {
                fieldsTrace.Negotiated13(T0, suite.Suite, selection.Group, selection.Scheme, "SRTP_AES128_CM_HMAC_SHA1_80");
                fieldsTrace.Connected13(T0, suite.Suite, "SRTP_AES128_CM_HMAC_SHA1_80", 1200);
            }),
            ("client x1: trace entries \"server chose ...\", \"connected ...\", \"flight 1 acknowledged\" (fields)", () =>
            {
                fieldsTrace.Negotiated13(T0, suite.Suite, selection.Group, null, null);
                fieldsTrace.Connected13(T0, suite.Suite, "SRTP_AES128_CM_HMAC_SHA1_80", 1200);
                fieldsTrace.FlightAcknowledged(T0, 1);
            }),
            ("(before: the same five lines formatted as strings, per handshake, both sides)", () =>
            {
                _ = $"negotiated DTLS 1.3, {suite.Suite}, {selection.Group}, {selection.Scheme}, SRTP {selection.Srtp?.Name ?? "none"}";
                _ = $"connected: DTLS 1.3, {suite.Suite}, SRTP {selection.Srtp?.Name ?? "none"}, datagram size {1200}";
                _ = $"server chose DTLS 1.3, {suite.Suite}, {selection.Group}";
                _ = $"connected: DTLS 1.3, {suite.Suite}, SRTP {selection.Srtp?.Name ?? "none"}, datagram size {1200}";
                _ = $"flight {1} acknowledged";
            }),
        };

        PrintSites("DTLS 1.3 X25519 call site (side x calls per handshake), measured alone", sites, iterations);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(Inputs: a ClientHello of {helloBody.Length} B, a Certificate of {certificateBody.Length} B; the 1.2 trace adopted holds the client's first flight.)"));
        Console.WriteLine();
    }

    private static byte[] ServerHelloBody(ClientHello hello, Selection13 selection, byte[] serverShare)
    {
        var sh = new ServerHello(ProtocolVersion.Dtls12, new byte[32], hello.SessionId, selection.Suite.Suite, 0,
            [Extensions13.CreateSelectedVersion(ProtocolVersion.Dtls13), Extensions13.CreateServerShare(new KeyShareEntry(selection.Group, serverShare))]);
        return HandshakeCommon.Encode((ref WireWriter w) => sh.Encode(ref w));
    }

    private static void PrintSites(string title, (string Site, Action Call)[] sites, int iterations)
    {
        Console.WriteLine($"| {title} | bytes per call |");
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
