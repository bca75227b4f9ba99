using System.Diagnostics;
using System.Globalization;
using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;

namespace Airlift.Bench.Reliability;

/// <summary>
/// Handshake success and time to connect versus loss, in virtual time (not a BenchmarkDotNet benchmark: it measures the
/// protocol, not the CPU). `dotnet run -c Release --project bench/Airlift.Bench -- reliability [--trials 1000] [--loss 0,5,10,20,30,40]
/// [--burst] [--dtls 1.2|1.3] [--redundant N]`. RTT 100 ms, 1200-byte datagrams, the 2.7 KB RSA chain on the server, P-256 on the
/// client, DTLS-SRTP, loss on both directions, success = both sides connected within 10 s. <c>--dtls</c> pins both sides to one
/// version (default: the shipped offer, which negotiates 1.3); <c>--redundant</c> sets
/// <see cref="DtlsOptions.RedundantRetransmitMaxDatagrams"/> on both sides. A run ends once nothing waits for an
/// acknowledgement (the DTLS 1.3 ACK of the final flight counts), as in <c>airlift lab</c>. Prints a Markdown table with the
/// mean datagrams and bytes both sides sent.
/// </summary>
internal static class ReliabilityBenchmark
{
    public static int Run(string[] args)
    {
        var trials = 1000;
        var losses = new[] { 0, 5, 10, 20, 30, 40 };
        var burst = false;
        ProtocolVersion[]? versions = null;
        int? redundant = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--trials":
                    trials = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--loss":
                    losses = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--burst":
                    burst = true;
                    break;
                case "--dtls":
                    versions = args[++i] switch
                    {
                        "1.2" => [ProtocolVersion.Dtls12],
                        "1.3" => [ProtocolVersion.Dtls13],
                        var v => throw new ArgumentException($"--dtls {v}: use 1.2 or 1.3"),
                    };
                    break;
                case "--redundant":
                    redundant = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}; use --trials N --loss 0,5,10 [--burst] [--dtls 1.2|1.3] [--redundant N]");
                    return 2;
            }
        }

        var root = FindRepositoryRoot();
        var chain = Path.Combine(root, "tests", "fixtures", "certs", "rsa-chain");
        var server = DtlsCertificate.LoadPem(Path.Combine(chain, "leaf.pem"), Path.Combine(chain, "leaf.key"), Path.Combine(chain, "intermediate.pem"));
        var client = DtlsCertificate.GenerateEcdsa("airlift-bench-client");
        Console.WriteLine($"Trials per point: {trials}; RTT 100 ms; max datagram 1200; server chain {server.ChainDer.Sum(c => c.Length)} bytes DER; deadline 10 s; {(burst ? "Gilbert-Elliott burst loss" : "independent loss")} both directions; DTLS {(versions is null ? "default offer" : versions[0] == ProtocolVersion.Dtls12 ? "1.2 pinned" : "1.3 pinned")}; RedundantRetransmitMaxDatagrams {redundant?.ToString(CultureInfo.InvariantCulture) ?? "default"}.");
        Console.WriteLine();
        Console.WriteLine("| loss (both ways) | success within 10 s | p50 | p90 | p99 | mean datagrams | mean bytes | mean retransmissions |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        var clock = Stopwatch.StartNew();
        foreach (var loss in losses)
        {
            var rate = loss / 100.0;
            var link = new LinkImpairment { Delay = TimeSpan.FromMilliseconds(50) };
            link = burst && rate > 0
                ? link with { Burst = BurstFor(rate) }
                : link with { LossRate = rate };
            var results = new SimulationResult[trials];
            Parallel.For(0, trials, i =>
            {
                var seed = 1 + (ulong)i;
                var clientOptions = new DtlsOptions(client) { Random = RandomSource.Seeded(seed), SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80], ExpectedPeerFingerprint = server.GetFingerprint() };
                var serverOptions = new DtlsOptions(server) { Random = RandomSource.Seeded(seed ^ 0x5EED_0000_0000UL), SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80], ExpectedPeerFingerprint = client.GetFingerprint() };
                if (versions is not null)
                {
                    clientOptions = clientOptions with { ProtocolVersions = versions };
                    serverOptions = serverOptions with { ProtocolVersions = versions };
                }

                if (redundant is { } r)
                {
                    clientOptions = clientOptions with { RedundantRetransmitMaxDatagrams = r };
                    serverOptions = serverOptions with { RedundantRetransmitMaxDatagrams = r };
                }

                results[i] = HandshakeSimulation.Run(new SimulationOptions(clientOptions, serverOptions, new NetEmOptions(link, link, [], seed)) { SettleAfterConnect = true });
            });
            var point = ReliabilitySweep.Summarise($"{loss}%", results);
            var bytes = results.Average(r => (double)(r.ClientStats.BytesSent + r.ServerStats.BytesSent));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {loss}% | {point.SuccessRate:P1} ({point.Successes}/{point.Trials}) | {Ms(point.P50)} | {Ms(point.P90)} | {Ms(point.P99)} | {point.MeanDatagrams:0.0} | {bytes:0} | {point.MeanRetransmissions:0.0} |"));
        }

        Console.WriteLine();
        Console.WriteLine($"Wall time {clock.Elapsed.TotalSeconds:0.0} s.");
        return 0;
    }

    // Mean burst length 3 datagrams in the bad state (all lost there), good state loss-free: average loss = rate.
    private static BurstLoss BurstFor(double rate)
    {
        const double pBadToGood = 1.0 / 3;
        var pGoodToBad = rate * pBadToGood / (1 - rate);
        return new BurstLoss(pGoodToBad, pBadToGood);
    }

    private static string Ms(TimeSpan? t) => t is { } v ? $"{v.TotalMilliseconds:0} ms" : "-";

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Airlift.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Run from inside the Airlift repository (Airlift.slnx not found above the current directory).");
    }
}
