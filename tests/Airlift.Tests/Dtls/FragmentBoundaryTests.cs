using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.Tests.Dtls.BadInput;
using Airlift.Tests.Scenarios;

namespace Airlift.Tests.Dtls;

/// <summary>
/// Retransmissions at a smaller datagram size (the path-MTU fallback) keep every cut of the earlier transmissions, so a
/// receiver that chains fragments by exact offset and keeps the first fragment it saw at each offset (pion/dtls's
/// fragment buffer) still completes the message. Found in the peer lab: before this, pion never finished a flight that
/// Airlift had re-cut at 1000 bytes after its 1200-byte copies lost one datagram.
/// </summary>
public sealed class FragmentBoundaryTests
{
    [Fact]
    public void An_empty_ServerHelloDone_that_must_start_a_new_datagram_is_still_sent_at_every_datagram_size_RFC6347_4_2_3()
    {
        // At 228 bytes with an X25519 ServerKeyExchange (RSA-PSS signed, client certificate requested) the flight's
        // 16th datagram ends 216 bytes in, after CertificateRequest: the 25-byte empty ServerHelloDone needs a 17th.
        // The packer used to flush and then leave its fragment loop, dropping the empty message every time.
        for (var size = DtlsOptions.MinimumDatagramSize; size <= 400; size++)
        {
            var client = ScenarioKit.Client(4) with { MaxDatagramSize = size, Groups = [NamedGroup.X25519] };
            var server = ScenarioKit.Server(4) with { MaxDatagramSize = size };
            var pair = new DtlsPair(client, server);
            pair.Drive(p => p.BothConnected || p.BothDone, 10_000);
            Assert.True(pair.BothConnected, $"size {size}: {pair.Client.Trace}");
            var done = WireEdit.Records(pair.Wire.Where(d => !d.ToServer).Select(d => d.Data))
                .Where(r => r.Epoch == 0 && r.Type == ContentType.Handshake)
                .SelectMany(WireEdit.Fragments)
                .Count(f => f.Header.Type == HandshakeType.ServerHelloDone);
            Assert.True(done == 1, $"size {size}: ServerHelloDone sent {done} times, want once (no loss, no retransmission)");
        }
    }

    [Fact]
    public void A_first_fragment_per_offset_receiver_completes_the_certificate_after_the_fallback_re_cuts_the_flight()
    {
        var link = new VirtualLink(ScenarioKit.Client(31), ScenarioKit.Server(31) with { FallbackAboveLargestPeerDatagram = false })
        {
            Delay = TimeSpan.FromMilliseconds(50),
        };
        var arrived = new List<InspectedHandshake>();
        var cutsBySize = new SortedDictionary<int, SortedSet<int>>();
        link.Mutate = (toServer, batch) =>
        {
            if (toServer)
            {
                return batch;
            }

            foreach (var datagram in batch)
            {
                foreach (var fragment in Certificates(datagram))
                {
                    var cuts = cutsBySize.TryGetValue(batch.Max(d => d.Length), out var c) ? c : cutsBySize[batch.Max(d => d.Length)] = [];
                    cuts.Add(fragment.FragmentOffset);
                }
            }

            // The path loses the second datagram of every 1200-byte transmission: the flight never arrives whole at that
            // size, the client keeps asking, and the server falls back to smaller datagrams.
            var kept = batch.Where((d, i) => !(batch.Count > 1 && i == 1 && d.Length > 1000)).ToList();
            foreach (var datagram in kept)
            {
                arrived.AddRange(Certificates(datagram));
            }

            return kept;
        };

        link.Pump();
        link.Drive(l => l.BothConnected, 5_000);

        Assert.True(link.BothConnected, link.Server.Trace);
        Assert.True(link.Server.Stats.DatagramSizeFallbacks >= 1, link.Server.Trace);
        Assert.True(cutsBySize.Count >= 2, "the flight was sent at one size only");

        // Each smaller size cuts at least where every larger one did.
        var sizes = cutsBySize.Keys.OrderDescending().ToList();
        for (var i = 1; i < sizes.Count; i++)
        {
            Assert.True(cutsBySize[sizes[i - 1]].IsSubsetOf(cutsBySize[sizes[i]]), $"cuts at {sizes[i]} B ({string.Join(',', cutsBySize[sizes[i]])}) miss some at {sizes[i - 1]} B ({string.Join(',', cutsBySize[sizes[i - 1]])})");
        }

        Assert.True(FirstFragmentChainCompletes(arrived), string.Join(' ', arrived.Select(f => $"{f.FragmentOffset}..{f.FragmentEnd}")));
    }

    [Fact]
    public void The_fallback_stays_above_the_peers_own_datagrams_when_loss_not_size_is_the_problem()
    {
        // The server's 1200-byte flight reaches the client, so when the client's own flight 5 (with a 2.7 KB chain) keeps
        // timing out, that is loss on a path that carries 1200 bytes: smaller datagrams would only mean more of them to lose.
        var (link, clientBatches) = LoseOneClientDatagramFiveTimes(floor: true);
        Assert.True(link.BothConnected, link.Client.Trace);
        Assert.True(clientBatches >= 5, $"only {clientBatches} multi-datagram client transmissions:\n{link.Client.Trace}");
        Assert.Equal(0, link.Client.Stats.DatagramSizeFallbacks);
        Assert.Equal(1200, link.Client.EffectiveMaxDatagramSize);
        Assert.Contains("reach us: keeping datagram size 1200", link.Client.Trace, StringComparison.Ordinal);

        // The same run with the floor off falls back: the assertion above can fail.
        var (unfloored, _) = LoseOneClientDatagramFiveTimes(floor: false);
        Assert.True(unfloored.BothConnected, unfloored.Client.Trace);
        Assert.True(unfloored.Client.Stats.DatagramSizeFallbacks >= 1, unfloored.Client.Trace);
    }

    /// <summary>The client (2.7 KB chain) loses the second datagram of its first five multi-datagram transmissions.</summary>
    private static (VirtualLink Link, int ClientBatches) LoseOneClientDatagramFiveTimes(bool floor)
    {
        var client = ScenarioKit.Client(32, TestCertificates.RsaChain) with { FallbackAboveLargestPeerDatagram = floor };
        var link = new VirtualLink(client, ScenarioKit.Server(32)) { Delay = TimeSpan.FromMilliseconds(50) };
        var batches = 0;
        link.Mutate = (toServer, batch) =>
            toServer && batch.Count > 1 && batches++ < 5 ? batch.Where((_, i) => i != 1).ToList() : batch;
        link.Pump();
        link.Drive(l => l.BothConnected, 5_000);
        return (link, batches);
    }

    private static IEnumerable<InspectedHandshake> Certificates(byte[] datagram) =>
        DtlsDatagramInspector.Inspect(datagram, out _).SelectMany(r => r.Handshakes).Where(h => h.Type == HandshakeType.Certificate);

    /// <summary>pion/dtls's reassembly: from offset 0, take the first fragment received at the wanted offset; no alternatives.</summary>
    private static bool FirstFragmentChainCompletes(List<InspectedHandshake> fragments)
    {
        if (fragments.Count == 0)
        {
            return false;
        }

        var length = fragments[0].MessageLength;
        var offset = 0;
        for (var guard = 0; guard < fragments.Count && offset < length; guard++)
        {
            var first = fragments.FirstOrDefault(f => f.FragmentOffset == offset);
            if (first is null)
            {
                return false;
            }

            offset = first.FragmentEnd;
        }

        return offset == length;
    }
}
