using System.Diagnostics;
using System.Globalization;
using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;

namespace Airlift.Bench.Reliability;

/// <summary>
/// Handshake success and time to connect versus loss, in virtual time (not a BenchmarkDotNet benchmark: it measures the
/// protocol, not the CPU). `dotnet run -c Release --project bench/Airlift.Bench -- reliability [--trials 1000] [--loss 0,5,10,20,30,40]`.
/// RTT 100 ms, 1200-byte datagrams, the 2.7 KB RSA chain on the server, P-256 on the client, DTLS-SRTP, loss on both directions,
/// success = both sides connected within 10 s. Prints a Markdown table.
/// </summary>
internal static class ReliabilityBenchmark
{
    public static int Run(string[] args)
    {
        var trials = 1000;
        var losses = new[] { 0, 5, 10, 20, 30, 40 };
        var burst = false;
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
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}; use --trials N --loss 0,5,10 [--burst]");
                    return 2;
            }
        }

        var root = FindRepositoryRoot();
        var chain = Path.Combine(root, "tests", "fixtures", "certs", "rsa-chain");
        var server = DtlsCertificate.LoadPem(Path.Combine(chain, "leaf.pem"), Path.Combine(chain, "leaf.key"), Path.Combine(chain, "intermediate.pem"));
        var client = DtlsCertificate.GenerateEcdsa("airlift-bench-client");
        Console.WriteLine($"Trials per point: {trials}; RTT 100 ms; max datagram 1200; server chain {server.ChainDer.Sum(c => c.Length)} bytes DER; deadline 10 s; {(burst ? "Gilbert-Elliott burst loss" : "independent loss")} both directions.");
        Console.WriteLine();
        Console.WriteLine("| loss (both ways) | success within 10 s | p50 | p90 | p99 | mean datagrams | mean retransmissions |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
        var clock = Stopwatch.StartNew();
        foreach (var loss in losses)
        {
            var rate = loss / 100.0;
            var link = new LinkImpairment { Delay = TimeSpan.FromMilliseconds(50) };
            link = burst && rate > 0
                ? link with { Burst = BurstFor(rate) }
                : link with { LossRate = rate };
            var point = ReliabilitySweep.Run($"{loss}%", trials, seed => new SimulationOptions(
                new DtlsOptions(client) { Random = RandomSource.Seeded(seed), SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80], ExpectedPeerFingerprint = server.GetFingerprint() },
                new DtlsOptions(server) { Random = RandomSource.Seeded(seed ^ 0x5EED_0000_0000UL), SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80], ExpectedPeerFingerprint = client.GetFingerprint() },
                new NetEmOptions(link, link, [], seed)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {loss}% | {point.SuccessRate:P1} ({point.Successes}/{point.Trials}) | {Ms(point.P50)} | {Ms(point.P90)} | {Ms(point.P99)} | {point.MeanDatagrams:0.0} | {point.MeanRetransmissions:0.0} |"));
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
