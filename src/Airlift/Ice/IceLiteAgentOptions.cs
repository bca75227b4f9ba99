using Airlift.Diagnostics;
namespace Airlift.Ice;

/// <summary>
/// Options for an <see cref="IceLiteAgent"/>. Immutable; validated when the agent is created.
/// </summary>
public sealed record IceLiteAgentOptions
{
    /// <summary>Characters allowed in ICE ufrag and pwd (ice-char, RFC 8839 5.4).</summary>
    internal const string IceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// <summary>Length of a generated local ufrag (RFC 8839 5.4 requires at least 4 characters).</summary>
    public const int GeneratedUfragLength = 8;

    /// <summary>Length of a generated local password (RFC 8839 5.4 requires at least 22 characters).</summary>
    public const int GeneratedPasswordLength = 24;

    /// <summary>
    /// Fills a span with cryptographically strong random bytes. The agent is sans-IO and never uses
    /// ambient randomness: this source makes the local ufrag, password and tie-breaker, so tests
    /// pass a seeded source and production passes e.g. <c>RandomNumberGenerator.Fill</c>
    /// (or <c>Airlift.RandomSource.Fill</c>).
    /// </summary>
    public required Action<Span<byte>> FillRandom { get; init; }

    /// <summary>Local ufrag to use instead of a generated one (4..256 ice-chars).</summary>
    public string? LocalUfrag { get; init; }

    /// <summary>Local password to use instead of a generated one (22..256 ice-chars).</summary>
    public string? LocalPassword { get; init; }

    /// <summary>
    /// A tuple with no valid check for this long loses consent and is dropped (RFC 7675 5.1:
    /// 30 seconds).
    /// </summary>
    public TimeSpan ConsentTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the agent stays <see cref="IceState.Disconnected"/> (no tuple with consent) before it
    /// reports <see cref="IceState.Failed"/>.
    /// </summary>
    public TimeSpan FailureGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most tuples tracked at once (minimum 2). Only tuples with a valid, authenticated check are
    /// tracked; when full, the least recently checked tuple that is not selected is evicted.
    /// </summary>
    public int MaxTuples { get; init; } = 16;

    /// <summary>Most responses queued for <see cref="IceLiteAgent.PollOutput"/>; beyond it new ones are dropped and counted.</summary>
    public int MaxPendingTransmits { get; init; } = 64;

    /// <summary>
    /// Superseded by <see cref="LoggerFactory"/> (which takes precedence when both are set): a logger for unexpected errors
    /// caught at the agent boundary, kept working so existing code compiles. Passwords are never logged.
    /// </summary>
    [Obsolete("Use IceLiteAgentOptions.LoggerFactory: it takes precedence over Logger and logs to the Airlift.Ice category (docs/observability.md).")]
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public Microsoft.Extensions.Logging.ILogger? Logger { get; init; }

    /// <summary>Logger factory: the agent logs to its <c>Airlift.Ice</c> category (precedence over the obsolete <c>Logger</c>). Passwords are never logged.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(FillRandom);
        if (LocalUfrag is not null && !IsIceString(LocalUfrag, 4, 256))
        {
            throw new ArgumentException("LocalUfrag must be 4..256 ice-chars ([A-Za-z0-9+/]).", nameof(LocalUfrag));
        }

        if (LocalPassword is not null && !IsIceString(LocalPassword, 22, 256))
        {
            throw new ArgumentException("LocalPassword must be 22..256 ice-chars ([A-Za-z0-9+/]).", nameof(LocalPassword));
        }

        if (ConsentTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ConsentTimeout));
        }

        if (FailureGracePeriod < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FailureGracePeriod));
        }

        if (MaxTuples < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTuples), "At least 2 tuples must be tracked.");
        }

        if (MaxPendingTransmits < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPendingTransmits));
        }
    }

    internal static bool IsIceString(string value, int minLength, int maxLength)
    {
        if (value.Length < minLength || value.Length > maxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!IceChars.Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    internal string Generate(int length)
    {
        Span<byte> bytes = stackalloc byte[length];
        FillRandom(bytes);
        return string.Create(length, bytes.ToArray(), static (dst, src) =>
        {
            // 64 symbols: the low 6 bits of each byte pick one without bias.
            for (var i = 0; i < dst.Length; i++)
            {
                dst[i] = IceChars[src[i] & 0x3F];
            }
        });
    }
}
