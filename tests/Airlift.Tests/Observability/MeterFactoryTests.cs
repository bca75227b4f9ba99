using Airlift.Diagnostics;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Srtp;
using Airlift.Tests.Dtls;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Airlift.Tests.Observability;

/// <summary>The meters are IMeterFactory-aware: a factory in the options gets the counts of real handshakes; without one
/// the process-wide meter of the same name still counts.</summary>
public sealed class MeterFactoryTests
{
    [Fact]
    public async Task A_meter_factory_in_the_options_counts_every_real_handshake_of_server_and_client()
    {
        using var telemetry = new Telemetry();
        using var started = new MetricCollector<long>(telemetry.MeterFactory, AirliftMeterNames.Dtls, "airlift.dtls.handshakes.started");
        using var completed = new MetricCollector<long>(telemetry.MeterFactory, AirliftMeterNames.Dtls, "airlift.dtls.handshakes.completed");
        using var sent = new MetricCollector<long>(telemetry.MeterFactory, AirliftMeterNames.Dtls, "airlift.dtls.datagrams.sent");
        using var failed = new MetricCollector<long>(telemetry.MeterFactory, AirliftMeterNames.Dtls, "airlift.dtls.handshakes.failed");

        var server = new DtlsUdpServerOptions(Handshakes.Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 1)) { MeterFactory = telemetry.MeterFactory };
        await Handshakes.RunAsync(server, i => Handshakes.Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, (ulong)(10 + i)) with { MeterFactory = telemetry.MeterFactory }, count: 3);

        // Three clients and the three server endpoints they met; nothing else shares this factory.
        Assert.Equal(6, started.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(6, completed.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(0, failed.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.True(sent.GetMeasurementSnapshot().EvaluateAsCounter() >= 6 * 2, "each side of each handshake sends at least two datagrams");
    }

    [Fact]
    public async Task A_server_factory_serves_its_endpoints_unless_their_dtls_options_name_their_own()
    {
        using var serverTelemetry = new Telemetry();
        using var endpointTelemetry = new Telemetry();
        using var serverCompleted = new MetricCollector<long>(serverTelemetry.MeterFactory, AirliftMeterNames.Dtls, "airlift.dtls.handshakes.completed");
        using var endpointCompleted = new MetricCollector<long>(endpointTelemetry.MeterFactory, AirliftMeterNames.Dtls, "airlift.dtls.handshakes.completed");

        var own = Handshakes.Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 2) with { MeterFactory = endpointTelemetry.MeterFactory };
        await Handshakes.RunAsync(new DtlsUdpServerOptions(own) { MeterFactory = serverTelemetry.MeterFactory }, i => Handshakes.Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, 20), count: 1);
        Assert.Equal(0, serverCompleted.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(1, endpointCompleted.GetMeasurementSnapshot().EvaluateAsCounter());

        var inherited = Handshakes.Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 3);
        await Handshakes.RunAsync(new DtlsUdpServerOptions(inherited) { MeterFactory = serverTelemetry.MeterFactory }, i => Handshakes.Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, 21), count: 1);
        Assert.Equal(1, serverCompleted.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    [Fact]
    public async Task Without_a_meter_factory_the_process_wide_meter_still_counts()
    {
        using var completed = new MetricCollector<long>(null, AirliftMeterNames.Dtls, "airlift.dtls.handshakes.completed");
        await Handshakes.RunAsync(new DtlsUdpServerOptions(Handshakes.Options(TestCertificates.Ecdsa, TestCertificates.EcdsaPeer, 4)), i => Handshakes.Options(TestCertificates.EcdsaPeer, TestCertificates.Ecdsa, 30), count: 1);

        // Other tests running in parallel count here too: at least this test's two endpoints.
        Assert.True(completed.GetMeasurementSnapshot().EvaluateAsCounter() >= 2);
    }

    [Fact]
    public void Srtp_contexts_count_packets_on_the_factory_of_their_options()
    {
        using var telemetry = new Telemetry();
        using var packets = new MetricCollector<long>(telemetry.MeterFactory, AirliftMeterNames.Srtp, "airlift.srtp.packets");
        using var drops = new MetricCollector<long>(telemetry.MeterFactory, AirliftMeterNames.Srtp, "airlift.srtp.drops");
        var options = new SrtpOptions { MeterFactory = telemetry.MeterFactory };
        var key = new byte[16];
        var salt = new byte[12];
        using var protect = SrtpContext.Create(SrtpProtectionProfile.AeadAes128Gcm, SrtpDirection.Protect, key, salt, options);
        using var unprotect = SrtpContext.Create(SrtpProtectionProfile.AeadAes128Gcm, SrtpDirection.Unprotect, key, salt, options);

        var packet = new byte[64];
        packet[0] = 0x80; // RTP version 2, no padding, extension or CSRC
        packet[1] = 96;
        Assert.Equal(SrtpStatus.Ok, protect.ProtectRtp(packet, 40, out var length));
        var copy = packet.AsSpan(0, length).ToArray();
        Assert.Equal(SrtpStatus.Ok, unprotect.UnprotectRtp(packet.AsSpan(0, length), out _));
        Assert.NotEqual(SrtpStatus.Ok, unprotect.UnprotectRtp(copy, out _)); // the same packet again: a replay

        var counted = packets.GetMeasurementSnapshot();
        Assert.Equal(2, counted.EvaluateAsCounter());
        Assert.Single(counted, m => Equals(m.Tags["operation"], "protect_rtp"));
        Assert.Single(drops.GetMeasurementSnapshot(), m => Equals(m.Tags["cause"], "replayed") && Equals(m.Tags["operation"], "unprotect_rtp"));
    }
}
