using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using Airlift.Codec;

namespace Airlift.Dtls;

/// <summary>
/// A certificate fingerprint as carried in SDP <c>a=fingerprint</c> (RFC 8122 5, RFC 4572 5):
/// a hash function name and the hash of the DER certificate, written <c>"sha-256 AB:CD:..."</c>.
/// </summary>
/// <remarks>
/// sha-224 fingerprints parse and format, but the platform (System.Security.Cryptography) has no
/// SHA-224, so <see cref="Compute"/> rejects it and <see cref="Matches"/> returns false for it.
/// </remarks>
public sealed class CertificateFingerprint : IEquatable<CertificateFingerprint>
{
    private static readonly (string Name, int Length)[] Algorithms =
    [
        ("sha-1", 20),
        ("sha-224", 28),
        ("sha-256", 32),
        ("sha-384", 48),
        ("sha-512", 64),
    ];

    private readonly byte[] _value;

    private CertificateFingerprint(string algorithm, byte[] value)
    {
        Algorithm = algorithm;
        _value = value;
    }

    /// <summary>The hash function name in lower case: sha-1, sha-224, sha-256, sha-384 or sha-512.</summary>
    public string Algorithm { get; }

    /// <summary>The hash of the DER certificate.</summary>
    public ReadOnlyMemory<byte> Value => _value;

    /// <summary>Hashes a DER certificate with the named algorithm (case-insensitive).</summary>
    /// <exception cref="NotSupportedException">Unknown algorithm, or sha-224 (not in the platform).</exception>
    public static CertificateFingerprint Compute(string algorithm, ReadOnlySpan<byte> certificateDer)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        var name = algorithm.ToLowerInvariant();
        var hash = Hash(name, certificateDer)
            ?? throw new NotSupportedException($"Fingerprint algorithm '{algorithm}' is not supported; use sha-1, sha-256, sha-384 or sha-512.");
        return new CertificateFingerprint(name, hash);
    }

    /// <summary>
    /// Parses <c>"sha-256 AB:CD:..."</c>: a known hash name and colon-separated hex bytes, both
    /// case-insensitive, with exactly the hash's length. Never throws.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out CertificateFingerprint? fingerprint) =>
        TryParseCore(text, out fingerprint, out _);

    /// <summary>Parses like <see cref="TryParse"/>.</summary>
    /// <exception cref="FormatException">The text is not a valid fingerprint; the message says why.</exception>
    public static CertificateFingerprint Parse(string text)
    {
        if (TryParseCore(text, out var fingerprint, out var error))
        {
            return fingerprint;
        }

        throw new FormatException($"Invalid certificate fingerprint: {error}");
    }

    /// <summary>
    /// True when the DER certificate hashes to this fingerprint under <see cref="Algorithm"/>. The
    /// comparison is constant-time. False for sha-224, which the platform cannot compute.
    /// </summary>
    public bool Matches(ReadOnlySpan<byte> certificateDer)
    {
        var hash = Hash(Algorithm, certificateDer);
        return hash is not null && CryptographicOperations.FixedTimeEquals(hash, _value);
    }

    /// <summary>The RFC 8122 text form, <c>"sha-256 AB:CD:..."</c> with upper-case hex.</summary>
    public override string ToString() => Algorithm + " " + Hex.ToColonHex(_value);

    /// <inheritdoc/>
    public bool Equals(CertificateFingerprint? other) =>
        other is not null && Algorithm == other.Algorithm && _value.AsSpan().SequenceEqual(other._value);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as CertificateFingerprint);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Algorithm);
        hash.AddBytes(_value);
        return hash.ToHashCode();
    }

    private static byte[]? Hash(string name, ReadOnlySpan<byte> data) => name switch
    {
        "sha-1" => SHA1.HashData(data),
        "sha-256" => SHA256.HashData(data),
        "sha-384" => SHA384.HashData(data),
        "sha-512" => SHA512.HashData(data),
        _ => null,
    };

    private static bool TryParseCore(string? text, [NotNullWhen(true)] out CertificateFingerprint? fingerprint, out string error)
    {
        fingerprint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the text is empty.";
            return false;
        }

        var trimmed = text.AsSpan().Trim();
        var space = trimmed.IndexOfAny(' ', '\t');
        if (space < 0)
        {
            error = "expected '<hash-func> <hex>:<hex>...', found no space.";
            return false;
        }

        var algorithmText = trimmed[..space];
        var hexText = trimmed[(space + 1)..].TrimStart();
        string? name = null;
        var length = 0;
        foreach (var (candidate, candidateLength) in Algorithms)
        {
            if (algorithmText.Equals(candidate, StringComparison.OrdinalIgnoreCase))
            {
                name = candidate;
                length = candidateLength;
                break;
            }
        }

        if (name is null)
        {
            error = $"unknown hash function '{algorithmText}' (expected sha-1, sha-224, sha-256, sha-384 or sha-512).";
            return false;
        }

        // Exactly "XX:XX:...:XX" with `length` pairs.
        if (hexText.Length != length * 3 - 1)
        {
            error = $"{name} needs {length} colon-separated hex bytes ({length * 3 - 1} characters), got {hexText.Length} characters.";
            return false;
        }

        var value = new byte[length];
        for (var i = 0; i < length; i++)
        {
            if (i > 0 && hexText[i * 3 - 1] != ':')
            {
                error = $"expected ':' at character {i * 3 - 1} of the hex part.";
                return false;
            }

            if (!byte.TryParse(hexText.Slice(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value[i]))
            {
                error = $"'{hexText.Slice(i * 3, 2)}' at byte {i} is not two hex digits.";
                return false;
            }
        }

        fingerprint = new CertificateFingerprint(name, value);
        error = string.Empty;
        return true;
    }
}
