using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Airlift.Dtls;
using Airlift.Srtp;

namespace Airlift.Fuzz;

/// <summary>
/// Writes the seed corpora (<c>fuzz/corpus/&lt;target&gt;/</c>) from real data: datagrams of real in-memory Airlift
/// handshakes (deterministic: fixed certificates, seeded randomness, virtual time), the captured Chromium and Firefox
/// datagrams in tests/fixtures/vectors and shared/vectors, the captured Chromium offer, and the certificate fixtures.
/// </summary>
public static class CorpusMaker
{
    /// <summary>Writes every target's corpus under <paramref name="outputRoot"/>; returns the files written.</summary>
    /// <param name="outputRoot">fuzz/corpus.</param>
    /// <param name="repoRoot">The repository (for tests/fixtures and the captured offer).</param>
    /// <param name="extraVectorDirectories">More directories of .jsonl captures (shared/vectors).</param>
    public static int Write(string outputRoot, string repoRoot, IEnumerable<string> extraVectorDirectories)
    {
        ArgumentNullException.ThrowIfNull(extraVectorDirectories);
        var written = 0;
        void Save(string target, string name, byte[] data)
        {
            var dir = Directory.CreateDirectory(Path.Combine(outputRoot, target)).FullName;
            File.WriteAllBytes(Path.Combine(dir, name), data);
            written++;
        }

        var vectorDirs = new List<string> { Path.Combine(repoRoot, "tests", "fixtures", "vectors") };
        vectorDirs.AddRange(extraVectorDirectories);
        var captures = ReadCaptures(vectorDirs);

        foreach (var (role, dtls13) in (ReadOnlySpan<(DtlsRole, bool)>)[(DtlsRole.Client, false), (DtlsRole.Server, false), (DtlsRole.Client, true), (DtlsRole.Server, true)])
        {
            var target = (role == DtlsRole.Client ? "dtls-client" : "dtls-server").Replace("dtls", dtls13 ? "dtls13" : "dtls", StringComparison.Ordinal);
            foreach (var variant in (ReadOnlySpan<byte>)[0x00, 0x04, 0x08, 0x10, 0x20, 0x30, 0x40, 0x80])
            {
                var (live, literal) = Handshake(role, new DtlsVariant(variant), dtls13);
                Save(target, $"live-v{variant:x2}", live);
                Save(target, $"literal-v{variant:x2}", literal);
            }

            foreach (var state in (ReadOnlySpan<byte>)[1, 2, 3, 0x0A, 0x0B])
            {
                var steps = new List<byte[]>();
                for (var i = 0; i < 6; i++)
                {
                    steps.Add(FuzzScript.Step(1, []));
                    steps.Add(FuzzScript.Step(3, []));
                }

                steps.Add(FuzzScript.Step(3 | 4, "hello"u8));
                steps.Add(FuzzScript.Step(3, []));
                steps.Add(FuzzScript.Step(2, []));
                Save(target, $"state-{state:x2}", FuzzScript.Build(state, steps));
            }
        }

        foreach (var (name, data) in ListenerInputs())
        {
            Save("dtls-listener", name, data);
        }

        foreach (var (name, data) in IceInputs(captures))
        {
            Save("stun-ice", name, data);
        }

        foreach (var (name, data) in TransportInputs(captures))
        {
            Save("transport", name, data);
        }

        foreach (var (name, data) in SrtpInputs())
        {
            Save("srtp", name, data);
        }

        foreach (var (name, data) in GcmInputs())
        {
            Save("gcm-differential", name, data);
        }

        foreach (var (name, data) in HmacDifferentialTarget.Seeds())
        {
            Save("hmac-differential", name, data);
        }

        foreach (var (name, data) in FramerInputs(captures))
        {
            Save("rfc4571", name, data);
        }

        foreach (var (name, data) in SdpInputs(repoRoot))
        {
            Save("sdp", name, data);
        }

        foreach (var (name, data) in CertificateInputs(repoRoot))
        {
            Save("certificate", name, data);
        }

        foreach (var (name, data) in CaptureInputs(repoRoot))
        {
            Save("capture", name, data);
        }

        return written;
    }

    /// <summary>A captured datagram: which capture, whether it went to the ICE-lite side, its kind and bytes.</summary>
    private sealed record Captured(string File, bool ToLite, string Kind, byte[] Data);

    private static List<Captured> ReadCaptures(IEnumerable<string> directories)
    {
        var result = new List<Captured>();
        var seen = new HashSet<string>();
        foreach (var dir in directories.Where(Directory.Exists))
        {
            foreach (var path in Directory.GetFiles(dir, "*.jsonl").Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileNameWithoutExtension(path);
                if (!name.Contains("icelite", StringComparison.Ordinal) || !seen.Add(name))
                {
                    continue;
                }

                int? litePort = null;
                foreach (var line in File.ReadLines(path))
                {
                    using var doc = JsonDocument.Parse(line);
                    var root = doc.RootElement;
                    if (!root.TryGetProperty("hex", out var hex))
                    {
                        continue;
                    }

                    var to = root.GetProperty("to").GetInt32();
                    litePort ??= to; // the first datagram is the browser's check to the ICE-lite side
                    result.Add(new Captured(name, to == litePort, root.GetProperty("kind").GetString()!, Convert.FromHexString(hex.GetString()!)));
                }
            }
        }

        return result;
    }

    /// <summary>
    /// A complete handshake from state 0 as two inputs: one driving the live peer with empty steps (the order of a real
    /// exchange), one carrying the bytes the endpoint received as literal datagrams.
    /// </summary>
    private static (byte[] Live, byte[] Literal) Handshake(DtlsRole role, DtlsVariant variant, bool dtls13)
    {
        var pair = DtlsPair.Create(variant, role, dtls13);
        var eut = role == DtlsRole.Client ? pair.Client : pair.Server;
        var peer = pair.Other(eut);
        var live = new List<byte[]>();
        var literal = new List<byte[]>();
        for (var round = 0; round < 8 && !(eut.Connected && peer.Connected && eut.Out.Count == 0 && peer.Out.Count == 0); round++)
        {
            while (eut.Out.TryDequeue(out var d))
            {
                live.Add(FuzzScript.Step(3, []));
                literal.Add(FuzzScript.Step(3, []));
                DtlsDriver.Deliver(peer, pair.Now, d);
            }

            while (peer.Out.TryDequeue(out var d))
            {
                live.Add(FuzzScript.Step(1, []));
                literal.Add(FuzzScript.Step(0, d));
                DtlsDriver.Deliver(eut, pair.Now, d);
            }
        }

        foreach (var steps in (List<byte[]>[])[live, literal])
        {
            steps.Add(FuzzScript.Step(3 | 4, "ping"u8));
            steps.Add(FuzzScript.Step(2, []));
        }

        return (FuzzScript.Build(variant.Header, live), FuzzScript.Build(variant.Header, literal));
    }

    private static IEnumerable<(string, byte[])> ListenerInputs()
    {
        // A real client against the listener at its fixed time and seed: ClientHello, HelloVerifyRequest, ClientHello with
        // the cookie, then the client's second flight. Deterministic, so the cookie stays valid for the harness.
        foreach (var remote in (int[])[0, 2])
        {
            var options = ListenerTarget.ListenerOptions();
            var steps = new List<byte[]>();
            ThroughListener(new DtlsServerListener(options), options, remote, seed: 1, dtls13: false, steps, restart: false);
            yield return ($"handshake-remote{remote}", FuzzScript.Build(0, steps));
            yield return ($"hello-remote{remote}", FuzzScript.Build(0, steps.Take(1)));
        }

        // DTLS 1.3 (header bit 1): the hybrid share's two-datagram hello, the HelloRetryRequest, the cookie hello and the
        // client's flight; then late copies of that first hello, and a second client restarting on the address.
        foreach (var remote in (int[])[0, 2])
        {
            var options = ListenerTarget.ListenerOptions(dtls13: true);
            var listener = new DtlsServerListener(options);
            var steps = new List<byte[]>();
            var firstHello = ThroughListener(listener, options, remote, seed: 1, dtls13: true, steps, restart: false);
            yield return ($"handshake13-remote{remote}", FuzzScript.Build(2, steps));
            yield return ($"hello13-remote{remote}", FuzzScript.Build(2, steps.Take(2)));
            steps.AddRange(firstHello.Take(2).Select(d => FuzzScript.Step((byte)(remote | 8), d)));
            ThroughListener(listener, options, remote, seed: 2, dtls13: true, steps, restart: true);
            yield return ($"restart13-remote{remote}", FuzzScript.Build(2, steps));
        }
    }

    /// <summary>
    /// Runs a real client (<paramref name="seed"/>) through <paramref name="listener"/> from remote
    /// <paramref name="remote"/> until connected, appending its datagrams to <paramref name="steps"/> as harness steps (with
    /// control bit 3 until accepted when it <paramref name="restart"/>s on an address that has a session); returns them.
    /// </summary>
    private static List<byte[]> ThroughListener(DtlsServerListener listener, DtlsOptions options, int remote, ulong seed, bool dtls13, List<byte[]> steps, bool restart)
    {
        var clientOptions = DtlsPair.Options(DtlsRole.Client, default, underTest: false, seed: seed, dtls13: dtls13);
        var client = new DtlsSide("client", DtlsEndpoint.CreateClient(clientOptions, ListenerTarget.Start), clientOptions);
        DtlsDriver.Drain(client);
        DtlsSide? server = null;
        var sent = new List<byte[]>();
        var response = new byte[512];
        for (var round = 0; round < 8 && !client.Connected; round++)
        {
            while (client.Out.TryDequeue(out var d))
            {
                sent.Add(d);
                steps.Add(FuzzScript.Step((byte)(remote | (restart && server is null ? 8 : 0)), d));
                if (server is not null)
                {
                    DtlsDriver.Deliver(server, ListenerTarget.Start, d);
                    continue;
                }

                var decision = listener.HandleDatagram(ListenerTarget.Start, ListenerTarget.Remotes[remote], d, response, out var length, out var endpoint);
                if (decision is DtlsListenerDecision.HelloVerifyRequest or DtlsListenerDecision.HelloRetryRequest)
                {
                    DtlsDriver.Deliver(client, ListenerTarget.Start, response.AsSpan(0, length));
                }
                else if (decision == DtlsListenerDecision.Accepted)
                {
                    server = new DtlsSide("server", endpoint!, options);
                    DtlsDriver.Drain(server);
                }
            }

            while (server is not null && server.Out.TryDequeue(out var d))
            {
                DtlsDriver.Deliver(client, ListenerTarget.Start, d);
            }
        }

        return sent;
    }

    private static IEnumerable<(string, byte[])> IceInputs(List<Captured> captures)
    {
        foreach (var group in captures.Where(c => c.Kind == "stun").GroupBy(c => c.File))
        {
            var header = (byte)(group.Key.StartsWith("firefox", StringComparison.Ordinal) ? 3 : 2);
            var all = group.ToList();
            yield return ($"{group.Key}-all", FuzzScript.Build(header, all.Take(12).Select(c => FuzzScript.Step(0, c.Data))));
            var first = all.First(c => c.ToLite);
            yield return ($"{group.Key}-check", FuzzScript.Build(header, [FuzzScript.Step(0, first.Data), FuzzScript.Step(1, first.Data), FuzzScript.Step(8, first.Data)]));
            var reply = all.FirstOrDefault(c => !c.ToLite);
            if (reply is not null)
            {
                yield return ($"{group.Key}-response", FuzzScript.Build(header, [FuzzScript.Step(0, reply.Data)]));
            }
        }

        for (var creds = 0; creds < 2; creds++)
        {
            var (ufrag, password, remote, _) = IceTarget.Credentials[creds];
            var check = TransportTarget.BuildCheck(ufrag, password, remote, useCandidate: false, 1);
            var nominate = TransportTarget.BuildCheck(ufrag, password, remote, useCandidate: true, 2);
            yield return ($"built-{creds}", FuzzScript.Build((byte)(creds | 2), [FuzzScript.Step(0, check), FuzzScript.Step(1, nominate), FuzzScript.Step(4, check), FuzzScript.Step(8, nominate), FuzzScript.Step(16, check)]));
        }
    }

    private static IEnumerable<(string, byte[])> TransportInputs(List<Captured> captures)
    {
        // Captured browser sessions as raw datagrams on tuple 0 (their checks authenticate with the captures' credentials).
        foreach (var group in captures.GroupBy(c => c.File))
        {
            var header = (byte)(group.Key.StartsWith("firefox", StringComparison.Ordinal) ? 1 : 0);
            yield return ($"{group.Key}", FuzzScript.Build(header, group.Where(c => c.ToLite).Take(10).Select(c => FuzzScript.Step(0, c.Data))));
        }

        // A full session with the live Airlift peer: nominate, handshake, media both ways, data, timers, close.
        byte[] rtp = [0x80, 0x6F, 0x00, 0x01, 0x00, 0x00, 0x03, 0x20, 0x11, 0x22, 0x33, 0x44, 0xDE, 0xAD, 0xBE, 0xEF];
        byte[] rtcp = [0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44];
        foreach (var header in (byte[])[0, 1, 2, 3, 4])
        {
            var steps = new List<byte[]> { FuzzScript.Step(2 << 2, [1]) };
            for (var i = 0; i < 6; i++)
            {
                steps.Add(FuzzScript.Step(3 << 2, []));
                steps.Add(FuzzScript.Step(1 << 2, []));
            }

            steps.Add(FuzzScript.Step(32, rtp));
            steps.Add(FuzzScript.Step(0, rtp));
            steps.Add(FuzzScript.Step(0, rtcp));
            steps.Add(FuzzScript.Step(64, "data"u8));
            steps.Add(FuzzScript.Step((2 << 2) | 1, [1]));
            steps.Add(FuzzScript.Step(16, []));
            steps.Add(FuzzScript.Step(128, []));
            yield return ($"session-h{header}", FuzzScript.Build(header, steps));
        }
    }

    private static IEnumerable<(string, byte[])> SrtpInputs()
    {
        byte[][] rtpPackets =
        [
            [0x80, 0x6F, 0x00, 0x01, 0x00, 0x00, 0x03, 0x20, 0x11, 0x22, 0x33, 0x44, 0x01, 0x02, 0x03, 0x04, 0x05],

            // CSRC count 1, extension (RFC 8285 one-byte, mid), padding 2.
            [0xB1, 0x60, 0x00, 0x02, 0x00, 0x00, 0x06, 0x40, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xBE, 0xDE, 0x00, 0x01, 0x10, 0x30, 0x00, 0x00, 0xAA, 0xBB, 0x00, 0x02],
            [0x80, 0xE0, 0xFF, 0xFF, 0x00, 0x01, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x09],
        ];
        byte[][] rtcpPackets =
        [
            // Receiver report with one block, then a generic NACK (RFC 4585).
            [0x81, 0xC9, 0x00, 0x07, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0xCD, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x00, 0x01, 0xFF, 0xFF],
            [0x80, 0xCB, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44],
        ];
        for (byte header = 0; header < 8; header++)
        {
            var profile = SrtpTarget.Profiles[header & 3];
            var (key, salt) = SrtpTarget.Keys(profile);
            using var sender = SrtpContext.Create(profile, SrtpDirection.Protect, key, salt, SrtpTarget.Options(header));
            var steps = new List<byte[]>();
            foreach (var p in rtpPackets)
            {
                var buffer = new byte[p.Length + 64];
                p.CopyTo(buffer, 0);
                if (sender.ProtectRtp(buffer, p.Length, out var n) == SrtpStatus.Ok)
                {
                    steps.Add(FuzzScript.Step(0, buffer.AsSpan(0, n)));
                    steps.Add(FuzzScript.Step(0, buffer.AsSpan(0, n))); // a replay
                }
            }

            foreach (var p in rtcpPackets)
            {
                var buffer = new byte[p.Length + 64];
                p.CopyTo(buffer, 0);
                if (sender.ProtectRtcp(buffer, p.Length, out var n) == SrtpStatus.Ok)
                {
                    steps.Add(FuzzScript.Step(1, buffer.AsSpan(0, n)));
                }
            }

            yield return ($"protected-h{header}", FuzzScript.Build(header, steps));
            if (header < 4)
            {
                var trips = rtpPackets.Select(p => FuzzScript.Step(2, p)).Concat(rtcpPackets.Select(p => FuzzScript.Step(3, p)));
                yield return ($"roundtrip-h{header}", FuzzScript.Build(header, trips));
            }
        }
    }

    // Header, key, nonce (or counter block), AAD length, AAD, message: every mode, both key sizes, lengths around blocks.
    private static IEnumerable<(string, byte[])> GcmInputs()
    {
        foreach (var header in new byte[] { 0, 1, 2, 3, 4, 5, 6, 0x0E, 0x1E, 0x26, 0x37 })
        {
            foreach (var length in new[] { 0, 15, 129, 1212 })
            {
                var data = new byte[1 + 32 + 16 + 1 + 20 + length];
                for (var i = 0; i < data.Length; i++)
                {
                    data[i] = (byte)(i * 37 + header);
                }

                data[0] = header;
                var message = 1 + ((header & 1) != 0 ? 32 : 16) + ((header >> 1 & 3) == 2 ? 16 : 12) + 1 + 20;
                data[message - 21] = 20;
                if ((header >> 1 & 3) == 3 && message < data.Length)
                {
                    data[message] = 0x80; // an RTP/RTCP version 2 first byte
                    if (message + 1 < data.Length)
                    {
                        data[message + 1] = (header & 0x20) != 0 ? (byte)200 : (byte)111;
                    }
                }

                yield return ($"h{header:x2}-{length}", data);
            }
        }
    }

    private static IEnumerable<(string, byte[])> FramerInputs(List<Captured> captures)
    {
        var stream = new List<byte>();
        foreach (var c in captures.Where(c => c.ToLite).Take(4))
        {
            var frame = new byte[c.Data.Length + 2];
            Transport.Rfc4571Framer.WriteFrame(c.Data, frame);
            stream.AddRange(frame);
        }

        var bytes = stream.ToArray();
        foreach (var header in (byte[])[4, 5, 6])
        {
            // The same stream cut at different points, through both receive paths.
            var steps = new List<byte[]>();
            for (int at = 0, n = 1, i = 0; at < bytes.Length; at += n, n = (n * 7 % 1500) + 1, i++)
            {
                steps.Add(FuzzScript.Step((byte)(i & 3), bytes.AsSpan(at, Math.Min(n, bytes.Length - at))));
            }

            yield return ($"captured-h{header}", FuzzScript.Build(header, steps));
        }

        yield return ("tiny", FuzzScript.Build(0, [FuzzScript.Step(0, [0, 1, 0x41, 0, 0, 0, 2]), FuzzScript.Step(1, [0x42, 0x43])]));
    }

    // The doctor's capture fixtures small enough to be seeds.
    private static IEnumerable<(string, byte[])> CaptureInputs(string repoRoot)
    {
        var dir = Path.Combine(repoRoot, "tests", "fixtures", "captures");
        if (!Directory.Exists(dir))
        {
            yield break;
        }

        foreach (var path in Directory.GetFiles(dir, "*.pcap*").Order(StringComparer.Ordinal))
        {
            if (new FileInfo(path).Length <= 16 * 1024)
            {
                yield return (Path.GetFileNameWithoutExtension(path), File.ReadAllBytes(path));
            }
        }
    }

    private static IEnumerable<(string, byte[])> SdpInputs(string repoRoot)
    {
        var path = Path.Combine(repoRoot, "tests", "Airlift.Tests", "EndToEnd", "CapturedOffers.cs");
        if (File.Exists(path))
        {
            var source = File.ReadAllText(path);
            var parts = source.Split("\"\"\"");
            for (var i = 1; i + 1 < parts.Length; i += 2)
            {
                var lines = parts[i].Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0);
                yield return ($"captured-{i / 2}", Encoding.UTF8.GetBytes(string.Join("\r\n", lines) + "\r\n"));
            }
        }

        const string Minimal = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\na=fingerprint:sha-256 40:AE:05:BF:82:09:E0:3B:9C:EF:FF:7A:AB:7C:EB:00:FA:F0:66:35:69:78:49:B3:F5:24:A2:55:4B:7F:E8:5E\r\na=setup:active\r\na=mid:a\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 nack\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=ssrc:1 cname:x\r\na=candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host\r\n";
        yield return ("minimal-audio", Encoding.UTF8.GetBytes(Minimal));
    }

    private static IEnumerable<(string, byte[])> CertificateInputs(string repoRoot)
    {
        var certs = Path.Combine(repoRoot, "tests", "fixtures", "certs");
        (string Name, string Cert, string Key)[] pems =
        [
            ("ecdsa", Path.Combine(certs, "ecdsa", "cert.pem"), Path.Combine(certs, "ecdsa", "key.pem")),
            ("rsa", Path.Combine(certs, "rsa-single", "cert.pem"), Path.Combine(certs, "rsa-single", "key.pem")),
            ("rsa-chain", Path.Combine(certs, "rsa-chain", "chain.pem"), Path.Combine(certs, "rsa-chain", "leaf.key")),
        ];
        foreach (var (name, cert, key) in pems.Where(p => File.Exists(p.Cert) && File.Exists(p.Key)))
        {
            yield return ($"pem-{name}", [0, .. File.ReadAllBytes(cert), 0, .. File.ReadAllBytes(key)]);
            var der = X509Certificate2.CreateFromPem(File.ReadAllText(cert)).RawData;
            yield return ($"peer-{name}", [1, .. der]);
            yield return ($"helpers-{name}", [2, .. der]);
        }

        var server = FuzzCertificates.Server.Leaf;
        yield return ("pem-fuzz-server", [0, .. Encoding.ASCII.GetBytes(FuzzCertificates.ReadResource("server.pem")), 0, .. Encoding.ASCII.GetBytes(FuzzCertificates.ReadResource("server.key"))]);
        yield return ("peer-fuzz-server", [1, .. server.RawData]);
        yield return ("pfx-fuzz-server", [3, .. server.Export(X509ContentType.Pkcs12)]);
    }
}
