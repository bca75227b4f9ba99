using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Xunit.Abstractions;

namespace Airlift.Tests.Dtls.BadInput;

/// <summary>
/// Seeded, fuzz-style robustness: real handshakes between fresh endpoints where one or two batches of datagrams (a
/// flight, a retransmission, an alert) are mutated in flight. Whatever the mutation, no exception may escape, the run
/// must end within a bounded number of steps, each endpoint must end Connected, Failed with a typed reason, Closed, or
/// still Connecting with its deadline armed, and reassembly memory must stay under its caps (RFC 6347 4.1.2.7, 4.2.3).
/// </summary>
public class MutationRobustnessTests(ITestOutputHelper output)
{
    private const int Runs = 5_000;
    private const int MaxSteps = 3_000;

    private enum Mutation
    {
        BitFlips,
        HeaderBitFlips,
        Truncate,
        Insert,
        DuplicateRecord,
        ReorderRecords,
        Combined,
    }

    [Fact]
    public void Five_thousand_seeded_mutations_of_handshake_datagrams_never_throw_hang_or_exceed_the_buffer_caps()
    {
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var byMutation = new int[Enum.GetValues<Mutation>().Length];
        for (var run = 0; run < Runs; run++)
        {
            var random = new Random(run);
            var first = random.Next(0, 5);
            var second = random.Next(0, 4) == 0 ? random.Next(0, 9) : -1;
            var kind = (Mutation)random.Next(byMutation.Length);
            byMutation[(int)kind]++;
            var clientOptions = DtlsHandshakeTests.Options(TestCertificates.EcdsaPeer, (ulong)(2 * run) + 1) with { HandshakeTimeout = TimeSpan.FromSeconds(10) };
            var serverOptions = DtlsHandshakeTests.Options(TestCertificates.Ecdsa, (ulong)(2 * run) + 2) with { HandshakeTimeout = TimeSpan.FromSeconds(10) };
            var link = new VirtualLink(clientOptions, serverOptions);
            var batch = 0;
            link.Mutate = (_, datagrams) =>
            {
                var index = batch++;
                return index == first || index == second ? Apply(kind, datagrams, random) : datagrams;
            };
            link.AfterStep = CheckBuffers;

            int steps;
            try
            {
                link.Pump();
                steps = link.Drive(l => l.BothDone && l.InFlight == 0, MaxSteps);
            }
            catch (Exception e)
            {
                Assert.Fail($"run {run} ({kind} on batches {first}/{second}) threw: {e}\n{link.Client.Trace}{link.Server.Trace}");
                throw;
            }

            var outcome = $"client {Check(link, link.Client, run)}, server {Check(link, link.Server, run)}";
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            Assert.True(steps < MaxSteps || !link.BothDone, $"run {run}: step budget spent");
            if (link.BothConnected)
            {
                // A mutation must never leave the two sides connected with different keys.
                Assert.Equal(
                    link.Client.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 32),
                    link.Server.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 32));
            }
        }

        foreach (var (outcome, count) in outcomes)
        {
            output.WriteLine($"{count,5}  {outcome}");
        }

        output.WriteLine("mutations: " + string.Join(", ", Enum.GetValues<Mutation>().Select(m => $"{m} {byMutation[(int)m]}")));
        Assert.Equal(Runs, outcomes.Values.Sum());
        Assert.Contains(outcomes.Keys, k => k == "client Connected, server Connected");
        Assert.Contains(outcomes.Keys, k => k.Contains("Failed", StringComparison.Ordinal));
    }

    private static void CheckBuffers(VirtualLink link)
    {
        foreach (var endpoint in new[] { link.Client, link.Server })
        {
            var engine = endpoint.Engine;
            Assert.InRange(engine.Reassembler.BufferedBytes, 0, engine.Options.MaxBufferedHandshakeBytes);
            Assert.InRange(link.EventsOf(endpoint).Count, 0, 16);
        }
    }

    private static string Check(VirtualLink link, DtlsEndpoint endpoint, int run)
    {
        var events = link.EventsOf(endpoint);
        switch (endpoint.State)
        {
            case DtlsState.Connected:
                Assert.Single(events.OfType<DtlsConnected>());
                Assert.Empty(events.OfType<DtlsFailed>());
                return "Connected";
            case DtlsState.Failed:
                var failed = Assert.Single(events.OfType<DtlsFailed>());
                Assert.True(Enum.IsDefined(failed.Reason), $"run {run}: untyped failure {failed.Reason}");
                return $"Failed({failed.Reason})";
            case DtlsState.Closed:
                Assert.Single(events.OfType<DtlsClosed>());
                return "Closed";
            default:
                Assert.NotEqual(DtlsOutput.NoDeadline, link.DeadlineOf(endpoint));
                return "Connecting(deadline armed)";
        }
    }

    private static List<byte[]> Apply(Mutation kind, List<byte[]> batch, Random random)
    {
        var datagrams = batch.Select(d => (byte[])d.Clone()).ToList();
        var pick = random.Next(datagrams.Count);
        var d = datagrams[pick];
        switch (kind)
        {
            case Mutation.BitFlips:
                for (var i = random.Next(1, 9); i > 0 && d.Length > 0; i--)
                {
                    d[random.Next(d.Length)] ^= (byte)(1 << random.Next(8));
                }

                return datagrams;
            case Mutation.HeaderBitFlips:
                // Aim at the 25 bytes of record and handshake header at the start of a record.
                var starts = RecordStarts(d);
                var start = starts.Count == 0 ? 0 : starts[random.Next(starts.Count)];
                var span = Math.Min(RecordHeader.Size + HandshakeHeader.Size, d.Length - start);
                for (var i = random.Next(1, 4); i > 0 && span > 0; i--)
                {
                    d[start + random.Next(span)] ^= (byte)(1 << random.Next(8));
                }

                return datagrams;
            case Mutation.Truncate:
                datagrams[pick] = d[..random.Next(d.Length)];
                return datagrams;
            case Mutation.Insert:
                var extra = new byte[random.Next(1, 17)];
                random.NextBytes(extra);
                var at = random.Next(d.Length + 1);
                datagrams[pick] = [.. d[..at], .. extra, .. d[at..]];
                return datagrams;
            case Mutation.DuplicateRecord:
                var records = datagrams.SelectMany(Chunks).ToList();
                records.Insert(random.Next(records.Count + 1), records[random.Next(records.Count)]);
                return Repack(records, random);
            case Mutation.ReorderRecords:
                var shuffled = datagrams.SelectMany(Chunks).ToArray();
                random.Shuffle(shuffled);
                return Repack(shuffled, random);
            default:
                var a = (Mutation)random.Next((int)Mutation.Combined);
                var b = (Mutation)random.Next((int)Mutation.Combined);
                return Apply(b, Apply(a, datagrams, random), random);
        }
    }

    /// <summary>Offsets of the records a datagram frames (stopping at the first one that does not fit).</summary>
    private static List<int> RecordStarts(byte[] datagram)
    {
        var starts = new List<int>();
        var offset = 0;
        while (offset < datagram.Length)
        {
            starts.Add(offset);
            if (!RecordHeader.TryRead(datagram.AsSpan(offset), out var h))
            {
                break;
            }

            offset += RecordHeader.Size + h.Length;
        }

        return starts;
    }

    /// <summary>The raw records of a datagram; an unframeable tail is kept as one opaque chunk.</summary>
    private static IEnumerable<byte[]> Chunks(byte[] datagram)
    {
        var starts = RecordStarts(datagram);
        for (var i = 0; i < starts.Count; i++)
        {
            var end = i + 1 < starts.Count ? starts[i + 1] : datagram.Length;
            yield return datagram[starts[i]..Math.Min(end, datagram.Length)];
        }
    }

    private static List<byte[]> Repack(IEnumerable<byte[]> records, Random random)
    {
        var datagrams = new List<byte[]>();
        var current = new List<byte>();
        foreach (var record in records)
        {
            if (current.Count > 0 && random.Next(2) == 0)
            {
                datagrams.Add([.. current]);
                current.Clear();
            }

            current.AddRange(record);
        }

        if (current.Count > 0)
        {
            datagrams.Add([.. current]);
        }

        return datagrams;
    }
}
