using System.Net;
using Airlift.Cli;
using Airlift.Cli.Storm;
using Airlift.Dtls;

namespace Airlift.Tests.Storm;

/// <summary>The storm's pieces on their own: percentiles, /proc parsing, source addresses, settings, the report text.</summary>
public class StormPartsTests
{
    [Fact]
    public void Nearest_rank_percentiles_pick_a_measured_value()
    {
        var values = Enumerable.Range(1, 100).Select(i => (double)i).Reverse().ToList();

        var p = StormPercentiles.Of(values)!;

        Assert.Equal(50, p.P50);
        Assert.Equal(90, p.P90);
        Assert.Equal(99, p.P99);
        Assert.Equal(100, p.Max);
        Assert.Equal(50.5, p.Mean);
        Assert.Null(StormPercentiles.Of([]));
        Assert.Equal(7, StormPercentiles.Of([7])!.P99);
    }

    [Fact]
    public void Proc_stat_cpu_survives_a_command_name_with_spaces_and_parentheses()
    {
        // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
        const string Stat = "4242 (dotnet (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0";

        Assert.Equal(3.0, ProcStat.ParseCpuSeconds(Stat));
        Assert.Null(ProcStat.ParseCpuSeconds("garbage"));
        Assert.Null(ProcStat.ParseCpuSeconds("1 (x) S 1 2"));
    }

    [Fact]
    public void Proc_status_gives_rss_peak_and_threads_in_bytes()
    {
        const string Status = "Name:\tdotnet\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t17\n";

        var (rss, peak, threads) = ProcStat.ParseStatus(Status);

        Assert.Equal(100L * 1024 * 1024, rss);
        Assert.Equal(200L * 1024 * 1024, peak);
        Assert.Equal(17, threads);
    }

    [Fact]
    public void Client_addresses_fill_each_127_address_up_to_the_per_address_count_and_never_use_127_0_0_x()
    {
        Assert.Equal(StormDriver.AddressFor(0, 32), StormDriver.AddressFor(31, 32));
        Assert.NotEqual(StormDriver.AddressFor(31, 32), StormDriver.AddressFor(32, 32));

        var addresses = Enumerable.Range(0, 70_000).Select(i => StormDriver.AddressFor(i, 1)).ToList();
        Assert.Equal(70_000, addresses.Distinct().Count());
        Assert.All(addresses, a =>
        {
            var b = a.GetAddressBytes();
            Assert.Equal(127, b[0]);
            Assert.NotEqual(0, b[1]);
            Assert.InRange(b[3], 1, 254);
            Assert.True(IPAddress.IsLoopback(a));
        });
    }

    [Fact]
    public void A_foreign_target_needs_a_fingerprint_or_insecure_and_not_both()
    {
        var target = new StormSettings { Mode = StormServerMode.Target, Target = new IPEndPoint(IPAddress.Loopback, 4444) };

        Assert.Contains("--expect-fingerprint", Assert.Throws<CliException>(target.Validate).Message, StringComparison.Ordinal);
        (target with { Insecure = true }).Validate();
        Assert.Throws<CliException>((target with { Insecure = true, ExpectFingerprint = DtlsCertificate.GenerateEcdsa().GetFingerprint() }).Validate);
        Assert.Throws<CliException>(new StormSettings { Mode = StormServerMode.SelfInProcess, Insecure = true }.Validate);
        Assert.Throws<CliException>(new StormSettings { Mode = StormServerMode.SelfInProcess, Rate = -1 }.Validate);
        Assert.Throws<CliException>(new StormSettings { Mode = StormServerMode.SelfInProcess, ProxyLossPercent = 101 }.Validate);
        Assert.Throws<CliException>(new StormSettings { Mode = StormServerMode.SelfInProcess, Versions = [ProtocolVersion.Dtls12], Groups = [NamedGroup.X25519MlKem768] }.Validate);
    }

    [Fact]
    public void Groups_parse_by_their_common_names()
    {
        Assert.Equal([NamedGroup.X25519, NamedGroup.Secp256r1, NamedGroup.X25519MlKem768], StormSettings.ParseGroups("x25519, P-256,x25519mlkem768"));
        Assert.Null(StormSettings.ParseGroups(" "));
        Assert.Throws<CliException>(() => StormSettings.ParseGroups("x448"));
    }

    [Fact]
    public void The_report_lists_failures_by_reason_and_says_when_it_is_partial()
    {
        var report = new StormReport
        {
            Command = "airlift storm --self",
            Started = DateTimeOffset.UnixEpoch,
            Machine = "test",
            Server = "self (in-process)",
            Dtls = "1.2",
            Connections = 10,
            Total = 10,
            Rate = 0,
            TimeoutSeconds = 30,
            StartedHandshakes = 9,
            Connected = 6,
            Failed = 2,
            Unfinished = 1,
            NotStarted = 1,
            Interrupted = true,
            FailuresByReason = new Dictionary<string, int> { ["timeout"] = 2 },
            Versions = new Dictionary<string, int> { ["DTLS 1.2"] = 6 },
            DrainSeconds = 2,
            HandshakesPerSecond = 3,
            PeakHandshakesPerSecond = 4,
            DatagramsSent = 1,
            DatagramsReceived = 1,
            Retransmissions = 0,
            PortUnreachable = 0,
            SendErrors = 0,
            Truncated = 0,
            HeldAtEnd = 6,
            ClosedByServerWhileHeld = 0,
            ClientCpuSeconds = 1,
            Timeline = [new StormTick(1, 9, 6, 2, 1, 6, 6, null, null)],
        };

        var lines = StormReportText.Lines(report);

        Assert.True(report.CountsAddUp);
        Assert.False(report.AllConnected);
        Assert.StartsWith("storm: INTERRUPTED (partial) 6/10 connected, 2 failed, 1 unfinished, 1 not started", lines[0], StringComparison.Ordinal);
        Assert.Contains("  failed: 2 x timeout", lines);
        Assert.Contains("<svg", StormReportText.Html(report), StringComparison.Ordinal);
    }
}
