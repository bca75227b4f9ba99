using System.Net;
using Airlift.Codec;
using Airlift.Diagnostics;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;
using Airlift.Dtls.V13;
using Microsoft.Extensions.Logging;

namespace Airlift.Dtls;

/// <summary>What <see cref="DtlsServerListener.HandleDatagram(TimeSpan, System.Net.IPEndPoint, ReadOnlySpan{byte}, Span{byte}, out int, out int, out DtlsEndpoint?)"/> decided for a datagram from an unknown peer.</summary>
public enum DtlsListenerDecision
{
    /// <summary>Not a usable ClientHello start; dropped and counted. No state kept.</summary>
    Dropped,

    /// <summary>A HelloVerifyRequest was written into the response buffer: send it back. No state kept.</summary>
    HelloVerifyRequest,

    /// <summary>The ClientHello carried a valid cookie: a new server endpoint was created and fed the datagram.</summary>
    Accepted,

    /// <summary>A DTLS 1.3 ClientHello without a cookie: a HelloRetryRequest with a stateless cookie was written into the response buffer.</summary>
    HelloRetryRequest,

    /// <summary>Part of a ClientHello that spans datagrams, kept (bounded) until the rest arrives; nothing to send yet.</summary>
    Buffered,
}

/// <summary>Counters of a listener (atomic: the receive loops of a multi-core server share one).</summary>
public sealed class DtlsListenerStats
{
    private long _helloVerifyRequestsSent;
    private long _helloRetryRequestsSent;
    private long _fragmentsBuffered;
    private long _accepted;
    private long _dropped;
    private long _internalErrors;

    /// <summary>HelloVerifyRequests sent (each copy counted).</summary>
    public long HelloVerifyRequestsSent => Interlocked.Read(ref _helloVerifyRequestsSent);

    /// <summary>DTLS 1.3 HelloRetryRequests sent (stateless cookie exchange, RFC 9147 5.1).</summary>
    public long HelloRetryRequestsSent => Interlocked.Read(ref _helloRetryRequestsSent);

    /// <summary>Fragments of multi-datagram ClientHellos kept until the hello is whole.</summary>
    public long FragmentsBuffered => Interlocked.Read(ref _fragmentsBuffered);

    /// <summary>Endpoints created after a valid cookie.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Datagrams dropped: not a ClientHello, not its first fragment, too small to answer without amplification, or malformed.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Datagrams whose handling threw unexpectedly (a bug); each was dropped and logged, the listener kept serving.</summary>
    public long InternalErrors => Interlocked.Read(ref _internalErrors);

    internal void CountHelloVerifyRequests(int copies) => Interlocked.Add(ref _helloVerifyRequestsSent, copies);

    internal void CountHelloRetryRequest() => Interlocked.Increment(ref _helloRetryRequestsSent);

    internal void CountFragmentBuffered() => Interlocked.Increment(ref _fragmentsBuffered);

    internal void CountAccepted() => Interlocked.Increment(ref _accepted);

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    internal void CountInternalError() => Interlocked.Increment(ref _internalErrors);
}

/// <summary>
/// The stateless front of a DTLS server on an open port (RFC 6347 4.2.1). For a datagram from a peer that has no
/// endpoint yet it either answers with a HelloVerifyRequest carrying an HMAC cookie (keeping no per-peer state), or,
/// when the ClientHello echoes a valid cookie, creates the server endpoint. The cookie binds the peer address and port,
/// the client version, random and session id: fields at the very start of the ClientHello body, so that the first
/// fragment of a fragmented ClientHello (Chromium sends 1425 bytes in two datagrams) is enough to verify it. Later
/// fragments that arrive before the first one are dropped; the client's retransmission brings them again. A
/// HelloVerifyRequest (60 bytes) is never larger than the datagram that caused it.
/// </summary>
public sealed class DtlsServerListener
{
    private const int HelloVerifyRequestSize = RecordHeader.Size + HandshakeHeader.Size + 2 + 1 + CookieAuthority.CookieLength;

    private readonly DtlsOptions _options;
    private readonly CookieAuthority _cookies;
    private readonly V13.PendingClientHellos? _pending;

    /// <summary>Creates a listener whose endpoints use <paramref name="options"/>.</summary>
    public DtlsServerListener(DtlsOptions options)
    {
        options.Validate(DtlsRole.Server);
        _options = options;
        _cookies = new CookieAuthority(options.Random, options.CookieRotationInterval);
        _pending = options.AllowsDtls13 ? new V13.PendingClientHellos(options.MaxPendingClientHelloBytes) : null;
    }

    /// <summary>
    /// A listener for another receive loop of the same server: it shares this one's cookie secret (a cookie issued by
    /// either verifies in both) and counters, and keeps its own store of unfinished multi-datagram hellos (a peer's
    /// datagrams always reach the same loop).
    /// </summary>
    internal DtlsServerListener(DtlsServerListener shareWith, DtlsOptions options)
    {
        options.Validate(DtlsRole.Server);
        _options = options;
        _cookies = shareWith._cookies;
        Stats = shareWith.Stats;
        _pending = options.AllowsDtls13 ? new V13.PendingClientHellos(options.MaxPendingClientHelloBytes) : null;
    }

    /// <summary>Counters.</summary>
    public DtlsListenerStats Stats { get; } = new();

    /// <summary>Bytes held for ClientHellos that span datagrams and are not complete yet (at most <see cref="DtlsOptions.MaxPendingClientHelloBytes"/>).</summary>
    public int PendingClientHelloBytes => _pending?.Bytes ?? 0;

    /// <summary>
    /// Handles a datagram from <paramref name="remote"/>, which has no endpoint yet. On
    /// <see cref="DtlsListenerDecision.HelloVerifyRequest"/>, send <paramref name="response"/>[..responseLength] back;
    /// on <see cref="DtlsListenerDecision.Accepted"/>, keep <paramref name="endpoint"/> for this peer and drain it.
    /// </summary>
    public DtlsListenerDecision HandleDatagram(TimeSpan now, IPEndPoint remote, ReadOnlySpan<byte> datagram, Span<byte> response, out int responseLength, out DtlsEndpoint? endpoint)
        => HandleDatagram(now, remote, datagram, response, out responseLength, out _, out endpoint);

    /// <summary>
    /// As <see cref="HandleDatagram(TimeSpan, IPEndPoint, ReadOnlySpan{byte}, Span{byte}, out int, out DtlsEndpoint?)"/>, and
    /// says how many times to send the response: twice when the ClientHello is a retransmission (no cookie, and its record sequence number
    /// is above 0, so the client already lost an answer or its first try) and the datagram is at least twice the answer's size,
    /// else once. At 30 % loss the client then misses the answer to a retransmission one time in eleven, not one in three, while
    /// the bytes sent still never exceed the bytes received.
    /// </summary>
    public DtlsListenerDecision HandleDatagram(TimeSpan now, IPEndPoint remote, ReadOnlySpan<byte> datagram, Span<byte> response, out int responseLength, out int responseCopies, out DtlsEndpoint? endpoint) =>
        HandleDatagram(now, remote, datagram, response, out responseLength, out responseCopies, out endpoint, out _);

    /// <summary>
    /// As the public overload, and on <see cref="DtlsListenerDecision.Accepted"/> also the random of the ClientHello the
    /// endpoint was accepted on (the socket drivers tell a restarted client on the same address by it, RFC 6347 4.2.8), which
    /// the accepting datagram alone may not hold when the hello spans several datagrams.
    /// </summary>
    internal DtlsListenerDecision HandleDatagram(TimeSpan now, IPEndPoint remote, ReadOnlySpan<byte> datagram, Span<byte> response, out int responseLength, out int responseCopies, out DtlsEndpoint? endpoint, out byte[]? acceptedRandom)
    {
        ArgumentNullException.ThrowIfNull(remote);
        try
        {
            return Decide(now, remote, datagram, response, out responseLength, out responseCopies, out endpoint, out acceptedRandom);
        }
        catch (Exception ex)
        {
            // The exception boundary of the open port: whatever a datagram does, the listener keeps serving.
            responseLength = 0;
            responseCopies = 0;
            endpoint = null;
            acceptedRandom = null;
            Stats.CountInternalError();
            _options.Metrics.InternalErrors.Add(1);
            SafeLogger.Log(_options.DtlsLogger, l => DtlsLog.ListenerInternalError(l, ex, remote, ex.GetType().Name));
            return Drop();
        }
    }

    /// <summary>IPv4 (20) or IPv6 (40) plus UDP (8) header bytes around each datagram to or from <paramref name="remote"/>.</summary>
    internal static int WireOverhead(IPEndPoint remote) =>
        (remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !remote.Address.IsIPv4MappedToIPv6 ? 40 : 20) + 8;

    private DtlsListenerDecision Decide(TimeSpan now, IPEndPoint remote, ReadOnlySpan<byte> datagram, Span<byte> response, out int responseLength, out int responseCopies, out DtlsEndpoint? endpoint, out byte[]? acceptedRandom)
    {
        responseLength = 0;
        responseCopies = 0;
        endpoint = null;
        acceptedRandom = null;
        if (!TryReadClientHelloFragment(datagram, out var record, out var handshake, out var fragment))
        {
            return Drop();
        }

        Span<byte> identity = stackalloc byte[18];
        remote.Address.TryWriteBytes(identity, out var addressLength);
        identity[addressLength] = (byte)(remote.Port >> 8);
        identity[addressLength + 1] = (byte)remote.Port;
        identity = identity[..(addressLength + 2)];

        // A DTLS 1.2 hello assembled from several datagrams, for the endpoint it may be accepted on (the last datagram alone
        // holds only its last fragment).
        byte[]? assembled = null;
        if (_pending is not null)
        {
            // A DTLS 1.3-capable listener needs the whole hello: supported_versions, key shares and the cookie extension
            // can be anywhere in it, and the HelloRetryRequest cookie carries its hash.
            // Every ClientHello fragment in the datagram counts: a client that resends its hello at a lower datagram size
            // packs the fragments it already cut, so one datagram can carry several records of it.
            byte[]? whole = null;
            var repeat = false;
            var buffered = false;
            var copies = false;
            var position = 0;
            while (true)
            {
                position += RecordHeader.Size + record.Length;
                var duplicate = false;
                whole = handshake.IsComplete ? fragment.ToArray() : _pending.Add(now, identity, handshake.MessageSeq, handshake.Length, handshake.FragmentOffset, fragment, out duplicate, out repeat);
                if (whole is not null)
                {
                    break;
                }

                copies |= duplicate;
                buffered |= !duplicate;
                if (position >= datagram.Length || !TryReadClientHelloFragment(datagram[position..], out record, out handshake, out fragment))
                {
                    break;
                }
            }

            if (whole is null && !buffered && copies)
            {
                return DropCopy();
            }

            if (whole is null)
            {
                Stats.CountFragmentBuffered();
                return DtlsListenerDecision.Buffered;
            }

            var hello = ClientHello.TryDecode(whole, out var decoded) ? decoded : null;
            if (repeat && hello is not null && (hello.Cookie.Length > 0 || Extensions.TryFind(hello.Extensions, V13.Wire13.Cookie, out _)))
            {
                // A copy of a hello that was accepted on its cookie: its endpoint exists (or existed and ended), and a
                // second one would send a flight for that old hello to whoever holds the address now.
                return DropCopy();
            }

            if (hello is not null && V13.Negotiation13.OffersDtls13(hello))
            {
                if (Decide13(now, remote, identity, datagram.Length, record, handshake, whole, hello, response, out responseLength, out endpoint) is { } decision)
                {
                    // A hello answered moments ago asks again: that answer was probably lost, so this one goes twice when
                    // the datagram that asked is at least twice its size on the wire (never more bytes out than in).
                    var wire = WireOverhead(remote);
                    responseCopies = decision != DtlsListenerDecision.HelloRetryRequest ? 0
                        : repeat && datagram.Length + wire >= 2 * (responseLength + wire) ? 2 : 1;
                    if (responseCopies == 2)
                    {
                        Stats.CountHelloRetryRequest();
                        _options.Metrics.CookiesSent.Add(1);
                    }

                    acceptedRandom = decision == DtlsListenerDecision.Accepted ? hello.Random : null;
                    return decision;
                }
            }

            fragment = whole;
            assembled = handshake.IsComplete ? null : whole;
        }
        else if (handshake.FragmentOffset != 0)
        {
            return Drop();
        }

        if (!ClientHello.TryReadPrefix(fragment, out var version, out var random, out var sessionId, out var cookie, out _))
        {
            return Drop();
        }

        Span<byte> fields = stackalloc byte[2 + 32 + 1 + 32];
        var w = new WireWriter(fields);
        w.WriteUInt16(version.Value);
        w.WriteBytes(random);
        w.WriteVector8(sessionId);
        var covered = w.Written;

        if (!cookie.IsEmpty && _cookies.Verify(now, identity, covered, cookie))
        {
            endpoint = DtlsEndpoint.CreateServer(_options, now);
            endpoint.Engine.CookieVerified = true;
            endpoint.HandleDatagram(now, assembled is null ? datagram : WholeHelloRecord(record, handshake.MessageSeq, assembled));
            acceptedRandom = random.ToArray();
            Stats.CountAccepted();
            return DtlsListenerDecision.Accepted;
        }

        // Anti-amplification: the answer must not be larger than the question.
        if (datagram.Length < HelloVerifyRequestSize || response.Length < HelloVerifyRequestSize)
        {
            return Drop();
        }

        Span<byte> newCookie = stackalloc byte[CookieAuthority.CookieLength];
        _cookies.Compute(now, identity, covered, newCookie);
        var hvr = new HelloVerifyRequest(ProtocolVersion.Dtls10, newCookie.ToArray());
        var body = new WireWriter(response[(RecordHeader.Size + HandshakeHeader.Size)..]);
        hvr.Encode(ref body);
        var bodyLength = body.Position;
        var hs = new WireWriter(response[RecordHeader.Size..]);
        new HandshakeHeader(HandshakeType.HelloVerifyRequest, bodyLength, handshake.MessageSeq, 0, bodyLength).Write(ref hs);

        // RFC 6347 4.2.1: the HelloVerifyRequest reuses the ClientHello's record sequence number.
        new RecordHeader(ContentType.Handshake, ProtocolVersion.Dtls10, 0, record.SequenceNumber, (ushort)(HandshakeHeader.Size + bodyLength)).Write(response);
        responseLength = RecordHeader.Size + HandshakeHeader.Size + bodyLength;
        // Counted on the wire, IP and UDP headers included: two answers of 60 + 28 bytes need a question of at least 176.
        var overhead = WireOverhead(remote);
        responseCopies = record.SequenceNumber > 0 && cookie.IsEmpty && datagram.Length + overhead >= 2 * (responseLength + overhead) ? 2 : 1;
        Stats.CountHelloVerifyRequests(responseCopies);
        _options.Metrics.CookiesSent.Add(responseCopies);
        return DtlsListenerDecision.HelloVerifyRequest;
    }

    /// <summary>
    /// One epoch-0 record holding the whole ClientHello <paramref name="body"/> (at most
    /// <see cref="V13.PendingClientHellos.MaxHelloLength"/> bytes, so one record), numbered as the record that completed it:
    /// what the endpoint would have read had the hello come in one datagram (RFC 6347 4.2.6: the transcript holds the message
    /// as if unfragmented, so nothing it computes differs).
    /// </summary>
    private static byte[] WholeHelloRecord(in RecordHeader last, ushort messageSeq, byte[] body)
    {
        var message = new Handshake.HandshakeMessage(HandshakeType.ClientHello, messageSeq, body).ToTranscriptBytes();
        var datagram = new byte[RecordHeader.Size + message.Length];
        new RecordHeader(ContentType.Handshake, last.Version, 0, last.SequenceNumber, (ushort)message.Length).Write(datagram);
        message.CopyTo(datagram, RecordHeader.Size);
        return datagram;
    }

    /// <summary>The transcript hash of <paramref name="hello"/> without its cookie extension: the first hello a second one came from.</summary>
    private static byte[] HashWithoutCookie(ClientHello hello, int helloLength, Tls13CipherSuiteInfo suite)
    {
        var first = hello with { Extensions = hello.Extensions.FindAll(e => e.Type != V13.Wire13.Cookie) };
        var body = new byte[helloLength]; // one extension fewer: never longer
        var w = new WireWriter(body);
        first.Encode(ref w);
        return HelloHash(body.AsSpan(0, w.Position), suite);
    }

    /// <summary>The transcript hash of a ClientHello alone (what the HelloRetryRequest cookie carries, RFC 8446 4.4.1).</summary>
    private static byte[] HelloHash(ReadOnlySpan<byte> helloBody, Tls13CipherSuiteInfo suite)
    {
        var transcript = new V13.Transcript13();
        try
        {
            transcript.Add(HandshakeType.ClientHello.Value, helloBody);
            return transcript.Hash(suite.Hash);
        }
        finally
        {
            transcript.Release(); // its pooled buffer goes back: the listener keeps nothing per hello
        }
    }

    /// <summary>A copy of a hello completed moments ago, with nothing to answer.</summary>
    private DtlsListenerDecision DropCopy()
    {
        Stats.CountDropped();
        _options.Metrics.Drop("listener-hello-fragment-copy");
        return DtlsListenerDecision.Dropped;
    }

    private DtlsListenerDecision Drop()
    {
        Stats.CountDropped();
        _options.Metrics.Drop("listener-not-client-hello");
        return DtlsListenerDecision.Dropped;
    }

    /// <summary>
    /// DTLS 1.3 (RFC 9147 5.1, RFC 8446 4.1.4): a hello without our cookie gets a HelloRetryRequest whose cookie carries the
    /// hash of this hello and the parameters chosen (nothing kept here); a hello that echoes a valid cookie gets an endpoint
    /// that continues from it. Dropped (falling back to the DTLS 1.2 cookie exchange) when 1.3 parameters cannot be agreed.
    /// </summary>
    private DtlsListenerDecision? Decide13(TimeSpan now, IPEndPoint remote, ReadOnlySpan<byte> identity, int datagramLength, in RecordHeader record, in HandshakeHeader handshake,
        byte[] body, ClientHello hello, Span<byte> response, out int responseLength, out DtlsEndpoint? endpoint)
    {
        responseLength = 0;
        endpoint = null;
        var message = new Handshake.HandshakeMessage(HandshakeType.ClientHello, handshake.MessageSeq, body);
        if (Extensions.TryFind(hello.Extensions, V13.Wire13.Cookie, out var cookieExtension))
        {
            if (!V13.Extensions13.TryDecodeCookie(cookieExtension.Data, out var echoed)
                || !V13.StatelessRetry.TryOpenCookie(_cookies, now, identity, echoed, out var suite, out var group, out var askedShare, out var randomPrefix, out var hash)
                || !Tls13CipherSuiteInfo.TryGet(suite, out var suiteInfo))
            {
                Stats.CountDropped();
                _options.Metrics.Drop("listener-bad-retry-cookie");
                return DtlsListenerDecision.Dropped;
            }

            var rebuilt = false;
            if (!hello.Random.AsSpan(0, V13.StatelessRetry.RandomPrefixLength).SequenceEqual(randomPrefix))
            {
                // The HelloRetryRequest answered another hello from this address: a client restarted on its predecessor's
                // port and took the answer meant for it (nothing in a HelloRetryRequest names the hello it answers; the
                // cookie is valid for the address). RFC 8446 4.1.2: the second hello is the first one with the cookie added
                // (and a new key share only when one was asked for), so this client's first hello is rebuilt from it.
                if (askedShare)
                {
                    Stats.CountDropped();
                    _options.Metrics.Drop("listener-retry-for-another-hello");
                    return DtlsListenerDecision.Dropped;
                }

                hash = HashWithoutCookie(hello, body.Length, suiteInfo);
                rebuilt = true;
            }

            var retryFor = new V13.Selection13(suiteInfo, group, null, default, null);
            var hrrBody = V13.HelloRetry13.Build(hello.SessionId, suite, askedShare ? group : null, echoed);
            endpoint = DtlsEndpoint.CreateDtls13ServerAfterRetry(_options, now, hash, retryFor, hrrBody, record.SequenceNumber, message, hello, datagramLength,
                rebuilt ? "the cookie answered another hello from this address (a client restarted on the port); first hello rebuilt from the second" : null);
            Stats.CountAccepted();
            return DtlsListenerDecision.Accepted;
        }

        if (!V13.Negotiation13.TrySelect(_options, hello, out var selection, out _))
        {
            return null;
        }

        var helloHash = HelloHash(body, selection!.Suite);
        var askShare = selection.ClientShare is null;
        var cookie = V13.StatelessRetry.CreateCookie(_cookies, now, identity, selection, askShare, hello.Random, helloHash);
        var hrr = V13.HelloRetry13.Build(hello.SessionId, selection.Suite.Suite, askShare ? selection.Group : null, cookie);
        var length = RecordHeader.Size + HandshakeHeader.Size + hrr.Length;

        // Anti-amplification, IP and UDP headers counted: the answer is never larger than the hello that asked for it.
        var overhead = WireOverhead(remote);
        if (length > response.Length || length + overhead > body.Length + RecordHeader.Size + HandshakeHeader.Size + overhead)
        {
            return Drop();
        }

        var hs = new WireWriter(response[RecordHeader.Size..]);
        new HandshakeHeader(HandshakeType.ServerHello, hrr.Length, handshake.MessageSeq, 0, hrr.Length).Write(ref hs);
        hs.WriteBytes(hrr);

        // RFC 9147 5.1: the HelloRetryRequest takes the ClientHello's record sequence number (no state, no duplicates).
        new RecordHeader(ContentType.Handshake, ProtocolVersion.Dtls12, 0, record.SequenceNumber, (ushort)(HandshakeHeader.Size + hrr.Length)).Write(response);
        responseLength = length;
        Stats.CountHelloRetryRequest();
        _options.Metrics.CookiesSent.Add(1);
        return DtlsListenerDecision.HelloRetryRequest;
    }

    /// <summary>A ClientHello fragment in an epoch-0 handshake record at the start of the datagram (the socket drivers use it
    /// too, to tell a new hello from an existing session's traffic).</summary>
    internal static bool TryReadClientHelloFragment(ReadOnlySpan<byte> datagram, out RecordHeader record, out HandshakeHeader handshake, out ReadOnlySpan<byte> fragment)
    {
        handshake = default;
        fragment = default;
        if (!RecordHeader.TryRead(datagram, out record) || record.Type != ContentType.Handshake || record.Epoch != 0
            || datagram.Length < RecordHeader.Size + record.Length)
        {
            return false;
        }

        var reader = new WireReader(datagram.Slice(RecordHeader.Size, record.Length));
        return HandshakeHeader.TryRead(ref reader, out handshake)
            && handshake.Type == HandshakeType.ClientHello
            && reader.TryReadBytes(handshake.FragmentLength, out fragment);
    }
}
