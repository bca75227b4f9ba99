using Airlift.Dtls;

namespace Airlift.Tests.Dtls;

public class DtlsHandshakeTests
{
    public static TheoryData<ushort, bool> SuitesAndSrtp()
    {
        var data = new TheoryData<ushort, bool>();
        foreach (var suite in new[] { 0xC02B, 0xC02C, 0xCCA9, 0xC02F, 0xC030, 0xCCA8 })
        {
            data.Add((ushort)suite, false);
            data.Add((ushort)suite, true);
        }

        return data;
    }

    internal static DtlsOptions Options(DtlsCertificate certificate, ulong seed, params SrtpProtectionProfile[] srtp) => new(certificate)
    {
        Random = RandomSource.Seeded(seed),
        SrtpProfiles = srtp,
        // Tests of transport behaviour, not of peer authentication (which has its own tests): explicit opt-out.
        AllowAnyPeerCertificate = true,
        // DTLS 1.2 behaviour under test (DTLS 1.3 has its own tests in Dtls/V13).
        ProtocolVersions = [ProtocolVersion.Dtls12],
    };

    [Theory]
    [MemberData(nameof(SuitesAndSrtp))]
    public void Every_suite_connects_in_memory_and_both_sides_export_the_same_keying_material(ushort suiteValue, bool withSrtp)
    {
        var suite = new CipherSuite(suiteValue);
        var serverCert = suite.Name.Contains("RSA", StringComparison.Ordinal) ? TestCertificates.Rsa : TestCertificates.Ecdsa;
        SrtpProtectionProfile[] profiles = withSrtp ? [SrtpProtectionProfile.Aes128CmHmacSha1_80, SrtpProtectionProfile.AeadAes128Gcm] : [];
        var client = Options(TestCertificates.EcdsaPeer, 1, profiles) with { CipherSuites = [suite] };
        var server = Options(serverCert, 2, profiles);
        var pair = new DtlsPair(client, server);

        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        var c = Assert.Single(pair.ClientEvents.OfType<DtlsConnected>());
        var s = Assert.Single(pair.ServerEvents.OfType<DtlsConnected>());
        Assert.Equal(suite, c.CipherSuite);
        Assert.Equal(suite, s.CipherSuite);
        Assert.True(c.ExtendedMasterSecret);
        Assert.Equal(
            pair.Client.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 60),
            pair.Server.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 60));
        if (withSrtp)
        {
            Assert.Equal(SrtpProtectionProfile.Aes128CmHmacSha1_80, c.SrtpProfile);
            var ck = Assert.Single(pair.ClientEvents.OfType<DtlsKeyingMaterial>());
            var sk = Assert.Single(pair.ServerEvents.OfType<DtlsKeyingMaterial>());
            Assert.Equal(60, ck.Material.Length);
            Assert.Equal(ck.Material, sk.Material);
        }
        else
        {
            Assert.Null(c.SrtpProfile);
            Assert.Empty(pair.ClientEvents.OfType<DtlsKeyingMaterial>());
        }

        // Mutual authentication as WebRTC uses it: each side saw the other's certificate.
        Assert.Equal(TestCertificates.EcdsaPeer.ChainDer[0], Assert.Single(pair.ServerEvents.OfType<DtlsPeerCertificate>()).ChainDer[0]);
        Assert.Equal(serverCert.ChainDer[0], Assert.Single(pair.ClientEvents.OfType<DtlsPeerCertificate>()).ChainDer[0]);
    }

    [Theory]
    [InlineData(0x0001, 60)]
    [InlineData(0x0007, 56)]
    [InlineData(0x0008, 88)]
    public void Srtp_profile_is_negotiated_and_keying_material_has_the_profile_length_RFC5764_4_2(ushort profileValue, int length)
    {
        var profile = new SrtpProtectionProfile(profileValue);
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 3, profile), Options(TestCertificates.Ecdsa, 4, SrtpProtectionProfile.AeadAes256Gcm, SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80));
        pair.Drive();
        Assert.True(pair.BothConnected);
        var km = Assert.Single(pair.ClientEvents.OfType<DtlsKeyingMaterial>());
        Assert.Equal(profile, km.Profile);
        Assert.Equal(length, km.Material.Length);
        Assert.Equal(km.Material, Assert.Single(pair.ServerEvents.OfType<DtlsKeyingMaterial>()).Material);
    }

    [Fact]
    public void Fingerprint_mismatch_fails_both_sides_with_bad_certificate()
    {
        var wrong = TestCertificates.Rsa.GetFingerprint("sha-256");
        var client = Options(TestCertificates.EcdsaPeer, 5) with { ExpectedPeerFingerprint = wrong };
        var pair = new DtlsPair(client, Options(TestCertificates.Ecdsa, 6));
        pair.Drive();

        var clientFailure = Assert.Single(pair.ClientEvents.OfType<DtlsFailed>());
        Assert.Equal(DtlsFailureReason.BadCertificate, clientFailure.Reason);
        Assert.Contains("does not match", clientFailure.Message, StringComparison.Ordinal);
        var serverFailure = Assert.Single(pair.ServerEvents.OfType<DtlsFailed>());
        Assert.Equal(DtlsFailureReason.PeerAlert, serverFailure.Reason);
        Assert.Equal(AlertDescription.BadCertificate, serverFailure.Alert);
        Assert.Empty(pair.ClientEvents.OfType<DtlsConnected>());
    }

    [Fact]
    public void Server_rejects_a_client_certificate_that_does_not_match_the_expected_fingerprint()
    {
        var server = Options(TestCertificates.Ecdsa, 8) with { ExpectedPeerFingerprint = TestCertificates.Rsa.GetFingerprint("sha-384") };
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 7), server);
        pair.Drive();
        Assert.Equal(DtlsFailureReason.BadCertificate, Assert.Single(pair.ServerEvents.OfType<DtlsFailed>()).Reason);
        Assert.Equal(DtlsFailureReason.PeerAlert, Assert.Single(pair.ClientEvents.OfType<DtlsFailed>()).Reason);
    }

    [Fact]
    public void Matching_fingerprints_connect()
    {
        var client = Options(TestCertificates.EcdsaPeer, 9) with { ExpectedPeerFingerprint = TestCertificates.Ecdsa.GetFingerprint("sha-256") };
        var server = Options(TestCertificates.Ecdsa, 10) with { ExpectedPeerFingerprint = TestCertificates.EcdsaPeer.GetFingerprint("sha-512") };
        var pair = new DtlsPair(client, server);
        pair.Drive();
        Assert.True(pair.BothConnected);
    }

    [Fact]
    public void Application_data_flows_both_ways_after_the_handshake()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 11), Options(TestCertificates.Ecdsa, 12));
        pair.Drive();
        Assert.True(pair.BothConnected);

        pair.Client.Send("hello"u8);
        pair.Server.Send("world"u8);
        pair.Drain();
        pair.Drive(p => p.ServerEvents.OfType<DtlsApplicationData>().Any() && p.ClientEvents.OfType<DtlsApplicationData>().Any(), 100);

        Assert.Equal("hello"u8.ToArray(), Assert.Single(pair.ServerEvents.OfType<DtlsApplicationData>()).Data);
        Assert.Equal("world"u8.ToArray(), Assert.Single(pair.ClientEvents.OfType<DtlsApplicationData>()).Data);
    }

    [Fact]
    public void Close_notify_closes_the_peer()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 13), Options(TestCertificates.Ecdsa, 14));
        pair.Drive();
        pair.Client.Close(pair.Now);
        pair.Drain();
        pair.Drive(p => p.Server.State == DtlsState.Closed, 100);
        Assert.Equal(DtlsState.Closed, pair.Server.State);
        Assert.True(Assert.Single(pair.ServerEvents.OfType<DtlsClosed>()).ByPeer);
        Assert.False(Assert.Single(pair.ClientEvents.OfType<DtlsClosed>()).ByPeer);
    }

    [Fact]
    public void No_common_group_fails_both_sides_with_handshake_failure()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 15) with { Groups = [NamedGroup.Secp384r1] }, Options(TestCertificates.Ecdsa, 16) with { Groups = [NamedGroup.Secp256r1] });
        pair.Drive();
        Assert.Equal(DtlsFailureReason.NoCommonParameters, Assert.Single(pair.ServerEvents.OfType<DtlsFailed>()).Reason);
        Assert.Equal(AlertDescription.HandshakeFailure, Assert.Single(pair.ClientEvents.OfType<DtlsFailed>()).Alert);
    }

    [Fact]
    public void Every_datagram_fits_the_configured_size_with_a_large_chain()
    {
        var client = Options(TestCertificates.Rsa, 17) with { MaxDatagramSize = 300 };
        var server = Options(TestCertificates.Rsa, 18) with { MaxDatagramSize = 300 };
        var pair = new DtlsPair(client, server);
        pair.Drive();
        Assert.True(pair.BothConnected);
        Assert.All(pair.Wire, d => Assert.True(d.Data.Length <= 300, $"datagram of {d.Data.Length} bytes"));
        Assert.Equal(300, pair.Wire.Max(d => d.Data.Length));
    }
}
