using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls.BadInput;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Airlift.Tests.Dtls;

/// <summary>
/// Regression tests of the hardening issue (#10): a hostile or merely unusual peer cannot crash an endpoint, skip peer
/// authentication, bind a handshake message to the wrong epoch, or loop a client on cookies. Each failed before its fix.
/// </summary>
public sealed class HardeningTests
{
    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(1);

    private static DtlsOptions Options(DtlsCertificate certificate, ulong seed) => new(certificate)
    {
        Random = RandomSource.Seeded(seed),
        MaxDatagramSize = 4096, // the whole certificate in one record, so a test can rewrite it in place
        SrtpProfiles = [SrtpProtectionProfile.Aes128CmHmacSha1_80],
        ProtocolVersions = [ProtocolVersion.Dtls12], // DTLS 1.2 hardening (DTLS 1.3: tests/Airlift.Tests/Dtls/V13)
    };

    /// <summary>The leaf DER with its SubjectPublicKey contents damaged in place by <paramref name="damage"/> (same length, still parses).</summary>
    private static byte[] WithDamagedKey(byte[] der, Action<byte[], int, int> damage)
    {
        using var leaf = X509CertificateLoader.LoadCertificate(der);
        var key = leaf.PublicKey.EncodedKeyValue.RawData;
        var at = der.AsSpan().IndexOf(key);
        Assert.True(at > 0, "the public key bytes were not found in the certificate");
        var crafted = (byte[])der.Clone();
        damage(crafted, at, key.Length);
        return crafted;
    }

    /// <summary>Replaces the server's leaf certificate bytes in every datagram it sends with <paramref name="crafted"/> (same length).</summary>
    private static Func<bool, List<byte[]>, List<byte[]>> ReplaceServerCertificate(byte[] original, byte[] crafted) => (toServer, batch) =>
    {
        if (toServer)
        {
            return batch;
        }

        return [.. batch.Select(d =>
        {
            var at = d.AsSpan().IndexOf(original);
            if (at < 0)
            {
                return d;
            }

            var copy = (byte[])d.Clone();
            crafted.CopyTo(copy, at);
            return copy;
        })];
    };

    [Fact]
    public void A_server_certificate_of_type_RSA_with_malformed_key_bytes_fails_the_client_with_bad_certificate_instead_of_throwing()
    {
        // Field report: the key's SEQUENCE tag turned into an OCTET STRING: the certificate loads, GetRSAPublicKey throws.
        var original = TestCertificates.Rsa.ChainDer[0];
        var crafted = WithDamagedKey(original, (der, at, _) => der[at] = 0x04);
        using (var loaded = X509CertificateLoader.LoadCertificate(crafted))
        {
            Assert.ThrowsAny<CryptographicException>(() => loaded.GetRSAPublicKey());
        }

        // The attacker signals its own fingerprint, so the fingerprint check passes and the key is what is left.
        var client = Options(TestCertificates.EcdsaPeer, 1) with
        {
            CipherSuites = [CipherSuite.EcdheRsaWithAes128GcmSha256],
            ExpectedPeerFingerprint = CertificateFingerprint.Compute("sha-256", crafted),
        };
        var server = Options(TestCertificates.Rsa, 2) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] };
        var link = new VirtualLink(client, server) { Mutate = ReplaceServerCertificate(original, crafted) };
        link.Pump();
        link.Drive(l => l.Client.State != DtlsState.Connecting, 1_000);

        var failed = Assert.Single(link.ClientEvents.OfType<DtlsFailed>());
        Assert.Equal(DtlsFailureReason.BadCertificate, failed.Reason);
        Assert.Equal(AlertDescription.BadCertificate, failed.Alert);
        Assert.Contains("key is unusable", failed.Message, StringComparison.Ordinal);
        Assert.Equal(0, link.Client.Stats.InternalErrors);
    }

    [Fact]
    public void A_server_certificate_with_an_off_curve_EC_point_ends_in_a_typed_failure_never_an_exception()
    {
        var original = TestCertificates.Ecdsa.ChainDer[0];
        var crafted = WithDamagedKey(original, (der, at, length) => der[at + length - 1] ^= 0x01);
        var client = Options(TestCertificates.EcdsaPeer, 3) with { ExpectedPeerFingerprint = CertificateFingerprint.Compute("sha-256", crafted) };
        var server = Options(TestCertificates.Ecdsa, 4) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] };
        var link = new VirtualLink(client, server) { Mutate = ReplaceServerCertificate(original, crafted) };
        link.Pump();
        link.Drive(l => l.Client.State != DtlsState.Connecting, 1_000);

        var failed = Assert.Single(link.ClientEvents.OfType<DtlsFailed>());
        Assert.Contains(failed.Reason, new[] { DtlsFailureReason.BadCertificate, DtlsFailureReason.VerificationFailed });
        Assert.Equal(0, link.Client.Stats.InternalErrors);
    }

    [Fact]
    public void An_unexpected_exception_inside_the_engine_fails_only_that_endpoint_with_internal_error_and_never_leaves_HandleDatagram()
    {
        // A logger that throws stands in for any bug reached while handling one message.
        var poisoned = Options(TestCertificates.Ecdsa, 5) with { AllowAnyPeerCertificate = true, LoggerFactory = new OneLoggerFactory(new ThrowingLogger("received ClientKeyExchange")) };
        var link = new VirtualLink(Options(TestCertificates.EcdsaPeer, 6) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] }, poisoned);
        link.Pump();
        link.Drive(l => l.BothDone, 1_000);

        var failed = Assert.Single(link.ServerEvents.OfType<DtlsFailed>());
        Assert.Equal(DtlsFailureReason.InternalError, failed.Reason);
        Assert.Equal(AlertDescription.InternalError, failed.Alert);
        Assert.Contains(nameof(InvalidOperationException), failed.Message, StringComparison.Ordinal);
        Assert.Equal(1, link.Server.Stats.InternalErrors);
        Assert.Equal(DtlsState.Failed, link.Server.State);

        // The peer hears the internal_error alert and fails too, with the typed reason; later input is ignored, not thrown.
        Assert.Equal(DtlsFailureReason.PeerAlert, Assert.Single(link.ClientEvents.OfType<DtlsFailed>()).Reason);
        link.Server.HandleDatagram(link.Now, [22, 0xFE, 0xFD, 0, 0]);
        link.Server.HandleTimeout(link.Now + TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void An_expected_fingerprint_makes_the_client_certificate_mandatory_even_when_the_server_only_requests_one()
    {
        // The server's CertificateRequest lists only ECDSA schemes; an RSA client then answers with an empty Certificate.
        DtlsOptions Server(CertificateFingerprint? expected) => Options(TestCertificates.Ecdsa, 7) with
        {
            ClientCertificate = ClientCertificateMode.Request,
            SignatureSchemes = [SignatureScheme.EcdsaSecp256r1Sha256],
            ExpectedPeerFingerprint = expected,
            AllowAnyPeerCertificate = expected is null,
        };
        var client = Options(TestCertificates.Rsa, 8) with { ExpectedPeerFingerprint = TestCertificates.Ecdsa.GetFingerprint() };

        // Control: without a fingerprint, Request lets an anonymous client in (so the empty certificate really is sent).
        var open = new VirtualLink(client, Server(null));
        open.Pump();
        open.Drive(l => l.BothDone, 1_000);
        Assert.True(open.BothConnected, open.Server.Trace);

        var pinned = new VirtualLink(client, Server(TestCertificates.Rsa.GetFingerprint()));
        pinned.Pump();
        pinned.Drive(l => l.BothDone, 1_000);
        var failed = Assert.Single(pinned.ServerEvents.OfType<DtlsFailed>());
        Assert.Equal(DtlsFailureReason.BadCertificate, failed.Reason);
        Assert.Contains("fingerprint is expected", failed.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(pinned.ServerEvents, e => e is DtlsConnected or DtlsKeyingMaterial);
    }

    [Fact]
    public void Options_that_would_accept_any_peer_certificate_refuse_to_start_unless_the_caller_opts_out_by_name()
    {
        var bare = new DtlsOptions(TestCertificates.Ecdsa);
        var client = Assert.Throws<ArgumentException>(() => DtlsEndpoint.CreateClient(bare, T0));
        Assert.Contains("AllowAnyPeerCertificate", client.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => DtlsEndpoint.CreateServer(bare, T0));
        Assert.Throws<ArgumentException>(() => new DtlsServerListener(bare));

        // Each of the three ways to decide is enough; a server that requests no client certificate authenticates no one by design.
        DtlsEndpoint.CreateClient(bare with { ExpectedPeerFingerprint = TestCertificates.EcdsaPeer.GetFingerprint() }, T0).Dispose();
        DtlsEndpoint.CreateClient(bare with { PeerCertificateValidator = _ => true }, T0).Dispose();
        DtlsEndpoint.CreateClient(bare with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] }, T0).Dispose();
        DtlsEndpoint.CreateServer(bare with { ClientCertificate = ClientCertificateMode.None }, T0).Dispose();
        Assert.Throws<ArgumentException>(() => DtlsEndpoint.CreateClient(bare with { ClientCertificate = ClientCertificateMode.None }, T0));
        Assert.Throws<ArgumentException>(() => DtlsEndpoint.CreateServer(bare with { ClientCertificate = ClientCertificateMode.None, ExpectedPeerFingerprint = TestCertificates.EcdsaPeer.GetFingerprint() }, T0));

        // sha-1 fingerprints only on request (RFC 8827 6.5).
        var sha1 = bare with { ExpectedPeerFingerprint = TestCertificates.EcdsaPeer.GetFingerprint("sha-1") };
        Assert.Contains("sha-1", Assert.Throws<ArgumentException>(() => DtlsEndpoint.CreateClient(sha1, T0)).Message, StringComparison.Ordinal);
        DtlsEndpoint.CreateClient(sha1 with { AllowSha1Fingerprint = true }, T0).Dispose();
    }

    [Theory]
    [InlineData("refuses")]
    [InlineData("throws")]
    public void A_certificate_validator_that_refuses_or_throws_fails_the_handshake_with_bad_certificate(string behaviour)
    {
        var seen = new List<DtlsPeerCertificate>();
        var client = Options(TestCertificates.EcdsaPeer, 9) with
        {
            PeerCertificateValidator = peer =>
            {
                seen.Add(peer);
                return behaviour == "throws" ? throw new InvalidOperationException("validator bug") : false;
            },
        };
        var link = new VirtualLink(client, Options(TestCertificates.Ecdsa, 10) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] });
        link.Pump();
        link.Drive(l => l.BothDone, 1_000);

        var peer = Assert.Single(seen);
        Assert.Equal(TestCertificates.Ecdsa.GetFingerprint(), peer.Sha256Fingerprint);
        var failed = Assert.Single(link.ClientEvents.OfType<DtlsFailed>());
        Assert.Equal(DtlsFailureReason.BadCertificate, failed.Reason);
        Assert.Equal(0, link.Client.Stats.InternalErrors);

        var accepting = new VirtualLink(client with { PeerCertificateValidator = _ => true }, Options(TestCertificates.Ecdsa, 10) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] });
        accepting.Pump();
        accepting.Drive(l => l.BothDone, 1_000);
        Assert.True(accepting.BothConnected);
    }

    [Fact]
    public void A_Finished_in_a_plaintext_epoch_0_record_is_dropped_and_the_real_one_completes_the_handshake_RFC6347_4_1()
    {
        var client = Options(TestCertificates.EcdsaPeer, 11) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] };
        var server = Options(TestCertificates.Ecdsa, 12) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] };
        var injected = false;
        var link = new VirtualLink(client, server);
        link.Mutate = (toServer, batch) =>
        {
            // Ahead of the client's encrypted Finished, an off-path forger sends a plaintext one with the same message_seq.
            var records = WireEdit.Records(batch);
            if (!toServer || injected || !records.Any(r => r.Type == ContentType.ChangeCipherSpec))
            {
                return batch;
            }

            injected = true;
            var lastSeq = WireEdit.Messages(batch).Max(m => m.Header.MessageSeq);
            var forged = WireEdit.Join([WireEdit.HandshakeRecord(HandshakeType.Finished, (ushort)(lastSeq + 1), new byte[12], recordSeq: 40)]);
            return [forged, .. batch];
        };
        link.Pump();
        link.Drive(l => l.BothDone, 1_000);

        Assert.True(injected, "the client's final flight was never seen");
        Assert.True(link.BothConnected, link.Server.Trace);
        Assert.True(link.Server.Stats.DroppedEpoch >= 1);
    }

    [Fact]
    public void A_client_fed_new_cookies_forever_gives_up_after_MaxHelloVerifyRequests()
    {
        var options = Options(TestCertificates.EcdsaPeer, 13) with { AllowAnyPeerCertificate = true, MaxDatagramSize = 1200 };
        var client = DtlsEndpoint.CreateClient(options, T0);
        var buffer = new byte[65535];
        var response = new byte[1500];
        var remote = new IPEndPoint(IPAddress.Loopback, 5000);
        var helloCount = 0;
        DtlsFailed? failed = null;
        for (var round = 0; round < 20 && failed is null; round++)
        {
            // Each round a listener with a new secret: a new cookie every time, as a server that never accepts one would send.
            var listener = new DtlsServerListener(Options(TestCertificates.Ecdsa, 100 + (ulong)round) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] });
            byte[]? hello = null;
            for (var o = client.PollOutput(buffer); o.Kind != DtlsOutputKind.Timeout; o = client.PollOutput(buffer))
            {
                if (o.Kind == DtlsOutputKind.Datagram && buffer[0] == 22 /* handshake record */)
                {
                    hello = buffer[..o.DatagramLength];
                    helloCount++;
                }
                else if (o.Event is DtlsFailed f)
                {
                    failed = f;
                }
            }

            if (hello is null || failed is not null)
            {
                break;
            }

            Assert.Equal(DtlsListenerDecision.HelloVerifyRequest, listener.HandleDatagram(T0, remote, hello, response, out var length, out _));
            client.HandleDatagram(T0, response.AsSpan(0, length));
        }

        Assert.NotNull(failed);
        Assert.Equal(DtlsFailureReason.UnexpectedMessage, failed.Reason);
        Assert.Contains("cookie loop", failed.Message, StringComparison.Ordinal);
        Assert.Equal(options.MaxHelloVerifyRequests + 1, helloCount);
    }

    [Fact]
    public void Keying_material_stays_exportable_after_the_peer_closes_and_is_gone_after_Dispose()
    {
        var link = new VirtualLink(Options(TestCertificates.EcdsaPeer, 14) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] }, Options(TestCertificates.Ecdsa, 15) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] });
        link.Pump();
        link.Drive(l => l.BothConnected, 1_000);
        var keys = Assert.Single(link.ServerEvents.OfType<DtlsKeyingMaterial>()).Material;

        // The race of issue item 6: the consumer reads DtlsConnected after the peer already closed.
        link.Client.Close(link.Now);
        link.Pump();
        link.Drive(l => l.Server.State == DtlsState.Closed, 100);
        Assert.Equal(DtlsState.Closed, link.Server.State);
        Assert.Equal(keys, link.Server.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, keys.Length));

        link.Server.Dispose();
        Assert.Throws<ObjectDisposedException>(() => link.Server.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, keys.Length));
        link.Server.HandleDatagram(link.Now, [23, 0xFE, 0xFD, 0, 1]);
        Assert.Equal(DtlsOutputKind.Timeout, link.Server.PollOutput(new byte[2048]).Kind);
    }

    [Fact]
    public void The_final_flight_is_retained_until_the_peer_proves_it_finished_or_the_retention_ends()
    {
        var server = Options(TestCertificates.Ecdsa, 17) with { AllowAnyPeerCertificate = true, FinalFlightRetention = TimeSpan.FromSeconds(20) };
        var link = new VirtualLink(Options(TestCertificates.EcdsaPeer, 16) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] }, server);
        link.Pump();
        link.Drive(l => l.BothConnected, 1_000);
        Assert.True(link.Server.FinalFlightRetained);
        Assert.False(link.Client.FinalFlightRetained);

        // Protected data from the client proves it has the server's Finished.
        link.Client.Send("ok"u8);
        link.Pump();
        link.Drive(l => !l.Server.FinalFlightRetained, 100);
        Assert.False(link.Server.FinalFlightRetained);

        // A silent peer: the retention timer ends it.
        var quiet = new VirtualLink(Options(TestCertificates.EcdsaPeer, 18) with { AllowAnyPeerCertificate = true, ProtocolVersions = [ProtocolVersion.Dtls12] }, server);
        quiet.Pump();
        quiet.Drive(l => l.BothConnected, 1_000);
        Assert.True(quiet.Server.FinalFlightRetained);
        quiet.Server.HandleTimeout(quiet.Now + TimeSpan.FromSeconds(21));
        Assert.False(quiet.Server.FinalFlightRetained);
    }

    /// <summary>Hands out one logger for every category (the logger that throws, unwrapped).</summary>
    private sealed class OneLoggerFactory(ILogger logger) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => logger;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }

    private sealed class ThrowingLogger(string trigger) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (formatter(state, exception).Contains(trigger, StringComparison.Ordinal))
            {
                throw new InvalidOperationException("logger bug");
            }
        }
    }
}
