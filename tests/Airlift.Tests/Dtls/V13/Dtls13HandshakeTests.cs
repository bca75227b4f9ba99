using System.Net;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls.V13;

/// <summary>DTLS 1.3 (RFC 9147) between two Airlift endpoints in virtual time: negotiation, groups, retry, ACKs, KeyUpdate.</summary>
public class Dtls13HandshakeTests
{
    private static readonly NamedGroup Hybrid = new(0x11EC);

    internal static DtlsOptions Options(DtlsCertificate certificate, ulong seed, params SrtpProtectionProfile[] srtp) => new(certificate)
    {
        Random = RandomSource.Seeded(seed),
        SrtpProfiles = srtp,
        AllowAnyPeerCertificate = true,
    };

    private static bool IsUnified(byte[] datagram) => (datagram[0] & 0xE0) == 0x20;

    [Theory]
    [InlineData(0x1301)]
    [InlineData(0x1302)]
    [InlineData(0x1303)]
    public void Both_ends_negotiate_DTLS_1_3_with_the_hybrid_group_and_export_the_same_SRTP_keys(ushort suite)
    {
        SrtpProtectionProfile[] profiles = [SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80];
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 1, profiles) with { Dtls13CipherSuites = [new CipherSuite(suite)] }, Options(TestCertificates.Ecdsa, 2, profiles));

        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        var c = Assert.Single(pair.ClientEvents.OfType<DtlsConnected>());
        var s = Assert.Single(pair.ServerEvents.OfType<DtlsConnected>());
        Assert.Equal(ProtocolVersion.Dtls13, c.Version);
        Assert.Equal(ProtocolVersion.Dtls13, s.Version);
        Assert.Equal(new CipherSuite(suite), c.CipherSuite);
        Assert.Equal(SrtpProtectionProfile.AeadAes128Gcm, c.SrtpProfile);
        Assert.Equal(Assert.Single(pair.ClientEvents.OfType<DtlsKeyingMaterial>()).Material, Assert.Single(pair.ServerEvents.OfType<DtlsKeyingMaterial>()).Material);
        Assert.Equal(pair.Client.ExportKeyingMaterial("EXPORTER-test", [1, 2], 32), pair.Server.ExportKeyingMaterial("EXPORTER-test", [1, 2], 32));
        Assert.NotEqual(pair.Client.ExportKeyingMaterial("EXPORTER-test", [1, 2], 32), pair.Client.ExportKeyingMaterial("EXPORTER-test", [1, 3], 32));
        Assert.Contains(Hybrid.ToString(), pair.Server.Trace, StringComparison.Ordinal);

        // Mutual authentication: each side saw the other's certificate. The certificates crossed the wire encrypted.
        Assert.Equal(TestCertificates.EcdsaPeer.ChainDer[0], Assert.Single(pair.ServerEvents.OfType<DtlsPeerCertificate>()).ChainDer[0]);
        Assert.Equal(TestCertificates.Ecdsa.ChainDer[0], Assert.Single(pair.ClientEvents.OfType<DtlsPeerCertificate>()).ChainDer[0]);
        Assert.DoesNotContain(pair.Wire, d => d.Data.AsSpan().IndexOf(TestCertificates.Ecdsa.ChainDer[0].AsSpan(0, 64)) >= 0);
        Assert.Contains(pair.Wire, d => IsUnified(d.Data));

        // The server acknowledged the client's final flight: nothing is kept (RFC 9147 7).
        Assert.False(pair.Client.FinalFlightRetained);
        Assert.False(pair.Server.FinalFlightRetained);
    }

    [Fact]
    public void Application_data_flows_both_ways_after_the_handshake()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 3), Options(TestCertificates.Ecdsa, 4));
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);

        pair.Client.Send("ping"u8);
        pair.Server.Send("pong"u8);
        pair.Drain();
        pair.Drive(p => p.ServerEvents.OfType<DtlsApplicationData>().Any() && p.ClientEvents.OfType<DtlsApplicationData>().Any(), 100);

        Assert.Equal("ping"u8.ToArray(), Assert.Single(pair.ServerEvents.OfType<DtlsApplicationData>()).Data);
        Assert.Equal("pong"u8.ToArray(), Assert.Single(pair.ClientEvents.OfType<DtlsApplicationData>()).Data);
    }

    [Theory]
    [InlineData(0x001D)]
    [InlineData(0x0017)]
    [InlineData(0x0018)]
    public void A_client_sharing_only_one_classic_group_gets_that_group_without_a_retry(ushort group)
    {
        var g = new NamedGroup(group);
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 5) with { Dtls13KeyShares = [g] }, Options(TestCertificates.Ecdsa, 6) with { Dtls13Groups = [g] });
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Contains(g.ToString(), pair.Server.Trace, StringComparison.Ordinal);
        Assert.DoesNotContain("HelloRetryRequest", pair.Server.Trace, StringComparison.Ordinal);
    }

    [Fact]
    public void The_server_asks_for_its_preferred_group_with_a_HelloRetryRequest_RFC8446_4_1_4()
    {
        // The client sends only an X25519 share; the server prefers the hybrid group the client lists.
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 7) with { Dtls13KeyShares = [NamedGroup.X25519] }, Options(TestCertificates.Ecdsa, 8));
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Contains("HelloRetryRequest", pair.Server.Trace, StringComparison.Ordinal);
        Assert.Contains(Hybrid.ToString(), pair.Client.Trace, StringComparison.Ordinal);
        Assert.Equal(pair.Client.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 60), pair.Server.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 60));
    }

    [Fact]
    public void A_DTLS_1_2_only_server_gets_DTLS_1_2_from_a_client_that_offers_both()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 9), Options(TestCertificates.Ecdsa, 10) with { ProtocolVersions = [ProtocolVersion.Dtls12] });
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Equal(ProtocolVersion.Dtls12, Assert.Single(pair.ClientEvents.OfType<DtlsConnected>()).Version);
    }

    [Fact]
    public void A_DTLS_1_2_only_client_gets_DTLS_1_2_with_the_downgrade_sentinel_in_the_server_random()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 11) with { ProtocolVersions = [ProtocolVersion.Dtls12] }, Options(TestCertificates.Ecdsa, 12));
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Equal(ProtocolVersion.Dtls12, Assert.Single(pair.ServerEvents.OfType<DtlsConnected>()).Version);
        var serverHello = pair.Wire.First(d => !d.ToServer).Data;
        Assert.True(serverHello.AsSpan().IndexOf("DOWNGRD\u0001"u8) > 0);
    }

    [Fact]
    public void A_DTLS_1_3_only_server_refuses_a_DTLS_1_2_client_with_protocol_version()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 13) with { ProtocolVersions = [ProtocolVersion.Dtls12] }, Options(TestCertificates.Ecdsa, 14) with { ProtocolVersions = [ProtocolVersion.Dtls13] });
        pair.Drive();
        Assert.Equal(DtlsState.Failed, pair.Server.State);
        var failed = Assert.Single(pair.ServerEvents.OfType<DtlsFailed>());
        Assert.Equal(AlertDescription.ProtocolVersion, failed.Alert);
        Assert.Equal(DtlsFailureReason.ProtocolVersion, failed.Reason); // the reason matches the alert sent
    }

    [Theory]
    [InlineData(576)]
    [InlineData(1200)]
    public void Every_datagram_fits_the_configured_size_with_the_1_4_KB_hybrid_hello(int size)
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 15) with { MaxDatagramSize = size }, Options(TestCertificates.Ecdsa, 16) with { MaxDatagramSize = size });
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.All(pair.Wire, d => Assert.True(d.Data.Length <= size, $"{d.Data.Length} > {size}"));
        Assert.True(pair.Wire.Count(d => d.ToServer) >= 2, "the hybrid ClientHello needs more than one datagram");
    }

    [Fact]
    public void A_lost_datagram_in_the_middle_of_the_server_flight_is_resent_alone_when_the_ACK_shows_the_gap_RFC9147_7()
    {
        // At 300 bytes the server flight takes several datagrams; the second is lost once. The client acknowledges what it
        // has after the ACK timer (RTO/4); the gap in that ACK makes the server resend only the missing records, at once.
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 17) with { MaxDatagramSize = 300, Dtls13KeyShares = [NamedGroup.X25519] },
            Options(TestCertificates.Ecdsa, 18) with { MaxDatagramSize = 300, Dtls13Groups = [NamedGroup.X25519] })
        {
            Drop = (toServer, index, _) => !toServer && index == 1,
        };
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Contains("sent ACK", pair.Client.Trace, StringComparison.Ordinal);
        Assert.True(pair.Server.Trace.Contains("ACK shows records lost", StringComparison.Ordinal), pair.Server.Trace + pair.Client.Trace);
        Assert.Equal(0, pair.Server.Stats.TimeoutRetransmissions);
        var serverDatagrams = pair.Wire.Where(d => !d.ToServer).ToList();
        var flight = serverDatagrams.TakeWhile(d => true).Count();
        Assert.True(pair.Server.Stats.TriggeredRetransmissions == 1, pair.Server.Trace);
        Assert.True(flight < 12, $"server sent {flight} datagrams");
    }

    [Fact]
    public void A_lost_final_flight_is_resent_until_the_server_acknowledges_it_and_then_released_F2()
    {
        // Field failure F2 in DTLS 1.3 terms: the client's Finished is lost twice; the client (not the server) owns the fix.
        var finishedDrops = 0;
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 19), Options(TestCertificates.Ecdsa, 20));
        pair.Drop = (toServer, index, data) =>
        {
            var drop = toServer && IsUnified(data) && pair.Client.State == DtlsState.Connected && finishedDrops < 2;
            finishedDrops += drop ? 1 : 0;
            return drop;
        };
        pair.Drive(p => p.BothConnected && !p.Client.FinalFlightRetained, 10_000);
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.False(pair.Client.FinalFlightRetained);
        Assert.Equal(2, finishedDrops);
        Assert.True(pair.Client.Stats.TimeoutRetransmissions >= 1);
    }

    [Fact]
    public void A_lost_ACK_is_answered_again_when_the_client_resends_its_Finished()
    {
        var ackDrops = 0;
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 21), Options(TestCertificates.Ecdsa, 22));
        pair.Drop = (toServer, index, data) =>
        {
            var drop = !toServer && pair.Server.State == DtlsState.Connected && ackDrops < 1;
            ackDrops += drop ? 1 : 0;
            return drop;
        };
        pair.Drive(p => p.BothConnected && !p.Client.FinalFlightRetained, 10_000);
        Assert.False(pair.Client.FinalFlightRetained, pair.Client.Trace + pair.Server.Trace);
        Assert.Equal(1, ackDrops);
    }

    [Fact]
    public void KeyUpdate_in_both_directions_moves_each_side_to_the_next_epoch_RFC9147_8()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 23), Options(TestCertificates.Ecdsa, 24));
        pair.Drive();
        Assert.True(pair.BothConnected);

        Assert.True(pair.Client.UpdateKeys(pair.Now, requestPeerUpdate: true));
        pair.Drain();
        pair.Drive(p => p.Client.Stats.KeyUpdates >= 2 && p.Server.Stats.KeyUpdates >= 2, 1000);
        Assert.Equal(2, pair.Client.Stats.KeyUpdates);
        Assert.Equal(2, pair.Server.Stats.KeyUpdates);

        pair.Client.Send("after"u8);
        pair.Server.Send("update"u8);
        pair.Drain();
        pair.Drive(p => p.ServerEvents.OfType<DtlsApplicationData>().Any() && p.ClientEvents.OfType<DtlsApplicationData>().Any(), 100);
        Assert.Equal("after"u8.ToArray(), Assert.Single(pair.ServerEvents.OfType<DtlsApplicationData>()).Data);
        Assert.Equal("update"u8.ToArray(), Assert.Single(pair.ClientEvents.OfType<DtlsApplicationData>()).Data);
    }

    [Fact]
    public void Close_notify_closes_both_ends()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 25), Options(TestCertificates.Ecdsa, 26));
        pair.Drive();
        pair.Client.Close(pair.Now);
        pair.Drain();
        pair.Drive();
        Assert.Equal(DtlsState.Closed, pair.Server.State);
        Assert.True(Assert.Single(pair.ServerEvents.OfType<DtlsClosed>()).ByPeer);
    }

    [Fact]
    public void A_wrong_server_fingerprint_fails_the_DTLS_1_3_client_with_bad_certificate()
    {
        var client = Options(TestCertificates.EcdsaPeer, 27) with { AllowAnyPeerCertificate = false, ExpectedPeerFingerprint = CertificateFingerprint.Compute("sha-256", TestCertificates.Rsa.ChainDer[0]) };
        var pair = new DtlsPair(client, Options(TestCertificates.Ecdsa, 28));
        pair.Drive();
        Assert.Equal(DtlsFailureReason.BadCertificate, Assert.Single(pair.ClientEvents.OfType<DtlsFailed>()).Reason);
    }

    [Fact]
    public void An_RSA_server_signs_with_RSA_PSS()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 29), Options(TestCertificates.Rsa, 30));
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Contains(SignatureScheme.RsaPssRsaeSha256.ToString(), pair.Server.Trace, StringComparison.Ordinal);
    }

    [Fact]
    public void The_stateless_listener_answers_a_two_datagram_hello_with_a_HelloRetryRequest_cookie_and_accepts_the_echo()
    {
        var now = TimeSpan.FromSeconds(5);
        var listener = new DtlsServerListener(Options(TestCertificates.Ecdsa, 31));
        var client = DtlsEndpoint.CreateClient(Options(TestCertificates.EcdsaPeer, 32), now);
        var remote = IPEndPoint.Parse("127.0.0.1:5000");
        var buffer = new byte[2048];
        var response = new byte[2048];
        var decisions = new List<DtlsListenerDecision>();
        var lengths = new List<string>();
        DtlsEndpoint? server = null;
        for (var round = 0; round < 3 && server is null; round++)
        {
            while (client.PollOutput(buffer) is { Kind: DtlsOutputKind.Datagram } output)
            {
                var decision = listener.HandleDatagram(now, remote, buffer.AsSpan(0, output.DatagramLength), response, out var length, out var accepted);
                decisions.Add(decision);
                lengths.Add($"{output.DatagramLength}:{buffer[0]:x2}{buffer[13]:x2}:{decision}");
                if (decision == DtlsListenerDecision.HelloRetryRequest)
                {
                    client.HandleDatagram(now, response.AsSpan(0, length));
                }

                server ??= accepted;
            }
        }

        Assert.True(decisions.Count == 4, string.Join(",", lengths) + $" dropped {listener.Stats.Dropped}" + client.Trace);
        Assert.Equal([DtlsListenerDecision.Buffered, DtlsListenerDecision.HelloRetryRequest, DtlsListenerDecision.Buffered, DtlsListenerDecision.Accepted], decisions);
        Assert.NotNull(server);
        var pairBuffer = new byte[2048];
        for (var i = 0; i < 20 && (client.State != DtlsState.Connected || server!.State != DtlsState.Connected); i++)
        {
            now += TimeSpan.FromMilliseconds(5);
            while (server!.PollOutput(pairBuffer) is { Kind: not DtlsOutputKind.Timeout } o)
            {
                if (o.Kind == DtlsOutputKind.Datagram)
                {
                    client.HandleDatagram(now, pairBuffer.AsSpan(0, o.DatagramLength));
                }
            }

            while (client.PollOutput(pairBuffer) is { Kind: not DtlsOutputKind.Timeout } o)
            {
                if (o.Kind == DtlsOutputKind.Datagram)
                {
                    server.HandleDatagram(now, pairBuffer.AsSpan(0, o.DatagramLength));
                }
            }
        }

        Assert.Equal(DtlsState.Connected, client.State);
        Assert.Equal(DtlsState.Connected, server!.State);
        Assert.Equal(ProtocolVersion.Dtls13, server.Version);
        Assert.Equal(1, listener.Stats.HelloRetryRequestsSent);
    }
}
