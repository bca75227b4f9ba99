using Airlift.Dtls;
using Airlift.NetEm;
using Airlift.NetEm.Simulation;

namespace Airlift.Cli.Lab;

/// <summary>What a scenario expects of its runs.</summary>
internal enum LabExpectation
{
    /// <summary>Every run connects (Airlift with its fixes).</summary>
    Connects,

    /// <summary>No run connects (a reproduction of the field stack's failure).</summary>
    Fails,

    /// <summary>The run connects late or not at all (a reproduction whose failure is a delay).</summary>
    Slow,
}

/// <summary>
/// One lab scenario: how to build a run for a seed, how many seeds, and how to judge the finished runs.
/// </summary>
/// <param name="Id">Short id used on the command line (<c>--ladder F1-server-9000</c>) and in reports.</param>
/// <param name="Title">What is being shown.</param>
/// <param name="Path">What the path does.</param>
/// <param name="Pairing">Who talks to whom ("airlift->airlift", or a reproduction's "field-..." side).</param>
/// <param name="Expectation">What the runs must do to pass.</param>
/// <param name="LossPercent">Random loss of the scenario (percent), for the report.</param>
/// <param name="Seeds">Runs (consecutive seeds).</param>
/// <param name="Build">Builds the simulation for a seed.</param>
/// <param name="Judge">Decides pass/fail with a one-line reason.</param>
internal sealed record LabScenario(
    string Id,
    string Title,
    string Path,
    string Pairing,
    LabExpectation Expectation,
    double LossPercent,
    int Seeds,
    Func<ulong, SimulationOptions> Build,
    Func<IReadOnlyList<SimulationResult>, (bool Passed, string Reason)> Judge)
{
    /// <summary>DTLS version of the runs ("1.2" or "1.3"); with <see cref="Id"/> the scenario's key.</summary>
    public string Dtls { get; init; } = "1.2";
}

/// <summary>The field failures of docs/scenarios.md (F1-F4) as lab scenarios, with the field numbers, Airlift in both roles, and reproductions.</summary>
internal static class LabScenarios
{
    /// <summary>Pairing of two Airlift endpoints with every fix on.</summary>
    public const string Airlift = "airlift->airlift";

    /// <summary>F3's path change happens at this time (the client's ICE moves the selection after ~3 s of checks).</summary>
    public static readonly TimeSpan PathChangeAt = TimeSpan.FromMilliseconds(3050);

    /// <summary>The default scenarios for <paramref name="options"/>, in report order: every version of <see cref="LabOptions.Versions"/> in turn.</summary>
    public static IReadOnlyList<LabScenario> All(LabOptions options, LabCertificates certs)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(certs);
        var list = new List<LabScenario>();
        foreach (var version in options.Versions)
        {
            var k = new Kit(options, certs, version);
            var mine = version == ProtocolVersion.Dtls13 ? Dtls13(options, certs, k) : Dtls12(options, certs, k);
            list.AddRange(mine.Select(s => s with { Dtls = k.Label, Judge = k.CheckVersion(s.Expectation, s.Judge) }));
        }

        return list;
    }

    /// <summary>F1 (a path problem: the same scenarios in both versions).</summary>
    private static List<LabScenario> F1(LabOptions options, LabCertificates certs, Kit k)
    {
        var mtu = options.MaxDatagram;
        var pmtu = NetEmPresets.PathMtu1492UdpPayload;
        var f1Path = $"drops UDP > {pmtu} B both ways (1492 MTU, no fragments), RTT {options.RttMs} ms";
        var list = new List<LabScenario>
        {
            // ---------------- F1: flight larger than the path MTU
            new("F1-server", $"F1 server with the {certs.RsaChainDerBytes} B RSA chain at {mtu} B", f1Path, Airlift, LabExpectation.Connects, 0, 1,
                seed => k.Sim(seed, k.Limit(pmtu), server: k.Server(seed, certs.RsaChain)),
                rs => k.AllConnect(rs, r => Limit(r.ServerStats.LargestDatagramSent, mtu, "server") ?? NoOversize(r))),
            new("F1-server-9000", "F1 server misconfigured at 9000 B (fallback ladder)", f1Path, Airlift, LabExpectation.Connects, 0, 1,
                seed => k.Sim(seed, k.Limit(pmtu), server: k.Server(seed, certs.RsaChain) with { MaxDatagramSize = 9000 }),
                rs => k.AllConnect(rs, r => Limit(r.ServerStats.LargestDatagramSent, 9000, "server") ?? Fallback(r.ServerStats, r.ServerEffectiveMaxDatagram, pmtu, "server"), r => FallbackNote(r.ServerStats, r.ServerEffectiveMaxDatagram, r.Network.ServerToClient, "server"))),
            new("F1-client-9000", "F1 client with the RSA chain misconfigured at 9000 B (fallback ladder)", f1Path, Airlift, LabExpectation.Connects, 0, 1,
                seed => k.Sim(seed, k.Limit(pmtu), client: k.Client(seed, certs.RsaChain) with { MaxDatagramSize = 9000 }, server: k.Server(seed, certs.Ecdsa)),
                rs => k.AllConnect(rs, r => Limit(r.ClientStats.LargestDatagramSent, 9000, "client") ?? Fallback(r.ClientStats, r.ClientEffectiveMaxDatagram, pmtu, "client"), r => FallbackNote(r.ClientStats, r.ClientEffectiveMaxDatagram, r.Network.ClientToServer, "client"))),
            new("F1-repro-server", "F1 as the field stack: server at 9000 B, no fallback ladder", f1Path, "airlift->field-server", LabExpectation.Fails, 0, 1,
                seed => k.Sim(seed, k.Limit(pmtu), server: k.Server(seed, certs.RsaChain) with { MaxDatagramSize = 9000, DatagramSizeFallbacks = [] }),
                rs => k.AllFail(rs, r => $"{r.Network.ServerToClient.DroppedOversize} server datagrams of up to {r.Network.ServerToClient.LargestSeen} B vanished")),
            new("F1-repro-client", "F1 as the field stack, client side: client at 9000 B, no fallback ladder", f1Path, "field-client->airlift", LabExpectation.Fails, 0, 1,
                seed => k.Sim(seed, k.Limit(pmtu), client: k.Client(seed, certs.RsaChain) with { MaxDatagramSize = 9000, DatagramSizeFallbacks = [] }, server: k.Server(seed, certs.Ecdsa)),
                rs => k.AllFail(rs, r => $"{r.Network.ClientToServer.DroppedOversize} client datagrams of up to {r.Network.ClientToServer.LargestSeen} B vanished")),
        };

        return list;
    }

    /// <summary>DTLS 1.2 (RFC 6347): the field failures as they were reported; F2 is the server's final flight.</summary>
    private static List<LabScenario> Dtls12(LabOptions options, LabCertificates certs, Kit k)
    {
        var list = F1(options, certs, k);

        // ---------------- F2: final flight lost
        foreach (var drops in new[] { 1, 2, 5 })
        {
            list.Add(new($"F2-drop-{drops}", $"F2 server's final flight (CCS, Finished) dropped {drops}x", $"scripted drop of the first {drops} S->C final-flight datagram(s), RTT {options.RttMs} ms", Airlift, LabExpectation.Connects, 0, 1,
                seed => k.Sim(seed, k.Clean() with { ScriptedDrops = [ScriptedDrop.FinalFlight(LinkDirection.ServerToClient, drops)] }, deadline: k.F2Deadline),
                rs => k.AllConnect(rs, r => r.ServerStats.TriggeredRetransmissions >= drops
                    ? null
                    : $"server resent its final flight only {r.ServerStats.TriggeredRetransmissions}x for {drops} drops",
                    r => $"server resent its kept final flight {r.ServerStats.TriggeredRetransmissions}x when the client's flight came again (RFC 6347 4.2.4)")));
        }

        list.Add(new("F2-client-drop-2", "F2 client side: client's final flight (CKE..Finished) dropped 2x", $"scripted drop of the first 2 C->S final-flight datagram(s), RTT {options.RttMs} ms", Airlift, LabExpectation.Connects, 0, 1,
            seed => k.Sim(seed, k.Clean() with { ScriptedDrops = [ScriptedDrop.FinalFlight(LinkDirection.ClientToServer, 2)] }, deadline: k.F2Deadline),
            rs => k.AllConnect(rs, _ => null)));
        foreach (var loss in new[] { 5, 10, 20 })
        {
            list.Add(new($"F2-downlink-{loss}", $"F2 {loss}% downlink loss ({options.ScenarioSeeds} seeds)", $"{loss}% random loss S->C only, RTT {options.RttMs} ms", Airlift, LabExpectation.Connects, loss, options.ScenarioSeeds,
                seed => k.Sim(seed, k.Clean() with { ServerToClient = k.Link() with { LossRate = loss / 100.0 } }, deadline: k.F2Deadline),
                rs => k.AllConnect(rs, _ => null)));
        }

        list.Add(new("F2-repro", "F2 as the field stack: server forgets its final flight", $"scripted drop of the first S->C final-flight datagram, RTT {options.RttMs} ms", "airlift->field-server", LabExpectation.Fails, 0, 1,
            seed => k.Sim(seed, k.Clean() with { ScriptedDrops = [ScriptedDrop.FinalFlight(LinkDirection.ServerToClient, 1)] }, server: k.Server(seed, k.Default) with { FinalFlightRetention = TimeSpan.Zero }),
            rs => k.AllFail(rs, r => r.ServerState == DtlsState.Connected && r.ClientState == DtlsState.Connecting
                ? "server thinks it is connected, client retransmits its flight into the void"
                : $"server {r.ServerState}, client {r.ClientState}")));

        list.AddRange(F3F4(options, certs, k));
        return list;
    }

    /// <summary>
    /// DTLS 1.3 (RFC 9147): F1, F3, F4 as in 1.2; F2 where 1.3 puts it. The client sends the last flight, keeps it until the
    /// server acknowledges it with an ACK (RFC 9147 7), and the server repeats the ACK when the flight comes again: the fix
    /// is the ACK, not a kept server flight.
    /// </summary>
    private static List<LabScenario> Dtls13(LabOptions options, LabCertificates certs, Kit k)
    {
        var list = F1(options, certs, k);
        var rtt = $"RTT {options.RttMs} ms";

        // ---------------- F2: final flight lost (the client's, in 1.3), and the ACK that releases it
        foreach (var drops in new[] { 1, 2, 5 })
        {
            list.Add(new($"F2-drop-{drops}", $"F2 client's final flight (Certificate, CertificateVerify, Finished) dropped {drops}x: resent until the server's ACK", $"scripted drop of the first {drops} C->S epoch-2 datagram(s), {rtt}", Airlift, LabExpectation.Connects, 0, 1,
                seed => k.Sim(seed, k.Clean() with { ScriptedDrops = [ScriptedDrop.Dtls13FinalFlight(LinkDirection.ClientToServer, drops)] }, deadline: k.F2Deadline),
                // The server connected after all the drops, so a later copy of the client's flight carried the Finished.
                rs => k.AllConnect(rs, r => r.Network.ClientToServer.DroppedScripted == drops ? null : $"{r.Network.ClientToServer.DroppedScripted} final-flight datagrams dropped, expected {drops}",
                    r => $"client resent its final flight {r.ClientStats.Retransmissions}x ({r.ClientStats.TimeoutRetransmissions} on its timer, {r.ClientStats.TriggeredRetransmissions} on the server's repeat; a timeout may send two copies); the server's ACK released it")));
        }

        foreach (var drops in new[] { 1, 5 })
        {
            list.Add(new($"F2-ack-drop-{drops}", $"F2 server's ACK of the client's final flight dropped {drops}x", $"scripted drop of the first {drops} S->C epoch-3 datagram(s) (the ACK), {rtt}", Airlift, LabExpectation.Connects, 0, 1,
                seed => k.Sim(seed, k.Clean() with { ScriptedDrops = [ScriptedDrop.Dtls13Ack(LinkDirection.ServerToClient, drops)] }, deadline: k.F2Deadline),
                rs => k.AllConnect(rs, r => r.Network.ServerToClient.DroppedScripted == drops ? null : $"{r.Network.ServerToClient.DroppedScripted} ACK datagrams dropped, expected {drops}",
                    r => $"client resent its final flight {r.ClientStats.Retransmissions}x, the server acknowledged each; released {Ms(r.SettledAt!.Value)} after the start")));
        }

        list.Add(new("F2-server-drop-2", "F2 server side: server's flight (EncryptedExtensions..Finished) dropped 2x", $"scripted drop of the first 2 S->C epoch-2 datagram(s), {rtt}", Airlift, LabExpectation.Connects, 0, 1,
            seed => k.Sim(seed, k.Clean() with { ScriptedDrops = [ScriptedDrop.Dtls13FinalFlight(LinkDirection.ServerToClient, 2)] }, deadline: k.F2Deadline),
            rs => k.AllConnect(rs, _ => null, r => $"server resent {r.ServerStats.Retransmissions}x ({r.ServerStats.TriggeredRetransmissions} on the client's ACK or repeat, {r.ServerStats.TimeoutRetransmissions} on its timer)")));
        foreach (var loss in new[] { 5, 10, 20 })
        {
            list.Add(new($"F2-downlink-{loss}", $"F2 {loss}% downlink loss ({options.ScenarioSeeds} seeds)", $"{loss}% random loss S->C only, {rtt}", Airlift, LabExpectation.Connects, loss, options.ScenarioSeeds,
                seed => k.Sim(seed, k.Clean() with { ServerToClient = k.Link() with { LossRate = loss / 100.0 } }, deadline: k.F2Deadline),
                rs => k.AllConnect(rs, _ => null)));
        }

        list.Add(new("F2-repro", "F2 as a stack that does not wait for the ACK: client forgets its final flight", $"scripted drop of the first C->S epoch-2 datagram, {rtt}", "field-client->airlift", LabExpectation.Fails, 0, 1,
            seed => k.Sim(seed, k.Clean() with { ScriptedDrops = [ScriptedDrop.Dtls13FinalFlight(LinkDirection.ClientToServer, 1)] }, client: k.Client(seed) with { FinalFlightRetention = TimeSpan.Zero }),
            rs => k.AllFail(rs, r => r.ClientState == DtlsState.Connected && r.ServerState == DtlsState.Connecting
                ? "client thinks it is connected, server waits for a Finished that never comes"
                : $"client {r.ClientState}, server {r.ServerState}")));

        list.AddRange(F3F4(options, certs, k));
        return list;
    }

    /// <summary>F3 and F4 (the same in both versions).</summary>
    private static List<LabScenario> F3F4(LabOptions options, LabCertificates certs, Kit k)
    {
        var mtu = options.MaxDatagram;
        var list = new List<LabScenario>();

        // ---------------- F3: one-way path until ICE moves the selection
        var f3Path = $"S->C black hole until ICE selects a new path at {PathChangeAt.TotalMilliseconds:0} ms, RTT {options.RttMs} ms";
        var f3Budget = TimeSpan.FromMilliseconds(Math.Max(350, 3.5 * options.RttMs));
        list.Add(new("F3-path-change", "F3 path change: pending flight resent on the new path at once", f3Path, Airlift, LabExpectation.Connects, 0, 1,
            seed => k.Sim(seed, k.Clean()) with { PathChangeAt = PathChangeAt },
            rs => k.AllConnect(rs, r => r.TimeToConnect - PathChangeAt <= f3Budget
                ? null
                : $"connected {Ms(r.TimeToConnect!.Value - PathChangeAt)} after the path change (budget {Ms(f3Budget)})",
                r => $"connected {Ms(r.TimeToConnect!.Value - PathChangeAt)} after the path change")));
        list.Add(new("F3-repro", "F3 as the field stack: no resend on path change, waits for the backoff", f3Path, "field-client->field-server", LabExpectation.Slow, 0, 1,
            seed => k.Sim(seed, k.Clean()) with { PathChangeAt = PathChangeAt, ResendOnPathChange = false },
            rs => k.AllSlow(rs, PathChangeAt, f3Budget)));

        // The same with the ICE-lite server as DTLS client: its ClientHellos are what vanish until the new selection.
        var f3ClientPath = $"C->S (ICE-lite server as DTLS client) black hole until ICE selects a new path at {PathChangeAt.TotalMilliseconds:0} ms, RTT {options.RttMs} ms";
        list.Add(new("F3-path-change-client", "F3 server as DTLS client: its pending ClientHello resent on the new path at once", f3ClientPath, Airlift, LabExpectation.Connects, 0, 1,
            seed => k.Sim(seed, k.Clean()) with { PathChangeAt = PathChangeAt, OneWayDirection = LinkDirection.ClientToServer },
            rs => k.AllConnect(rs, r => r.TimeToConnect - PathChangeAt <= f3Budget
                ? null
                : $"connected {Ms(r.TimeToConnect!.Value - PathChangeAt)} after the path change (budget {Ms(f3Budget)})",
                r => $"connected {Ms(r.TimeToConnect!.Value - PathChangeAt)} after the path change")));
        list.Add(new("F3-repro-client", "F3 server as DTLS client, as the field stack: recovers only at its next backoff tick", f3ClientPath, "field-client->field-server", LabExpectation.Slow, 0, 1,
            seed => k.Sim(seed, k.Clean()) with { PathChangeAt = PathChangeAt, OneWayDirection = LinkDirection.ClientToServer, ResendOnPathChange = false },
            rs => k.AllSlow(rs, PathChangeAt, f3Budget)));

        // ---------------- F4: records glued into one oversized datagram through a TURN relay
        foreach (var relay in new[] { NetEmPresets.TurnRelayBufferSize, 1200 })
        {
            list.Add(new($"F4-relay-{relay}", $"F4 TURN relay passing <= {relay} B, server with the {certs.RsaChainDerBytes} B chain at {mtu} B", $"relay drops UDP > {relay} B both ways, RTT {options.RttMs} ms", Airlift, LabExpectation.Connects, 0, 1,
                seed => k.Sim(seed, k.Limit(relay), server: k.Server(seed, certs.RsaChain)) with { CaptureWire = true },
                rs => k.AllConnect(rs, r => NoOversize(r) ?? Packing.Check(r, mtu), r => Packing.Summary(r, LinkDirection.ServerToClient, mtu))));
        }

        list.Add(new("F4-relay-1200-client", $"F4 client side: client with the RSA chain through a 1200 B relay", $"relay drops UDP > 1200 B both ways, RTT {options.RttMs} ms", Airlift, LabExpectation.Connects, 0, 1,
            seed => k.Sim(seed, k.Limit(1200), client: k.Client(seed, certs.RsaChain), server: k.Server(seed, certs.Ecdsa)) with { CaptureWire = true },
            rs => k.AllConnect(rs, r => NoOversize(r) ?? Packing.Check(r, mtu), r => Packing.Summary(r, LinkDirection.ClientToServer, mtu))));
        list.Add(new("F4-repro", "F4 as the field stack: the whole flight glued into one datagram", $"relay drops UDP > {NetEmPresets.TurnRelayBufferSize} B both ways, RTT {options.RttMs} ms", "airlift->field-server", LabExpectation.Fails, 0, 1,
            seed => k.Sim(seed, k.Limit(NetEmPresets.TurnRelayBufferSize), server: k.Server(seed, certs.RsaChain) with { MaxDatagramSize = 9000, DatagramSizeFallbacks = [] }),
            rs => k.AllFail(rs, r => $"the relay dropped {r.Network.ServerToClient.DroppedOversize} server datagrams of {r.Network.ServerToClient.LargestSeen} B")));
        return list;
    }

    /// <summary>Sweep pairing of DTLS 1.3 with X25519 alone (no post-quantum share: a one-datagram ClientHello and a smaller ServerHello).</summary>
    public const string AirliftX25519 = "airlift->airlift (X25519 only)";

    /// <summary>
    /// Pairings of the loss sweep: Airlift in every version of <see cref="LabOptions.Versions"/> with its defaults, DTLS 1.3
    /// also with X25519 alone (to tell the protocol from the size of the post-quantum key share), and (DTLS 1.2) the field
    /// stack's F2 behaviour for comparison.
    /// </summary>
    public static IReadOnlyList<(string Pairing, string Dtls, Func<ulong, double, SimulationOptions> Build)> SweepPairings(LabOptions options, LabCertificates certs)
    {
        ArgumentNullException.ThrowIfNull(options);
        var list = new List<(string, string, Func<ulong, double, SimulationOptions>)>();
        foreach (var version in options.Versions)
        {
            var k = new Kit(options, certs, version);
            list.Add((Airlift, k.Label, (seed, loss) => k.Sim(seed, k.Lossy(loss))));
        }

        if (options.Versions.Contains(ProtocolVersion.Dtls13))
        {
            var k = new Kit(options, certs, ProtocolVersion.Dtls13);
            NamedGroup[] x25519 = [NamedGroup.X25519];
            list.Add((AirliftX25519, k.Label, (seed, loss) => k.Sim(seed, k.Lossy(loss), client: k.Client(seed) with { Dtls13Groups = x25519, Dtls13KeyShares = x25519 }, server: k.Server(seed) with { Dtls13Groups = x25519 })));
        }

        if (options.Versions.Contains(ProtocolVersion.Dtls12))
        {
            var k = new Kit(options, certs, ProtocolVersion.Dtls12);
            list.Add(("airlift->field-server", k.Label, (seed, loss) => k.Sim(seed, k.Lossy(loss), server: k.Server(seed, k.Default) with { FinalFlightRetention = TimeSpan.Zero })));
        }

        return list;
    }

    private static string? Limit(int largest, int limit, string who) => largest <= limit ? null : $"{who} sent a {largest} B datagram (limit {limit})";

    private static string? NoOversize(SimulationResult r)
    {
        var oversize = r.Network.ClientToServer.DroppedOversize + r.Network.ServerToClient.DroppedOversize;
        return oversize == 0 ? null : $"{oversize} datagram(s) too large for the path";
    }

    private static string FallbackNote(DtlsStats stats, int effective, NetEmDirectionStats path, string who) =>
        $"{path.DroppedOversize} oversize datagram(s) vanished, {who} fell back {stats.DatagramSizeFallbacks}x to {effective} B";

    private static string? Fallback(DtlsStats stats, int effective, int pathLimit, string who)
    {
        if (stats.DatagramSizeFallbacks < 1)
        {
            return $"{who} never lowered its datagram size";
        }

        return effective <= pathLimit ? null : $"{who} ended at {effective} B, above the path's {pathLimit} B";
    }

    internal static string Ms(TimeSpan t) => ReportFormat.Ms(t.TotalMilliseconds);

    /// <summary>Builders shared by the scenarios: options for one seed, paths, and judges.</summary>
    private sealed class Kit(LabOptions options, LabCertificates certs, ProtocolVersion version)
    {
        // DTLS 1.2 runs pin both sides to 1.2 (the engine the field failures were reported against); DTLS 1.3 runs use the
        // shipped default, both versions offered, and must negotiate 1.3.
        private readonly IReadOnlyList<ProtocolVersion> _offered = version == ProtocolVersion.Dtls13 ? new DtlsOptions(certs.Ecdsa).ProtocolVersions : [ProtocolVersion.Dtls12];

        public string Label { get; } = LabVersions.Label(version);

        /// <summary>
        /// Wraps a judge: every run that connected negotiated the kit's version, and (DTLS 1.3) the client's final flight was
        /// acknowledged before the run ended, not left waiting or released by the retention timer.
        /// </summary>
        public Func<IReadOnlyList<SimulationResult>, (bool, string)> CheckVersion(LabExpectation expectation, Func<IReadOnlyList<SimulationResult>, (bool, string)> judge) => rs =>
        {
            foreach (var r in rs.Where(r => r.Connected))
            {
                if (r.ClientVersion != version || r.ServerVersion != version)
                {
                    return (false, $"negotiated {r.ClientVersion}/{r.ServerVersion}, not DTLS {Label}");
                }

                if (expectation == LabExpectation.Connects && version == ProtocolVersion.Dtls13 && r.SettledAt is null)
                {
                    return (false, $"connected, but the client's final flight was never acknowledged (retained: {r.ClientFinalFlightRetained})");
                }
            }

            return judge(rs);
        };

        public DtlsCertificate Default { get; } = certs.ByName(options.Certificate);

        public TimeSpan Deadline { get; } = TimeSpan.FromSeconds(options.DeadlineSeconds);

        // F2 runs need time for several client backoffs; the field's reconnect attempts lasted about 30 s.
        public TimeSpan F2Deadline => Deadline > TimeSpan.FromSeconds(30) ? Deadline : TimeSpan.FromSeconds(30);

        public DtlsOptions Client(ulong seed, DtlsCertificate? cert = null) => new(cert ?? certs.Ecdsa)
        {
            Random = RandomSource.Seeded(seed),
            SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
            MaxDatagramSize = options.MaxDatagram,
            AllowAnyPeerCertificate = true, // the lab measures the path, not authentication; certificates vary per scenario
            ProtocolVersions = _offered,
        };

        public DtlsOptions Server(ulong seed, DtlsCertificate? cert = null) => new(cert ?? Default)
        {
            Random = RandomSource.Seeded(seed + 1_000_000),
            SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
            MaxDatagramSize = options.MaxDatagram,
            AllowAnyPeerCertificate = true, // the lab measures the path, not authentication; certificates vary per scenario
            ProtocolVersions = _offered,
        };

        public LinkImpairment Link() => new() { Delay = TimeSpan.FromMilliseconds(options.RttMs / 2.0) };

        public NetEmOptions Clean() => new(Link(), Link(), [], 0);

        public NetEmOptions Limit(int maxDatagram) => new(Link() with { MaxDatagramSize = maxDatagram }, Link() with { MaxDatagramSize = maxDatagram }, [], 0);

        public NetEmOptions Lossy(double lossPercent) => new(Link() with { LossRate = lossPercent / 100.0 }, Link() with { LossRate = lossPercent / 100.0 }, [], 0);

        public SimulationOptions Sim(ulong seed, NetEmOptions network, DtlsOptions? client = null, DtlsOptions? server = null, TimeSpan? deadline = null) =>
            new(client ?? Client(seed), server ?? Server(seed), network with { Seed = seed }) { Deadline = deadline ?? Deadline, SettleAfterConnect = true };

        public (bool, string) AllConnect(IReadOnlyList<SimulationResult> results, Func<SimulationResult, string?> extra, Func<SimulationResult, string>? note = null)
        {
            var failed = results.Count(r => !r.Connected);
            if (failed > 0)
            {
                var first = results.First(r => !r.Connected);
                if (results.Count == 1)
                {
                    return (false, $"did not connect: {LabRunner.Error(first)}");
                }

                return (false, $"{failed}/{results.Count} did not connect: {LabRunner.Error(first)}");
            }

            foreach (var r in results)
            {
                if (extra(r) is { } problem)
                {
                    return (false, problem);
                }
            }

            var times = results.Select(r => r.TimeToConnect!.Value).Order().ToList();
            var when = results.Count == 1 ? $"connected in {Ms(times[0])}" : $"{results.Count}/{results.Count} connected, slowest {Ms(times[^1])}";
            var summary = $"{when}, largest datagram {results.Max(r => r.LargestDatagram)} B, {results.Sum(r => r.Retransmissions)} retransmission(s)";
            return (true, note is null ? summary : $"{summary}; {note(results[0])}");
        }

        public (bool, string) AllFail(IReadOnlyList<SimulationResult> results, Func<SimulationResult, string> why)
        {
            var connected = results.Count(r => r.Connected);
            return connected > 0
                ? (false, $"expected the field failure but {connected}/{results.Count} connected")
                : (true, $"reproduced: no connection within {Ms(Deadline)}; {why(results[0])}");
        }

        public (bool, string) AllSlow(IReadOnlyList<SimulationResult> results, TimeSpan change, TimeSpan budget)
        {
            foreach (var r in results)
            {
                if (r.TimeToConnect is { } t && t - change <= budget)
                {
                    return (false, $"expected a late connection but it connected {Ms(t - change)} after the path change");
                }
            }

            var r0 = results[0];
            return (true, r0.TimeToConnect is { } t0
                ? $"reproduced: connected only {Ms(t0 - change)} after the path change (waited for the backoff tick)"
                : $"reproduced: not connected within {Ms(Deadline)}");
        }
    }
}
