using Airlift.Dtls;

namespace Airlift.NetEm.Simulation;

/// <summary>What to simulate: two endpoints' options, the network between them, and the limits of the run.</summary>
/// <param name="Client">Options of the DTLS client.</param>
/// <param name="Server">Options of the DTLS server.</param>
/// <param name="Network">Impairments between them (ClientToServer = uplink).</param>
public sealed record SimulationOptions(DtlsOptions Client, DtlsOptions Server, NetEmOptions Network)
{
    /// <summary>Success means both sides connected within this time. Default 10 s.</summary>
    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Upper bound on loop iterations (each delivers a datagram or fires a timer). Default 200 000.</summary>
    public int MaxSteps { get; init; } = 200_000;

    /// <summary>
    /// A path change at this time: from then on the <see cref="OneWayDirection"/> stops being a black hole, and both sides
    /// are told to resend their flight at once (what the WebRTC transport does when ICE selects a new tuple, field failure F3).
    /// </summary>
    public TimeSpan? PathChangeAt { get; init; }

    /// <summary>
    /// The direction that is a black hole until <see cref="PathChangeAt"/>: server to client (the default) when the ICE-lite
    /// server is the DTLS server, client to server when it is the DTLS client.
    /// </summary>
    public LinkDirection OneWayDirection { get; init; } = LinkDirection.ServerToClient;

    /// <summary>Whether the endpoint reacts to <see cref="PathChangeAt"/> (false reproduces the field failure: the stack waits for its backoff).</summary>
    public bool ResendOnPathChange { get; init; } = true;

    /// <summary>Keep every datagram's bytes in the result (for wire assertions). Default false.</summary>
    public bool CaptureWire { get; init; }

    /// <summary>
    /// Keep running after both sides connected until neither holds a flight that still waits for the peer (DTLS 1.3: the
    /// client's final flight until the server's ACK arrives, RFC 9147 7), or the deadline. The counters then include
    /// what the handshake cost after the connect (final-flight resends, repeated ACKs); <see cref="SimulationResult.TimeToConnect"/>
    /// stays the moment both connected. A DTLS 1.2 endpoint is settled when it connects (its kept final flight is only
    /// resent on demand). Default false: the run ends when both are connected.
    /// </summary>
    public bool SettleAfterConnect { get; init; }
}

/// <summary>One datagram on the simulated wire.</summary>
/// <param name="SentAt">Virtual send time.</param>
/// <param name="Direction">Which way.</param>
/// <param name="Fate">What the network did with it.</param>
/// <param name="Datagram">Its bytes.</param>
public sealed record WireDatagram(TimeSpan SentAt, LinkDirection Direction, NetEmFate Fate, byte[] Datagram);

/// <summary>Outcome of one simulated handshake.</summary>
public sealed record SimulationResult
{
    /// <summary>True when both sides reached Connected within the deadline.</summary>
    public required bool Connected { get; init; }

    /// <summary>Time until both sides were connected (null when they were not).</summary>
    public TimeSpan? TimeToConnect { get; init; }

    /// <summary>The client's failure, if it failed.</summary>
    public DtlsFailed? ClientFailure { get; init; }

    /// <summary>The server's failure, if it failed.</summary>
    public DtlsFailed? ServerFailure { get; init; }

    /// <summary>Final client state.</summary>
    public required DtlsState ClientState { get; init; }

    /// <summary>Final server state.</summary>
    public required DtlsState ServerState { get; init; }

    /// <summary>Client counters.</summary>
    public required DtlsStats ClientStats { get; init; }

    /// <summary>Server counters.</summary>
    public required DtlsStats ServerStats { get; init; }

    /// <summary>Network counters.</summary>
    public required NetEmStats Network { get; init; }

    /// <summary>The network's per-datagram trace (the flight ladder).</summary>
    public required IReadOnlyList<NetEmTraceEntry> Ladder { get; init; }

    /// <summary>Client handshake timeline.</summary>
    public required string ClientTrace { get; init; }

    /// <summary>Server handshake timeline.</summary>
    public required string ServerTrace { get; init; }

    /// <summary>Datagram size limit in force at the end, client side.</summary>
    public required int ClientEffectiveMaxDatagram { get; init; }

    /// <summary>Datagram size limit in force at the end, server side.</summary>
    public required int ServerEffectiveMaxDatagram { get; init; }

    /// <summary>Largest datagram either side sent.</summary>
    public int LargestDatagram => Math.Max(ClientStats.LargestDatagramSent, ServerStats.LargestDatagramSent);

    /// <summary>Datagrams both sides sent.</summary>
    public long DatagramsSent => ClientStats.DatagramsSent + ServerStats.DatagramsSent;

    /// <summary>Flight retransmissions on both sides.</summary>
    public int Retransmissions => ClientStats.Retransmissions + ServerStats.Retransmissions;

    /// <summary>Every datagram with its bytes, when <see cref="SimulationOptions.CaptureWire"/> was set.</summary>
    public IReadOnlyList<WireDatagram> Wire { get; init; } = [];

    /// <summary>Steps the loop took.</summary>
    public int Steps { get; init; }

    /// <summary>The version the client ended with (<see cref="ProtocolVersion.Dtls12"/> until a DTLS 1.3 ServerHello switched it).</summary>
    public ProtocolVersion ClientVersion { get; init; }

    /// <summary>The version the server ended with.</summary>
    public ProtocolVersion ServerVersion { get; init; }

    /// <summary>At the end, the client still held a final flight the server had not acknowledged (DTLS 1.3) or could still ask for (DTLS 1.2).</summary>
    public bool ClientFinalFlightRetained { get; init; }

    /// <summary>At the end, the server still held a final flight (DTLS 1.2: kept for the client's retransmissions).</summary>
    public bool ServerFinalFlightRetained { get; init; }

    /// <summary>
    /// With <see cref="SimulationOptions.SettleAfterConnect"/>: when the run settled (both connected and nothing waiting for an
    /// acknowledgement); null when it did not settle by the deadline, or without the option.
    /// </summary>
    public TimeSpan? SettledAt { get; init; }
}

/// <summary>
/// Runs a DTLS client and server against each other through a <see cref="NetworkEmulator"/> in virtual time:
/// deterministic for a given seed (endpoint randomness comes from the options' <see cref="RandomSource"/>), bounded
/// in steps and in virtual time. The lab, the reliability sweep and the scenario tests all run on it.
/// </summary>
public static class HandshakeSimulation
{
    /// <summary>Runs one handshake.</summary>
    public static SimulationResult Run(SimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var network = options.Network;
        var emulator = new NetworkEmulator(network);
        if (options.PathChangeAt is not null)
        {
            // Until the path change, one side's datagrams go down a one-way path.
            emulator.SetImpairment(options.OneWayDirection, network.For(options.OneWayDirection) with { Blackhole = true });
        }

        var start = TimeSpan.Zero;
        var now = start;
        var end = start + options.Deadline;
        var wire = options.CaptureWire ? new List<WireDatagram>() : null;
        var buffer = new byte[65535];
        var path = new byte[65535]; // datagrams leaving the emulated path
        var client = DtlsEndpoint.CreateClient(options.Client, now);
        var server = DtlsEndpoint.CreateServer(options.Server, now);
        DtlsFailed? clientFailure = null;
        DtlsFailed? serverFailure = null;
        TimeSpan? connectedAt = null;
        TimeSpan? settledAt = null;
        var pathChanged = options.PathChangeAt is null;

        TimeSpan Drain(DtlsEndpoint endpoint, LinkDirection direction, ref DtlsFailed? failure)
        {
            while (true)
            {
                var output = endpoint.PollOutput(buffer);
                switch (output.Kind)
                {
                    case DtlsOutputKind.Datagram:
                        var bytes = buffer.AsSpan(0, output.DatagramLength);
                        var fate = emulator.HandleDatagram(now, direction, bytes);
                        wire?.Add(new WireDatagram(now, direction, fate, bytes.ToArray()));
                        break;
                    case DtlsOutputKind.Event:
                        if (output.Event is DtlsFailed f)
                        {
                            failure = f;
                        }

                        break;
                    default:
                        return output.Deadline;
                }
            }
        }

        var clientDeadline = Drain(client, LinkDirection.ClientToServer, ref clientFailure);
        var serverDeadline = Drain(server, LinkDirection.ServerToClient, ref serverFailure);
        var steps = 0;
        for (; steps < options.MaxSteps; steps++)
        {
            if (client.State == DtlsState.Connected && server.State == DtlsState.Connected)
            {
                connectedAt ??= now - start;
                if (!options.SettleAfterConnect)
                {
                    break;
                }

                if (Settled(client) && Settled(server))
                {
                    settledAt = now - start;
                    break;
                }
            }

            if (client.State is DtlsState.Failed or DtlsState.Closed || server.State is DtlsState.Failed or DtlsState.Closed)
            {
                break;
            }

            var next = Min(emulator.NextDeadline, Min(clientDeadline, serverDeadline));
            if (!pathChanged)
            {
                next = Min(next, options.PathChangeAt!.Value);
            }

            if (next == TimeSpan.MaxValue || next > end)
            {
                break;
            }

            now = next > now ? next : now;
            if (!pathChanged && now >= options.PathChangeAt!.Value)
            {
                pathChanged = true;
                emulator.SetImpairment(options.OneWayDirection, network.For(options.OneWayDirection));
                if (options.ResendOnPathChange)
                {
                    server.ResendFlight(now);
                    client.ResendFlight(now);
                }
            }

            emulator.HandleTimeout(now);
            for (var delivery = emulator.PollOutput(path); delivery.Kind == NetEmOutputKind.Deliver; delivery = emulator.PollOutput(path))
            {
                var datagram = path.AsSpan(0, delivery.Length);
                if (delivery.Direction == LinkDirection.ClientToServer)
                {
                    server.HandleDatagram(now, datagram);
                }
                else
                {
                    client.HandleDatagram(now, datagram);
                }
            }

            if (clientDeadline <= now)
            {
                client.HandleTimeout(now);
            }

            if (serverDeadline <= now)
            {
                server.HandleTimeout(now);
            }

            clientDeadline = Drain(client, LinkDirection.ClientToServer, ref clientFailure);
            serverDeadline = Drain(server, LinkDirection.ServerToClient, ref serverFailure);
        }

        return new SimulationResult
        {
            Connected = connectedAt is not null,
            TimeToConnect = connectedAt,
            ClientFailure = clientFailure,
            ServerFailure = serverFailure,
            ClientState = client.State,
            ServerState = server.State,
            ClientStats = client.Stats,
            ServerStats = server.Stats,
            Network = emulator.Stats,
            Ladder = emulator.Trace,
            ClientTrace = client.Trace,
            ServerTrace = server.Trace,
            ClientEffectiveMaxDatagram = client.EffectiveMaxDatagramSize,
            ServerEffectiveMaxDatagram = server.EffectiveMaxDatagramSize,
            Wire = wire ?? [],
            Steps = steps,
            ClientVersion = client.Version,
            ServerVersion = server.Version,
            ClientFinalFlightRetained = client.FinalFlightRetained,
            ServerFinalFlightRetained = server.FinalFlightRetained,
            SettledAt = settledAt,
        };
    }

    // A DTLS 1.2 endpoint keeps its final flight for resends on demand only; a DTLS 1.3 one waits for the peer's ACK.
    private static bool Settled(DtlsEndpoint endpoint) => endpoint.Version == ProtocolVersion.Dtls12 || !endpoint.FinalFlightRetained;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
