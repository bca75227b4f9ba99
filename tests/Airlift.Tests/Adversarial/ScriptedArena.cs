using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Adversarial;

/// <summary>Where an attack by a scripted peer lands.</summary>
internal enum ScriptedAt
{
    /// <summary>A real server that sent flight 4 to a scripted client.</summary>
    ServerAwaitsFlight5,

    /// <summary>A real server that has the scripted client's Certificate, ClientKeyExchange and CertificateVerify.</summary>
    ServerAwaitsFinished,

    /// <summary>A real server connected to a scripted client.</summary>
    ServerConnected,

    /// <summary>A real client that sent flight 5 to a scripted server.</summary>
    ClientAwaitsFinished,

    /// <summary>A real client connected to a scripted server.</summary>
    ClientConnected,
}

/// <summary>A real endpoint facing a scripted peer that knows the session keys (see <see cref="ScriptedPeer"/>).</summary>
internal sealed class ScriptedArena
{
    private readonly byte[] _buffer = new byte[65535];

    private ScriptedArena(DtlsEndpoint target, ScriptedPeer peer, ScriptedAt stage)
    {
        Target = target;
        Peer = peer;
        Stage = stage;
    }

    public DtlsEndpoint Target { get; }

    public ScriptedPeer Peer { get; }

    public ScriptedClient Client => (ScriptedClient)Peer;

    public ScriptedServer Server => (ScriptedServer)Peer;

    public ScriptedAt Stage { get; }

    public TimeSpan Now { get; } = TimeSpan.FromSeconds(1);

    public List<DtlsEvent> Events { get; } = [];

    /// <summary>Genuine datagrams from the scripted peer that complete the handshake from this stage.</summary>
    public List<byte[]> Rest { get; private set; } = [];

    public static ScriptedArena Create(ScriptedAt stage, ulong seed = 1, Func<DtlsOptions, DtlsOptions>? client = null, Func<DtlsOptions, DtlsOptions>? server = null, bool withoutClientCertificate = false, byte[][]? serverChain = null)
    {
        if (stage <= ScriptedAt.ServerConnected)
        {
            // A real server that sent flight 4 to a real client, whose answer is never delivered.
            var real = DtlsArena.Create(At.ServerExpectClientCertificate, client, server, seed);
            var scripted = new ScriptedClient(real.Flight1, withoutCertificate: withoutClientCertificate);
            scripted.Answer(real.Flight4);
            var arena = new ScriptedArena(real.Link.Server, scripted, stage);
            var flight5 = scripted.GenuineFlight5();
            var deliver = stage switch
            {
                ScriptedAt.ServerAwaitsFlight5 => 0,
                ScriptedAt.ServerAwaitsFinished => flight5.Count - 1,
                _ => flight5.Count,
            };
            foreach (var datagram in flight5.Take(deliver))
            {
                var answer = arena.Feed([datagram]);
                if (stage == ScriptedAt.ServerConnected && datagram == flight5[^1])
                {
                    // Flight 6: the scripted client checks the server's Finished against its own transcript.
                    var finished = Assert.Single(scripted.Open(answer));
                    Assert.Equal(ContentType.Handshake, finished.Type);
                }
                else
                {
                    Assert.Empty(answer);
                }
            }

            arena.Rest = [.. flight5.Skip(deliver)];
            Assert.Equal(stage == ScriptedAt.ServerConnected ? DtlsState.Connected : DtlsState.Connecting, arena.Target.State);
            return arena;
        }

        {
            // A real client that sent its ClientHello; the real server's flight 4 only donates the certificate and hellos.
            var real = DtlsArena.Create(At.ClientExpectServerHello, client, server, seed);
            var scriptedServer = new ScriptedServer(real.Flight1, real.Flight4, chain: serverChain);
            var target = real.Link.Client;
            var arena = new ScriptedArena(target, scriptedServer, stage);
            var flight5 = arena.Feed(scriptedServer.Flight4());
            Assert.NotEmpty(flight5);
            scriptedServer.Answer(flight5);
            arena.Rest = [[.. scriptedServer.ChangeCipherSpec(), .. scriptedServer.SealedHandshake(scriptedServer.Finished!)]];
            if (stage == ScriptedAt.ClientConnected)
            {
                Assert.Empty(arena.Feed(arena.Rest));
                arena.Rest = [];
                Assert.Equal(DtlsState.Connected, target.State);
            }

            return arena;
        }
    }

    /// <summary>Feeds datagrams to the target and returns what it sent back; events are recorded.</summary>
    public List<byte[]> Feed(IEnumerable<byte[]> datagrams)
    {
        var answers = new List<byte[]>();
        foreach (var datagram in datagrams)
        {
            try
            {
                Target.HandleDatagram(Now, datagram);
            }
            catch (Exception e)
            {
                Assert.Fail($"an exception left the {Target.Role} endpoint (exception boundary): {e}\n{Target.Trace}");
            }

            answers.AddRange(Drain());
        }

        return answers;
    }

    public List<byte[]> Drain()
    {
        var datagrams = new List<byte[]>();
        while (true)
        {
            var output = Target.PollOutput(_buffer);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    datagrams.Add(_buffer[..output.DatagramLength]);
                    break;
                case DtlsOutputKind.Event:
                    Events.Add(output.Event!);
                    break;
                default:
                    return datagrams;
            }
        }
    }

    /// <summary>The keying material the scripted peer derives, to compare with the target's exporter.</summary>
    public byte[] PeerExport(int length)
    {
        var output = new byte[length];
        KeySchedule.Export(Peer.Suite!.PrfHash, Peer.Master!, Peer.ClientRandom, Peer.ServerRandom, "EXTRACTOR-dtls_srtp", null, output);
        return output;
    }
}

/// <summary>One row of the scripted-peer attack table.</summary>
internal sealed record ScriptedAttack(ScriptedAt Stage, Func<ScriptedArena, List<byte[]>> Build, Expect Expected, Func<DtlsOptions, DtlsOptions>? Client = null, Func<DtlsOptions, DtlsOptions>? Server = null, bool WithoutClientCertificate = false, Action<ScriptedArena>? Also = null, byte[][]? ServerChain = null)
{
    public void Run()
    {
        var arena = ScriptedArena.Create(Stage, client: Client, server: Server, withoutClientCertificate: WithoutClientCertificate, serverChain: ServerChain);
        var target = arena.Target;
        var attack = Build(arena);
        var before = DtlsAttack.Snapshot(target);
        var drops = DtlsAttack.DropCounters(target.Stats);

        var answers = arena.Feed(attack);

        var delta = DtlsAttack.DropCounters(target.Stats).Zip(drops, (a, b) => a - b).ToArray();
        switch (Expected)
        {
            case Dropped dropped:
                var want = new long[delta.Length];
                if (dropped.Counter != Counter.None)
                {
                    want[(int)dropped.Counter - 1] = dropped.Count;
                }

                Assert.True(want.SequenceEqual(delta), $"drop counters moved by [{string.Join(", ", delta)}], expected [{string.Join(", ", want)}]\n{target.Trace}");
                Assert.Empty(arena.Events.OfType<DtlsFailed>());
                Assert.Equal(before, DtlsAttack.Snapshot(target));
                Assert.Equal(dropped.Answers, answers.Count);
                ProveStillWorks(arena);
                break;

            case Completes:
                Assert.True(delta.All(d => d == 0), $"drop counters moved by [{string.Join(", ", delta)}]\n{target.Trace}");
                Assert.Empty(arena.Events.OfType<DtlsFailed>());
                ProveStillWorks(arena);
                break;

            case Fatal fatal:
                var failed = Assert.Single(arena.Events.OfType<DtlsFailed>());
                Assert.True(fatal.Reason == failed.Reason && fatal.Alert == failed.Alert, $"failed with {failed.Reason}/{failed.Alert} ({failed.Message}), expected {fatal.Reason}/{fatal.Alert}\n{target.Trace}");
                Assert.Equal(DtlsState.Failed, target.State);
                if (Stage is not (ScriptedAt.ServerConnected or ScriptedAt.ClientConnected))
                {
                    Assert.Empty(arena.Events.OfType<DtlsConnected>());
                    Assert.ThrowsAny<InvalidOperationException>(() => target.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 32));
                }

                if (fatal.AlertSent)
                {
                    var record = Assert.Single(WireEdit.Records(Assert.Single(answers)));
                    Assert.Equal(ContentType.Alert, record.Type);
                    var plaintext = record.Epoch == 0 ? record.Fragment : Assert.Single(arena.Peer.Open(answers)).Plaintext;
                    Assert.Equal(new byte[] { (byte)AlertLevel.Fatal, (byte)fatal.Alert }, plaintext);
                }
                else
                {
                    Assert.Empty(answers);
                }

                // Silent from now on, whatever arrives.
                target.HandleTimeout(arena.Now + TimeSpan.FromMinutes(5));
                Assert.Empty(arena.Drain());
                Assert.Empty(arena.Feed(arena.Rest.Count > 0 ? arena.Rest : attack));
                break;

            default:
                throw new InvalidOperationException($"unsupported expectation {Expected}");
        }

        Assert.Equal(0, target.Stats.InternalErrors);
        Also?.Invoke(arena);
    }

    private static void ProveStillWorks(ScriptedArena arena)
    {
        var target = arena.Target;
        if (target.State == DtlsState.Connecting)
        {
            arena.Feed(arena.Rest);
            Assert.True(target.State == DtlsState.Connected, $"the genuine handshake did not complete after the attack\n{target.Trace}");
            Assert.Equal(arena.PeerExport(30), target.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 30));
            return;
        }

        Assert.Empty(arena.Feed([arena.Peer.Sealed(ContentType.ApplicationData, "from the peer"u8)]));
        Assert.Contains(arena.Events.OfType<DtlsApplicationData>(), d => d.Data.AsSpan().SequenceEqual("from the peer"u8));
        target.Send("from the target"u8);
        var (type, plaintext) = Assert.Single(arena.Peer.Open(arena.Drain()));
        Assert.Equal(ContentType.ApplicationData, type);
        Assert.Equal("from the target"u8.ToArray(), plaintext);
    }
}
