using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.V13;

/// <summary>
/// The HelloRetryRequest cookie of a stateless DTLS 1.3 server (RFC 8446 4.2.2, RFC 9147 5.1): everything the server needs
/// to continue from the second ClientHello travels in the cookie, authenticated by an HMAC over the client's address.
/// Layout: <c>version(1)=1 suite(2) group(2) asked_share(1) hash_length(1) hash(ClientHello1) mac(32)</c>.
/// </summary>
internal static class StatelessRetry
{
    private const byte CookieVersion = 1;

    /// <summary>The cookie for a first ClientHello whose transcript hash is <paramref name="clientHello1Hash"/>.</summary>
    public static byte[] CreateCookie(CookieAuthority authority, TimeSpan now, ReadOnlySpan<byte> identity, Selection13 selection, bool askedShare, ReadOnlySpan<byte> clientHello1Hash)
    {
        var cookie = new byte[7 + clientHello1Hash.Length + CookieAuthority.CookieLength];
        var w = new WireWriter(cookie);
        w.WriteUInt8(CookieVersion);
        w.WriteUInt16(selection.Suite.Suite.Value);
        w.WriteUInt16(selection.Group.Value);
        w.WriteUInt8(askedShare ? (byte)1 : (byte)0);
        w.WriteVector8(clientHello1Hash);
        var fields = cookie.AsSpan(0, w.Position);
        authority.Compute(now, identity, fields, cookie.AsSpan(w.Position));
        return cookie;
    }

    /// <summary>Verifies a cookie echoed in a second ClientHello and recovers what it carries; false (never throws) on any mismatch.</summary>
    public static bool TryOpenCookie(CookieAuthority authority, TimeSpan now, ReadOnlySpan<byte> identity, ReadOnlySpan<byte> cookie,
        out CipherSuite suite, out NamedGroup group, out bool askedShare, out byte[] clientHello1Hash)
    {
        suite = default;
        group = default;
        askedShare = false;
        clientHello1Hash = [];
        if (cookie.Length <= CookieAuthority.CookieLength)
        {
            return false;
        }

        var fields = cookie[..^CookieAuthority.CookieLength];
        var r = new WireReader(fields);
        if (!r.TryReadUInt8(out var version) || version != CookieVersion || !r.TryReadUInt16(out var s) || !r.TryReadUInt16(out var g)
            || !r.TryReadUInt8(out var asked) || !r.TryReadVector8(out var hash) || !r.IsEmpty
            || !authority.Verify(now, identity, fields, cookie[^CookieAuthority.CookieLength..]))
        {
            return false;
        }

        suite = new CipherSuite(s);
        group = new NamedGroup(g);
        askedShare = asked == 1;
        clientHello1Hash = hash.ToArray();
        return true;
    }
}

/// <summary>
/// ClientHellos that span several datagrams, collected by the stateless listener until complete: a DTLS 1.3 hello (both
/// browsers send 1.4 KB, two datagrams at 1200 bytes) must be whole before the server can hash it for the cookie or find the
/// cookie extension in it. Bounded: at most <see cref="DtlsOptions.MaxPendingClientHelloBytes"/> in all, each entry lives
/// <see cref="Lifetime"/>, the oldest is evicted first; no endpoint, key or timer exists for a pending hello.
/// </summary>
internal sealed class PendingClientHellos(int maxBytes)
{
    /// <summary>How long an incomplete hello is kept.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    /// <summary>Largest ClientHello assembled (a hello with every group's share and a cookie stays well under it).</summary>
    public const int MaxHelloLength = 4096;

    private readonly LinkedList<Entry> _entries = new();
    private int _bytes;

    public int Count => _entries.Count;

    public int Bytes => _bytes;

    /// <summary>Adds a fragment; returns the complete body once every byte arrived (the entry is then gone).</summary>
    public byte[]? Add(TimeSpan now, ReadOnlySpan<byte> identity, ushort messageSeq, int length, int offset, ReadOnlySpan<byte> fragment)
    {
        if (length > MaxHelloLength || length > maxBytes || offset + fragment.Length > length)
        {
            return null;
        }

        Expire(now);
        Entry? entry = null;
        for (var node = _entries.First; node is not null; node = node.Next)
        {
            if (node.Value.MessageSeq == messageSeq && node.Value.Body.Length == length && node.Value.Identity.AsSpan().SequenceEqual(identity))
            {
                entry = node.Value;
                break;
            }
        }

        if (entry is null)
        {
            while (_bytes + length > maxBytes && _entries.First is { } oldest)
            {
                _bytes -= oldest.Value.Body.Length;
                _entries.RemoveFirst();
            }

            entry = new Entry(identity.ToArray(), messageSeq, new byte[length], now);
            _entries.AddLast(entry);
            _bytes += length;
        }

        fragment.CopyTo(entry.Body.AsSpan(offset));
        entry.Add(offset, offset + fragment.Length);
        if (!entry.Complete)
        {
            return null;
        }

        _entries.Remove(entry);
        _bytes -= length;
        return entry.Body;
    }

    private void Expire(TimeSpan now)
    {
        while (_entries.First is { } oldest && now - oldest.Value.Created > Lifetime)
        {
            _bytes -= oldest.Value.Body.Length;
            _entries.RemoveFirst();
        }
    }

    private sealed class Entry(byte[] identity, ushort messageSeq, byte[] body, TimeSpan created)
    {
        private readonly List<(int Start, int End)> _ranges = [];

        public byte[] Identity { get; } = identity;

        public ushort MessageSeq { get; } = messageSeq;

        public byte[] Body { get; } = body;

        public TimeSpan Created { get; } = created;

        public bool Complete => _ranges.Count == 1 && _ranges[0].Start == 0 && _ranges[0].End == Body.Length;

        public void Add(int start, int end)
        {
            for (var i = _ranges.Count - 1; i >= 0; i--)
            {
                var (s, e) = _ranges[i];
                if (s <= end && start <= e)
                {
                    start = Math.Min(start, s);
                    end = Math.Max(end, e);
                    _ranges.RemoveAt(i);
                }
            }

            _ranges.Add((start, end));
            _ranges.Sort();
        }
    }
}
