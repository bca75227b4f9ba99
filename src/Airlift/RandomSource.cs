using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Airlift;

/// <summary>
/// Injectable source of random bytes. The protocol core never calls <see cref="RandomNumberGenerator"/>
/// or <see cref="Random.Shared"/> directly: it asks a <see cref="RandomSource"/>, so that tests can run
/// with a fixed seed and reproduce every handshake random, cookie secret and timer jitter.
/// </summary>
public abstract class RandomSource
{
    /// <summary>Creates a random source.</summary>
    protected RandomSource()
    {
    }

    /// <summary>
    /// The operating system's cryptographically secure generator (<see cref="RandomNumberGenerator.Fill"/>).
    /// Thread-safe. Use this in production.
    /// </summary>
    public static RandomSource Cryptographic { get; } = new CryptographicRandomSource();

    /// <summary>
    /// A deterministic generator (xoshiro256** seeded through SplitMix64) for tests and simulations.
    /// INSECURE: its output is predictable from the seed. Never use it for real keys, randoms or cookies.
    /// Not thread-safe.
    /// </summary>
    /// <param name="seed">Any value; the same seed always yields the same byte stream.</param>
    public static RandomSource Seeded(ulong seed) => new SeededRandomSource(seed);

    /// <summary>Fills <paramref name="destination"/> with random bytes.</summary>
    public abstract void Fill(Span<byte> destination);

    /// <summary>A uniformly distributed double in [0, 1) built from 53 random bits; used for timer jitter.</summary>
    public double NextDouble()
    {
        Span<byte> bytes = stackalloc byte[8];
        Fill(bytes);
        var bits = BinaryPrimitives.ReadUInt64LittleEndian(bytes) >> 11;
        return bits * (1.0 / (1UL << 53));
    }

    private sealed class CryptographicRandomSource : RandomSource
    {
        public override void Fill(Span<byte> destination) => RandomNumberGenerator.Fill(destination);
    }

    private sealed class SeededRandomSource : RandomSource
    {
        private ulong _s0;
        private ulong _s1;
        private ulong _s2;
        private ulong _s3;

        public SeededRandomSource(ulong seed)
        {
            // SplitMix64 expands the seed so that nearby seeds give unrelated xoshiro states and the
            // state is never all zero.
            _s0 = SplitMix64(ref seed);
            _s1 = SplitMix64(ref seed);
            _s2 = SplitMix64(ref seed);
            _s3 = SplitMix64(ref seed);
        }

        public override void Fill(Span<byte> destination)
        {
            Span<byte> block = stackalloc byte[8];
            while (!destination.IsEmpty)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(block, Next());
                var n = Math.Min(8, destination.Length);
                block[..n].CopyTo(destination);
                destination = destination[n..];
            }
        }

        private ulong Next()
        {
            var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
            var t = _s1 << 17;
            _s2 ^= _s0;
            _s3 ^= _s1;
            _s1 ^= _s2;
            _s0 ^= _s3;
            _s2 ^= t;
            _s3 = ulong.RotateLeft(_s3, 45);
            return result;
        }

        private static ulong SplitMix64(ref ulong state)
        {
            var z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
