using System.Net;
using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;
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
}

/// <summary>Counters of a listener.</summary>
public sealed class DtlsListenerStats
{
    /// <summary>HelloVerifyRequests sent (each copy counted).</summary>
    public long HelloVerifyRequestsSent { get; internal set; }

    /// <summary>Endpoints created after a valid cookie.</summary>
    public long Accepted { get; internal set; }

    /// <summary>Datagrams dropped: not a ClientHello, not its first fragment, too small to answer without amplification, or malformed.</summary>
    public long Dropped { get; internal set; }

    /// <summary>Datagrams whose handling threw unexpectedly (a bug); each was dropped and logged, the listener kept serving.</summary>
    public long InternalErrors { get; internal set; }
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

    /// <summary>Creates a listener whose endpoints use <paramref name="options"/>.</summary>
    public DtlsServerListener(DtlsOptions options)
    {
        options.Validate(DtlsRole.Server);
        _options = options;
        _cookies = new CookieAuthority(options.Random, options.CookieRotationInterval);
    }

    /// <summary>Counters.</summary>
    public DtlsListenerStats Stats { get; } = new();

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
    public DtlsListenerDecision HandleDatagram(TimeSpan now, IPEndPoint remote, ReadOnlySpan<byte> datagram, Span<byte> response, out int responseLength, out int responseCopies, out DtlsEndpoint? endpoint)
    {
        ArgumentNullException.ThrowIfNull(remote);
        try
        {
            return Decide(now, remote, datagram, response, out responseLength, out responseCopies, out endpoint);
        }
        catch (Exception ex)
        {
            // The exception boundary of the open port: whatever a datagram does, the listener keeps serving.
            responseLength = 0;
            responseCopies = 0;
            endpoint = null;
            Stats.InternalErrors++;
            DtlsMetrics.InternalErrors.Add(1);
            SafeLogger.Log(_options.Logger, l => l.LogError(ex, "DTLS listener dropped a datagram from {Remote} after an unexpected {Exception}", remote, ex.GetType().Name));
            return Drop();
        }
    }

    /// <summary>IPv4 (20) or IPv6 (40) plus UDP (8) header bytes around each datagram to or from <paramref name="remote"/>.</summary>
    internal static int WireOverhead(IPEndPoint remote) =>
        (remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !remote.Address.IsIPv4MappedToIPv6 ? 40 : 20) + 8;

    private DtlsListenerDecision Decide(TimeSpan now, IPEndPoint remote, ReadOnlySpan<byte> datagram, Span<byte> response, out int responseLength, out int responseCopies, out DtlsEndpoint? endpoint)
    {
        responseLength = 0;
        responseCopies = 0;
        endpoint = null;
        if (!TryReadFirstFragment(datagram, out var record, out var handshake, out var fragment)
            || !ClientHello.TryReadPrefix(fragment, out var version, out var random, out var sessionId, out var cookie, out _))
        {
            return Drop();
        }

        Span<byte> identity = stackalloc byte[18];
        remote.Address.TryWriteBytes(identity, out var addressLength);
        identity[addressLength] = (byte)(remote.Port >> 8);
        identity[addressLength + 1] = (byte)remote.Port;
        identity = identity[..(addressLength + 2)];

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
            endpoint.HandleDatagram(now, datagram);
            Stats.Accepted++;
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
        Stats.HelloVerifyRequestsSent += responseCopies;
        DtlsMetrics.CookiesSent.Add(responseCopies);
        return DtlsListenerDecision.HelloVerifyRequest;
    }

    private DtlsListenerDecision Drop()
    {
        Stats.Dropped++;
        DtlsMetrics.Drop("listener-not-client-hello");
        return DtlsListenerDecision.Dropped;
    }

    private static bool TryReadFirstFragment(ReadOnlySpan<byte> datagram, out RecordHeader record, out HandshakeHeader handshake, out ReadOnlySpan<byte> fragment)
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
            && handshake.FragmentOffset == 0
            && reader.TryReadBytes(handshake.FragmentLength, out fragment);
    }
}
