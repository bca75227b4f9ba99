using Airlift.Dtls;
using Airlift.NetEm;

namespace Airlift.Tests.NetEm;

public class NetworkEmulatorTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    private static NetEmOptions Busy(ulong seed) => new(
        new LinkImpairment
        {
            LossRate = 0.1,
            Burst = new BurstLoss(0.05, 0.3),
            Delay = 20 * Ms,
            Jitter = 10 * Ms,
            ReorderRate = 0.1,
            ReorderDelay = 15 * Ms,
            DuplicateRate = 0.05,
            MaxDatagramSize = 1400,
        },
        new LinkImpairment { LossRate = 0.2, Delay = 5 * Ms, Jitter = 5 * Ms, DuplicateRate = 0.1 },
        [],
        seed);

    /// <summary>Sends <paramref name="count"/> datagrams alternating directions, 1 ms apart, draining as it goes.</summary>
    private static (List<NetEmTraceEntry> Trace, List<NetEmDelivery> Deliveries, NetEmStats Stats) Run(NetEmOptions options, int count)
    {
        var emulator = new NetworkEmulator(options with { MaxTraceEntries = count });
        var deliveries = new List<NetEmDelivery>();
        var now = TimeSpan.Zero;
        for (var i = 0; i < count; i++)
        {
            now = i * Ms;
            var direction = i % 2 == 0 ? LinkDirection.ClientToServer : LinkDirection.ServerToClient;
            emulator.Send(now, direction, new byte[100 + (i * 7 % 1500)]);
            while (emulator.TryReceive(now, out var d))
            {
                deliveries.Add(d);
            }
        }

        Drain(emulator, deliveries);
        return ([.. emulator.Trace], deliveries, emulator.Stats);
    }

    private static void Drain(NetworkEmulator emulator, List<NetEmDelivery> into)
    {
        for (var guard = 0; guard < 1_000_000 && emulator.NextDeliveryTime is { } next; guard++)
        {
            while (emulator.TryReceive(next, out var d))
            {
                into.Add(d);
            }
        }

        Assert.Null(emulator.NextDeliveryTime);
    }

    private static List<NetEmFate> Fates(NetworkEmulator emulator, LinkDirection direction) =>
        [.. emulator.Trace.Where(t => t.Direction == direction).Select(t => t.Fate)];

    [Fact]
    public void Same_seed_and_inputs_give_the_same_trace_and_deliveries()
    {
        var a = Run(Busy(42), 2000);
        var b = Run(Busy(42), 2000);

        Assert.Equal(a.Trace, b.Trace);
        Assert.Equal(a.Stats, b.Stats);
        Assert.Equal(
            a.Deliveries.Select(d => (d.Direction, d.Datagram.Length, d.SentAt, d.DeliverAt)),
            b.Deliveries.Select(d => (d.Direction, d.Datagram.Length, d.SentAt, d.DeliverAt)));
    }

    [Fact]
    public void Different_seed_gives_different_fates()
    {
        var a = Run(Busy(42), 2000);
        var b = Run(Busy(43), 2000);

        Assert.NotEqual(a.Trace.Select(t => t.Fate), b.Trace.Select(t => t.Fate));
        Assert.NotEqual(a.Trace.Select(t => t.DeliverAt), b.Trace.Select(t => t.DeliverAt));
    }

    [Fact]
    public void Traffic_in_one_direction_does_not_change_the_fates_of_the_other()
    {
        var options = Busy(7) with { MaxTraceEntries = 10_000 };
        var alone = new NetworkEmulator(options);
        var mixed = new NetworkEmulator(options);
        for (var i = 0; i < 500; i++)
        {
            alone.Send(i * Ms, LinkDirection.ClientToServer, new byte[200]);
            mixed.Send(i * Ms, LinkDirection.ServerToClient, new byte[300]);
            mixed.Send(i * Ms, LinkDirection.ServerToClient, new byte[300]);
            mixed.Send(i * Ms, LinkDirection.ClientToServer, new byte[200]);
        }

        Assert.Equal(Fates(alone, LinkDirection.ClientToServer), Fates(mixed, LinkDirection.ClientToServer));
    }

    [Fact]
    public void A_drop_for_one_reason_does_not_shift_the_random_fates_of_later_datagrams()
    {
        // Every datagram draws the same number of values, so making datagram 0 oversize (or not) leaves
        // the loss fates of datagrams 1.. unchanged.
        var options = new NetEmOptions(new LinkImpairment { LossRate = 0.3, MaxDatagramSize = 1000 }, LinkImpairment.None, [], 5);
        var small = new NetworkEmulator(options);
        var big = new NetworkEmulator(options);
        small.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[10]);
        big.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[2000]);
        for (var i = 1; i < 300; i++)
        {
            small.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[10]);
            big.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[10]);
        }

        Assert.Equal(NetEmFate.DroppedOversize, big.Trace[0].Fate);
        Assert.Equal(Fates(small, LinkDirection.ClientToServer).Skip(1), Fates(big, LinkDirection.ClientToServer).Skip(1));
    }

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.10)]
    [InlineData(0.20)]
    public void Independent_loss_rate_over_10k_datagrams_is_within_tolerance(double rate)
    {
        var emulator = new NetworkEmulator(NetEmPresets.F2DownlinkLoss(rate) with { Seed = 1234 });
        for (var i = 0; i < 10_000; i++)
        {
            emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[100]);
            emulator.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[100]);
            while (emulator.TryReceive(TimeSpan.Zero, out _))
            {
            }
        }

        var down = emulator.Stats.ServerToClient;
        var up = emulator.Stats.ClientToServer;
        Assert.InRange(down.DroppedLoss / 10_000.0, rate - 0.015, rate + 0.015);
        Assert.Equal(0, up.Dropped); // F2: the uplink is clean
        Assert.Equal(10_000 - down.DroppedLoss, down.Delivered);
    }

    [Fact]
    public void Gilbert_Elliott_loss_comes_in_runs_and_matches_its_stationary_rate()
    {
        var burst = new BurstLoss(pGoodToBad: 0.02, pBadToGood: 0.25); // mean burst 4, ~7.4% loss
        var bursty = new NetworkEmulator(new NetEmOptions(new LinkImpairment { Burst = burst }, LinkImpairment.None, [], 99) { MaxTraceEntries = 20_000 });
        var random = new NetworkEmulator(new NetEmOptions(new LinkImpairment { LossRate = burst.AverageLossRate }, LinkImpairment.None, [], 99) { MaxTraceEntries = 20_000 });
        for (var i = 0; i < 20_000; i++)
        {
            bursty.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[10]);
            random.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[10]);
        }

        static double MeanRun(NetworkEmulator e)
        {
            var runs = new List<int>();
            var current = 0;
            foreach (var entry in e.Trace)
            {
                if (entry.Fate != NetEmFate.Forwarded)
                {
                    current++;
                }
                else if (current > 0)
                {
                    runs.Add(current);
                    current = 0;
                }
            }

            return runs.Average();
        }

        Assert.InRange(bursty.Stats.ClientToServer.DroppedBurst / 20_000.0, burst.AverageLossRate - 0.02, burst.AverageLossRate + 0.02);
        Assert.InRange(MeanRun(bursty), 3.0, 5.0);
        Assert.InRange(MeanRun(random), 1.0, 1.2);
        Assert.Equal(0, bursty.Stats.ClientToServer.DroppedLoss);
    }

    [Fact]
    public void Max_datagram_size_drops_exactly_the_oversize_datagrams_F1()
    {
        var emulator = new NetworkEmulator(NetEmPresets.F1PathMtu);
        var deliveries = new List<NetEmDelivery>();
        var sizes = new[] { 1, 100, 1200, 1463, 1464, 1465, 1474, 1499, 3000, 9000 };
        foreach (var size in sizes)
        {
            emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[size]);
            emulator.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[size]);
        }

        Drain(emulator, deliveries);
        foreach (var direction in new[] { LinkDirection.ClientToServer, LinkDirection.ServerToClient })
        {
            var stats = emulator.Stats.For(direction);
            Assert.Equal(5, stats.DroppedOversize);
            Assert.Equal(5, stats.Delivered);
            Assert.Equal(9000, stats.LargestSeen);
            Assert.Equal(1464, stats.LargestDelivered);
            Assert.Equal(sizes.Where(s => s <= 1464), deliveries.Where(d => d.Direction == direction).Select(d => d.Datagram.Length));
        }
    }

    [Fact]
    public void Delay_and_jitter_stay_within_bounds_and_actually_vary()
    {
        var options = new NetEmOptions(new LinkImpairment { Delay = 50 * Ms, Jitter = 10 * Ms }, new LinkImpairment { Jitter = 10 * Ms }, [], 3);
        var emulator = new NetworkEmulator(options);
        var deliveries = new List<NetEmDelivery>();
        for (var i = 0; i < 1000; i++)
        {
            emulator.Send(i * Ms, LinkDirection.ClientToServer, new byte[10]);
            emulator.Send(i * Ms, LinkDirection.ServerToClient, new byte[10]);
        }

        Drain(emulator, deliveries);
        var up = deliveries.Where(d => d.Direction == LinkDirection.ClientToServer).Select(d => d.DeliverAt - d.SentAt).ToList();
        var down = deliveries.Where(d => d.Direction == LinkDirection.ServerToClient).Select(d => d.DeliverAt - d.SentAt).ToList();
        Assert.All(up, l => Assert.InRange(l, 40 * Ms, 60 * Ms));
        Assert.True(up.Min() < 42 * Ms && up.Max() > 58 * Ms);
        Assert.All(down, l => Assert.InRange(l, TimeSpan.Zero, 10 * Ms)); // never delivered before it was sent
    }

    [Fact]
    public void Nothing_is_delivered_before_its_time_and_NextDeliveryTime_says_when()
    {
        var emulator = new NetworkEmulator(NetEmOptions.None with { ClientToServer = new LinkImpairment { Delay = 30 * Ms } });
        Assert.Null(emulator.NextDeliveryTime);
        emulator.Send(10 * Ms, LinkDirection.ClientToServer, [1, 2, 3]);

        Assert.Equal(40 * Ms, emulator.NextDeliveryTime);
        Assert.False(emulator.TryReceive(39 * Ms, out _));
        Assert.True(emulator.TryReceive(40 * Ms, out var d));
        Assert.Equal(new byte[] { 1, 2, 3 }, d.Datagram);
        Assert.Equal((10 * Ms, 40 * Ms), (d.SentAt, d.DeliverAt));
        Assert.Null(emulator.NextDeliveryTime);
    }

    [Fact]
    public void Datagrams_due_at_the_same_time_come_out_in_send_order()
    {
        var emulator = new NetworkEmulator(NetEmOptions.None);
        var input = new byte[]
        {
            1, 2, 3, 4, 5, 6, 7, 8,
        };
        foreach (var b in input)
        {
            emulator.Send(TimeSpan.Zero, b % 2 == 0 ? LinkDirection.ServerToClient : LinkDirection.ClientToServer, [b]);
        }

        var output = new List<byte>();
        while (emulator.TryReceive(TimeSpan.Zero, out var d))
        {
            output.Add(d.Datagram[0]);
        }

        Assert.Equal(input, output);
    }

    [Fact]
    public void Reordering_lets_later_datagrams_overtake_and_is_counted()
    {
        var options = NetEmOptions.None with { ClientToServer = new LinkImpairment { ReorderRate = 0.2, ReorderDelay = 5 * Ms }, Seed = 11 };
        var emulator = new NetworkEmulator(options);
        var deliveries = new List<NetEmDelivery>();
        for (var i = 0; i < 1000; i++)
        {
            emulator.Send(i * Ms, LinkDirection.ClientToServer, BitConverter.GetBytes(i));
        }

        Drain(emulator, deliveries);
        var order = deliveries.Select(d => BitConverter.ToInt32(d.Datagram)).ToList();
        Assert.Equal(1000, order.Count);
        Assert.NotEqual(Enumerable.Range(0, 1000), order);
        Assert.Equal(Enumerable.Range(0, 1000), order.Order());
        var reordered = emulator.Stats.ClientToServer.Reordered;
        Assert.InRange(reordered, 150, 250);
        Assert.Equal(reordered, emulator.Trace.Count(t => t.Reordered));
    }

    [Fact]
    public void Duplication_delivers_extra_copies_and_counts_them()
    {
        var options = NetEmOptions.None with { ServerToClient = new LinkImpairment { DuplicateRate = 0.25, Jitter = 2 * Ms }, Seed = 8 };
        var emulator = new NetworkEmulator(options);
        var deliveries = new List<NetEmDelivery>();
        for (var i = 0; i < 2000; i++)
        {
            emulator.Send(i * Ms, LinkDirection.ServerToClient, BitConverter.GetBytes(i));
        }

        Drain(emulator, deliveries);
        var stats = emulator.Stats.ServerToClient;
        Assert.InRange(stats.Duplicated, 420, 580);
        Assert.Equal(stats.Seen + stats.Duplicated, stats.Delivered);
        Assert.Equal(stats.Delivered, deliveries.Count);
        Assert.Equal(stats.Duplicated, deliveries.GroupBy(d => BitConverter.ToInt32(d.Datagram)).Count(g => g.Count() == 2));
        Assert.All(deliveries.GroupBy(d => BitConverter.ToInt32(d.Datagram)).Where(g => g.Count() == 2), g => Assert.NotSame(g.First().Datagram, g.Last().Datagram));
    }

    [Fact]
    public void Scripted_drop_of_the_first_two_ServerHello_datagrams_spares_everything_else()
    {
        var options = NetEmOptions.None with
        {
            ScriptedDrops = [ScriptedDrop.FirstWithHandshake(LinkDirection.ServerToClient, HandshakeType.ServerHello, 2)],
        };
        var emulator = new NetworkEmulator(options);
        var s2c = LinkDirection.ServerToClient;
        var c2s = LinkDirection.ClientToServer;

        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, c2s, SyntheticDtls.ClientHello()));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.ApplicationData()));
        Assert.Equal(NetEmFate.DroppedScripted, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.ServerHelloFlight(1)));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, c2s, SyntheticDtls.ClientHello(1)));
        Assert.Equal(NetEmFate.DroppedScripted, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.ServerHelloFlight(5)));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.ServerHelloFlight(9)));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.FinalFlight()));

        Assert.Equal(2, emulator.Stats.ServerToClient.DroppedScripted);
        Assert.Equal(0, emulator.Stats.ClientToServer.Dropped);
        Assert.Equal("SH CERT SKE SHD", emulator.Trace[2].Description);
    }

    [Fact]
    public void Scripted_final_flight_drop_matches_ChangeCipherSpec_or_epoch1_handshake_F2()
    {
        var options = NetEmOptions.None with
        {
            ScriptedDrops = [ScriptedDrop.FinalFlight(LinkDirection.ServerToClient, 2)],
        };
        var emulator = new NetworkEmulator(options);
        var s2c = LinkDirection.ServerToClient;
        var encryptedFinishedAlone = SyntheticDtls.Record(22, 1, 3, new byte[40]);

        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.ServerHelloFlight()));
        Assert.Equal(NetEmFate.DroppedScripted, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.FinalFlight()));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.ApplicationData()));
        Assert.Equal(NetEmFate.DroppedScripted, emulator.Send(TimeSpan.Zero, s2c, encryptedFinishedAlone));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, s2c, SyntheticDtls.FinalFlight())); // budget spent
        Assert.Equal("CCS FIN", emulator.Trace[1].Description);
    }

    [Fact]
    public void DropNth_and_DropRange_drop_by_datagram_index_per_direction()
    {
        var options = NetEmOptions.None with
        {
            ScriptedDrops =
            [
                ScriptedDrop.DropNth(LinkDirection.ClientToServer, 1),
                ScriptedDrop.DropRange(LinkDirection.ServerToClient, 2, 3),
            ],
        };
        var emulator = new NetworkEmulator(options);
        for (var i = 0; i < 8; i++)
        {
            emulator.Send(TimeSpan.Zero, LinkDirection.ClientToServer, [0]);
            emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, [0]);
        }

        Assert.Equal([1L], emulator.Trace.Where(t => t.Direction == LinkDirection.ClientToServer && t.Fate == NetEmFate.DroppedScripted).Select(t => t.Index));
        Assert.Equal([2L, 3L, 4L], emulator.Trace.Where(t => t.Direction == LinkDirection.ServerToClient && t.Fate == NetEmFate.DroppedScripted).Select(t => t.Index));
    }

    [Fact]
    public void One_way_blackhole_drops_every_server_datagram_and_no_client_datagram_F3()
    {
        var emulator = new NetworkEmulator(NetEmPresets.F3OneWay);
        for (var i = 0; i < 141; i++)
        {
            emulator.Send(i * Ms, LinkDirection.ClientToServer, new byte[100]);
            emulator.Send(i * Ms, LinkDirection.ServerToClient, new byte[100]);
        }

        var deliveries = new List<NetEmDelivery>();
        Drain(emulator, deliveries);
        Assert.Equal(141, emulator.Stats.ServerToClient.DroppedBlackhole);
        Assert.Equal(0, emulator.Stats.ServerToClient.Delivered);
        Assert.Equal(141, emulator.Stats.ClientToServer.Delivered);
        Assert.All(deliveries, d => Assert.Equal(LinkDirection.ClientToServer, d.Direction));
    }

    [Fact]
    public void Queue_cap_drops_and_counts_what_does_not_fit_then_frees_room_on_delivery()
    {
        var options = NetEmOptions.None with
        {
            ClientToServer = new LinkImpairment { Delay = TimeSpan.FromSeconds(1) },
            MaxQueuedDatagrams = 10,
        };
        var emulator = new NetworkEmulator(options);
        var fates = Enumerable.Range(0, 15).Select(_ => emulator.Send(TimeSpan.Zero, LinkDirection.ClientToServer, new byte[10])).ToList();

        Assert.Equal(10, fates.Count(f => f == NetEmFate.Forwarded));
        Assert.Equal(5, emulator.Stats.ClientToServer.DroppedQueueFull);
        Assert.Equal(10, emulator.Stats.QueuedDatagrams);
        Assert.Equal(100, emulator.Stats.QueuedBytes);

        Assert.True(emulator.TryReceive(TimeSpan.FromSeconds(1), out _));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.FromSeconds(1), LinkDirection.ClientToServer, new byte[10]));
    }

    [Fact]
    public void Queue_byte_cap_is_enforced_too()
    {
        var options = NetEmOptions.None with { ServerToClient = new LinkImpairment { Delay = 10 * Ms }, MaxQueuedBytes = 3000 };
        var emulator = new NetworkEmulator(options);
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[1500]));
        Assert.Equal(NetEmFate.Forwarded, emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[1500]));
        Assert.Equal(NetEmFate.DroppedQueueFull, emulator.Send(TimeSpan.Zero, LinkDirection.ServerToClient, new byte[1]));
    }

    [Fact]
    public void Trace_is_bounded_and_counts_what_it_left_out()
    {
        var emulator = new NetworkEmulator(NetEmOptions.None with { MaxTraceEntries = 5 });
        for (var i = 0; i < 12; i++)
        {
            emulator.Send(TimeSpan.Zero, LinkDirection.ClientToServer, [0x16]);
        }

        Assert.Equal(5, emulator.Trace.Count);
        Assert.Equal(7, emulator.Stats.TraceEntriesOmitted);
        Assert.Equal(12, emulator.Stats.ClientToServer.Seen);
    }

    [Fact]
    public void Trace_lines_read_as_a_ladder()
    {
        var options = NetEmOptions.None with
        {
            ClientToServer = new LinkImpairment { Delay = 20 * Ms },
            ServerToClient = new LinkImpairment { MaxDatagramSize = 200 },
        };
        var emulator = new NetworkEmulator(options);
        emulator.Send(12 * Ms, LinkDirection.ClientToServer, SyntheticDtls.ClientHello());
        emulator.Send(13 * Ms, LinkDirection.ServerToClient, SyntheticDtls.ServerHelloFlight());

        Assert.Equal("   12.000 ms  C->S #0    175 B  CH  -> 32.000 ms", emulator.Trace[0].ToString());
        Assert.Equal("   13.000 ms  S->C #0    570 B  SH CERT SKE SHD  x DroppedOversize", emulator.Trace[1].ToString());
    }

    [Fact]
    public void Options_reject_out_of_range_values_with_argument_exceptions()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinkImpairment { LossRate = 1.5 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinkImpairment { DuplicateRate = double.NaN });
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinkImpairment { MaxDatagramSize = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinkImpairment { Delay = TimeSpan.FromMilliseconds(-1) });
        Assert.Throws<ArgumentOutOfRangeException>(() => LinkImpairment.None with { Jitter = TimeSpan.FromDays(2) });
        Assert.Throws<ArgumentOutOfRangeException>(() => new BurstLoss(0.1, 1.1));
        Assert.Throws<ArgumentException>(() => new LinkImpairment { ReorderRate = 0.1 }.Validate());
        Assert.Throws<ArgumentException>(() => new NetworkEmulator(NetEmOptions.None with { MaxQueuedDatagrams = 0 }));
        Assert.Throws<ArgumentException>(() => new NetworkEmulator(NetEmOptions.None with { ScriptedDrops = [new ScriptedDrop(LinkDirection.ClientToServer, 2, 0)] }));
        Assert.Throws<ArgumentException>(() => new NetworkEmulator(NetEmOptions.None with { ClientToServer = null! }));
    }
}
