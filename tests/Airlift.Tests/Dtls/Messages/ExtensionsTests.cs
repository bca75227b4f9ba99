using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class ExtensionsTests
{
    private static readonly byte[] Block =
    [
        0x00, 0x19,                         // extensions length: 25
        0x00, 0x0A, 0x00, 0x06,             //   supported_groups, 6 bytes
        0x00, 0x04, 0x00, 0x17, 0x00, 0x18, //     named_group_list (4): secp256r1, secp384r1
        0x0A, 0x0A, 0x00, 0x01, 0x00,       //   GREASE 0x0A0A, 1 byte: 00
        0x00, 0x17, 0x00, 0x00,             //   extended_master_secret, empty
        0x12, 0x34, 0x00, 0x02, 0xAB, 0xCD, //   unknown 0x1234, 2 bytes: AB CD
    ];

    private static readonly BodyDecoder<List<Extension>> DecodeList = Extensions.TryDecodeList;

    [Fact]
    public void Extension_block_round_trips_and_keeps_GREASE_and_unknown_types_RFC5246_7_4_1_4()
    {
        var list = MessageTestKit.Decode(DecodeList, Block);
        Assert.Equal(
            new ushort[] { 0x000A, 0x0A0A, 0x0017, 0x1234 },
            list.Select(e => e.Type.Value).ToArray());
        Assert.Equal(new byte[] { 0x00 }, list[1].Data);
        Assert.Empty(list[2].Data);
        Assert.Equal(new byte[] { 0xAB, 0xCD }, list[3].Data);
        Assert.True(Extensions.TryDecodeSupportedGroups(list[0].Data, out var groups));
        Assert.Equal([NamedGroup.Secp256r1, NamedGroup.Secp384r1], groups);

        Assert.Equal(Block, MessageTestKit.Encode((ref WireWriter w) => Extensions.EncodeList(ref w, list)));
    }

    [Fact]
    public void Extension_block_copies_data_out_of_the_input()
    {
        var input = Block.ToArray();
        Assert.True(Extensions.TryDecodeList(input, out var list));
        input[^1] = 0x00;
        Assert.Equal(0xCD, list[3].Data[1]);
    }

    [Fact]
    public void Extension_block_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(DecodeList, Block);

    [Fact]
    public void Extension_block_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(DecodeList, Block);

    [Fact]
    public void Duplicate_extension_type_is_rejected_RFC5246_7_4_1_4()
    {
        byte[] block =
        [
            0x00, 0x08,             // extensions length: 8
            0x00, 0x17, 0x00, 0x00, //   extended_master_secret
            0x00, 0x17, 0x00, 0x00, //   extended_master_secret again
        ];
        Assert.False(Extensions.TryDecodeList(block, out _));
    }

    [Fact]
    public void Extension_whose_data_overruns_the_block_is_rejected()
    {
        byte[] block =
        [
            0x00, 0x05,                   // extensions length: 5
            0x00, 0x0B, 0x00, 0x02, 0x01, //   ec_point_formats claims 2 bytes, 1 left in the block
            0x00,                         // a byte outside the block
        ];
        Assert.False(Extensions.TryDecodeList(block, out _));
    }

    [Fact]
    public void Empty_extension_block_is_valid()
    {
        Assert.True(Extensions.TryDecodeList([0x00, 0x00], out var list));
        Assert.Empty(list);
    }

    [Fact]
    public void Supported_groups_codec_RFC8422_5_1_1()
    {
        byte[] data =
        [
            0x00, 0x06, // named_group_list length: 6
            0x00, 0x1D, // x25519
            0x00, 0x17, // secp256r1
            0x2A, 0x2A, // GREASE
        ];
        Assert.True(Extensions.TryDecodeSupportedGroups(data, out var groups));
        Assert.Equal([NamedGroup.X25519, NamedGroup.Secp256r1, new NamedGroup(0x2A2A)], groups);
        var created = Extensions.CreateSupportedGroups(groups);
        Assert.Equal(ExtensionType.SupportedGroups, created.Type);
        Assert.Equal(data, created.Data);

        Assert.False(Extensions.TryDecodeSupportedGroups([0x00, 0x00], out _));             // empty list
        Assert.False(Extensions.TryDecodeSupportedGroups([0x00, 0x01, 0x17], out _));       // odd length
        Assert.False(Extensions.TryDecodeSupportedGroups([.. data, 0x00], out _));           // trailing byte
        Assert.False(Extensions.TryDecodeSupportedGroups(data.AsSpan(0, data.Length - 1), out _));
    }

    [Fact]
    public void Signature_algorithms_codec_RFC5246_7_4_1_4_1()
    {
        byte[] data =
        [
            0x00, 0x04, // supported_signature_algorithms length: 4
            0x04, 0x03, // ecdsa_secp256r1_sha256
            0x08, 0x04, // rsa_pss_rsae_sha256
        ];
        Assert.True(Extensions.TryDecodeSignatureAlgorithms(data, out var schemes));
        Assert.Equal([SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.RsaPssRsaeSha256], schemes);
        Assert.Equal(data, Extensions.CreateSignatureAlgorithms(schemes).Data);
        Assert.Equal(ExtensionType.SignatureAlgorithms, Extensions.CreateSignatureAlgorithms(schemes).Type);

        Assert.False(Extensions.TryDecodeSignatureAlgorithms([0x00, 0x00], out _));
        Assert.False(Extensions.TryDecodeSignatureAlgorithms([0x00, 0x03, 0x04, 0x03, 0x08], out _));
        Assert.False(Extensions.TryDecodeSignatureAlgorithms([.. data, 0x00], out _));
    }

    [Fact]
    public void Use_srtp_codec_with_profiles_and_mki_RFC5764_4_1_1()
    {
        byte[] data =
        [
            0x00, 0x04, // SRTPProtectionProfiles length: 4
            0x00, 0x07, // SRTP_AEAD_AES_128_GCM
            0x00, 0x01, // SRTP_AES128_CM_HMAC_SHA1_80
            0x02,       // srtp_mki length: 2
            0xAA, 0xBB, // srtp_mki
        ];
        Assert.True(Extensions.TryDecodeUseSrtp(data, out var profiles, out var mki));
        Assert.Equal([SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80], profiles);
        Assert.Equal(new byte[] { 0xAA, 0xBB }, mki);
        var created = Extensions.CreateUseSrtp(profiles, mki);
        Assert.Equal(ExtensionType.UseSrtp, created.Type);
        Assert.Equal(data, created.Data);

        for (var length = 0; length < data.Length; length++)
        {
            Assert.False(Extensions.TryDecodeUseSrtp(data.AsSpan(0, length), out _, out _), $"prefix {length}");
        }

        Assert.False(Extensions.TryDecodeUseSrtp([.. data, 0x00], out _, out _));
        Assert.False(Extensions.TryDecodeUseSrtp([0x00, 0x00, 0x00], out _, out _));          // no profiles
        Assert.False(Extensions.TryDecodeUseSrtp([0x00, 0x03, 0x00, 0x01, 0x00, 0x00], out _, out _)); // odd list
    }

    [Fact]
    public void Ec_point_formats_codec_RFC8422_5_1_2()
    {
        byte[] data = [0x01, 0x00]; // ec_point_format_list length 1: uncompressed
        Assert.True(Extensions.TryDecodeEcPointFormats(data, out var formats));
        Assert.Equal(new byte[] { 0x00 }, formats);
        Assert.Equal(data, Extensions.CreateEcPointFormats(formats).Data);
        Assert.Equal(ExtensionType.EcPointFormats, Extensions.CreateEcPointFormats(formats).Type);

        Assert.False(Extensions.TryDecodeEcPointFormats([0x00], out _));             // empty list
        Assert.False(Extensions.TryDecodeEcPointFormats([0x02, 0x00], out _));       // truncated
        Assert.False(Extensions.TryDecodeEcPointFormats([0x01, 0x00, 0x00], out _)); // trailing byte
        Assert.False(Extensions.TryDecodeEcPointFormats([], out _));
    }

    [Fact]
    public void Extended_master_secret_codec_is_empty_RFC7627_5_1()
    {
        var created = Extensions.CreateExtendedMasterSecret();
        Assert.Equal(ExtensionType.ExtendedMasterSecret, created.Type);
        Assert.Empty(created.Data);
        Assert.True(Extensions.TryDecodeExtendedMasterSecret(created.Data));
        Assert.False(Extensions.TryDecodeExtendedMasterSecret([0x00]));
    }

    [Fact]
    public void Renegotiation_info_codec_RFC5746_3_2()
    {
        byte[] initial = [0x00]; // renegotiated_connection length 0 (initial handshake)
        Assert.True(Extensions.TryDecodeRenegotiationInfo(initial, out var value));
        Assert.Empty(value);
        Assert.Equal(initial, Extensions.CreateRenegotiationInfo([]).Data);
        Assert.Equal(ExtensionType.RenegotiationInfo, Extensions.CreateRenegotiationInfo([]).Type);

        byte[] withValue = [0x02, 0x11, 0x22]; // length 2, verify data
        Assert.True(Extensions.TryDecodeRenegotiationInfo(withValue, out value));
        Assert.Equal(new byte[] { 0x11, 0x22 }, value);
        Assert.Equal(withValue, Extensions.CreateRenegotiationInfo(value).Data);

        Assert.False(Extensions.TryDecodeRenegotiationInfo([], out _));
        Assert.False(Extensions.TryDecodeRenegotiationInfo([0x02, 0x11], out _));
        Assert.False(Extensions.TryDecodeRenegotiationInfo([0x00, 0x00], out _));
    }

    [Fact]
    public void Supported_versions_client_form_codec_RFC8446_4_2_1()
    {
        byte[] data =
        [
            0x04,       // versions length: 4
            0xFE, 0xFC, // DTLS 1.3
            0xFE, 0xFD, // DTLS 1.2
        ];
        Assert.True(Extensions.TryDecodeSupportedVersions(data, out var versions));
        Assert.Equal([ProtocolVersion.Dtls13, ProtocolVersion.Dtls12], versions);
        Assert.Equal(data, Extensions.CreateSupportedVersions(versions).Data);
        Assert.Equal(ExtensionType.SupportedVersions, Extensions.CreateSupportedVersions(versions).Type);

        Assert.False(Extensions.TryDecodeSupportedVersions([0x00], out _));                 // empty list
        Assert.False(Extensions.TryDecodeSupportedVersions([0x03, 0xFE, 0xFC, 0xFE], out _)); // odd length
        Assert.False(Extensions.TryDecodeSupportedVersions([0x02, 0xFE, 0xFD, 0x00], out _)); // trailing byte
        Assert.False(Extensions.TryDecodeSupportedVersions([0xFE, 0xFD], out _));           // ServerHello form
    }

    [Fact]
    public void Creating_an_empty_list_extension_throws()
    {
        Assert.Throws<ArgumentException>(() => Extensions.CreateSupportedGroups([]));
        Assert.Throws<ArgumentException>(() => Extensions.CreateUseSrtp([], []));
    }

    [Fact]
    public void TryFind_returns_the_extension_of_a_type()
    {
        Assert.True(Extensions.TryDecodeList(Block, out var list));
        Assert.True(Extensions.TryFind(list, ExtensionType.ExtendedMasterSecret, out var ems));
        Assert.Equal(ExtensionType.ExtendedMasterSecret, ems.Type);
        Assert.False(Extensions.TryFind(list, ExtensionType.UseSrtp, out _));
    }
}
