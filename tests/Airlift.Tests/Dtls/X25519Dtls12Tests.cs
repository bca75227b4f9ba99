using Airlift.Dtls;
using Airlift.Dtls.Messages;
using Airlift.Tests.Dtls.BadInput;

namespace Airlift.Tests.Dtls;

/// <summary>
/// X25519 in DTLS 1.2 (RFC 8422 5.1.1, 5.4: the ECPoint of x25519 is the 32-byte u-coordinate, no 0x04 prefix), checked
/// on the wire between two Airlift endpoints that speak only DTLS 1.2.
/// </summary>
public class X25519Dtls12Tests
{
    [Fact]
    public void Default_groups_prefer_x25519_then_p256_and_p384()
    {
        var options = new DtlsOptions(TestCertificates.Ecdsa);
        Assert.Equal([NamedGroup.X25519, NamedGroup.Secp256r1, NamedGroup.Secp384r1], options.Groups);
    }

    [Fact]
    public void Server_role_chooses_x25519_and_sends_a_32_byte_u_coordinate_rfc8422_section5_4()
    {
        var pair = Pair(client: o => o, server: o => o);
        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        var (ske, cke) = KeyExchangeMessages(pair);
        Assert.Equal(NamedGroup.X25519, ske.Group);
        Assert.Equal(32, ske.PublicPoint.Length);
        Assert.Equal(32, cke.PublicPoint.Length);
        Assert.Contains("x25519", pair.Server.Trace, StringComparison.Ordinal);
        Assert.Equal(pair.Client.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 60), pair.Server.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 60));
    }

    [Fact]
    public void Client_role_offering_only_x25519_gets_it_from_a_server_that_prefers_p256_and_answers_with_a_32_byte_point()
    {
        var pair = Pair(client: o => o with { Groups = [NamedGroup.X25519] }, server: o => o with { Groups = [NamedGroup.Secp256r1, NamedGroup.X25519] });
        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        var (ske, cke) = KeyExchangeMessages(pair);
        Assert.Equal(NamedGroup.X25519, ske.Group);
        Assert.Equal(32, cke.PublicPoint.Length);
        Assert.Equal(pair.Client.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 60), pair.Server.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 60));
    }

    [Fact]
    public void P256_still_works_when_groups_is_secp256r1_only()
    {
        var pair = Pair(client: o => o with { Groups = [NamedGroup.Secp256r1] }, server: o => o with { Groups = [NamedGroup.Secp256r1] });
        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        var (ske, cke) = KeyExchangeMessages(pair);
        Assert.Equal(NamedGroup.Secp256r1, ske.Group);
        Assert.Equal(65, ske.PublicPoint.Length);
        Assert.Equal(0x04, cke.PublicPoint[0]);
        Assert.Equal(65, cke.PublicPoint.Length);
    }

    [Fact]
    public void A_dtls12_server_skips_x25519mlkem768_offered_first_by_a_hello_that_also_offers_dtls13()
    {
        // The client offers both versions, so its supported_groups lists X25519MLKEM768 first; the server speaks only 1.2
        // and must pick the first group with a 1.2 ECDHE form.
        var pair = Pair(client: o => o with { ProtocolVersions = [ProtocolVersion.Dtls13, ProtocolVersion.Dtls12] }, server: o => o);
        pair.Drive();

        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.True(ClientHello.TryDecode(FirstClientHelloBody(pair), out var ch));
        Assert.True(Extensions.TryFind(ch.Extensions, ExtensionType.SupportedGroups, out var sg));
        Assert.True(Extensions.TryDecodeSupportedGroups(sg.Data, out var offered));
        Assert.Equal(NamedGroup.X25519MlKem768, offered[0]);
        Assert.Equal(NamedGroup.X25519, KeyExchangeMessages(pair).Ske.Group);
    }

    [Fact]
    public void Groups_refuses_x25519mlkem768_which_has_no_dtls12_form()
    {
        var options = DtlsHandshakeTests.Options(TestCertificates.Ecdsa, 1) with { Groups = [NamedGroup.X25519MlKem768, NamedGroup.X25519] };
        var e = Assert.Throws<ArgumentException>(() => DtlsEndpoint.CreateServer(options, TimeSpan.Zero));
        Assert.Contains("Dtls13Groups", e.Message, StringComparison.Ordinal);
    }

    private static DtlsPair Pair(Func<DtlsOptions, DtlsOptions> client, Func<DtlsOptions, DtlsOptions> server) =>
        new(
            client(DtlsHandshakeTests.Options(TestCertificates.EcdsaPeer, 41) with { ProtocolVersions = [ProtocolVersion.Dtls12] }),
            server(DtlsHandshakeTests.Options(TestCertificates.Ecdsa, 42) with { ProtocolVersions = [ProtocolVersion.Dtls12] }));

    // The hello with a 1216-byte hybrid share spans datagrams: put its first transmission's fragments together.
    private static byte[] FirstClientHelloBody(DtlsPair pair)
    {
        var fragments = WireEdit.Records(pair.Wire.Where(d => d.ToServer).Select(d => d.Data))
            .Where(r => r.Epoch == 0 && r.Type == ContentType.Handshake)
            .SelectMany(WireEdit.Fragments)
            .Where(f => f.Header.Type == HandshakeType.ClientHello && f.Header.MessageSeq == 0)
            .ToList();
        var body = new byte[fragments[0].Header.Length];
        var covered = new bool[body.Length];
        foreach (var (header, bytes) in fragments)
        {
            bytes.CopyTo(body, header.FragmentOffset);
            Array.Fill(covered, true, header.FragmentOffset, header.FragmentLength);
        }

        Assert.All(covered, Assert.True);
        return body;
    }

    private static (ServerKeyExchangeEcdhe Ske, ClientKeyExchangeEcdhe Cke) KeyExchangeMessages(DtlsPair pair)
    {
        var toClient = WireEdit.Messages(pair.Wire.Where(d => !d.ToServer).Select(d => d.Data));
        var toServer = WireEdit.Messages(pair.Wire.Where(d => d.ToServer).Select(d => d.Data));
        Assert.True(ServerKeyExchangeEcdhe.TryDecode(toClient.First(m => m.Header.Type == HandshakeType.ServerKeyExchange).Body, out var ske));
        Assert.True(ClientKeyExchangeEcdhe.TryDecode(toServer.First(m => m.Header.Type == HandshakeType.ClientKeyExchange).Body, out var cke));
        return (ske, cke);
    }
}
