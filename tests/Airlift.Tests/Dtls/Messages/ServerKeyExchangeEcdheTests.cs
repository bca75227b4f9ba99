using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Messages;

namespace Airlift.Tests.Dtls.Messages;

public class ServerKeyExchangeEcdheTests
{
    private static readonly BodyDecoder<ServerKeyExchangeEcdhe> Decode = ServerKeyExchangeEcdhe.TryDecode;

    private static readonly byte[] Wire =
    [
        0x03,                   // curve_type: named_curve
        0x00, 0x17,             // namedcurve: secp256r1
        0x03, 0x04, 0xAA, 0xBB, // point length 3: 04 AA BB
        0x04, 0x03,             // signature algorithm: ecdsa_secp256r1_sha256
        0x00, 0x02, 0x30, 0x00, // signature length 2: 30 00
    ];

    [Fact]
    public void ServerKeyExchange_round_trips_field_by_field_RFC8422_5_4()
    {
        var ske = MessageTestKit.Decode(Decode, Wire);
        Assert.Equal(NamedGroup.Secp256r1, ske.Group);
        Assert.Equal(new byte[] { 0x04, 0xAA, 0xBB }, ske.PublicPoint);
        Assert.Equal(SignatureScheme.EcdsaSecp256r1Sha256, ske.Scheme);
        Assert.Equal(new byte[] { 0x30, 0x00 }, ske.Signature);
        Assert.Equal(Wire, MessageTestKit.Encode((ref WireWriter w) => ske.Encode(ref w)));
    }

    [Fact]
    public void ServerKeyExchange_params_are_the_signed_ServerECDHParams_bytes_RFC8422_5_4()
        => Assert.Equal(Wire[..7], MessageTestKit.Decode(Decode, Wire).EncodeParams());

    [Fact]
    public void ServerKeyExchange_truncated_at_every_length_is_rejected()
        => MessageTestKit.AssertEveryTruncationRejected(Decode, Wire);

    [Fact]
    public void ServerKeyExchange_with_trailing_bytes_is_rejected()
        => MessageTestKit.AssertTrailingByteRejected(Decode, Wire);

    [Fact]
    public void ServerKeyExchange_with_explicit_curve_type_is_rejected_RFC8422_5_4()
    {
        byte[] wire = [0x01, .. Wire[1..]]; // explicit_prime
        Assert.False(ServerKeyExchangeEcdhe.TryDecode(wire, out _));
    }

    [Fact]
    public void ServerKeyExchange_with_empty_point_is_rejected()
    {
        byte[] wire = [0x03, 0x00, 0x17, 0x00, 0x04, 0x03, 0x00, 0x00];
        Assert.False(ServerKeyExchangeEcdhe.TryDecode(wire, out _));
    }
}
