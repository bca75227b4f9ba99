using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Airlift.Bench.Dtls;
using Airlift.Dtls;
using Airlift.Net;

namespace Airlift.Bench.Net;

/// <summary>
/// <c>dotnet run -c Release --project bench/Airlift.Bench -- cores [--loops 1,2] [--seconds 10] [--clients 32] [--case V12_P256]</c>:
/// DTLS handshakes per second of one <see cref="DtlsUdpServer"/> on loopback with 1 and with 2 receive loops
/// (<see cref="DtlsUdpServerOptions.ReceiveLoops"/>), against in-process clients that each handshake on a fresh socket (a
/// new 4-tuple, so SO_REUSEPORT spreads them over the loops), close with close_notify and start again. Prints handshakes
/// per second, the process CPU per handshake (server and clients together) and the CPU used out of the machine's cores.
/// </summary>
internal static class CoresBenchmark
{
    public static int Run(string[] args)
    {
        var loops = Arg(args, "--loops", "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var seconds = int.Parse(Arg(args, "--seconds", "10"), CultureInfo.InvariantCulture);
        var clients = int.Parse(Arg(args, "--clients", "32"), CultureInfo.InvariantCulture);
        var handshake = Enum.Parse<HandshakeCase>(Arg(args, "--case", nameof(HandshakeCase.V12_P256)));
        var rounds = int.Parse(Arg(args, "--rounds", "2"), CultureInfo.InvariantCulture);
        Console.WriteLine($"cores: {Environment.ProcessorCount} processors, {clients} concurrent clients, {handshake}, {seconds} s per run, {rounds} rounds, .NET {Environment.Version}");
        Console.WriteLine("| receive loops | round | handshakes/s | process CPU per handshake (both sides) | CPU used (of the cores) |");
        Console.WriteLine("|---|---|---|---|---|");
        var results = new Dictionary<int, List<double>>();
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var n in loops)
            {
                var (rate, cpuPerHandshake, utilisation) = Measure(n, seconds, clients, handshake).GetAwaiter().GetResult();
                (results.TryGetValue(n, out var list) ? list : results[n] = []).Add(rate);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {n} | {round} | {rate:0} | {cpuPerHandshake.TotalMicroseconds:0} us | {utilisation:0.00} |"));
            }
        }

        if (results.Count >= 2)
        {
            var baseLine = results[loops[0]].Max();
            foreach (var n in loops.Skip(1))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"best of rounds: {n} loops / {loops[0]} loop = {results[n].Max() / baseLine:0.00}x"));
            }
        }

        return 0;
    }

    private static string Arg(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    private static async Task<(double Rate, TimeSpan CpuPerHandshake, double Utilisation)> Measure(int loops, int seconds, int clients, HandshakeCase handshake)
    {
        var (clientOptions, serverOptions) = BenchPair.Options(handshake);
        var options = new DtlsUdpServerOptions(serverOptions)
        {
            ReceiveLoops = loops,
            MaxSessions = 100_000,
            MaxSessionsPerAddress = 100_000,
            EventQueueCapacity = 100_000,
        };
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), options);
        using var stop = new CancellationTokenSource();
        long connected = 0;
        var reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in server.Events.ReadAllAsync(stop.Token).ConfigureAwait(false))
                {
                    if (e.Event is DtlsConnected)
                    {
                        Interlocked.Increment(ref connected);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        var clock = Stopwatch.StartNew();
        var slots = Enumerable.Range(0, clients).Select(_ => Task.Run(() => Slot(server.LocalEndpoint, clientOptions, clock, stop.Token))).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false); // warm-up: JIT, tiering, socket buffers
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var done0 = Interlocked.Read(ref connected);
        var wall = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
        var done = Interlocked.Read(ref connected) - done0;
        var elapsed = wall.Elapsed;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(slots).ConfigureAwait(false);
        await reader.ConfigureAwait(false);
        return (done / elapsed.TotalSeconds, done == 0 ? TimeSpan.Zero : cpu / done, cpu / elapsed / Environment.ProcessorCount);
    }

    /// <summary>One client slot: handshake on a fresh socket, close_notify, again; until stopped.</summary>
    private static async Task Slot(IPEndPoint server, DtlsOptions options, Stopwatch clock, CancellationToken stop)
    {
        var send = new byte[2048];
        var receive = new byte[2048];
        while (!stop.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(server);
            using var endpoint = DtlsEndpoint.CreateClient(options, clock.Elapsed);
            var deadline = Drain(endpoint, socket, send);
            while (endpoint.State == DtlsState.Connecting && !stop.IsCancellationRequested)
            {
                var wait = deadline == DtlsOutput.NoDeadline ? TimeSpan.FromSeconds(1) : deadline - clock.Elapsed;
                wait = wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait;
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
                timeout.CancelAfter(wait);
                try
                {
                    var n = await socket.ReceiveAsync(receive, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    endpoint.HandleDatagram(clock.Elapsed, receive.AsSpan(0, n));
                }
                catch (OperationCanceledException)
                {
                    endpoint.HandleTimeout(clock.Elapsed);
                }
                catch (SocketException)
                {
                    // ICMP from a closed port while stopping: try again or stop.
                }

                deadline = Drain(endpoint, socket, send);
            }

            if (endpoint.State == DtlsState.Connected)
            {
                endpoint.Close(clock.Elapsed); // the server removes the session at once
                Drain(endpoint, socket, send);
            }
        }
    }

    private static TimeSpan Drain(DtlsEndpoint endpoint, Socket socket, byte[] buffer)
    {
        while (true)
        {
            var output = endpoint.PollOutput(buffer);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    try
                    {
                        socket.Send(buffer.AsSpan(0, output.DatagramLength), SocketFlags.None);
                    }
                    catch (SocketException)
                    {
                        // lost datagram: the handshake retransmits
                    }

                    break;
                case DtlsOutputKind.Event:
                    break;
                default:
                    return output.Deadline;
            }
        }
    }
}
