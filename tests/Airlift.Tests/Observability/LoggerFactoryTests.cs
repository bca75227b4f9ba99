using Airlift.Diagnostics;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Tests.Dtls;
using Microsoft.Extensions.Logging;

namespace Airlift.Tests.Observability;

/// <summary>One logging hook: an ILoggerFactory in the options gets the drivers' lines and the handshake timeline, in one
/// category per layer, every event with its stable EventId.</summary>
public sealed class LoggerFactoryTests
{
    [Fact]
    public async Task A_server_logger_factory_gets_driver_lines_and_the_handshake_timeline_with_stable_event_ids()
    {
        using var telemetry = new Telemetry();
        var server = new DtlsUdpServerOptions(Handshakes.Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 5)) { LoggerFactory = telemetry.LoggerFactory };
        await Handshakes.RunAsync(server, i => Handshakes.Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, 50), count: 1);

        var records = telemetry.Records;
        Assert.Contains(records, r => r.Category == AirliftLogCategories.Net && r.Id.Id == 4006 && r.Level == LogLevel.Information); // handshake started
        Assert.Contains(records, r => r.Category == AirliftLogCategories.Net && r.Id.Id == 4011 && r.Message.Contains("DTLS connected with", StringComparison.Ordinal));
        Assert.Contains(records, r => r.Category == AirliftLogCategories.Dtls && r.Id.Id == 1001 && r.Level == LogLevel.Debug && r.Message.Contains("server:", StringComparison.Ordinal));
        Assert.All(records, r => Assert.NotEqual(0, r.Id.Id));
        Assert.All(records, r => Assert.StartsWith("Airlift.", r.Category, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_logger_factory_gets_the_client_timeline_and_nothing_reaches_a_factory_not_given()
    {
        using var client = new Telemetry();
        using var other = new Telemetry();
        await Handshakes.RunAsync(
            new DtlsUdpServerOptions(Handshakes.Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 6)),
            i => Handshakes.Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, 60) with { LoggerFactory = client.LoggerFactory },
            count: 1);

        Assert.Contains(client.Records, r => r.Category == AirliftLogCategories.Dtls && r.Id.Id == 1001 && r.Message.Contains("client:", StringComparison.Ordinal));
        Assert.DoesNotContain(client.Records, r => r.Message.Contains("server:", StringComparison.Ordinal));
        Assert.Empty(other.Records);
    }

    [Fact]
    public async Task The_logger_factory_takes_precedence_over_the_legacy_single_logger()
    {
        using var telemetry = new Telemetry();
        var legacy = new Airlift.Tests.Net.ListLogger();
        await Handshakes.RunAsync(
            new DtlsUdpServerOptions(Handshakes.Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 7)),
#pragma warning disable CS0618 // The obsolete single logger must keep working (and lose to LoggerFactory).
            i => Handshakes.Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, 70) with { Logger = legacy, LoggerFactory = telemetry.LoggerFactory },
#pragma warning restore CS0618
            count: 1);

        Assert.Empty(legacy.Lines);
        Assert.Contains(telemetry.Records, r => r.Id.Id == 1001);
    }

    [Fact]
    public async Task The_obsolete_single_logger_still_gets_the_handshake_timeline_and_names_its_replacement()
    {
        var legacy = new Airlift.Tests.Net.ListLogger();
        await Handshakes.RunAsync(
            new DtlsUdpServerOptions(Handshakes.Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 8)),
#pragma warning disable CS0618 // The obsolete hook is what this test keeps working.
            i => Handshakes.Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, 80) with { Logger = legacy },
#pragma warning restore CS0618
            count: 1);

        Assert.Contains(legacy.Lines, l => l.Contains("client:", StringComparison.Ordinal));
        var obsolete = Assert.Single(typeof(DtlsOptions).GetProperty(nameof(DtlsOptions.LoggerFactory))!.DeclaringType!
            .GetProperty("Logger")!.GetCustomAttributes(typeof(ObsoleteAttribute), inherit: false).Cast<ObsoleteAttribute>());
        Assert.Contains("DtlsOptions.LoggerFactory", obsolete.Message, StringComparison.Ordinal);
        Assert.False(obsolete.IsError);
    }
}
