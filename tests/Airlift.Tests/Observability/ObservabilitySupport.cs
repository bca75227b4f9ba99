using System.Diagnostics.Metrics;
using System.Net;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Tests.Dtls;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Airlift.Tests.Observability;

/// <summary>A private meter factory and a collecting logger factory per test, so that parallel tests never mix counts.</summary>
internal sealed class Telemetry : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public Telemetry()
    {
        MeterFactory = _services.GetRequiredService<IMeterFactory>();
        LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
    }

    public IMeterFactory MeterFactory { get; }

    public FakeLoggerProvider Logs { get; } = new();

    public ILoggerFactory LoggerFactory { get; }

    public IReadOnlyList<FakeLogRecord> Records => Logs.Collector.GetSnapshot();

    public void Dispose()
    {
        LoggerFactory.Dispose();
        Logs.Dispose();
        _services.Dispose();
    }
}

internal static class Handshakes
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    public static DtlsOptions Options(DtlsCertificate own, DtlsCertificate peer, ulong seed) => new(own)
    {
        ExpectedPeerFingerprint = peer.GetFingerprint(),
        Random = RandomSource.Seeded(seed),
        SrtpProfiles = [SrtpProtectionProfile.AeadAes128Gcm],
    };

    /// <summary>Runs <paramref name="count"/> real handshakes over loopback UDP, each client echoing one message.</summary>
    public static async Task RunAsync(DtlsUdpServerOptions serverOptions, Func<int, DtlsOptions> clientOptions, int count)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), serverOptions);
        var echo = Task.Run(async () =>
        {
            await foreach (var (session, e) in server.Events.ReadAllAsync(timeout.Token))
            {
                if (e is DtlsApplicationData data)
                {
                    session.Send(data.Data);
                }
            }
        });
        for (var i = 0; i < count; i++)
        {
            await using var client = await DtlsUdpClient.ConnectAsync(server.LocalEndpoint, clientOptions(i), cancellationToken: timeout.Token);
            client.Send("ping"u8);
            Assert.Equal("ping"u8.ToArray(), await client.ReceiveAsync(timeout.Token));
        }
    }
}
