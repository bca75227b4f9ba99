using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class CertificateVerifyTests
{
    private static readonly BodyDecoder<CertificateVerify> Decode = CertificateVerify.TryDecode;

    private static readonly byte[] Wire =
    [
        0x04, 0x03,             // signature algorithm: ecdsa_secp256r1_sha256
        0x00, 0x03,             // signature length: 3
        0x30, 0x01, 0x00,       // signature (DER ECDSA-Sig-Value)
    ];

    [Fact]
    public void CertificateVerify_round_trips_field_by_field_RFC5246_7_4_8()
    {
        var verify = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(SignatureScheme.EcdsaSecp256r1Sha256, verify.Scheme);
        Assert.Equal(new byte[] { 0x30, 0x01, 0x00 }, verify.Signature);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => verify.Encode(ref w)));
    }

    [Fact]
    public void CertificateVerify_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void CertificateVerify_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);
}
