using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Airlift.Bench.Dtls;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Srtp;
using Airlift.Transport;
using Airlift.WebRtc;

namespace Airlift.Bench.WebRtc;

/// <summary>
/// What one WHIP session of <c>airlift serve</c> costs in the WebRtc layer, stage by stage, in process (issue #13): the
/// offer parse, the answer build (the options <c>BroadcastHub</c> uses), keying SRTP from DTLS-SRTP keying material and
/// the unprotect of 50 SRTP packets of 1000-byte payload (what <c>storm --serve --media 50</c> sends), each in thread CPU
/// time (<c>CLOCK_THREAD_CPUTIME_ID</c>, so the machine's load does not inflate it) and bytes allocated by the thread;
/// then the managed memory one held session keeps (its <see cref="MediaSession"/> and the answer's streams), after a
/// forced collection. HTTP, ICE, the DTLS handshake and the socket host are not here: the storm measures them end to end
/// and docs/benchmarks.md (storm --serve profile) breaks them down with perf.
/// <c>dotnet bench/Airlift.Bench/bin/Release/net10.0/Airlift.Bench.dll serve-session [--sessions 2000] [--held 1000]</c>.
/// </summary>
internal static class ServeSessionBenchmark
{
    private const int Packets = 50;
    private const int Payload = 1000;

    /// <summary>A browser's offer (Chromium 156, audio + video + data channel, max-bundle) made sendonly, as a WHIP client sends it.</summary>
    private static readonly string Offer = CapturedOffersCrlf().Replace("a=sendrecv", "a=sendonly", StringComparison.Ordinal);

    public static int Run(string[] args)
    {
        var sessions = 2000;
        var held = 1000;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--sessions" && i + 1 < args.Length)
            {
                sessions = int.Parse(args[++i], CultureInfo.InvariantCulture);
            }
            else if (args[i] == "--held" && i + 1 < args.Length)
            {
                held = int.Parse(args[++i], CultureInfo.InvariantCulture);
            }
            else
            {
                Console.Error.WriteLine($"unknown argument {args[i]}; use --sessions N --held N");
                return 2;
            }
        }

        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("serve-session reads CLOCK_THREAD_CPUTIME_ID and runs on Linux only");
            return 2;
        }

        var candidates = new[] { IceCandidate.CreateHost(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 40000), IceProtocol.Udp) };
        var material = new byte[2 * (16 + 12)];
        new Random(13).NextBytes(material);
        var keying = new KeyingMaterial(SrtpProtectionProfile.AeadAes128Gcm, material, DtlsRole.Server);

        // The publisher's packets, protected once with the peer's (DTLS client's) keys; each session unprotects copies.
        var peerKeys = SrtpKeys.FromKeyingMaterial(keying.Profile, material, DtlsRole.Client);
        using var peer = peerKeys.CreateProtectContext();
        var packets = new byte[Packets][];
        for (var p = 0; p < Packets; p++)
        {
            var buffer = new byte[12 + Payload + 16];
            buffer[0] = 0x80;
            buffer[1] = 96;
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)(p + 1));
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4), (uint)(p * 3000));
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(8), 0x1234_5678);
            if (peer.ProtectRtp(buffer, 12 + Payload, out var length) != SrtpStatus.Ok)
            {
                throw new InvalidOperationException("protect failed");
            }

            packets[p] = buffer[..length];
        }

        var stages = new[] { "offer parse (SdpOffer.TryParse)", "answer build (SdpAnswerBuilder, WHIP recvonly)", "SRTP keys (MediaSession.SetKeys)", $"{Packets} x SRTP unprotect ({Payload} B payload)" };
        var cpu = new double[stages.Length];
        var bytes = new long[stages.Length];
        var work = new byte[2048];
        var ssrc = 0u;

        WebRtcAnswer Session(bool measure, out MediaSession media)
        {
            var c0 = CpuTimeBenchmark.ThreadCpuMicroseconds();
            var a0 = GC.GetAllocatedBytesForCurrentThread();
            if (!SdpOffer.TryParse(Offer, out var offer, out var parseError))
            {
                throw new InvalidOperationException(parseError.ToString());
            }

            var c1 = CpuTimeBenchmark.ThreadCpuMicroseconds();
            var a1 = GC.GetAllocatedBytesForCurrentThread();
            var options = new SdpAnswerOptions
            {
                Ufrag = "abcdefgh",
                Password = "abcdefghijklmnopqrstuvwx",
                Fingerprint = "sha-256 " + string.Join(':', Enumerable.Repeat("AB", 32)),
                Setup = SdpSetupRole.Passive,
                Candidates = candidates,
                SessionId = 1234,
                SessionName = "airlift serve",
                Cname = "airlift-bench",
                StreamId = "airlift-broadcast",
                NewSsrc = () => ++ssrc,
                Extensions = new HashSet<string>(StringComparer.Ordinal),
                ChooseDirection = _ => MediaDirection.RecvOnly,
            };
            if (!SdpAnswerBuilder.TryBuild(offer, options, out var answer, out var answerError))
            {
                throw new InvalidOperationException(answerError.ToString());
            }

            var c2 = CpuTimeBenchmark.ThreadCpuMicroseconds();
            var a2 = GC.GetAllocatedBytesForCurrentThread();
            media = new MediaSession();
            media.SetKeys(keying);
            var c3 = CpuTimeBenchmark.ThreadCpuMicroseconds();
            var a3 = GC.GetAllocatedBytesForCurrentThread();
            foreach (var packet in packets)
            {
                packet.CopyTo(work, 0);
                if (media.UnprotectRtp(work.AsSpan(0, packet.Length)).Status != MediaStatus.Ok)
                {
                    throw new InvalidOperationException("unprotect failed");
                }
            }

            var c4 = CpuTimeBenchmark.ThreadCpuMicroseconds();
            var a4 = GC.GetAllocatedBytesForCurrentThread();
            if (measure)
            {
                cpu[0] += c1 - c0;
                cpu[1] += c2 - c1;
                cpu[2] += c3 - c2;
                cpu[3] += c4 - c3;
                bytes[0] += a1 - a0;
                bytes[1] += a2 - a1;
                bytes[2] += a3 - a2;
                bytes[3] += a4 - a3;
            }

            // What a held publisher keeps: the answer's streams (not the SDP text, see BroadcastPeer) and its SRTP.
            return answer with { Sdp = string.Empty };
        }

        // Warm-up: the JIT's tiers settle before anything is measured.
        var warm = Stopwatch.StartNew();
        for (var i = 0; i < 2000 || warm.Elapsed < TimeSpan.FromSeconds(2); i++)
        {
            _ = Session(false, out var m);
            m.Dispose();
        }

        for (var i = 0; i < sessions; i++)
        {
            _ = Session(true, out var m);
            m.Dispose();
        }

        Console.WriteLine($"serve-session: {sessions} sessions measured (after {warm.Elapsed.TotalSeconds:0.0} s of warm-up), thread CPU and bytes allocated per session");
        Console.WriteLine();
        Console.WriteLine("| Stage | CPU per session | Allocated per session |");
        Console.WriteLine("|---|---:|---:|");
        for (var s = 0; s < stages.Length; s++)
        {
            Console.WriteLine($"| {stages[s]} | {cpu[s] / sessions:0.0} us | {bytes[s] / sessions:N0} B |");
        }

        Console.WriteLine($"| total | {cpu.Sum() / sessions:0.0} us | {bytes.Sum() / sessions:N0} B |");

        // The ICE/DTLS attributes part of the offer parse, alone (SdpOffer.TryParse calls it first).
        double iceCpu = 0;
        long iceBytes = 0;
        for (var i = 0; i < sessions; i++)
        {
            var c0 = CpuTimeBenchmark.ThreadCpuMicroseconds();
            var a0 = GC.GetAllocatedBytesForCurrentThread();
            _ = SdpIceDescription.TryParse(Offer, out _, out _);
            iceCpu += CpuTimeBenchmark.ThreadCpuMicroseconds() - c0;
            iceBytes += GC.GetAllocatedBytesForCurrentThread() - a0;
        }

        Console.WriteLine($"| of the offer parse: ICE/DTLS attributes (SdpIceDescription.TryParse) | {iceCpu / sessions:0.0} us | {iceBytes / sessions:N0} B |");

        var keep = new List<(WebRtcAnswer, MediaSession)>(held);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < held; i++)
        {
            var answer = Session(false, out var m);
            keep.Add((answer, m));
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine();
        Console.WriteLine($"held: {held} sessions keep {(after - before) / (double)held / 1024:0.00} KB of managed memory each (answer streams + MediaSession with both SRTP contexts, after a full collection)");
        GC.KeepAlive(keep);
        foreach (var (_, m) in keep)
        {
            m.Dispose();
        }

        return 0;
    }

    private static string CapturedOffersCrlf() => Airlift.Tests.EndToEnd.CapturedOffers.Crlf(Airlift.Tests.EndToEnd.CapturedOffers.Chromium156);
}
