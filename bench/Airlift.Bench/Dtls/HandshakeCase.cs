using Airlift.Dtls;

namespace Airlift.Bench.Dtls;

/// <summary>The handshakes the DTLS benchmarks compare: protocol version and key exchange group.</summary>
public enum HandshakeCase
{
    /// <summary>DTLS 1.3 with the hybrid post-quantum group X25519MLKEM768 (the browsers' first choice).</summary>
    V13_X25519MLKEM768,

    /// <summary>DTLS 1.3 with X25519.</summary>
    V13_X25519,

    /// <summary>DTLS 1.3 with secp256r1.</summary>
    V13_P256,

    /// <summary>DTLS 1.2 ECDHE with X25519.</summary>
    V12_X25519,

    /// <summary>DTLS 1.2 ECDHE with secp256r1.</summary>
    V12_P256,
}

/// <summary>Key exchange groups of the crypto floor (a bench-local enum so BenchmarkDotNet can print and emit it).</summary>
public enum Group
{
    /// <summary>X25519MLKEM768 (0x11EC).</summary>
    X25519MLKEM768,

    /// <summary>x25519 (29).</summary>
    X25519,

    /// <summary>secp256r1 (23).</summary>
    P256,
}

internal static class HandshakeCaseExtensions
{
    public static bool IsDtls13(this HandshakeCase handshake) => handshake <= HandshakeCase.V13_P256;

    public static NamedGroup Group(this HandshakeCase handshake) => handshake switch
    {
        HandshakeCase.V13_X25519MLKEM768 => NamedGroup.X25519MlKem768,
        HandshakeCase.V13_X25519 or HandshakeCase.V12_X25519 => NamedGroup.X25519,
        _ => NamedGroup.Secp256r1,
    };

    public static NamedGroup ToNamedGroup(this Group group) => group switch
    {
        Dtls.Group.X25519MLKEM768 => NamedGroup.X25519MlKem768,
        Dtls.Group.X25519 => NamedGroup.X25519,
        _ => NamedGroup.Secp256r1,
    };
}
