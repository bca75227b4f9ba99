using System.Net;
using Airlift.Cli;
using Airlift.Dtls;
using Airlift.Tests.Dtls;

namespace Airlift.Tests.Cli;

/// <summary>The per-handshake report dtls-server and dtls-client print (human and --json).</summary>
public sealed class CliReportTests
{
    private static readonly IPEndPoint Peer = new(IPAddress.Loopback, 4444);

    [Fact]
    public void A_handshake_that_failed_before_any_version_was_negotiated_reports_no_version()
    {
        var report = CliCommon.Report("client", Peer, TestCertificates.Ecdsa, null, null, null, new DtlsStats(), "HandshakeTimeout: no answer");

        Assert.Equal("failed", report["event"]);
        Assert.Null(report["version"]);
    }

    [Fact]
    public void A_connected_handshake_reports_the_version_it_negotiated()
    {
        var connected = new DtlsConnected(DtlsRole.Client, ProtocolVersion.Dtls12, CipherSuite.EcdheEcdsaWithAes128GcmSha256, null, true, 1200, TimeSpan.FromMilliseconds(3));

        var report = CliCommon.Report("client", Peer, TestCertificates.Ecdsa, connected, null, null, new DtlsStats(), null);

        Assert.Equal("connected", report["event"]);
        Assert.Equal(ProtocolVersion.Dtls12.ToString(), report["version"]);
    }
}
