using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class CertificateRequestTests
{
    private static readonly BodyDecoder<CertificateRequest> Decode = CertificateRequest.TryDecode;

    private static readonly byte[] Wire =
    [
        0x02, 0x01, 0x40,             // certificate_types length 2: rsa_sign, ecdsa_sign
        0x00, 0x04,                   // supported_signature_algorithms length: 4
        0x04, 0x03,                   //   ecdsa_secp256r1_sha256
        0x08, 0x04,                   //   rsa_pss_rsae_sha256
        0x00, 0x05,                   // certificate_authorities length: 5
        0x00, 0x03, 0x30, 0x01, 0x00, //   DistinguishedName length 3 (kept raw)
    ];

    [Fact]
    public void CertificateRequest_round_trips_field_by_field_RFC5246_7_4_4()
    {
        var request = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(new[] { CertificateRequest.RsaSign, CertificateRequest.EcdsaSign }, request.CertificateTypes);
        Assert.Equal([SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.RsaPssRsaeSha256], request.SignatureSchemes);
        Assert.Equal(new byte[] { 0x00, 0x03, 0x30, 0x01, 0x00 }, request.CertificateAuthorities);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => request.Encode(ref w)));
    }

    [Fact]
    public void CertificateRequest_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void CertificateRequest_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void CertificateRequest_with_no_certificate_type_or_no_scheme_is_rejected_RFC5246_7_4_4()
    {
        Assert.False(CertificateRequest.TryDecode([0x00, 0x00, 0x02, 0x04, 0x03, 0x00, 0x00], out _));
        Assert.False(CertificateRequest.TryDecode([0x01, 0x40, 0x00, 0x00, 0x00, 0x00], out _));
        Assert.False(CertificateRequest.TryDecode([0x01, 0x40, 0x00, 0x03, 0x04, 0x03, 0x08, 0x00, 0x00], out _));
        Assert.True(CertificateRequest.TryDecode([0x01, 0x40, 0x00, 0x02, 0x04, 0x03, 0x00, 0x00], out var minimal));
        Assert.Empty(minimal.CertificateAuthorities);
    }
}
