using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.V13;

/// <summary>
/// The HelloRetryRequest cookie of a stateless DTLS 1.3 server (RFC 8446 4.2.2, RFC 9147 5.1): everything the server needs
/// to continue from the second ClientHello travels in the cookie, authenticated by an HMAC over the client's address.
/// Layout: <c>version(1)=2 suite(2) group(2) asked_share(1) random_prefix(8) hash_length(1) hash(ClientHello1) mac(32)</c>;
/// the first 8 bytes of the first ClientHello's random tell whether a second ClientHello answers this cookie's hello (its
/// random is the same) or took a HelloRetryRequest meant for another client on the same address.
/// </summary>
internal static class StatelessRetry
{
    /// <summary>Bytes of the first ClientHello's random kept in the cookie.</summary>
    public const int RandomPrefixLength = 8;

    private const byte CookieVersion = 2;

    /// <summary>The cookie for a first ClientHello with <paramref name="clientRandom"/> whose transcript hash is <paramref name="clientHello1Hash"/>.</summary>
    public static byte[] CreateCookie(CookieAuthority authority, TimeSpan now, ReadOnlySpan<byte> identity, Selection13 selection, bool askedShare, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> clientHello1Hash)
    {
        var cookie = new byte[7 + RandomPrefixLength + clientHello1Hash.Length + CookieAuthority.CookieLength];
        var w = new WireWriter(cookie);
        w.WriteUInt8(CookieVersion);
        w.WriteUInt16(selection.Suite.Suite.Value);
        w.WriteUInt16(selection.Group.Value);
        w.WriteUInt8(askedShare ? (byte)1 : (byte)0);
        w.WriteBytes(clientRandom[..RandomPrefixLength]);
        w.WriteVector8(clientHello1Hash);
        var fields = cookie.AsSpan(0, w.Position);
        authority.Compute(now, identity, fields, cookie.AsSpan(w.Position));
        return cookie;
    }

    /// <summary>Verifies a cookie echoed in a second ClientHello and recovers what it carries; false (never throws) on any mismatch.</summary>
    public static bool TryOpenCookie(CookieAuthority authority, TimeSpan now, ReadOnlySpan<byte> identity, ReadOnlySpan<byte> cookie,
        out CipherSuite suite, out NamedGroup group, out bool askedShare, out byte[] randomPrefix, out byte[] clientHello1Hash)
    {
        suite = default;
        group = default;
        askedShare = false;
        randomPrefix = [];
        clientHello1Hash = [];
        if (cookie.Length <= CookieAuthority.CookieLength)
        {
            return false;
        }

        var fields = cookie[..^CookieAuthority.CookieLength];
        var r = new WireReader(fields);
        if (!r.TryReadUInt8(out var version) || version != CookieVersion || !r.TryReadUInt16(out var s) || !r.TryReadUInt16(out var g)
            || !r.TryReadUInt8(out var asked) || !r.TryReadBytes(RandomPrefixLength, out var prefix) || !r.TryReadVector8(out var hash) || !r.IsEmpty
            || !authority.Verify(now, identity, fields, cookie[^CookieAuthority.CookieLength..]))
        {
            return false;
        }

        suite = new CipherSuite(s);
        group = new NamedGroup(g);
        askedShare = asked == 1;
        randomPrefix = prefix.ToArray();
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
/// <remarks>
/// A completed hello stays for <see cref="Lifetime"/> as well, so that copies of it are known as copies. Without that, a late
/// copy of one fragment (the client had already resent its hello) would start a new entry for its address, and the next
/// hello from that address with the same message_seq and length (a client restarted on the same port: RFC 6347 4.2.8)
/// would be completed with the old hello's bytes; the cookie would then carry a hash the client never sent, and the
/// handshake would fail after the server's first flight (found by the soak with reused ports). A copy of a completed
/// hello's first fragment is the client asking again (its answer was lost) and gets the whole hello back to answer,
/// statelessly as before; a copy of a later fragment is dropped. Another first fragment (another random) proves a new
/// hello and ends the old one. Completed hellos share the byte budget but are evicted before any hello still being
/// assembled.
/// </remarks>
internal sealed class PendingClientHellos(int maxBytes)
{
    /// <summary>How long an incomplete hello is kept, and a completed one is remembered.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    /// <summary>Largest ClientHello assembled (a hello with every group's share and a cookie stays well under it).</summary>
    public const int MaxHelloLength = 4096;

    private readonly LinkedList<Entry> _entries = new();
    private int _bytes;

    public int Count => _entries.Count;

    public int Bytes => _bytes;

    /// <summary>
    /// Adds a fragment; returns the complete body once every byte arrived, or again when the first fragment of a hello
    /// completed moments ago comes again (<paramref name="repeat"/>: the client asks again, so the answer was probably
    /// lost). <paramref name="duplicate"/> says a later fragment of a completed hello was dropped.
    /// </summary>
    public byte[]? Add(TimeSpan now, ReadOnlySpan<byte> identity, ushort messageSeq, int length, int offset, ReadOnlySpan<byte> fragment, out bool duplicate, out bool repeat)
    {
        duplicate = false;
        repeat = false;
        if (length > MaxHelloLength || length > maxBytes || offset + fragment.Length > length)
        {
            return null;
        }

        Expire(now);
        Entry? open = null;
        Entry? completed = null;
        for (var node = _entries.First; node is not null; node = node.Next)
        {
            var e = node.Value;
            if (e.MessageSeq == messageSeq && e.Body.Length == length && e.Identity.AsSpan().SequenceEqual(identity))
            {
                if (e.Completed)
                {
                    completed = e;
                }
                else
                {
                    open = e;
                }
            }
        }

        if (completed is not null)
        {
            if (completed.Body.AsSpan(offset, fragment.Length).SequenceEqual(fragment))
            {
                // A copy of the hello completed moments ago: its first fragment asks for the answer again.
                duplicate = offset != 0;
                repeat = offset == 0;
                return repeat ? completed.Body.ToArray() : null;
            }

            if (offset == 0)
            {
                // Another first fragment: a new hello from this address; copies of the old one no longer come.
                Remove(completed);
            }
        }

        if (open is null)
        {
            // Completed hellos go first: remembering copies must never cost a hello still being assembled its place.
            while (_bytes + length > maxBytes && OldestCompleted() is { } done)
            {
                Remove(done);
            }

            while (_bytes + length > maxBytes && _entries.First is { } oldest)
            {
                Remove(oldest.Value);
            }

            open = new Entry(identity.ToArray(), messageSeq, new byte[length], now);
            _entries.AddLast(open);
            _bytes += length;
        }

        fragment.CopyTo(open.Body.AsSpan(offset));
        open.Add(offset, offset + fragment.Length);
        if (!open.IsWhole)
        {
            return null;
        }

        // Remembered as completed (its lifetime starts now) so that its copies are known; the caller gets its own copy.
        _entries.Remove(open);
        open.Complete(now);
        _entries.AddLast(open);
        return open.Body.ToArray();
    }

    private Entry? OldestCompleted()
    {
        for (var node = _entries.First; node is not null; node = node.Next)
        {
            if (node.Value.Completed)
            {
                return node.Value;
            }
        }

        return null;
    }

    private void Remove(Entry entry)
    {
        _entries.Remove(entry);
        _bytes -= entry.Body.Length;
    }

    private void Expire(TimeSpan now)
    {
        // Entries are in the order of their last change (created, or completed), so the oldest is first.
        while (_entries.First is { } oldest && now - oldest.Value.Created > Lifetime)
        {
            Remove(oldest.Value);
        }
    }

    private sealed class Entry(byte[] identity, ushort messageSeq, byte[] body, TimeSpan created)
    {
        private readonly List<(int Start, int End)> _ranges = [];

        public byte[] Identity { get; } = identity;

        public ushort MessageSeq { get; } = messageSeq;

        public byte[] Body { get; } = body;

        public TimeSpan Created { get; private set; } = created;

        public bool Completed { get; private set; }

        public bool IsWhole => _ranges.Count == 1 && _ranges[0].Start == 0 && _ranges[0].End == Body.Length;

        public void Complete(TimeSpan now)
        {
            Completed = true;
            Created = now;
            _ranges.Clear();
        }

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
