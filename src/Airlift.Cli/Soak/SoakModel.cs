namespace Airlift.Cli.Soak;

/// <summary>What a soak client does after its handshake (or during it).</summary>
internal enum SoakClientMode
{
    /// <summary>Connects, echoes, sends close_notify.</summary>
    Close,

    /// <summary>Connects, echoes, then disappears without a word (the server must time the session out).</summary>
    Vanish,

    /// <summary>Disappears in the middle of the handshake, once the server's first flight arrived (the server's handshake must time out).</summary>
    Abandon,
}

/// <summary>How one soak handshake ended.</summary>
internal enum SoakOutcome
{
    /// <summary>Reached Connected within the deadline.</summary>
    Connected,

    /// <summary>Ended with a typed failure (the reason says which) within the deadline.</summary>
    Failed,

    /// <summary>The client left on purpose (<see cref="SoakClientMode.Abandon"/>).</summary>
    Abandoned,

    /// <summary>Neither connected nor failed by the deadline plus the grace: the bug the soak hunts.</summary>
    Stuck,
}

/// <summary>The settings of one soak run (the command line, parsed and checked).</summary>
internal sealed record SoakSettings
{
    /// <summary>Handshakes to run.</summary>
    public int Handshakes { get; init; } = 10_000;

    /// <summary>Clients in flight at once.</summary>
    public int Concurrency { get; init; } = 64;

    /// <summary>Random loss in percent, each direction.</summary>
    public double LossPercent { get; init; } = 20;

    /// <summary>One-way delay added by the proxy, each direction.</summary>
    public double DelayMs { get; init; }

    /// <summary>Maximum datagram size of both sides.</summary>
    public int Mtu { get; init; } = 1200;

    /// <summary>Handshake deadline (both sides' handshake timeout).</summary>
    public double DeadlineSeconds { get; init; } = 10;

    /// <summary>Idle time after the last handshake, sampled, before the final judgement.</summary>
    public double IdleSeconds { get; init; } = 60;

    /// <summary>Seed of the proxy's impairments and of the client mix.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Output directory.</summary>
    public string OutDirectory { get; init; } = "soak-report";

    /// <summary>Server certificate: "ecdsa" (P-256) or "rsa-chain" (the 2.7 KB chain of F1/F4).</summary>
    public string Certificate { get; init; } = "ecdsa";

    /// <summary>Loss-free handshakes straight to the server (no proxy), all closed cleanly, before the baseline sample: the
    /// memory a server needs to have run handshakes at all (JIT, crypto providers, pools) is not a leak.</summary>
    public int Warmup { get; init; } = 100;

    /// <summary>Percent of clients that vanish after their echo instead of closing.</summary>
    public int VanishPercent { get; init; } = 20;

    /// <summary>Percent of clients that vanish in the middle of their handshake.</summary>
    public int AbandonPercent { get; init; } = 5;

    /// <summary>
    /// The server's session limit (and its per-address limit: every soak client comes from 127.0.0.1). Above what the
    /// clients can make the server hold at once (in flight, plus vanished ones until the server's idle timeout), so the
    /// soak measures leaks and stuck states rather than the limit; a leak still shows as sessions left after idle.
    /// </summary>
    public int ServerMaxSessions { get; init; } = 4096;

    /// <summary>
    /// Each of the <see cref="Concurrency"/> client slots keeps one local port for all its clients, so every handshake
    /// restarts on the address of the slot's previous client while the server may still hold its session (RFC 6347 4.2.8).
    /// </summary>
    public bool ReusePorts { get; init; }

    /// <summary>The server's idle timeout of connected sessions in seconds; null for the library's default.</summary>
    public double? ServerIdleSeconds { get; init; }

    /// <summary>How far above the baseline the managed heap may end after idle (forced collection both times).</summary>
    public double HeapToleranceMb { get; init; } = 4;

    /// <summary>How far above the baseline the server's RSS may end after idle.</summary>
    public double RssToleranceMb { get; init; } = 48;

    /// <summary>How many file descriptors above the baseline the server may hold after idle.</summary>
    public int FdSlack { get; init; } = 2;

    /// <summary>The command line as typed (for the report).</summary>
    public string CommandLine { get; init; } = "airlift soak";

    /// <summary>Extra time past the deadline before a handshake that neither connected nor failed counts as stuck.</summary>
    public TimeSpan Grace => TimeSpan.FromSeconds(Math.Max(2, DeadlineSeconds * 0.2));

    /// <summary>
    /// How long the proxy keeps a client's path (its upstream socket, so the server sees the same address) after the
    /// client's last datagram: longer than any silence inside a handshake.
    /// </summary>
    public TimeSpan ProxyClientIdleTimeout => Deadline + Grace + TimeSpan.FromSeconds(5);

    /// <summary>The handshake deadline.</summary>
    public TimeSpan Deadline => TimeSpan.FromSeconds(DeadlineSeconds);

    /// <summary>Checks ranges; throws <see cref="CliException"/> with the option's name.</summary>
    public void Validate()
    {
        Check(Handshakes is >= 1 and <= 10_000_000, $"--handshakes {Handshakes} is outside 1..10000000");
        Check(Concurrency is >= 1 and <= 4096, $"--concurrency {Concurrency} is outside 1..4096");
        Check(LossPercent is >= 0 and < 100, $"--loss {LossPercent} is outside 0..99.99 percent");
        Check(DelayMs is >= 0 and <= 10_000, $"--delay-ms {DelayMs} is outside 0..10000");
        Check(Mtu is >= Dtls.DtlsOptions.MinimumDatagramSize and <= 65507, $"--mtu {Mtu} is outside {Dtls.DtlsOptions.MinimumDatagramSize}..65507");
        Check(DeadlineSeconds is >= 1 and <= 600, $"--deadline-s {DeadlineSeconds} is outside 1..600");
        Check(IdleSeconds is >= 0 and <= 86_400, $"--idle-s {IdleSeconds} is outside 0..86400");
        Check(Certificate is "ecdsa" or "rsa-chain", $"--cert '{Certificate}' is not ecdsa or rsa-chain");
        Check(Warmup is >= 0 and <= 100_000, $"--warmup {Warmup} is outside 0..100000");
        Check(VanishPercent is >= 0 and <= 100, $"--vanish {VanishPercent} is outside 0..100 percent");
        Check(AbandonPercent is >= 0 and <= 100 && VanishPercent + AbandonPercent <= 100, $"--abandon {AbandonPercent} is outside 0..{100 - VanishPercent} percent (with --vanish {VanishPercent})");
        Check(ServerMaxSessions is >= 1 and <= 1_000_000, $"--server-max-sessions {ServerMaxSessions} is outside 1..1000000");
        Check(ServerIdleSeconds is null or (> 0 and <= 86_400), $"--server-idle-s {ServerIdleSeconds} is outside (0, 86400]");
        Check(HeapToleranceMb is >= 0 and <= 100_000, $"--heap-tolerance-mb {HeapToleranceMb} is outside 0..100000");
        Check(RssToleranceMb is >= 0 and <= 100_000, $"--rss-tolerance-mb {RssToleranceMb} is outside 0..100000");
        Check(FdSlack is >= 0 and <= 100_000, $"--fd-slack {FdSlack} is outside 0..100000");
    }

    /// <summary>The mode of client <paramref name="index"/>: a pure function of the seed and the index, so a run's mix does not depend on scheduling.</summary>
    public SoakClientMode ModeOf(int index)
    {
        var roll = (int)(SplitMix64(Seed ^ ((ulong)(uint)index * 0x9E3779B97F4A7C15UL)) % 100);
        return roll < AbandonPercent ? SoakClientMode.Abandon : roll < AbandonPercent + VanishPercent ? SoakClientMode.Vanish : SoakClientMode.Close;
    }

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new CliException(message);
        }
    }
}

/// <summary>One client's handshake as the client saw it.</summary>
/// <param name="Index">Client number, 0-based.</param>
/// <param name="Mode">What the client was told to do.</param>
/// <param name="Outcome">How the handshake ended.</param>
/// <param name="Reason">Failure reason (a <c>DtlsFailureReason</c> name, or "exception: Type") or why it counts as stuck; null when connected.</param>
/// <param name="Ms">Milliseconds from the first ClientHello to the outcome (connected, failed, abandoned or declared stuck).</param>
/// <param name="Echoed">Whether the echo came back (connected clients only).</param>
/// <param name="EchoMs">Milliseconds from Connected to the echo.</param>
/// <param name="DatagramsSent">Datagrams the client sent.</param>
/// <param name="DatagramsReceived">Datagrams the client received.</param>
/// <param name="Retransmissions">The client's handshake retransmissions.</param>
internal sealed record SoakHandshake(
    int Index,
    SoakClientMode Mode,
    SoakOutcome Outcome,
    string? Reason,
    double Ms,
    bool Echoed,
    double? EchoMs,
    long DatagramsSent,
    long DatagramsReceived,
    int Retransmissions)
{
    /// <summary>The client's local UDP port (0 if it never had one).</summary>
    public int LocalPort { get; init; }

    /// <summary>Seconds since the soak started when this client started.</summary>
    public double StartS { get; init; }

    /// <summary>Seconds since the soak started when this client finished (closed, vanished or gave up).</summary>
    public double EndS { get; init; }

    /// <summary>The client endpoint's handshake timeline, kept for failed and stuck handshakes only (diagnosis).</summary>
    public string? Trace { get; init; }
}

/// <summary>Exceptions one process saw.</summary>
/// <param name="Unhandled">AppDomain.UnhandledException (the process dies right after).</param>
/// <param name="Unobserved">TaskScheduler.UnobservedTaskException: a faulted task nobody awaited.</param>
/// <param name="Details">The first few unhandled or unobserved exceptions, as "Type: message".</param>
/// <param name="FirstChanceByType">Every exception thrown (even if caught), by type: informative, not judged.</param>
internal sealed record SoakExceptionCounts(long Unhandled, long Unobserved, IReadOnlyList<string> Details, IReadOnlyDictionary<string, long> FirstChanceByType);

/// <summary>The soak server's own counters.</summary>
/// <param name="Live">Sessions the server holds now (<c>DtlsUdpServer.SessionCount</c>).</param>
/// <param name="Accepted">Sessions created (ClientHello with a valid cookie).</param>
/// <param name="Connected">Handshakes that reached Connected.</param>
/// <param name="Failed">Sessions that failed.</param>
/// <param name="Closed">Sessions that closed.</param>
/// <param name="Echoed">Application-data records echoed.</param>
/// <param name="HelloVerifyRequests">HelloVerifyRequests sent.</param>
/// <param name="ListenerDropped">Datagrams the cookie front dropped.</param>
/// <param name="DroppedSessionLimit">Datagrams from new peers dropped at the session limit.</param>
/// <param name="InternalErrors">Exceptions caught at the library's boundary (a bug each): sessions failed with reason InternalError, plus datagrams the cookie front dropped because handling them threw.</param>
/// <param name="SendRaces">Echoes that could not be sent because the session had moved on since its event (counted, not a crash).</param>
/// <param name="EventLoopEnded">Whether the server's event stream ended before the soak asked it to stop (its socket loop died).</param>
/// <param name="FailedByReason">Failures by reason.</param>
internal sealed record SoakServerCounters(
    long Live,
    long Accepted,
    long Connected,
    long Failed,
    long Closed,
    long Echoed,
    long HelloVerifyRequests,
    long ListenerDropped,
    long DroppedSessionLimit,
    long InternalErrors,
    long SendRaces,
    bool EventLoopEnded,
    IReadOnlyDictionary<string, long> FailedByReason)
{
    /// <summary>Sessions the server removed, by reason (finished, idle timeout, replaced by a restarted client, ...).</summary>
    public IReadOnlyDictionary<string, long> RemovedByReason { get; init; } = new Dictionary<string, long>();

    /// <summary>Datagrams from new peers dropped at the per-address session limit.</summary>
    public long DroppedAddressLimit { get; init; }

    /// <summary>Datagrams from new peers dropped because the event queue was full.</summary>
    public long DroppedEventBacklog { get; init; }

    /// <summary>Application-data events dropped because the event queue was full.</summary>
    public long EventsDropped { get; init; }

    /// <summary>The server's idle timeout of connected sessions in seconds (null: none).</summary>
    public double? IdleTimeoutSeconds { get; init; }
}

/// <summary>One line the server role prints on stdout.</summary>
/// <param name="Type">"ready", "sample" or "exit".</param>
/// <param name="T">Seconds since the server started.</param>
/// <param name="Tag">For a sample the soak asked for (forced collection): its tag, e.g. "baseline" or "after-idle".</param>
/// <param name="Port">The bound UDP port ("ready").</param>
/// <param name="Fingerprint">The server certificate's fingerprint ("ready").</param>
/// <param name="Process">Memory, descriptors, threads.</param>
/// <param name="Server">Session counters.</param>
/// <param name="Exceptions">Exceptions seen.</param>
internal sealed record SoakServerLine(
    string Type,
    double T,
    string? Tag = null,
    int? Port = null,
    string? Fingerprint = null,
    ProcessSnapshot? Process = null,
    SoakServerCounters? Server = null,
    SoakExceptionCounts? Exceptions = null);

/// <summary>A point of the run's timeline: the server's sample and the client side at the moment it arrived.</summary>
/// <param name="T">Seconds since the soak started (the soak's clock).</param>
/// <param name="Phase">"start", "warmup", "handshakes", "idle" or "end".</param>
/// <param name="Tag">The forced-collection tag, when the soak asked for this sample.</param>
/// <param name="Server">The server process.</param>
/// <param name="Counters">The server's sessions.</param>
/// <param name="Done">Handshakes finished so far.</param>
/// <param name="InFlight">Clients running now.</param>
/// <param name="ProxyClients">Client addresses the proxy serves now.</param>
/// <param name="Client">The soak's own process (clients and proxy).</param>
internal sealed record SoakPoint(
    double T,
    string Phase,
    string? Tag,
    ProcessSnapshot Server,
    SoakServerCounters Counters,
    int Done,
    int InFlight,
    int ProxyClients,
    ProcessSnapshot? Client);

/// <summary>One pass/fail criterion with what was measured.</summary>
/// <param name="Name">What is judged.</param>
/// <param name="Passed">Whether it held.</param>
/// <param name="Measured">The measured value(s), in words and numbers.</param>
/// <param name="Limit">The bound it was held to.</param>
internal sealed record SoakCriterion(string Name, bool Passed, string Measured, string Limit);
