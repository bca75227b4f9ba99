using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Kems;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using static Airlift.Tests.Dtls.Crypto.CryptoTestHex;
using Rfc7748X25519 = Org.BouncyCastle.Math.EC.Rfc7748.X25519;

namespace Airlift.Tests.Dtls;

public class KeyExchangeTests
{
    // RFC 7748 5.2: scalar, input u-coordinate, output u-coordinate.
    public static TheoryData<string, string, string> Rfc7748ScalarMultiplication => new()
    {
        { "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
        { "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d", "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493", "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
    };

    // u-coordinates whose product with any clamped scalar is the neutral point: X25519 outputs all zeros (RFC 7748 6.1,
    // RFC 8446 7.4.2). 0, 1, the two points of order 8, and the non-canonical encodings p - 1, p, p + 1.
    public static TheoryData<string> LowOrderPoints => new()
    {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    };

    public static TheoryData<ushort, int, int, int> Groups => new()
    {
        // group, client share length, server share length, secret length
        { 0x11EC, 1216, 1120, 64 },
        { 29, 32, 32, 32 },
        { 23, 65, 65, 32 },
        { 24, 97, 97, 48 },
    };

    [Theory]
    [MemberData(nameof(Groups))]
    public void Generate_respond_and_complete_agree_for_every_group_rfc8446_section4_2_8(ushort value, int clientShareLength, int serverShareLength, int secretLength)
    {
        var group = new NamedGroup(value);
        Assert.True(KeyExchange.IsSupported(group));
        using var client = KeyExchange.Generate(group, MlKemImplementation.BouncyCastle);
        Assert.Equal(group, client.Group);
        Assert.Equal(clientShareLength, client.PublicShare.Length);

        Assert.True(KeyExchange.TryRespond(group, client.PublicShare, MlKemImplementation.BouncyCastle, out var serverShare, out var serverSecret));
        Assert.Equal(serverShareLength, serverShare.Length);
        Assert.Equal(secretLength, serverSecret.Length);

        Assert.True(client.TryComplete(serverShare, out var clientSecret));
        Assert.Equal(serverSecret, clientSecret);

        // A second exchange gives fresh keys.
        using var other = KeyExchange.Generate(group, MlKemImplementation.BouncyCastle);
        Assert.NotEqual(client.PublicShare, other.PublicShare);
    }

    [Theory]
    [InlineData((ushort)29)]
    [InlineData((ushort)23)]
    [InlineData((ushort)24)]
    public void Both_dtls12_sides_agree_with_generated_pairs_rfc8422_section5_10(ushort value)
    {
        var group = new NamedGroup(value);
        Assert.True(KeyExchange.IsSupportedInDtls12(group));
        using var a = KeyExchange.Generate(group);
        using var b = KeyExchange.Generate(group);
        Assert.True(a.TryComplete(b.PublicShare, out var ab));
        Assert.True(b.TryComplete(a.PublicShare, out var ba));
        Assert.Equal(ab, ba);
    }

    [Fact]
    public void Hybrid_puts_ml_kem_first_in_shares_and_secret_draft_ietf_tls_ecdhe_mlkem()
    {
        // Build the client share by hand from the primitives, so that the layout is checked independently.
        var generator = new MLKemKeyPairGenerator();
        generator.Init(new MLKemKeyGenerationParameters(new SecureRandom(), MLKemParameters.ml_kem_768));
        var mlKem = generator.GenerateKeyPair();
        var encapsulationKey = ((MLKemPublicKeyParameters)mlKem.Public).GetEncoded();
        var x25519Private = H("49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005");
        var x25519Public = new byte[32];
        Rfc7748X25519.ScalarMultBase(x25519Private, x25519Public);
        byte[] clientShare = [.. encapsulationKey, .. x25519Public];

        Assert.True(KeyExchange.TryRespond(NamedGroup.X25519MlKem768, clientShare, MlKemImplementation.BouncyCastle, out var serverShare, out var secret));
        Assert.Equal(1120, serverShare.Length);

        var decapsulator = new MLKemDecapsulator(MLKemParameters.ml_kem_768);
        decapsulator.Init(mlKem.Private);
        var mlKemSecret = new byte[32];
        decapsulator.Decapsulate(serverShare.AsSpan(0, 1088), mlKemSecret);
        var x25519Secret = new byte[32];
        Assert.True(Rfc7748X25519.CalculateAgreement(x25519Private, serverShare.AsSpan(1088), x25519Secret));

        Assert.Equal([.. mlKemSecret, .. x25519Secret], secret);
    }

    [Fact]
    public void Platform_ml_kem_is_used_where_supported_and_interoperates_with_bouncycastle()
    {
        if (!MLKem.IsSupported)
        {
            // This host (OpenSSL < 3.5) has no platform ML-KEM: BouncyCastle must be chosen, and the platform path
            // must say so clearly rather than fail later.
            Assert.Equal(MlKemImplementation.BouncyCastle, MlKem768.DefaultImplementation);
            using var pair = KeyExchange.Generate(NamedGroup.X25519MlKem768);
            Assert.Equal(MlKemImplementation.BouncyCastle, pair.MlKemImplementation);
            Assert.Throws<PlatformNotSupportedException>(() => KeyExchange.Generate(NamedGroup.X25519MlKem768, MlKemImplementation.Platform));
            return;
        }

        Assert.Equal(MlKemImplementation.Platform, MlKem768.DefaultImplementation);
        foreach (var (clientSide, serverSide) in new[] { (MlKemImplementation.Platform, MlKemImplementation.BouncyCastle), (MlKemImplementation.BouncyCastle, MlKemImplementation.Platform) })
        {
            using var client = KeyExchange.Generate(NamedGroup.X25519MlKem768, clientSide);
            Assert.True(KeyExchange.TryRespond(NamedGroup.X25519MlKem768, client.PublicShare, serverSide, out var share, out var serverSecret));
            Assert.True(client.TryComplete(share, out var clientSecret));
            Assert.Equal(serverSecret, clientSecret);
        }
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void Shares_of_the_wrong_length_are_refused_without_throwing(ushort value, int clientShareLength, int serverShareLength, int secretLength)
    {
        _ = secretLength;
        var group = new NamedGroup(value);
        using var client = KeyExchange.Generate(group, MlKemImplementation.BouncyCastle);
        Assert.True(KeyExchange.TryRespond(group, client.PublicShare, MlKemImplementation.BouncyCastle, out var serverShare, out _));

        foreach (var bad in new[] { [], client.PublicShare[..^1], [.. client.PublicShare, 0], new byte[clientShareLength + 32] })
        {
            Assert.False(KeyExchange.TryRespond(group, bad, MlKemImplementation.BouncyCastle, out var share, out var secret));
            Assert.Null(share);
            Assert.Null(secret);
        }

        foreach (var bad in new[] { [], serverShare[..^1], [.. serverShare, 0], new byte[serverShareLength + 32] })
        {
            Assert.False(client.TryComplete(bad, out var secret));
            Assert.Null(secret);
        }

        Assert.True(client.TryComplete(serverShare, out _));
    }

    [Theory]
    [MemberData(nameof(LowOrderPoints))]
    public void X25519_low_order_points_give_an_all_zero_secret_and_are_refused_rfc7748_section6_1(string point)
    {
        var u = H(point);
        using var pair = KeyExchange.Generate(NamedGroup.X25519);
        Assert.False(pair.TryComplete(u, out var secret));
        Assert.Null(secret);
        Assert.False(KeyExchange.TryRespond(NamedGroup.X25519, u, out _, out _));

        // The same point as the X25519 half of a hybrid share, on both sides.
        using var hybrid = KeyExchange.Generate(NamedGroup.X25519MlKem768, MlKemImplementation.BouncyCastle);
        byte[] clientShare = [.. hybrid.PublicShare[..1184], .. u];
        Assert.False(KeyExchange.TryRespond(NamedGroup.X25519MlKem768, clientShare, MlKemImplementation.BouncyCastle, out _, out _));
        Assert.True(KeyExchange.TryRespond(NamedGroup.X25519MlKem768, hybrid.PublicShare, MlKemImplementation.BouncyCastle, out var serverShare, out _));
        byte[] badServerShare = [.. serverShare[..1088], .. u];
        Assert.False(hybrid.TryComplete(badServerShare, out _));
    }

    [Fact]
    public void P256_points_off_the_curve_not_uncompressed_or_of_another_curve_are_refused_rfc8422_section5_4()
    {
        using var a = KeyExchange.Generate(NamedGroup.Secp256r1);
        using var b = KeyExchange.Generate(NamedGroup.Secp256r1);
        using var p384 = KeyExchange.Generate(NamedGroup.Secp384r1);

        var offCurve = (byte[])b.PublicShare.Clone();
        offCurve[^1] ^= 0x01; // change Y: (X, Y') is almost surely not on the curve
        Assert.False(a.TryComplete(offCurve, out var secret));
        Assert.Null(secret);
        Assert.False(KeyExchange.TryRespond(NamedGroup.Secp256r1, offCurve, out _, out _));

        var ones = new byte[65];
        ones[0] = 0x04;
        ones[32] = 1;
        ones[64] = 1; // (1, 1)
        Assert.False(a.TryComplete(ones, out _));

        var zeros = new byte[65];
        zeros[0] = 0x04;
        Assert.False(a.TryComplete(zeros, out _));

        var compressed = new byte[33];
        compressed[0] = 0x02;
        b.PublicShare.AsSpan(1, 32).CopyTo(compressed.AsSpan(1));
        Assert.False(a.TryComplete(compressed, out _));

        var wrongPrefix = (byte[])b.PublicShare.Clone();
        wrongPrefix[0] = 0x05;
        Assert.False(a.TryComplete(wrongPrefix, out _));

        Assert.False(a.TryComplete(p384.PublicShare, out _));
        Assert.True(a.TryComplete(b.PublicShare, out _));
    }

    [Fact]
    public void Ml_kem_encapsulation_key_with_a_coefficient_of_q_or_more_is_refused_fips203_section7_2()
    {
        using var client = KeyExchange.Generate(NamedGroup.X25519MlKem768, MlKemImplementation.BouncyCastle);

        // The first coefficient is the low 12 bits of bytes 0..1 (ByteEncode_12, little-endian).
        static byte[] WithFirstCoefficient(byte[] share, int coefficient)
        {
            var copy = (byte[])share.Clone();
            copy[0] = (byte)coefficient;
            copy[1] = (byte)((copy[1] & 0xF0) | (coefficient >> 8));
            return copy;
        }

        foreach (var coefficient in new[] { 3329, 3330, 4095 })
        {
            var bad = WithFirstCoefficient(client.PublicShare, coefficient);
            Assert.False(KeyExchange.TryRespond(NamedGroup.X25519MlKem768, bad, MlKemImplementation.BouncyCastle, out var share, out var secret), $"coefficient {coefficient}");
            Assert.Null(share);
            Assert.Null(secret);
        }

        // q - 1 is a valid coefficient: the key is accepted (the exchange then disagrees, as a different key must).
        var edge = WithFirstCoefficient(client.PublicShare, 3328);
        Assert.True(KeyExchange.TryRespond(NamedGroup.X25519MlKem768, edge, MlKemImplementation.BouncyCastle, out _, out _));
    }

    [Theory]
    [MemberData(nameof(Rfc7748ScalarMultiplication))]
    public void X25519_matches_the_rfc7748_section5_2_vectors(string scalar, string u, string output)
    {
        using var pair = KeyExchangeKeyPair.FromX25519Private(H(scalar));
        Assert.True(pair.TryComplete(H(u), out var secret));
        Assert.Equal(H(output), secret);
    }

    public static TheoryData<string> X25519Implementations =>
        X25519.LibsodiumAvailable ? new() { nameof(X25519Implementation.BouncyCastle), nameof(X25519Implementation.Libsodium) } : new() { nameof(X25519Implementation.BouncyCastle) };

    [Fact]
    public void Libsodium_x25519_loads_from_the_package_on_linux_x64()
    {
        // The libsodium package ships the native library for this platform; the fallback is for the others.
        Assert.True(X25519.LibsodiumAvailable);
        Assert.Equal(X25519Implementation.Libsodium, X25519.Default);
    }

    [Theory]
    [MemberData(nameof(X25519Implementations))]
    public void X25519_backends_match_the_rfc7748_vectors_and_refuse_low_order_points_rfc7748_section5_2_and_6_1(string name)
    {
        var implementation = Enum.Parse<X25519Implementation>(name);
        var secret = new byte[32];
        foreach (var row in Rfc7748ScalarMultiplication)
        {
            var (scalar, u, output) = ((string)row[0], (string)row[1], (string)row[2]);
            Assert.True(X25519.TryAgree(implementation, H(scalar), H(u), secret));
            Assert.Equal(H(output), secret);
        }

        var alicePublic = new byte[32];
        X25519.PublicKey(implementation, H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), alicePublic);
        Assert.Equal(H("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"), alicePublic);

        foreach (var row in LowOrderPoints)
        {
            Array.Fill(secret, (byte)0xFF);
            Assert.False(X25519.TryAgree(implementation, H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), H(row), secret));
            Assert.All(secret, b => Assert.Equal(0, b));
        }

        Assert.False(X25519.TryAgree(implementation, alicePublic, alicePublic.AsSpan(1), secret));
    }

    [Fact]
    public void X25519_backends_agree_on_seeded_random_keys()
    {
        if (!X25519.LibsodiumAvailable)
        {
            return;
        }

        var random = new Random(1307);
        var a = new byte[32];
        var b = new byte[32];
        var publicB = new byte[32];
        var managed = new byte[32];
        var native = new byte[32];
        for (var i = 0; i < 64; i++)
        {
            random.NextBytes(a);
            random.NextBytes(b);
            X25519.PublicKey(X25519Implementation.BouncyCastle, b, publicB);
            var nativePublic = new byte[32];
            X25519.PublicKey(X25519Implementation.Libsodium, b, nativePublic);
            Assert.Equal(publicB, nativePublic);
            publicB[31] |= (byte)(i & 0x80); // the top bit of u is ignored by both (RFC 7748 5)
            Assert.True(X25519.TryAgree(X25519Implementation.BouncyCastle, a, publicB, managed));
            Assert.True(X25519.TryAgree(X25519Implementation.Libsodium, a, publicB, native));
            Assert.Equal(managed, native);
        }
    }

    [Fact]
    public void P256_agreement_through_the_openssl_import_equals_the_platform_agreement_rfc8422_section5_10()
    {
        for (var i = 0; i < 8; i++)
        {
            using var ours = KeyExchange.Generate(NamedGroup.Secp256r1);
            using var platform = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
            var q = platform.ExportParameters(false).Q;
            byte[] point = [0x04, .. q.X!, .. q.Y!];
            Assert.True(ours.TryComplete(point, out var secret));
            using var peer = ECDiffieHellman.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = ours.PublicShare[1..33], Y = ours.PublicShare[33..] },
            });
            Assert.Equal(platform.DeriveRawSecretAgreement(peer.PublicKey), secret);
        }
    }

    [Fact]
    public void X25519_matches_the_rfc7748_section6_1_diffie_hellman()
    {
        using var alice = KeyExchangeKeyPair.FromX25519Private(H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        using var bob = KeyExchangeKeyPair.FromX25519Private(H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
        Assert.Equal(NamedGroup.X25519, alice.Group);
        Assert.Equal(H("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"), alice.PublicShare);
        Assert.Equal(H("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), bob.PublicShare);
        Assert.True(alice.TryComplete(bob.PublicShare, out var ab));
        Assert.True(bob.TryComplete(alice.PublicShare, out var ba));
        Assert.Equal(H("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"), ab);
        Assert.Equal(ab, ba);
    }

    [Fact]
    public void X25519_matches_the_rfc8448_section3_key_share()
    {
        using var client = KeyExchangeKeyPair.FromX25519Private(H("49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005"));
        Assert.Equal(H("99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c"), client.PublicShare);
        Assert.True(client.TryComplete(H("c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f"), out var secret));
        Assert.Equal(H("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d"), secret);
    }

    [Fact]
    public void Unsupported_groups_are_refused_and_the_hybrid_is_not_a_dtls12_group()
    {
        Assert.False(KeyExchange.IsSupported(new NamedGroup(0x0100))); // ffdhe2048
        Assert.False(KeyExchange.IsSupported(new NamedGroup(30))); // x448
        Assert.False(KeyExchange.IsSupported(new NamedGroup(0x2A2A))); // GREASE
        Assert.True(KeyExchange.IsSupported(NamedGroup.X25519MlKem768));
        Assert.False(KeyExchange.IsSupportedInDtls12(NamedGroup.X25519MlKem768));
        Assert.Throws<NotSupportedException>(() => KeyExchange.Generate(new NamedGroup(30)));
        Assert.False(KeyExchange.TryRespond(new NamedGroup(30), new byte[56], out var share, out var secret));
        Assert.Null(share);
        Assert.Null(secret);
        Assert.Equal("X25519MLKEM768", NamedGroup.X25519MlKem768.ToString());
        Assert.Equal(0x11EC, NamedGroup.X25519MlKem768.Value);
    }

    [Fact]
    public void A_disposed_pair_refuses_to_complete()
    {
        var pair = KeyExchange.Generate(NamedGroup.X25519);
        using var peer = KeyExchange.Generate(NamedGroup.X25519);
        pair.Dispose();
        pair.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pair.TryComplete(peer.PublicShare, out _));
    }
}
