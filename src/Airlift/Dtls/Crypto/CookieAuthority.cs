using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Airlift.Dtls.Crypto;

/// <summary>
/// Stateless HelloVerifyRequest cookies (RFC 6347 4.2.1). A cookie is
/// <c>HMAC-SHA256(secret, uint16(len(identity)) || identity || clientHelloFields)</c>; the identity
/// (typically the client's transport address) is length-prefixed so that bytes cannot slide between it
/// and the ClientHello fields. The secret rotates every rotation interval; a cookie made with the
/// current or the previous secret verifies, so a cookie stays valid for at least one full interval.
/// Time is an argument: rotation happens lazily when a call's <c>now</c> passes the deadline.
/// Thread-safe (a lock around rotation and the MAC): the receive loops of one multi-core server share one authority.
/// </summary>
internal sealed class CookieAuthority
{
    /// <summary>Cookie length in bytes (full HMAC-SHA256 output).</summary>
    public const int CookieLength = 32;

    private const int SecretLength = 32;
    private const int StackLimit = 512;

    private readonly RandomSource _random;
    private readonly TimeSpan _rotationInterval;
    private readonly byte[] _current = new byte[SecretLength];
    private readonly byte[] _previous = new byte[SecretLength];
    private bool _hasPrevious;
    private readonly Lock _gate = new();
    private TimeSpan? _deadline;

    /// <summary>Creates an authority whose first secret is drawn from <paramref name="random"/>.</summary>
    public CookieAuthority(RandomSource random, TimeSpan rotationInterval)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (rotationInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(rotationInterval), "The rotation interval must be positive.");
        }

        _random = random;
        _rotationInterval = rotationInterval;
        _random.Fill(_current);
    }

    /// <summary>Writes the cookie for this client into <paramref name="cookie"/> (at least <see cref="CookieLength"/> bytes).</summary>
    public void Compute(TimeSpan now, ReadOnlySpan<byte> clientIdentity, ReadOnlySpan<byte> clientHelloFields, Span<byte> cookie)
    {
        if (cookie.Length < CookieLength)
        {
            throw new ArgumentException($"A cookie needs {CookieLength} bytes.", nameof(cookie));
        }

        lock (_gate)
        {
            Rotate(now);
            Mac(_current, clientIdentity, clientHelloFields, cookie[..CookieLength]);
        }
    }

    /// <summary>
    /// True when <paramref name="cookie"/> is the cookie for this client under the current or the
    /// previous secret. Compares in constant time; never throws on malformed input.
    /// </summary>
    public bool Verify(TimeSpan now, ReadOnlySpan<byte> clientIdentity, ReadOnlySpan<byte> clientHelloFields, ReadOnlySpan<byte> cookie)
    {
        if (cookie.Length != CookieLength || clientIdentity.Length > ushort.MaxValue)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[CookieLength];
        lock (_gate)
        {
            Rotate(now);
            Mac(_current, clientIdentity, clientHelloFields, expected);
            var ok = CryptographicOperations.FixedTimeEquals(expected, cookie);
            if (_hasPrevious)
            {
                Mac(_previous, clientIdentity, clientHelloFields, expected);
                ok |= CryptographicOperations.FixedTimeEquals(expected, cookie);
            }

            return ok;
        }
    }

    private void Rotate(TimeSpan now)
    {
        if (_deadline is not { } deadline)
        {
            _deadline = now + _rotationInterval;
            return;
        }

        if (now < deadline)
        {
            return;
        }

        var elapsedIntervals = (now - deadline).Ticks / _rotationInterval.Ticks + 1;
        if (elapsedIntervals == 1)
        {
            _current.CopyTo(_previous, 0);
            _hasPrevious = true;
        }
        else
        {
            // Two or more intervals passed without traffic: the old current secret is now older than
            // "previous" and must not verify any more.
            CryptographicOperations.ZeroMemory(_previous);
            _hasPrevious = false;
        }

        _random.Fill(_current);
        _deadline = deadline + TimeSpan.FromTicks(_rotationInterval.Ticks * elapsedIntervals);
    }

    private static void Mac(byte[] secret, ReadOnlySpan<byte> identity, ReadOnlySpan<byte> fields, Span<byte> destination)
    {
        if (identity.Length > ushort.MaxValue)
        {
            throw new ArgumentException("The client identity is at most 65535 bytes.", nameof(identity));
        }

        var length = 2 + identity.Length + fields.Length;
        byte[]? rented = null;
        var input = length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(length));
        input = input[..length];
        BinaryPrimitives.WriteUInt16BigEndian(input, (ushort)identity.Length);
        identity.CopyTo(input[2..]);
        fields.CopyTo(input[(2 + identity.Length)..]);
        HMACSHA256.HashData(secret, input, destination);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
