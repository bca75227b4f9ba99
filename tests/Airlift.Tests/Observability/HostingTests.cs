using Airlift.Diagnostics;
using Airlift.Dtls;
using Airlift.Hosting;
using Airlift.Ice.Sdp;
using Airlift.Tests.Dtls;
using Airlift.Tests.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Airlift.Tests.Observability;

/// <summary>Airlift.Hosting: the transport host as a hosted service, settings bound and validated at start, the
/// application's ILoggerFactory and IMeterFactory used.</summary>
public sealed class HostingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static IHost Build(Dictionary<string, string?> settings, FakeLoggerProvider logs)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Trace);
        builder.Services.AddMetrics();
        builder.Services.AddAirliftTransportHost(builder.Configuration.GetSection("Airlift:TransportHost"));
        return builder.Build();
    }

    [Fact]
    public async Task Hosted_transport_host_binds_from_configuration_and_completes_a_dtls_handshake_on_loopback()
    {
        using var logs = new FakeLoggerProvider();
        using var host = Build(new() { ["Airlift:TransportHost:UdpListen:0"] = "127.0.0.1:0", ["Airlift:TransportHost:MaxSessions"] = "4" }, logs);
        using var completed = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), AirliftMeterNames.Dtls, "airlift.dtls.handshakes.completed");
        await host.StartAsync();
        try
        {
            var service = host.Services.GetRequiredService<AirliftTransportHostService>();
            Assert.Equal(4, host.Services.GetRequiredService<IOptions<AirliftTransportHostSettings>>().Value.MaxSessions);
            var session = service.Host.CreateSession(TransportLab.NewOptions(SdpSetupRole.Active, seed: 808));
            using var link = new UdpPeerLink(service.Host.UdpEndpoints[0]);
            var peer = await Task.Run(() => LoopbackPeer.Run(link, session, DtlsRole.Client, Deadline));
            Assert.True(peer.Connected, peer.Trace);

            // The server side of the handshake counted on the application's meter factory, and logged to its logger factory.
            Assert.Equal(1, completed.GetMeasurementSnapshot().EvaluateAsCounter());
            var records = logs.Collector.GetSnapshot();
            Assert.Contains(records, r => r.Category == AirliftLogCategories.Transport && r.Id.Id == 3004); // selected tuple
            Assert.Contains(records, r => r.Category == AirliftLogCategories.Dtls && r.Id.Id == 1001 && r.Message.Contains("connected", StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            await host.StopAsync();
        }

        Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<AirliftTransportHostService>().Host);
    }

    [Theory]
    [InlineData("Airlift:TransportHost:UdpListen:0", "localhost", "UdpListen[0] 'localhost'")]
    [InlineData("Airlift:TransportHost:MaxSessions", "0", "limits must be positive")]
    public async Task Invalid_settings_stop_the_start_with_an_error_naming_the_setting(string key, string value, string expected)
    {
        using var logs = new FakeLoggerProvider();
        var settings = new Dictionary<string, string?> { ["Airlift:TransportHost:UdpListen:0"] = "127.0.0.1:0", [key] = value };
        using var host = Build(settings, logs);
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_address_configured_is_an_error_at_start()
    {
        using var logs = new FakeLoggerProvider();
        using var host = Build([], logs);
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("At least one UDP or TCP address", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_action_overload_configures_the_same_settings()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAirliftTransportHost(s =>
        {
            s.UdpListen.Add("127.0.0.1:0");
            s.MaxSessions = 2;
        });
        using var host = builder.Build();
        await host.StartAsync();
        var service = host.Services.GetRequiredService<AirliftTransportHostService>();
        Assert.Equal(2, host.Services.GetRequiredService<IOptions<AirliftTransportHostSettings>>().Value.MaxSessions);
        Assert.NotEqual(0, service.Host.UdpEndpoints[0].Port);
        await host.StopAsync();
    }
}
