using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// The TLS 1.2 pseudo-random function (RFC 5246 5):
/// <c>PRF(secret, label, seed) = P_hash(secret, label + seed)</c>, where
/// <c>P_hash = HMAC(secret, A(1) + label + seed) + HMAC(secret, A(2) + label + seed) + ...</c>,
/// <c>A(0) = label + seed</c> and <c>A(i) = HMAC(secret, A(i-1))</c>.
/// </summary>
internal static class Prf
{
    private const int StackLimit = 256;

    /// <summary>Fills <paramref name="output"/> (any length) with PRF output.</summary>
    /// <param name="hash">SHA-256 or SHA-384 (the cipher suite's PRF hash).</param>
    /// <param name="secret">The PRF secret.</param>
    /// <param name="label">An ASCII label such as <c>"master secret"</c>.</param>
    /// <param name="seed">The seed that follows the label.</param>
    /// <param name="output">Destination; filled completely.</param>
    public static void Compute(HashAlgorithmName hash, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> seed, Span<byte> output)
    {
        ArgumentNullException.ThrowIfNull(label);
        var hashLength = HashLength(hash);
        foreach (var c in label)
        {
            if (c > 0x7F)
            {
                throw new ArgumentException("PRF labels are ASCII.", nameof(label));
            }
        }

        // Working buffer: A(i) || label || seed, so that both HMACs of an iteration are one call each.
        var workLength = hashLength + label.Length + seed.Length;
        byte[]? rented = null;
        var work = workLength <= StackLimit
            ? stackalloc byte[StackLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(workLength));
        work = work[..workLength];
        Span<byte> block = stackalloc byte[64];
        block = block[..hashLength];
        try
        {
            var a = work[..hashLength];
            var labelSeed = work[hashLength..];
            Encoding.ASCII.GetBytes(label, labelSeed);
            seed.CopyTo(labelSeed[label.Length..]);

            // A(1) = HMAC(secret, A(0)) with A(0) = label + seed.
            CryptographicOperations.HmacData(hash, secret, labelSeed, a);
            while (!output.IsEmpty)
            {
                if (output.Length >= hashLength)
                {
                    CryptographicOperations.HmacData(hash, secret, work, output);
                    output = output[hashLength..];
                }
                else
                {
                    CryptographicOperations.HmacData(hash, secret, work, block);
                    block[..output.Length].CopyTo(output);
                    output = default;
                }

                if (!output.IsEmpty)
                {
                    // A(i+1) = HMAC(secret, A(i)).
                    CryptographicOperations.HmacData(hash, secret, a, block);
                    block.CopyTo(a);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(work);
            CryptographicOperations.ZeroMemory(block);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    internal static int HashLength(HashAlgorithmName hash)
    {
        if (hash == HashAlgorithmName.SHA256)
        {
            return 32;
        }

        if (hash == HashAlgorithmName.SHA384)
        {
            return 48;
        }

        throw new ArgumentException($"Unsupported PRF hash {hash.Name}; TLS 1.2 suites in Airlift use SHA-256 or SHA-384.", nameof(hash));
    }
}
