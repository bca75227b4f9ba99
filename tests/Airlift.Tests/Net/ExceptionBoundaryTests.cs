using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Airlift.Dtls;
using Airlift.Net;
using Xunit.Abstractions;
using static Airlift.Tests.Net.NetTestSupport;

namespace Airlift.Tests.Net;

/// <summary>
/// The socket-level exception boundary: whatever handling one session throws fails and removes that session only, is
/// counted and logged, and every other session on the same port goes on (issue 10, "one exception boundary per datagram").
/// </summary>
public sealed class ExceptionBoundaryTests(ITestOutputHelper output)
{
    private const int Others = 100;

    [Fact]
    public async Task One_poisoned_session_leaves_100_others_on_the_same_port_working_and_dispose_does_not_rethrow()
    {
        // The poison is realistic: the application's logger throws for one peer (a sink with a formatting bug).
        var start = Stopwatch.GetTimestamp();
        string? victim = null;
        var logger = new ListLogger { ThrowWhen = line => victim is not null && Regex.IsMatch(line, Regex.Escape(victim) + @"(\D|$)") };
        var server = new DtlsUdpServer(
            new IPEndPoint(IPAddress.Loopback, 0),
            new DtlsUdpServerOptions(Server()) { MaxSessionsPerAddress = Others + 1 },
            TimeProvider.System,
            logger);
        var failures = new ConcurrentQueue<(DtlsUdpSession Session, DtlsEvent Event)>();
        var pump = Task.Run(async () =>
        {
            await foreach (var e in server.Events.ReadAllAsync())
            {
                switch (e.Event)
                {
                    case DtlsApplicationData d when e.Session.State == DtlsState.Connected:
                        e.Session.Send(d.Data); // echo
                        break;
                    case DtlsFailed or DtlsSessionRemoved { Reason: DtlsSessionRemovalReason.InternalError }:
                        failures.Enqueue((e.Session, e.Event));
                        break;
                }
            }
        });

        try
        {
            // The poisoned peer passes the cookie exchange; creating its session logs, and the logger throws.
            using var poisoned = new RawDtlsClient(server.LocalEndpoint, Client(7), () => Stopwatch.GetElapsedTime(start));
            victim = poisoned.Local.ToString();
            poisoned.Flush();
            var hvr = poisoned.Receive(RawDtlsClient.ReceiveBound);
            Assert.NotNull(hvr);
            poisoned.Endpoint.HandleDatagram(Stopwatch.GetElapsedTime(start), hvr);
            poisoned.Flush();
            await WaitUntilAsync(() => server.SessionFaults == 1);
            Assert.Equal(1, server.SessionFaults);

            // 100 clients on the same server port, concurrently: every one connects and gets its echo.
            var clients = await Task.WhenAll(Enumerable.Range(0, Others).Select(async i =>
            {
                using var cts = new CancellationTokenSource(Bound * 3);
                var client = await DtlsUdpClient.ConnectAsync(server.LocalEndpoint, Client(1000 + (ulong)i), cancellationToken: cts.Token);

                // Application data is not retransmitted by DTLS, and 100 handshakes at once can overflow a loopback socket
                // buffer: ask again (bounded) until the echo comes.
                for (var attempt = 1; attempt <= 10; attempt++)
                {
                    client.Send(Encoding.UTF8.GetBytes($"hello {i}"));
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
                    wait.CancelAfter(TimeSpan.FromSeconds(2));
                    try
                    {
                        var echo = await client.ReceiveAsync(wait.Token);
                        if (attempt > 1)
                        {
                            output.WriteLine($"client {i}: echo after {attempt} sends");
                        }

                        return (Client: client, Echo: echo is null ? null : Encoding.UTF8.GetString(echo));
                    }
                    catch (OperationCanceledException) when (!cts.IsCancellationRequested)
                    {
                    }
                }

                return (Client: client, Echo: (string?)null);
            }));
            try
            {
                Assert.Equal(Enumerable.Range(0, Others).Select(i => $"hello {i}"), clients.Select(c => c.Echo));
            }
            finally
            {
                foreach (var c in clients)
                {
                    await c.Client.DisposeAsync();
                }
            }

            Assert.Equal(1, server.SessionFaults);
            var poisonedEvents = failures.Where(f => f.Session.Remote.ToString() == victim).Select(f => f.Event).ToList();
            Assert.Equal(DtlsFailureReason.InternalError, Assert.IsType<DtlsFailed>(poisonedEvents[0]).Reason);
            Assert.IsType<DtlsSessionRemoved>(poisonedEvents[1]);
            Assert.DoesNotContain(failures, f => f.Session.Remote.ToString() != victim);
        }
        finally
        {
            await server.DisposeAsync(); // must not rethrow the poisoned session's exception
            await pump.WaitAsync(Bound);
        }
    }
}
