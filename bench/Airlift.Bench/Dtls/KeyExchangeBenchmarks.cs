using Airlift.Dtls;
using Airlift.Dtls.Crypto;
using BenchmarkDotNet.Attributes;

namespace Airlift.Bench.Dtls;

/// <summary>
/// One whole key exchange per group, both sides: the client's <see cref="KeyExchange.Generate(NamedGroup)"/>, the
/// server's <see cref="KeyExchange.TryRespond(NamedGroup, ReadOnlySpan{byte}, out byte[], out byte[])"/> and the
/// client's <see cref="KeyExchangeKeyPair.TryComplete"/>. X25519 and ML-KEM-768 run on BouncyCastle here (the platform
/// has neither), P-256 and P-384 on the platform's ECDiffieHellman.
/// </summary>
[MemoryDiagnoser]
public class KeyExchangeBenchmarks
{
    [Params((ushort)0x11EC, (ushort)29, (ushort)23, (ushort)24)]
    public ushort Group { get; set; }

    [Benchmark]
    public int FullExchange()
    {
        var group = new NamedGroup(Group);
        using var client = KeyExchange.Generate(group);
        if (!KeyExchange.TryRespond(group, client.PublicShare, out var serverShare, out var serverSecret)
            || !client.TryComplete(serverShare, out var clientSecret))
        {
            throw new InvalidOperationException("the exchange failed");
        }

        return serverSecret.Length + clientSecret.Length;
    }
}
