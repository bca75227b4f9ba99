using Airlift.Dtls;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace Airlift.Bench.Dtls;

/// <summary>
/// Handshake cost per <see cref="HandshakeCase"/>: DTLS 1.3 with X25519MLKEM768, X25519 and P-256, DTLS 1.2 with X25519
/// and P-256. ECDSA P-256 certificates on both sides, AES-128-GCM, mutual authentication, use_srtp (see
/// <see cref="BenchPair.Options(HandshakeCase)"/>). The platform and library crypto underneath is in
/// <see cref="CryptoFloorBenchmarks"/>, run in the same invocation.
/// <list type="bullet">
/// <item><see cref="FullHandshake"/>: client and server in one process, lockstep, no I/O (handshakes/s = 1 / mean).</item>
/// <item><see cref="ServerFirstFlight"/> + <see cref="ServerSecondFlight"/>: the server alone. Each iteration gets a fresh
/// client's genuine flight (prepared in an iteration setup, outside the measurement). First: a new server is fed the
/// ClientHello and drained of its first flight (1.2: ServerHello .. ServerHelloDone, flight 4; 1.3: ServerHello ..
/// Finished, flight 2). Second: the server is fed the client's second flight (1.2: Certificate .. Finished, flight 5;
/// 1.3: Certificate, CertificateVerify, Finished) and drained until it is connected (1.2: flight 6; 1.3: the ACK). Their
/// sum is the server's CPU per handshake; nothing is subtracted.</item>
/// </list>
/// Monitoring strategy (one invocation per iteration) because of the per-iteration setup; 200 iterations.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 20, iterationCount: 200)]
public class HandshakeBenchmarks
{
    private readonly byte[] _buffer = new byte[65535];
    private DtlsOptions _client = null!;
    private DtlsOptions _server = null!;
    private List<byte[]> _clientHello = null!;
    private List<byte[]> _clientSecondFlight = null!;
    private DtlsEndpoint _waitingServer = null!;
    private DtlsEndpoint _waitingClient = null!;
    private List<byte[]> _serverFirstFlight = null!;

    /// <summary>The client and server options of <see cref="Case"/> (after <see cref="Setup"/>).</summary>
    internal (DtlsOptions Client, DtlsOptions Server) OptionsPair => (_client, _server);

    /// <summary>Version and key exchange group.</summary>
    [ParamsAllValues]
    public HandshakeCase Case { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (_client, _server) = BenchPair.Options(Case);
        var (client, server) = BenchPair.Connect(_client, _server, _buffer);
        var expected = Case.IsDtls13() ? ProtocolVersion.Dtls13 : ProtocolVersion.Dtls12;
        if (client.Version != expected || server.Version != expected)
        {
            throw new InvalidOperationException($"{Case}: negotiated {server.Version}, expected {expected}");
        }

        // The server-alone split must end connected, or ServerSecondFlight would measure something else.
        FreshClientSecondFlight();
        ServerSecondFlight();
        if (_waitingServer.State != DtlsState.Connected)
        {
            throw new InvalidOperationException($"{Case}: server is {_waitingServer.State} after the client's second flight");
        }
    }

    /// <summary>Client and server, ClientHello to both Connected.</summary>
    [Benchmark]
    public DtlsState FullHandshake() => BenchPair.Connect(_client, _server, _buffer).Server.State;

    [IterationSetup(Target = nameof(ServerFirstFlight))]
    public void FreshClientHello()
    {
        var client = DtlsEndpoint.CreateClient(_client, BenchPair.T0);
        _clientHello = BenchPair.Drain(client, _buffer);
    }

    /// <summary>Server: created, fed a fresh ClientHello, drained of its first flight.</summary>
    [Benchmark]
    public int ServerFirstFlight()
    {
        var server = DtlsEndpoint.CreateServer(_server, BenchPair.T0);
        return BenchPair.Feed(server, _clientHello, BenchPair.T0, _buffer).Count;
    }

    [IterationSetup(Target = nameof(ServerSecondFlight))]
    public void FreshClientSecondFlight()
    {
        var client = DtlsEndpoint.CreateClient(_client, BenchPair.T0);
        _waitingServer = DtlsEndpoint.CreateServer(_server, BenchPair.T0);
        var serverFlight = BenchPair.Feed(_waitingServer, BenchPair.Drain(client, _buffer), BenchPair.T0, _buffer);
        _clientSecondFlight = BenchPair.Feed(client, serverFlight, BenchPair.T0, _buffer);
    }

    /// <summary>Server: fed the client's certificate flight, drained of its answer and its events (connected).</summary>
    [Benchmark]
    public DtlsState ServerSecondFlight()
    {
        BenchPair.Feed(_waitingServer, _clientSecondFlight, BenchPair.T0, _buffer);
        return _waitingServer.State;
    }

    /// <summary>Client (cpu mode only): created and drained of its ClientHello.</summary>
    internal int ClientFirstFlight() => BenchPair.Drain(DtlsEndpoint.CreateClient(_client, BenchPair.T0), _buffer).Count;

    /// <summary>Setup of <see cref="ClientSecondFlight"/>: a client waiting for a fresh server's first flight.</summary>
    internal void FreshServerFirstFlight()
    {
        _waitingClient = DtlsEndpoint.CreateClient(_client, BenchPair.T0);
        var server = DtlsEndpoint.CreateServer(_server, BenchPair.T0);
        _serverFirstFlight = BenchPair.Feed(server, BenchPair.Drain(_waitingClient, _buffer), BenchPair.T0, _buffer);
    }

    /// <summary>Client (cpu mode only): fed the server's first flight, drained of its certificate flight.</summary>
    internal int ClientSecondFlight() => BenchPair.Feed(_waitingClient, _serverFirstFlight, BenchPair.T0, _buffer).Count;
}
