using Airlift.Cli.Lab;
using Airlift.Cli.Lab.Peers;
using Xunit.Abstractions;

namespace Airlift.Tests.Interop.RealPeers;

/// <summary>
/// The real-peer lab runner and its helper programs (tools/peers): each peer connects to Airlift in both roles through
/// the impairment proxy and derives the same DTLS-SRTP keying material (RFC 5764 section 4.2, RFC 5705 exporter).
/// </summary>
public sealed class PeerLabTests(ITestOutputHelper output)
{
    private const int MaxDatagram = 1200;

    public static TheoryData<PeerPairing> AllPairings => [PeerPairing.AirliftServer, PeerPairing.AirliftClient, PeerPairing.PeerWithItself];

    [PeerToolTheory("pion")]
    [MemberData(nameof(AllPairings))]
    public Task Pion_connects_in_every_pairing_with_equal_srtp_exporters_rfc5764_4_2(PeerPairing pairing) => AssertPair("pion", pairing, "ecdsa");

    [PeerToolTheory("werift")]
    [MemberData(nameof(AllPairings))]
    public Task Werift_connects_in_every_pairing_with_equal_srtp_exporters_rfc5764_4_2(PeerPairing pairing) => AssertPair("werift", pairing, "ecdsa");

    [PeerToolTheory("bouncycastle")]
    [MemberData(nameof(AllPairings))]
    public Task BouncyCastle_connects_in_every_pairing_with_equal_srtp_exporters_rfc5764_4_2(PeerPairing pairing) => AssertPair("bouncycastle", pairing, "ecdsa");

    [PeerToolTheory("openssl")]
    [MemberData(nameof(AllPairings))]
    public Task OpenSsl_connects_in_every_pairing_with_equal_srtp_exporters_rfc5764_4_2(PeerPairing pairing) => AssertPair("openssl", pairing, "ecdsa");

    [PeerToolTheory("gnutls")]
    [MemberData(nameof(AllPairings))]
    public Task GnuTls_connects_in_every_pairing_rfc5764_4_2(PeerPairing pairing) => AssertPair("gnutls", pairing, "ecdsa");

    /// <summary>F4: the 2.7 KB chain crosses a path that drops datagrams above 1200 bytes, from every helper server to Airlift.</summary>
    [PeerToolTheory("pion", "bouncycastle", "openssl")]
    [InlineData("pion")]
    [InlineData("bouncycastle")]
    [InlineData("openssl")]
    public Task Peer_server_delivers_the_rsa_chain_to_airlift_over_a_1200_byte_path_f4(string peer) => AssertPair(peer, PeerPairing.AirliftClient, "rsa-chain");

    [PeerToolFact("openssl")]
    public async Task Runner_runs_three_pairings_per_peer_and_reports_them_as_lab_trials()
    {
        PeerToolAssert.Ready("openssl");
        var dir = Directory.CreateTempSubdirectory("airlift-peerlab-test-").FullName;
        try
        {
            var progress = new List<(int Done, int Total)>();
            var request = new PeerLabRequest(["openssl"], Trials: 1, LossPercents: [0], RttMs: 20, MaxDatagram, "ecdsa", DeadlineSeconds: 15, Seed: 7, dir);
            var trials = await new PeerLab().RunAsync(request, new SyncProgress(progress), CancellationToken.None);

            foreach (var t in trials)
            {
                output.WriteLine($"{t.Pairing}: connected={t.Connected} {t.TimeToConnectMs} ms, {t.DatagramsSent} datagrams, largest {t.LargestDatagram}, {t.Error}");
            }

            Assert.Equal(
                ["openssl-client->airlift-server", "airlift-client->openssl-server", "openssl-client->openssl-server"],
                trials.Select(t => t.Pairing).ToArray());
            Assert.All(trials, t =>
            {
                Assert.True(t.Connected, t.Error);
                Assert.Equal(PeerLab.Scenario, t.Scenario);
                Assert.InRange(t.TimeToConnectMs!.Value, 20, 15_000); // at least one emulated round trip
                Assert.InRange(t.LargestDatagram, 1, MaxDatagram);
                Assert.True(t.DatagramsSent >= 6, $"{t.DatagramsSent} datagrams");
            });
            Assert.Equal(MaxDatagram, trials[0].EffectiveMaxDatagram);
            Assert.Null(trials[2].EffectiveMaxDatagram); // no Airlift side in the baseline
            Assert.Equal((3, 3), progress[^1]);
            Assert.Contains("openssl s_server", await File.ReadAllTextAsync(Path.Combine(dir, "peers.log")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>F2 with a real peer: 20 % loss both ways, the handshake still completes on both sides (RFC 6347 4.2.4).</summary>
    [PeerToolFact("openssl")]
    public async Task Airlift_server_and_openssl_client_connect_under_20_percent_loss_both_ways_f2()
    {
        var kind = PeerToolAssert.Ready("openssl");
        using var cert = PeerCertificates.Create("ecdsa");
        var result = await PeerLab.RunTrialAsync(new PeerTrialSpec(kind, PeerPairing.AirliftServer, 20, 20, MaxDatagram, 40, Seed: 11), cert, CancellationToken.None);
        output.WriteLine(result.Log);
        Assert.True(result.Trial.Connected, result.Trial.Error);
        Assert.Equal(result.ServerExporter, result.ClientExporter);
    }

    [Fact]
    public void Runner_registers_itself_for_the_lab_command()
    {
        PeerLab.Register();
        Assert.IsType<PeerLab>(PeerLabRegistry.Runner);
    }

    [Fact]
    public void Peer_names_resolve_with_all_and_aliases_and_unknown_names_are_rejected()
    {
        Assert.Equal(["airlift", "openssl", "gnutls", "werift", "pion", "bouncycastle"], PeerCatalog.Resolve(["all"]).Select(k => k.Name).ToArray());
        Assert.Equal(["bouncycastle", "openssl"], PeerCatalog.Resolve(["bc,openssl", "openssl"]).Select(k => k.Name).ToArray());
        var ex = Assert.Throws<ArgumentException>(() => PeerCatalog.Resolve(["wolfssl"]));
        Assert.Contains("known: airlift, openssl", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Peer_command_lines_carry_the_same_profile_exporter_and_datagram_limit()
    {
        var files = new PeerCertificateFiles("/c/leaf.pem", "/c/chain.pem", "/c/full.pem", "/c/key.pem");
        var launch = new PeerLaunch(4444, files, 1000, 12);
        var openssl = PeerCatalog.Resolve(["openssl"])[0];
        var server = openssl.Server(launch);
        Assert.Equal("1028", server.Arguments[server.Arguments.ToList().IndexOf("-mtu") + 1]); // OpenSSL's -mtu counts IP + UDP headers
        Assert.Contains("-cert_chain", server.Arguments);
        var gnutls = PeerCatalog.Resolve(["gnutls"])[0].Client(launch);
        Assert.Contains("--mtu=1000", gnutls.Arguments);
        Assert.Contains("--keymatexportsize=60", gnutls.Arguments);
        var pion = PeerCatalog.Resolve(["pion"])[0].Client(launch);
        Assert.Equal(["--mtu", "1000"], pion.Arguments.SkipWhile(a => a != "--mtu").Take(2).ToArray());
        Assert.Matches(pion.Exporter!, "{\"event\":\"connected\",\"exporter\":\"0A1B\"}");
        Assert.Equal("0A1B", pion.Exporter!.Match("{\"exporter\":\"0A1B\"}").Groups["hex"].Value);
    }

    private async Task AssertPair(string peer, PeerPairing pairing, string certificate)
    {
        var kind = PeerToolAssert.Ready(peer);
        using var cert = PeerCertificates.Create(certificate);
        var spec = new PeerTrialSpec(kind, pairing, LossPercent: 0, RttMs: 10, MaxDatagram, DeadlineSeconds: 20, Seed: 1);
        var result = await PeerLab.RunTrialAsync(spec, cert, CancellationToken.None);
        output.WriteLine(result.Log);
        if (!result.Trial.Connected && pairing == PeerPairing.PeerWithItself)
        {
            // The peer against itself is the harness's baseline and holds no Airlift code: a third-party stack's own rare
            // failure with itself (werift's client once rejected its connect() with an empty Error after a loss-free
            // HelloVerifyRequest exchange) gets one more run on another seed, logged; two failures in a row still fail.
            output.WriteLine($"baseline {peer} with itself failed ({result.Trial.Error}); one more run, seed 2");
            result = await PeerLab.RunTrialAsync(spec with { Seed = 2 }, cert, CancellationToken.None);
            output.WriteLine(result.Log);
        }

        Assert.True(result.Trial.Connected, result.Trial.Error);
        Assert.InRange(result.Trial.LargestDatagram, 1, MaxDatagram);
        var airliftExporter = pairing switch
        {
            PeerPairing.AirliftServer => result.ServerExporter,
            PeerPairing.AirliftClient => result.ClientExporter,
            _ => null,
        };
        if (pairing != PeerPairing.PeerWithItself)
        {
            Assert.Matches("^[0-9A-F]{120}$", airliftExporter!);
        }

        var peerExporter = pairing == PeerPairing.AirliftServer ? result.ClientExporter : result.ServerExporter;
        if (peer == "gnutls" && pairing != PeerPairing.AirliftServer)
        {
            Assert.Null(peerExporter); // gnutls-serv never prints one; the runner still required both sides to report connected
        }
        else
        {
            Assert.Equal(result.ServerExporter, result.ClientExporter);
        }
    }

    private sealed class SyncProgress(List<(int Done, int Total)> sink) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value)
        {
            lock (sink)
            {
                sink.Add(value);
            }
        }
    }
}
