using System.Net;
using System.Text;
using Airlift.Ice.Stun;

namespace Airlift.Tests.Ice;

public class StunCodecTests
{
    private const string Rfc5769Password = "VOkJxbRl1RmTxUk/WvJxBt";

    // RFC 5769 2.1 (username padding is 0x20 in the RFC; MESSAGE-INTEGRITY covers it as sent).
    internal static readonly byte[] SampleRequest = Convert.FromHexString(
        "000100582112a442b7e7a701bc34d686fa87dfae" +
        "802200105354554e207465737420636c69656e74" +
        "002400046e0001ff" +
        "80290008932ff9b151263b36" +
        "000600096576746a3a68367659202020" +
        "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2" +
        "80280004e57a3bcf");

    // RFC 5769 2.2.
    private static readonly byte[] SampleIPv4Response = Convert.FromHexString(
        "0101003c2112a442b7e7a701bc34d686fa87dfae" +
        "8022000b7465737420766563746f7220" +
        "002000080001a147e112a643" +
        "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7" +
        "80280004c07d4c96");

    // RFC 5769 2.3.
    private static readonly byte[] SampleIPv6Response = Convert.FromHexString(
        "010100482112a442b7e7a701bc34d686fa87dfae" +
        "8022000b7465737420766563746f7220" +
        "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9" +
        "00080014a382954e4be67bf11784c97c8292c275bfe3ed41" +
        "80280004c8fb0b4c");

    private static readonly byte[] Key = Encoding.UTF8.GetBytes(Rfc5769Password);

    [Fact]
    public void Rfc5769_2_1_sample_request_decodes_and_its_integrity_and_fingerprint_verify()
    {
        Assert.Equal(108, SampleRequest.Length);
        Assert.True(StunMessage.TryDecode(SampleRequest, out var m, out var error), error.ToString());
        Assert.Equal(StunMessageType.BindingRequest, m!.Type);
        Assert.Equal(StunClass.Request, m.Type.Class);
        Assert.Equal(StunMessageType.BindingMethod, m.Type.Method);
        Assert.Equal(new StunTransactionId(0xb7e7a701bc34d686, 0xfa87dfae), m.TransactionId);
        Assert.Equal("evtj:h6vY", m.Username);
        Assert.Equal(0x6e0001ffu, m.Priority);
        Assert.Equal(0x932ff9b151263b36UL, m.IceControlled);
        Assert.Null(m.IceControlling);
        Assert.False(m.UseCandidate);
        Assert.True(m.HasFingerprint);
        Assert.Empty(m.UnknownComprehensionRequired);
        Assert.True(m.VerifyMessageIntegrity(SampleRequest, Key));
    }

    [Fact]
    public void Rfc5769_2_2_ipv4_response_decodes_xor_mapped_address_192_0_2_1_port_32853()
    {
        Assert.True(StunMessage.TryDecode(SampleIPv4Response, out var m, out var error), error.ToString());
        Assert.Equal(StunMessageType.BindingSuccess, m!.Type);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853), m.XorMappedAddress);
        Assert.True(m.VerifyMessageIntegrity(SampleIPv4Response, Key));
    }

    [Fact]
    public void Rfc5769_2_3_ipv6_response_decodes_xor_mapped_address_with_transaction_id_mask()
    {
        Assert.True(StunMessage.TryDecode(SampleIPv6Response, out var m, out var error), error.ToString());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677"), 32853), m!.XorMappedAddress);
        Assert.True(m.VerifyMessageIntegrity(SampleIPv6Response, Key));
    }

    [Theory]
    [InlineData("192.0.2.1", "002000080001a147e112a643")]
    [InlineData("2001:db8:1234:5678:11:2233:4455:6677", "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9")]
    public void Xor_mapped_address_encodes_to_the_rfc5769_bytes(string address, string expectedAttributeHex)
    {
        var buffer = new byte[128];
        var w = new StunWriter(buffer, StunMessageType.BindingSuccess, new StunTransactionId(0xb7e7a701bc34d686, 0xfa87dfae));
        w.AddXorMappedAddress(new IPEndPoint(IPAddress.Parse(address), 32853));
        Assert.False(w.Overflowed);
        Assert.Equal(expectedAttributeHex, Convert.ToHexStringLower(w.Written[20..]));
    }

    [Fact]
    public void Ipv4_mapped_ipv6_remote_is_reported_as_ipv4_family()
    {
        var buffer = new byte[64];
        var w = new StunWriter(buffer, StunMessageType.BindingSuccess, new StunTransactionId(1, 2));
        w.AddXorMappedAddress(new IPEndPoint(IPAddress.Parse("::ffff:192.0.2.1"), 9));
        Assert.Equal(0x01, w.Written[20 + 5]);
        Assert.True(StunMessage.TryDecode(w.Written, out var m, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 9), m!.XorMappedAddress);
    }

    [Fact]
    public void Rfc8489_14_5_a_flipped_bit_anywhere_before_message_integrity_fails_verification()
    {
        for (var i = 20; i < 80; i++)
        {
            var copy = (byte[])SampleRequest.Clone();
            copy[i] ^= 0x01;
            // Fingerprint will also fail; verify the HMAC alone by decoding a copy without it.
            var noFingerprint = copy[..100];
            noFingerprint[3] = (byte)(noFingerprint[3] - 8);
            if (StunMessage.TryDecode(noFingerprint, out var m, out _))
            {
                Assert.False(m!.VerifyMessageIntegrity(noFingerprint, Key), $"byte {i}");
            }
        }
    }

    [Fact]
    public void Rfc8489_14_5_wrong_password_fails_integrity()
    {
        Assert.True(StunMessage.TryDecode(SampleRequest, out var m, out _));
        Assert.False(m!.VerifyMessageIntegrity(SampleRequest, Encoding.UTF8.GetBytes("VOkJxbRl1RmTxUk/WvJxBu")));
    }

    [Fact]
    public void Rfc8489_14_7_fingerprint_mismatch_is_a_typed_decode_error()
    {
        var copy = (byte[])SampleRequest.Clone();
        copy[^1] ^= 0xFF;
        Assert.False(StunMessage.TryDecode(copy, out var m, out var error));
        Assert.Null(m);
        Assert.Equal(StunDecodeError.FingerprintMismatch, error);
    }

    [Fact]
    public void Rfc8489_14_7_attribute_after_fingerprint_is_rejected()
    {
        var buffer = new byte[128];
        var w = new StunWriter(buffer, StunMessageType.BindingRequest, new StunTransactionId(5, 6));
        w.AddFingerprint();
        w.AddPriority(1);
        Assert.False(StunMessage.TryDecode(w.Written, out _, out var error));
        Assert.Equal(StunDecodeError.FingerprintNotLast, error);
    }

    [Fact]
    public void Rfc8489_14_5_attributes_after_message_integrity_other_than_fingerprint_are_ignored()
    {
        var buffer = new byte[128];
        var w = new StunWriter(buffer, StunMessageType.BindingRequest, new StunTransactionId(5, 6));
        w.AddUsername("a:b");
        w.AddMessageIntegrity(Key);
        w.AddPriority(7);
        w.AddUseCandidate();
        w.AddFingerprint();
        Assert.True(StunMessage.TryDecode(w.Written, out var m, out _));
        Assert.Null(m!.Priority);
        Assert.False(m.UseCandidate);
        Assert.True(m.HasFingerprint);
    }

    [Fact]
    public void Writer_output_round_trips_through_the_decoder_with_integrity_and_fingerprint()
    {
        var buffer = new byte[256];
        var tx = new StunTransactionId(0x0102030405060708, 0x090a0b0c);
        var w = new StunWriter(buffer, StunMessageType.BindingRequest, tx);
        w.AddUsername("abcd:efgh");
        w.AddPriority(0x6e7f1eff);
        w.AddIceControlling(0x1122334455667788);
        w.AddUseCandidate();
        w.AddMessageIntegrity(Key);
        w.AddFingerprint();
        Assert.False(w.Overflowed);
        Assert.Equal(0, (w.Length - 20) % 4);
        Assert.True(StunMessage.TryDecode(w.Written, out var m, out var error), error.ToString());
        Assert.Equal(tx, m!.TransactionId);
        Assert.Equal("abcd:efgh", m.Username);
        Assert.Equal(0x6e7f1effu, m.Priority);
        Assert.Equal(0x1122334455667788UL, m.IceControlling);
        Assert.True(m.UseCandidate);
        Assert.True(m.VerifyMessageIntegrity(w.Written, Key));
    }

    [Fact]
    public void Error_code_and_unknown_attributes_round_trip()
    {
        var buffer = new byte[128];
        var w = new StunWriter(buffer, StunMessageType.BindingError, new StunTransactionId(1, 1));
        w.AddErrorCode(420);
        w.AddUnknownAttributes([0x7777, 0x0031]);
        w.AddFingerprint();
        Assert.True(StunMessage.TryDecode(w.Written, out var m, out _));
        Assert.Equal(new StunErrorCode(420, "Unknown Attribute"), m!.ErrorCode);
        Assert.Equal(4, m.ErrorCode!.Value.Class);
        Assert.Equal(20, m.ErrorCode!.Value.Number);
        Assert.Equal(new ushort[] { 0x7777, 0x0031 }, m.UnknownAttributesListed);
    }

    [Fact]
    public void Rfc8489_14_unknown_comprehension_required_attribute_is_reported_and_optional_one_ignored()
    {
        var raw = Convert.FromHexString("000100102112a442000000000000000000000001" + "77770001ab000000" + "c0570004000a0000");
        Assert.True(StunMessage.TryDecode(raw, out var m, out _));
        Assert.Equal(new ushort[] { 0x7777 }, m!.UnknownComprehensionRequired);
    }

    [Fact]
    public void Writer_reports_overflow_instead_of_throwing()
    {
        var buffer = new byte[30];
        var w = new StunWriter(buffer, StunMessageType.BindingRequest, new StunTransactionId(1, 1));
        w.AddUsername("longer-than-ten-bytes");
        w.AddMessageIntegrity(Key);
        w.AddFingerprint();
        Assert.True(w.Overflowed);
    }

    [Theory]
    [InlineData("", nameof(StunDecodeError.TooShort))]
    [InlineData("0001000021", nameof(StunDecodeError.TooShort))]
    [InlineData("c00100002112a442000000000000000000000000", nameof(StunDecodeError.NotStun))]
    [InlineData("000100002112a443000000000000000000000000", nameof(StunDecodeError.NotStun))]
    [InlineData("000100042112a442000000000000000000000000", nameof(StunDecodeError.BadLength))]
    [InlineData("000100022112a4420000000000000000000000000000", nameof(StunDecodeError.BadLength))]
    [InlineData("000100002112a442000000000000000000000000ff", nameof(StunDecodeError.BadLength))]
    [InlineData("000100042112a44200000000000000000000000000060008", nameof(StunDecodeError.TruncatedAttribute))]
    [InlineData("000100082112a4420000000000000000000000000006000561626364", nameof(StunDecodeError.TruncatedAttribute))]
    [InlineData("000100082112a442000000000000000000000000002400020000 0000", nameof(StunDecodeError.BadAttributeValue))]
    [InlineData("000100082112a442000000000000000000000000002000040003 0000", nameof(StunDecodeError.BadAttributeValue))]
    [InlineData("000100082112a44200000000000000000000000000060004ff fe fd fc", nameof(StunDecodeError.BadAttributeValue))]
    [InlineData("000100082112a44200000000000000000000000000250004 00000000", nameof(StunDecodeError.BadAttributeValue))]
    [InlineData("000100082112a44200000000000000000000000000090004 0000 0763", nameof(StunDecodeError.BadAttributeValue))]
    public void Malformed_messages_produce_a_typed_error_and_never_throw(string hex, string expected)
    {
        var raw = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        Assert.False(StunMessage.TryDecode(raw, out var m, out var error));
        Assert.Null(m);
        Assert.Equal(expected, error.ToString());
    }

    [Fact]
    public void Random_and_truncated_inputs_never_throw()
    {
        var rng = new Random(5769);
        var buffer = new byte[200];
        for (var i = 0; i < 2000; i++)
        {
            rng.NextBytes(buffer);
            var len = rng.Next(buffer.Length);
            // Half the time make the header plausible so attribute parsing is exercised.
            if (i % 2 == 0 && len >= 20)
            {
                buffer[0] &= 0x3F;
                buffer[2] = (byte)((len - 20) >> 8);
                buffer[3] = (byte)((len - 20) & 0xFC);
                len = 20 + ((len - 20) & ~3);
                buffer[4] = 0x21;
                buffer[5] = 0x12;
                buffer[6] = 0xa4;
                buffer[7] = 0x42;
            }

            StunMessage.TryDecode(buffer.AsSpan(0, len), out _, out _);
        }

        for (var len = 0; len < SampleRequest.Length; len++)
        {
            Assert.False(StunMessage.TryDecode(SampleRequest.AsSpan(0, len), out _, out _));
        }
    }

    [Fact]
    public void Crc32_matches_the_standard_check_value()
    {
        // CRC-32/ISO-HDLC check value for "123456789".
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
    }

    [Theory]
    [InlineData(0x0001, nameof(StunClass.Request))]
    [InlineData(0x0011, nameof(StunClass.Indication))]
    [InlineData(0x0101, nameof(StunClass.SuccessResponse))]
    [InlineData(0x0111, nameof(StunClass.ErrorResponse))]
    public void Rfc8489_5_message_type_splits_into_binding_method_and_class(ushort raw, string className)
    {
        var cls = Enum.Parse<StunClass>(className);
        var t = new StunMessageType(raw);
        Assert.Equal(StunMessageType.BindingMethod, t.Method);
        Assert.Equal(cls, t.Class);
        Assert.Equal(t, StunMessageType.Create(0x001, cls));
    }

    [Fact]
    public void Rfc8489_5_method_bits_interleave_around_class_bits()
    {
        var t = StunMessageType.Create(0xFFF, StunClass.Request);
        Assert.Equal(0x3EEF, t.Value);
        Assert.Equal(0xFFF, t.Method);
    }
}
