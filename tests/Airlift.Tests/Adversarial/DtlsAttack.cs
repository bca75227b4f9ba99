using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>What an attack feeds the target, and the genuine datagrams that follow it (default: the arena's rest).</summary>
internal sealed record Injection(List<byte[]> Datagrams, List<byte[]>? Follow = null)
{
    public static implicit operator Injection(byte[] datagram) => new([datagram]);

    public static implicit operator Injection(List<byte[]> datagrams) => new(datagrams);
}

/// <summary>One row of an attack table: where it lands, how it is built, what must happen.</summary>
internal sealed record DtlsAttack(At Stage, Func<DtlsArena, Injection> Build, Expect Expected, Func<DtlsOptions, DtlsOptions>? Client = null, Func<DtlsOptions, DtlsOptions>? Server = null)
{
    /// <summary>Builds the arena, feeds the attack, and asserts the expected outcome and that nothing else broke.</summary>
    public void Run()
    {
        var arena = DtlsArena.Create(Stage, Client, Server);
        var injection = Build(arena);
        Verify(arena, injection, Expected);
    }

    public static void Verify(DtlsArena arena, Injection injection, Expect expected)
    {
        var target = arena.Target;
        var link = arena.Link;
        var before = Snapshot(target);
        var drops = DropCounters(target.Stats);

        var answers = FeedSafely(link, target, injection.Datagrams);

        var delta = DropCounters(target.Stats).Zip(drops, (a, b) => a - b).ToArray();
        var trace = $"\n--- target\n{target.Trace}--- peer\n{arena.Peer.Trace}";
        switch (expected)
        {
            case Dropped dropped:
                var want = new long[delta.Length];
                if (dropped.Counter != Counter.None)
                {
                    want[(int)dropped.Counter - 1] = dropped.Count;
                }

                if (dropped.AtLeast)
                {
                    Assert.True(delta[(int)dropped.Counter - 1] >= dropped.Count, $"{dropped.Counter} rose by {delta[(int)dropped.Counter - 1]}, expected >= {dropped.Count}{trace}");
                    delta[(int)dropped.Counter - 1] = want[(int)dropped.Counter - 1];
                }

                Assert.True(want.SequenceEqual(delta), $"drop counters moved by [{string.Join(", ", delta)}], expected [{string.Join(", ", want)}] (Malformed, BadRecordMac, Replay, Epoch, HandshakeFragments, Unexpected){trace}");
                Assert.Empty(link.EventsOf(target).OfType<DtlsFailed>());
                if (dropped.Buffered)
                {
                    var now = Snapshot(target);
                    Assert.Equal((before.Item1, before.Item2, before.Item3), (now.Item1, now.Item2, now.Item3));
                    Assert.InRange(target.Engine.Reassembler.BufferedBytes, 0, target.Engine.Options.MaxBufferedHandshakeBytes);
                }
                else
                {
                    Assert.Equal(before, Snapshot(target));
                }

                Assert.True(dropped.Answers == answers.Count, $"target answered with {answers.Count} datagrams, expected {dropped.Answers}{trace}");
                FeedSafely(link, arena.Peer, answers);
                Assert.Empty(link.EventsOf(arena.Peer).OfType<DtlsFailed>());
                ProveStillWorks(arena, injection);
                break;

            case Completes:
                Assert.True(delta.All(d => d == 0), $"drop counters moved by [{string.Join(", ", delta)}]{trace}");
                Assert.Empty(link.EventsOf(target).OfType<DtlsFailed>());
                link.Send(!arena.TargetIsServer, answers);
                ProveStillWorks(arena, injection);
                break;

            case Fatal fatal:
                var failed = Assert.Single(link.EventsOf(target).OfType<DtlsFailed>());
                Assert.True(fatal.Reason == failed.Reason && fatal.Alert == failed.Alert, $"failed with {failed.Reason}/{failed.Alert} ({failed.Message}), expected {fatal.Reason}/{fatal.Alert}{trace}");
                if (arena.Stage is At.ClientConnected or At.ServerConnected)
                {
                    Assert.Equal(DtlsState.Failed, target.State);
                }
                else
                {
                    AssertNeverConnected(target, link);
                }

                if (fatal.AlertSent)
                {
                    var alert = Assert.Single(answers);
                    var record = Assert.Single(WireEdit.Records(alert));
                    Assert.Equal(ContentType.Alert, record.Type);
                    if (record.Epoch == 0)
                    {
                        Assert.Equal(new byte[] { (byte)AlertLevel.Fatal, (byte)fatal.Alert }, record.Fragment);
                    }

                    // The peer reads it (protected or not) as that fatal alert.
                    if (arena.Peer.State is DtlsState.Connecting or DtlsState.Connected)
                    {
                        FeedSafely(link, arena.Peer, answers);
                        var peerFailed = Assert.Single(link.EventsOf(arena.Peer).OfType<DtlsFailed>());
                        Assert.Equal(DtlsFailureReason.PeerAlert, peerFailed.Reason);
                        Assert.Equal(fatal.Alert, peerFailed.Alert);
                    }
                }
                else
                {
                    Assert.Empty(answers);
                }

                AssertSilentAfterTheEnd(arena);
                break;

            case ClosedByPeer closed:
                Assert.Equal(DtlsState.Closed, target.State);
                Assert.Equal(new DtlsClosed(ByPeer: true), Assert.Single(link.EventsOf(target).OfType<DtlsClosed>()));
                Assert.Empty(link.EventsOf(target).OfType<DtlsFailed>());
                Assert.Equal(closed.Answers, answers.Count);
                AssertSilentAfterTheEnd(arena);
                break;

            default:
                throw new InvalidOperationException($"unknown expectation {expected}");
        }

        // The exception boundary is a last resort: no hostile input may need it.
        Assert.Equal(0, target.Stats.InternalErrors);
        Assert.Equal(0, arena.Peer.Stats.InternalErrors);
    }

    /// <summary>Feeds datagrams one by one; an exception out of HandleDatagram or PollOutput is a failure of the boundary, reported as such.</summary>
    public static List<byte[]> FeedSafely(VirtualLink link, DtlsEndpoint endpoint, IEnumerable<byte[]> datagrams)
    {
        try
        {
            return link.Feed(endpoint, datagrams);
        }
        catch (Exception e)
        {
            Assert.Fail($"an exception left the {endpoint.Role} endpoint (exception boundary): {e}\n{endpoint.Trace}");
            throw;
        }
    }

    public static void AssertNeverConnected(DtlsEndpoint target, VirtualLink link)
    {
        Assert.Equal(DtlsState.Failed, target.State);
        Assert.Empty(link.EventsOf(target).OfType<DtlsConnected>());
        Assert.Empty(link.EventsOf(target).OfType<DtlsKeyingMaterial>());
        Assert.ThrowsAny<InvalidOperationException>(() => target.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 32));
    }

    /// <summary>A finished target sends nothing more: not on its timers, not for the genuine flight, and counts what it drops.</summary>
    private static void AssertSilentAfterTheEnd(DtlsArena arena)
    {
        var target = arena.Target;
        var received = target.Stats.DatagramsReceived;
        target.HandleTimeout(arena.Link.Now + TimeSpan.FromMinutes(5));
        Assert.Empty(arena.Link.Poll(target));
        var rest = arena.Rest.Count > 0 ? arena.Rest : arena.Flight1;
        Assert.Empty(FeedSafely(arena.Link, target, rest));
        Assert.Equal(received + rest.Count, target.Stats.DatagramsReceived);
    }

    private static void ProveStillWorks(DtlsArena arena, Injection injection)
    {
        var link = arena.Link;
        var target = arena.Target;
        var toServer = arena.TargetIsServer;
        if (target.State == DtlsState.Connecting)
        {
            link.Send(toServer, injection.Follow ?? arena.Rest);
            link.Drive(l => l.BothConnected, 5_000);
            Assert.True(link.BothConnected, $"the genuine handshake did not complete after the attack\n--- target\n{target.Trace}--- peer\n{arena.Peer.Trace}");
            Assert.Equal(target.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 30), arena.Peer.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 30));
            return;
        }

        if (injection.Follow is { } follow)
        {
            link.Send(toServer, follow);
        }

        // Connected: protected data still flows both ways.
        arena.Peer.Send("from the peer"u8);
        target.Send("from the target"u8);
        link.Pump();
        link.Drive(l => Received(l, target, "from the peer") && Received(l, arena.Peer, "from the target"), 200);
        Assert.True(link.BothConnected);
        Assert.True(Received(link, target, "from the peer"), "the target no longer receives data");
        Assert.True(Received(link, arena.Peer, "from the target"), "the peer no longer receives data");
    }

    internal static bool Received(VirtualLink link, DtlsEndpoint endpoint, string text) =>
        link.EventsOf(endpoint).OfType<DtlsApplicationData>().Any(d => d.Data.AsSpan().SequenceEqual(System.Text.Encoding.ASCII.GetBytes(text)));

    internal static (DtlsState, Airlift.Dtls.Handshake.FlightState, ushort, int) Snapshot(DtlsEndpoint e) =>
        (e.State, e.Engine.FlightState, e.Engine.Reassembler.NextSeq, e.Engine.Reassembler.BufferedBytes);

    internal static long[] DropCounters(DtlsStats s) =>
        [s.DroppedMalformed, s.DroppedBadRecordMac, s.DroppedReplay, s.DroppedEpoch, s.DroppedHandshakeFragments, s.DroppedUnexpected];
}
