using Airlift.Dtls;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls;

public class HandshakeReassemblerTests
{
    private static HandshakeReassembler New() => new(64 * 1024, 128 * 1024, 8);

    private static HandshakeHeader Header(ushort seq, int length, int offset, int fragmentLength, byte type = 11) =>
        new(new HandshakeType(type), length, seq, offset, fragmentLength);

    private static byte[] Body(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void Fragments_in_reverse_order_reassemble_RFC6347_4_2_3()
    {
        var r = New();
        var body = Body(1000, 1);
        Assert.Equal(FragmentOutcome.Accepted, r.Add(Header(0, 1000, 600, 400), body.AsSpan(600, 400)));
        Assert.False(r.TryTakeNext(out _));
        Assert.Equal(FragmentOutcome.Accepted, r.Add(Header(0, 1000, 0, 600), body.AsSpan(0, 600)));
        Assert.True(r.TryTakeNext(out var message));
        Assert.Equal(body, message!.Body);
        Assert.Equal(1, r.NextSeq);
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void Overlapping_and_recut_fragments_reassemble()
    {
        var r = New();
        var body = Body(500, 2);
        r.Add(Header(0, 500, 0, 300), body.AsSpan(0, 300));
        r.Add(Header(0, 500, 100, 300), body.AsSpan(100, 300));
        r.Add(Header(0, 500, 250, 250), body.AsSpan(250, 250));
        Assert.True(r.TryTakeNext(out var message));
        Assert.Equal(body, message!.Body);
    }

    [Fact]
    public void Conflicting_overlap_discards_the_partial_message_and_never_delivers_mixed_bytes()
    {
        var r = New();
        var body = Body(100, 3);
        var forged = (byte[])body.Clone();
        forged[50] ^= 0xFF;
        r.Add(Header(0, 100, 0, 60), body.AsSpan(0, 60));
        Assert.Equal(FragmentOutcome.Conflict, r.Add(Header(0, 100, 40, 60), forged.AsSpan(40, 60)));
        Assert.False(r.TryTakeNext(out _));
        Assert.Equal(0, r.BufferedBytes);

        // The genuine message still arrives later, whole.
        r.Add(Header(0, 100, 0, 100), body);
        Assert.True(r.TryTakeNext(out var message));
        Assert.Equal(body, message!.Body);
    }

    [Fact]
    public void Length_or_type_disagreement_is_a_conflict()
    {
        var r = New();
        r.Add(Header(0, 100, 0, 10), new byte[10]);
        Assert.Equal(FragmentOutcome.Conflict, r.Add(Header(0, 101, 10, 10), new byte[10]));
        r.Add(Header(0, 100, 0, 10), new byte[10]);
        Assert.Equal(FragmentOutcome.Conflict, r.Add(Header(0, 100, 10, 10, type: 12), new byte[10]));
    }

    [Fact]
    public void Old_messages_are_reported_as_peer_retransmissions()
    {
        var r = New();
        r.Add(Header(0, 4, 0, 4), new byte[4]);
        Assert.True(r.TryTakeNext(out _));
        Assert.Equal(FragmentOutcome.Old, r.Add(Header(0, 4, 0, 4), new byte[4]));
    }

    [Fact]
    public void Future_messages_are_buffered_within_the_window_and_dropped_beyond_it()
    {
        var r = New();
        Assert.Equal(FragmentOutcome.Accepted, r.Add(Header(7, 4, 0, 4), new byte[4]));
        Assert.Equal(FragmentOutcome.TooFarAhead, r.Add(Header(8, 4, 0, 4), new byte[4]));
        Assert.False(r.TryTakeNext(out _));
    }

    [Fact]
    public void Messages_over_the_size_cap_or_byte_budget_take_no_memory()
    {
        var r = new HandshakeReassembler(maxMessageSize: 2000, maxBufferedBytes: 3000, maxFutureMessages: 8);
        Assert.Equal(FragmentOutcome.OverLimit, r.Add(Header(0, 2001, 0, 10), new byte[10]));
        Assert.Equal(0, r.BufferedBytes);
        Assert.Equal(FragmentOutcome.Accepted, r.Add(Header(0, 2000, 0, 10), new byte[10]));
        Assert.Equal(FragmentOutcome.OverLimit, r.Add(Header(1, 1001, 0, 10), new byte[10]));
        Assert.Equal(2000, r.BufferedBytes);
    }

    [Fact]
    public void Empty_message_completes_with_its_header_alone()
    {
        var r = New();
        r.Add(Header(0, 0, 0, 0, type: 14), []);
        Assert.True(r.TryTakeNext(out var message));
        Assert.Empty(message!.Body);
    }

    [Fact]
    public void Property_any_cut_order_and_duplication_of_a_flight_reassembles_to_the_same_messages()
    {
        var rng = new Random(20261122);
        for (var trial = 0; trial < 300; trial++)
        {
            var lengths = Enumerable.Range(0, rng.Next(1, 6)).Select(_ => rng.Next(0, 3000)).ToArray();
            var bodies = lengths.Select((l, i) => Body(l, trial * 10 + i)).ToArray();
            var fragments = new List<(HandshakeHeader H, byte[] Data)>();
            for (var seq = 0; seq < bodies.Length; seq++)
            {
                // Several independent cuttings of the same message (retransmissions may be re-cut).
                for (var cut = 0; cut < rng.Next(1, 4); cut++)
                {
                    var offset = 0;
                    do
                    {
                        var take = Math.Min(bodies[seq].Length - offset, rng.Next(1, 700));
                        fragments.Add((Header((ushort)seq, bodies[seq].Length, offset, take), bodies[seq].AsSpan(offset, take).ToArray()));
                        offset += take;
                    }
                    while (offset < bodies[seq].Length);
                }
            }

            var shuffled = fragments.OrderBy(_ => rng.Next()).ToList();
            var r = New();
            var delivered = new List<byte[]>();
            foreach (var (h, data) in shuffled)
            {
                var outcome = r.Add(h, data);
                Assert.True(outcome is FragmentOutcome.Accepted or FragmentOutcome.Old, $"trial {trial}: {outcome}");
                while (r.TryTakeNext(out var m))
                {
                    delivered.Add(m!.Body);
                }
            }

            Assert.Equal(bodies.Length, delivered.Count);
            for (var i = 0; i < bodies.Length; i++)
            {
                Assert.Equal(bodies[i], delivered[i]);
            }
        }
    }

    [Fact]
    public void Property_conflicting_overlaps_never_produce_a_message_the_sender_did_not_send()
    {
        var rng = new Random(7);
        for (var trial = 0; trial < 300; trial++)
        {
            var body = Body(rng.Next(50, 2000), trial);
            var fragments = new List<(HandshakeHeader H, byte[] Data)>();
            for (var i = 0; i < 12; i++)
            {
                var offset = rng.Next(0, body.Length);
                var take = rng.Next(1, body.Length - offset + 1);
                var data = body.AsSpan(offset, take).ToArray();
                if (rng.Next(3) == 0)
                {
                    data[rng.Next(data.Length)] ^= (byte)rng.Next(1, 256);
                }

                fragments.Add((Header(0, body.Length, offset, take), data));
            }

            fragments.Add((Header(0, body.Length, 0, body.Length), body));
            var r = New();
            foreach (var (h, data) in fragments.OrderBy(_ => rng.Next()))
            {
                r.Add(h, data);
                if (r.TryTakeNext(out var m))
                {
                    Assert.Equal(body, m!.Body);
                    break;
                }
            }
        }
    }
}
