using System.Text.Json;
using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

/// <summary>
/// Decodes the real Chromium 156 &lt;-&gt; OpenSSL 3.0 DTLS 1.2 handshake in
/// fixtures/vectors/chromium156-to-icelite-dtls12.jsonl. Chromium's ClientHello (1413 bytes, with an
/// X25519MLKEM768 key share) arrives as two records in two datagrams.
/// </summary>
public class ChromiumCaptureTests
{
    private const int ChromiumPort = 57165;
    private const int ServerPort = 5678;

    private static readonly Lazy<List<(int From, byte[] Datagram)>> Datagrams = new(LoadDatagrams);

    [Fact]
    public void Chromium_fragmented_ClientHello_decodes_after_stitching_by_offset_RFC6347_4_2_3()
    {
        var (first, second) = (Dtls(0), Dtls(1));
        var (h1, fragment1) = SingleHandshakeFragment(first);
        var (h2, fragment2) = SingleHandshakeFragment(second);
        Assert.Equal(HandshakeType.ClientHello, h1.Type);
        Assert.Equal(h1.MessageSeq, h2.MessageSeq);
        Assert.Equal(h1.Length, h2.Length);
        Assert.Equal(0, h1.FragmentOffset);
        Assert.Equal(h1.FragmentLength, h2.FragmentOffset);
        Assert.Equal(h1.Length, h2.FragmentOffset + h2.FragmentLength);

        var body = new byte[h1.Length];
        fragment1.CopyTo(body, h1.FragmentOffset);
        fragment2.CopyTo(body, h2.FragmentOffset);

        Assert.True(ClientHello.TryDecode(body, out var hello));
        Assert.Equal(ProtocolVersion.Dtls12, hello.ClientVersion);
        Assert.Equal(32, hello.Random.Length);
        Assert.Empty(hello.Cookie);
        Assert.Contains(CipherSuite.EcdheEcdsaWithAes128GcmSha256, hello.CipherSuites);

        // This capture carries no GREASE values (ClientHelloTests covers those); values Airlift has no
        // name for must survive as themselves: TLS 1.3 suites, key_share (51), psk_key_exchange_modes (45),
        // and the X25519MLKEM768 group (0x11EC).
        Assert.Contains(new CipherSuite(0x1301), hello.CipherSuites);
        Assert.Contains(hello.Extensions, e => e.Type.Value == 51 && e.Data.Length > 1200);
        Assert.Contains(hello.Extensions, e => e.Type.Value == 45);

        Assert.True(Extensions.TryFind(hello.Extensions, ExtensionType.UseSrtp, out var useSrtp));
        Assert.True(Extensions.TryDecodeUseSrtp(useSrtp.Data, out var profiles, out _));
        Assert.Contains(SrtpProtectionProfile.Aes128CmHmacSha1_80, profiles);
        Assert.True(Extensions.TryFind(hello.Extensions, ExtensionType.ExtendedMasterSecret, out var ems));
        Assert.True(Extensions.TryDecodeExtendedMasterSecret(ems.Data));
        Assert.True(Extensions.TryFind(hello.Extensions, ExtensionType.SupportedVersions, out var versions));
        Assert.True(Extensions.TryDecodeSupportedVersions(versions.Data, out var versionList));
        Assert.Equal([ProtocolVersion.Dtls13, ProtocolVersion.Dtls12], versionList);
        Assert.True(Extensions.TryFind(hello.Extensions, ExtensionType.SupportedGroups, out var groups));
        Assert.True(Extensions.TryDecodeSupportedGroups(groups.Data, out var groupList));
        Assert.Contains(NamedGroup.Secp256r1, groupList);
        Assert.Contains(new NamedGroup(0x11EC), groupList);
        Assert.True(Extensions.TryFind(hello.Extensions, ExtensionType.SignatureAlgorithms, out var sigs));
        Assert.True(Extensions.TryDecodeSignatureAlgorithms(sigs.Data, out var schemes));
        Assert.Contains(SignatureScheme.EcdsaSecp256r1Sha256, schemes);

        // Unknown and GREASE values survive, so the body re-encodes byte for byte.
        Assert.Equal(body, MessageTestKit.Encode((ref WireWriter w) => hello.Encode(ref w)));
    }

    [Fact]
    public void TryReadPrefix_reads_the_cookie_from_the_first_ClientHello_fragment_alone_RFC6347_4_2_1()
    {
        var (h, fragment) = SingleHandshakeFragment(Dtls(0));
        Assert.True(h.FragmentLength < h.Length);
        Assert.False(ClientHello.TryDecode(fragment, out _));

        Assert.True(ClientHello.TryReadPrefix(fragment, out var version, out var random, out var sessionId, out var cookie, out var prefixLength));
        Assert.Equal(ProtocolVersion.Dtls12, version);
        Assert.Equal(32, random.Length);
        Assert.Equal(fragment.AsSpan(2, 32).ToArray(), random.ToArray());
        Assert.True(cookie.IsEmpty);
        Assert.Equal(2 + 32 + 1 + sessionId.Length + 1, prefixLength);
    }

    [Fact]
    public void Second_ClientHello_echoes_the_HelloVerifyRequest_cookie_RFC6347_4_2_1()
    {
        var (hvrHeader, hvrBody) = SingleHandshakeFragment(Dtls(2));
        Assert.Equal(HandshakeType.HelloVerifyRequest, hvrHeader.Type);
        Assert.True(hvrHeader.IsComplete);
        Assert.True(HelloVerifyRequest.TryDecode(hvrBody, out var hvr));
        Assert.Equal(ProtocolVersion.Dtls10, hvr.ServerVersion);
        Assert.Equal(20, hvr.Cookie.Length);
        Assert.Equal(hvrBody, MessageTestKit.Encode((ref WireWriter w) => hvr.Encode(ref w)));

        var (h, firstFragment) = SingleHandshakeFragment(Dtls(3));
        Assert.Equal(1, h.MessageSeq);
        Assert.True(ClientHello.TryReadPrefix(firstFragment, out _, out _, out _, out var cookie, out _));
        Assert.Equal(hvr.Cookie, cookie.ToArray());

        var messages = Reassemble(ChromiumPort);
        Assert.True(ClientHello.TryDecode(messages[1].Body, out var hello));
        Assert.Equal(hvr.Cookie, hello.Cookie);
    }

    [Fact]
    public void Every_plaintext_handshake_message_in_the_capture_decodes_and_reencodes_byte_for_byte()
    {
        var server = Reassemble(ServerPort);
        var client = Reassemble(ChromiumPort);

        Assert.Equal(
            [HandshakeType.HelloVerifyRequest, HandshakeType.ServerHello, HandshakeType.Certificate, HandshakeType.ServerKeyExchange, HandshakeType.CertificateRequest, HandshakeType.ServerHelloDone],
            server.Values.Select(m => m.Type));
        Assert.Equal(
            [HandshakeType.ClientHello, HandshakeType.ClientHello, HandshakeType.Certificate, HandshakeType.ClientKeyExchange, HandshakeType.CertificateVerify],
            client.Values.Select(m => m.Type));

        Assert.True(ServerHello.TryDecode(server[1].Body, out var serverHello));
        Assert.Equal(ProtocolVersion.Dtls12, serverHello.ServerVersion);
        Assert.True(Extensions.TryFind(serverHello.Extensions, ExtensionType.UseSrtp, out var useSrtp));
        Assert.True(Extensions.TryDecodeUseSrtp(useSrtp.Data, out var profiles, out _));
        Assert.Single(profiles);
        AssertReencodes(server[1].Body, (ref WireWriter w) => serverHello.Encode(ref w));

        Assert.True(CertificateMessage.TryDecode(server[2].Body, out var serverCert));
        Assert.Single(serverCert.Certificates);
        Assert.Equal(0x30, serverCert.Certificates[0][0]); // DER SEQUENCE
        AssertReencodes(server[2].Body, (ref WireWriter w) => serverCert.Encode(ref w));

        Assert.True(ServerKeyExchangeEcdhe.TryDecode(server[3].Body, out var ske));
        Assert.Equal(ske.EncodeParams(), server[3].Body[..(4 + ske.PublicPoint.Length)]);
        AssertReencodes(server[3].Body, (ref WireWriter w) => ske.Encode(ref w));

        Assert.True(CertificateRequest.TryDecode(server[4].Body, out var request));
        Assert.NotEmpty(request.SignatureSchemes);
        AssertReencodes(server[4].Body, (ref WireWriter w) => request.Encode(ref w));

        Assert.True(ServerHelloDone.TryDecode(server[5].Body, out _));

        Assert.True(CertificateMessage.TryDecode(client[2].Body, out var clientCert));
        Assert.Single(clientCert.Certificates);
        AssertReencodes(client[2].Body, (ref WireWriter w) => clientCert.Encode(ref w));

        Assert.True(ClientKeyExchangeEcdhe.TryDecode(client[3].Body, out var cke));
        Assert.Equal(ske.PublicPoint.Length, cke.PublicPoint.Length); // same group on both sides
        AssertReencodes(client[3].Body, (ref WireWriter w) => cke.Encode(ref w));

        Assert.True(CertificateVerify.TryDecode(client[4].Body, out var verify));
        Assert.Contains(verify.Scheme, request.SignatureSchemes);
        AssertReencodes(client[4].Body, (ref WireWriter w) => verify.Encode(ref w));
    }

    [Fact]
    public void ChangeCipherSpec_records_in_the_capture_decode_RFC5246_7_1()
    {
        var count = 0;
        foreach (var (_, datagram) in Datagrams.Value)
        {
            foreach (var (header, payload) in Records(datagram))
            {
                if (header.Type == ContentType.ChangeCipherSpec)
                {
                    Assert.True(ChangeCipherSpec.TryDecode(payload, out _));
                    count++;
                }
            }
        }

        Assert.Equal(2, count);
    }

    private static void AssertReencodes(byte[] body, BodyEncoder encode) => Assert.Equal(body, MessageTestKit.Encode(encode));

    private static byte[] Dtls(int index) => Datagrams.Value[index].Datagram;

    private static (HandshakeHeader Header, byte[] Fragment) SingleHandshakeFragment(byte[] datagram)
    {
        Assert.True(RecordHeader.TryRead(datagram, out var record));
        Assert.Equal(ContentType.Handshake, record.Type);
        Assert.Equal(RecordHeader.Size + record.Length, datagram.Length);
        var r = new WireReader(datagram.AsSpan(RecordHeader.Size));
        Assert.True(HandshakeHeader.TryRead(ref r, out var header));
        Assert.True(r.TryReadBytes(header.FragmentLength, out var fragment));
        Assert.True(r.IsEmpty);
        return (header, fragment.ToArray());
    }

    private static IEnumerable<(RecordHeader Header, byte[] Payload)> Records(byte[] datagram)
    {
        var offset = 0;
        while (offset < datagram.Length)
        {
            Assert.True(RecordHeader.TryRead(datagram.AsSpan(offset), out var header));
            var payload = datagram.AsSpan(offset + RecordHeader.Size, header.Length).ToArray();
            offset += RecordHeader.Size + header.Length;
            yield return (header, payload);
        }
    }

    /// <summary>Epoch-0 handshake messages sent from <paramref name="port"/>, keyed by message_seq, stitched by offset.</summary>
    private static SortedDictionary<int, (HandshakeType Type, byte[] Body)> Reassemble(int port)
    {
        var bodies = new SortedDictionary<int, (HandshakeType Type, byte[] Body)>();
        var covered = new Dictionary<int, int>();
        foreach (var (from, datagram) in Datagrams.Value)
        {
            if (from != port)
            {
                continue;
            }

            foreach (var (record, payload) in Records(datagram))
            {
                if (record.Type != ContentType.Handshake || record.Epoch != 0)
                {
                    continue;
                }

                var r = new WireReader(payload);
                while (!r.IsEmpty)
                {
                    Assert.True(HandshakeHeader.TryRead(ref r, out var h));
                    Assert.True(r.TryReadBytes(h.FragmentLength, out var fragment));
                    if (!bodies.TryGetValue(h.MessageSeq, out var message))
                    {
                        message = (h.Type, new byte[h.Length]);
                        bodies[h.MessageSeq] = message;
                    }

                    fragment.CopyTo(message.Body.AsSpan(h.FragmentOffset));
                    covered[h.MessageSeq] = covered.GetValueOrDefault(h.MessageSeq) + h.FragmentLength;
                }
            }
        }

        foreach (var (seq, message) in bodies)
        {
            Assert.Equal(message.Body.Length, covered[seq]); // the capture has no overlapping fragments
        }

        return bodies;
    }

    private static List<(int From, byte[] Datagram)> LoadDatagrams()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "vectors", "chromium156-to-icelite-dtls12.jsonl");
        var datagrams = new List<(int, byte[])>();
        foreach (var line in File.ReadLines(path))
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (root.TryGetProperty("kind", out var kind) && kind.GetString() == "dtls")
            {
                datagrams.Add((root.GetProperty("from").GetInt32(), Convert.FromHexString(root.GetProperty("hex").GetString()!)));
            }
        }

        return datagrams;
    }
}
