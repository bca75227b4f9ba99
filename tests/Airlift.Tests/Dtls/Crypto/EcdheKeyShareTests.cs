using Airlift.Dtls;
using Airlift.Dtls.Crypto;

namespace Airlift.Tests.Dtls.Crypto;

public class EcdheKeyShareTests
{
    [Theory]
    [InlineData((ushort)23, 65, 32)]
    [InlineData((ushort)24, 97, 48)]
    public void Two_parties_agree_on_the_raw_x_coordinate_rfc8422_section5_10(ushort group, int pointLength, int secretLength)
    {
        using var a = EcdheKeyShare.Generate(new NamedGroup(group));
        using var b = EcdheKeyShare.Generate(new NamedGroup(group));
        Assert.Equal(new NamedGroup(group), a.Group);
        Assert.Equal(pointLength, a.PublicPoint.Length);
        Assert.Equal(0x04, a.PublicPoint[0]);
        Assert.True(a.TryDeriveSharedSecret(b.PublicPoint, out var ab));
        Assert.True(b.TryDeriveSharedSecret(a.PublicPoint, out var ba));
        Assert.Equal(secretLength, ab.Length);
        Assert.Equal(ab, ba);
        Assert.NotEqual(a.PublicPoint, b.PublicPoint);
    }

    [Fact]
    public void Points_off_the_curve_wrong_length_or_not_uncompressed_are_rejected_rfc8422_section5_4()
    {
        using var a = EcdheKeyShare.Generate(NamedGroup.Secp256r1);
        using var b = EcdheKeyShare.Generate(NamedGroup.Secp256r1);
        using var p384 = EcdheKeyShare.Generate(NamedGroup.Secp384r1);

        var offCurve = (byte[])b.PublicPoint.Clone();
        offCurve[^1] ^= 0x01; // change Y: (X, Y') is almost surely not on the curve
        Assert.False(a.TryDeriveSharedSecret(offCurve, out var secret));
        Assert.Null(secret);

        var ones = new byte[65];
        ones[0] = 0x04;
        ones[32] = 1;
        ones[64] = 1; // (1, 1)
        Assert.False(a.TryDeriveSharedSecret(ones, out _));

        var zeros = new byte[65];
        zeros[0] = 0x04;
        Assert.False(a.TryDeriveSharedSecret(zeros, out _));

        var compressed = new byte[33];
        compressed[0] = 0x02;
        b.PublicPoint.AsSpan(1, 32).CopyTo(compressed.AsSpan(1));
        Assert.False(a.TryDeriveSharedSecret(compressed, out _));

        var wrongPrefix = (byte[])b.PublicPoint.Clone();
        wrongPrefix[0] = 0x05;
        Assert.False(a.TryDeriveSharedSecret(wrongPrefix, out _));

        Assert.False(a.TryDeriveSharedSecret(p384.PublicPoint, out _));
        Assert.False(a.TryDeriveSharedSecret([], out _));
        Assert.False(a.TryDeriveSharedSecret(b.PublicPoint.AsSpan(0, 64), out _));

        Assert.True(a.TryDeriveSharedSecret(b.PublicPoint, out _));
    }

    [Fact]
    public void X25519_and_unknown_groups_are_not_supported()
    {
        Assert.True(EcdheKeyShare.IsSupported(NamedGroup.Secp256r1));
        Assert.True(EcdheKeyShare.IsSupported(NamedGroup.Secp384r1));
        Assert.False(EcdheKeyShare.IsSupported(NamedGroup.X25519));
        Assert.False(EcdheKeyShare.IsSupported(new NamedGroup(0x11EC)));
        Assert.Throws<NotSupportedException>(() => EcdheKeyShare.Generate(NamedGroup.X25519));
    }
}
