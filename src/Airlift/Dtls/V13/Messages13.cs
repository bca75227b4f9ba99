using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Airlift.Codec;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.V13;

/// <summary>Wire values that exist only in (D)TLS 1.3.</summary>
internal static class Wire13
{
    /// <summary>key_share (RFC 8446 4.2.8).</summary>
    public static readonly ExtensionType KeyShare = new(51);

    /// <summary>cookie (RFC 8446 4.2.2).</summary>
    public static readonly ExtensionType Cookie = new(44);

    /// <summary>psk_key_exchange_modes (RFC 8446 4.2.9); Airlift offers no PSK and ignores it.</summary>
    public static readonly ExtensionType PskKeyExchangeModes = new(45);

    /// <summary>pre_shared_key (RFC 8446 4.2.11); never selected.</summary>
    public static readonly ExtensionType PreSharedKey = new(41);

    /// <summary>early_data (RFC 8446 4.2.10); 0-RTT is not supported.</summary>
    public static readonly ExtensionType EarlyData = new(42);

    /// <summary>EncryptedExtensions (RFC 8446 4.3.1).</summary>
    public static readonly HandshakeType EncryptedExtensions = new(8);

    /// <summary>NewSessionTicket (RFC 8446 4.6.1); ignored (no resumption).</summary>
    public static readonly HandshakeType NewSessionTicket = new(4);

    /// <summary>KeyUpdate (RFC 8446 4.6.3).</summary>
    public static readonly HandshakeType KeyUpdate = new(24);

    /// <summary>The synthetic message_hash handshake type of the HelloRetryRequest transcript (RFC 8446 4.4.1).</summary>
    public static readonly HandshakeType MessageHash = new(254);

    /// <summary>The ack content type (RFC 9147 7).</summary>
    public static readonly ContentType Ack = new(26);

    /// <summary>The random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 4.1.3).</summary>
    public static ReadOnlySpan<byte> HelloRetryRequestRandom =>
    [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ];

    /// <summary>Last 8 bytes of a ServerHello random from a 1.3-capable server that negotiated 1.2 (RFC 8446 4.1.3).</summary>
    public static ReadOnlySpan<byte> DowngradeSentinel12 => "DOWNGRD\u0001"u8;
}

/// <summary>One KeyShareEntry: <c>NamedGroup group; opaque key_exchange&lt;1..2^16-1&gt;</c> (RFC 8446 4.2.8).</summary>
internal readonly record struct KeyShareEntry(NamedGroup Group, byte[] KeyExchange);

/// <summary>Codecs of the 1.3 hello extensions.</summary>
internal static class Extensions13
{
    /// <summary>key_share, ClientHello form: <c>KeyShareEntry client_shares&lt;0..2^16-1&gt;</c>; a group twice is illegal (RFC 8446 4.2.8).</summary>
    public static bool TryDecodeClientShares(ReadOnlySpan<byte> data, [NotNullWhen(true)] out List<KeyShareEntry>? shares)
    {
        shares = null;
        var r = new WireReader(data);
        if (!r.TryReadVector16(out var list) || !r.IsEmpty)
        {
            return false;
        }

        var result = new List<KeyShareEntry>(2);
        var inner = new WireReader(list);
        while (!inner.IsEmpty)
        {
            if (!TryReadEntry(ref inner, out var entry) || IndexOf(result, entry.Group) >= 0)
            {
                return false;
            }

            result.Add(entry);
        }

        shares = result;
        return true;
    }

    /// <summary>The index of the share for <paramref name="group"/>, or -1 (a loop: no closure per lookup).</summary>
    public static int IndexOf(List<KeyShareEntry> shares, NamedGroup group)
    {
        for (var i = 0; i < shares.Count; i++)
        {
            if (shares[i].Group == group)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>key_share, ServerHello form: one KeyShareEntry.</summary>
    public static bool TryDecodeServerShare(ReadOnlySpan<byte> data, out KeyShareEntry share)
    {
        var r = new WireReader(data);
        return TryReadEntry(ref r, out share) && r.IsEmpty;
    }

    /// <summary>key_share, HelloRetryRequest form: <c>NamedGroup selected_group</c>.</summary>
    public static bool TryDecodeSelectedGroup(ReadOnlySpan<byte> data, out NamedGroup group)
    {
        var r = new WireReader(data);
        group = default;
        if (!r.TryReadUInt16(out var value) || !r.IsEmpty)
        {
            return false;
        }

        group = new NamedGroup(value);
        return true;
    }

    public static Extension CreateClientShares(IReadOnlyList<KeyShareEntry> shares)
    {
        var length = 2;
        for (var i = 0; i < shares.Count; i++)
        {
            length += 4 + shares[i].KeyExchange.Length;
        }

        var data = new byte[length];
        var w = new WireWriter(data);
        var scope = w.BeginVector16();
        for (var i = 0; i < shares.Count; i++)
        {
            w.WriteUInt16(shares[i].Group.Value);
            w.WriteVector16(shares[i].KeyExchange);
        }

        w.EndVector(scope);
        return new Extension(Wire13.KeyShare, data);
    }

    public static Extension CreateServerShare(KeyShareEntry share)
    {
        var data = new byte[4 + share.KeyExchange.Length];
        var w = new WireWriter(data);
        w.WriteUInt16(share.Group.Value);
        w.WriteVector16(share.KeyExchange);
        return new Extension(Wire13.KeyShare, data);
    }

    public static Extension CreateSelectedGroup(NamedGroup group) => new(Wire13.KeyShare, [(byte)(group.Value >> 8), (byte)group.Value]);

    /// <summary>supported_versions, ServerHello form: <c>ProtocolVersion selected_version</c>.</summary>
    public static bool TryDecodeSelectedVersion(ReadOnlySpan<byte> data, out ProtocolVersion version)
    {
        version = default;
        var r = new WireReader(data);
        if (!r.TryReadUInt16(out var value) || !r.IsEmpty)
        {
            return false;
        }

        version = new ProtocolVersion(value);
        return true;
    }

    public static Extension CreateSelectedVersion(ProtocolVersion version) =>
        new(ExtensionType.SupportedVersions, [(byte)(version.Value >> 8), (byte)version.Value]);

    /// <summary>cookie: <c>opaque cookie&lt;1..2^16-1&gt;</c>.</summary>
    public static bool TryDecodeCookie(ReadOnlySpan<byte> data, [NotNullWhen(true)] out byte[]? cookie)
    {
        cookie = null;
        var r = new WireReader(data);
        if (!r.TryReadVector16(out var value) || !r.IsEmpty || value.IsEmpty)
        {
            return false;
        }

        cookie = value.ToArray();
        return true;
    }

    public static Extension CreateCookie(ReadOnlySpan<byte> cookie)
    {
        var data = new byte[2 + cookie.Length];
        var w = new WireWriter(data);
        w.WriteVector16(cookie);
        return new Extension(Wire13.Cookie, data);
    }

    private static bool TryReadEntry(ref WireReader r, out KeyShareEntry entry)
    {
        entry = default;
        if (!r.TryReadUInt16(out var group) || !r.TryReadVector16(out var key) || key.IsEmpty)
        {
            return false;
        }

        entry = new KeyShareEntry(new NamedGroup(group), key.ToArray());
        return true;
    }
}

/// <summary>EncryptedExtensions (RFC 8446 4.3.1): <c>Extension extensions&lt;0..2^16-1&gt;</c>.</summary>
internal sealed record EncryptedExtensions(List<Extension> Extensions)
{
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out EncryptedExtensions? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!Messages.Extensions.TryRead(ref r, out var list) || !r.IsEmpty)
        {
            return false;
        }

        message = new EncryptedExtensions(list);
        return true;
    }

    public void Encode(ref WireWriter w) => Messages.Extensions.EncodeList(ref w, Extensions);
}

/// <summary>CertificateRequest (RFC 8446 4.3.2): <c>opaque certificate_request_context&lt;0..2^8-1&gt;; Extension extensions&lt;2..2^16-1&gt;</c>.</summary>
internal sealed record CertificateRequest13(byte[] Context, List<Extension> Extensions)
{
    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out CertificateRequest13? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadVector8(out var context) || !Messages.Extensions.TryRead(ref r, out var list) || !r.IsEmpty)
        {
            return false;
        }

        message = new CertificateRequest13(context.ToArray(), list);
        return true;
    }

    public void Encode(ref WireWriter w)
    {
        w.WriteVector8(Context);
        Messages.Extensions.EncodeList(ref w, Extensions);
    }
}

/// <summary>
/// Certificate (RFC 8446 4.4.2): <c>opaque certificate_request_context&lt;0..2^8-1&gt;; CertificateEntry
/// certificate_list&lt;0..2^24-1&gt;</c>, each entry <c>opaque cert_data&lt;1..2^24-1&gt;; Extension extensions&lt;0..2^16-1&gt;</c>.
/// Entry extensions (OCSP, SCT) are read and ignored.
/// </summary>
internal sealed record Certificate13(byte[] Context, List<byte[]> Certificates)
{
    private static readonly ConditionalWeakTable<DtlsCertificate, byte[]> OwnBodies = new();

    /// <summary>
    /// The Certificate body for our own chain with an empty request context (the server's always, the client's when the
    /// CertificateRequest's context is empty): the same bytes in every handshake, so encoded once per certificate and
    /// shared (message bodies are never written after encoding).
    /// </summary>
    public static byte[] OwnBody(DtlsCertificate certificate) =>
        OwnBodies.GetValue(certificate, static c =>
        {
            var message = new Certificate13([], [.. c.ChainDer]);
            return HandshakeCommon.Encode((ref WireWriter w) => message.Encode(ref w), 8192);
        });

    public static bool TryDecode(ReadOnlySpan<byte> body, [NotNullWhen(true)] out Certificate13? message)
    {
        message = null;
        var r = new WireReader(body);
        if (!r.TryReadVector8(out var context) || !r.TryReadVector24(out var list) || !r.IsEmpty)
        {
            return false;
        }

        var certificates = new List<byte[]>();
        var inner = new WireReader(list);
        while (!inner.IsEmpty)
        {
            if (!inner.TryReadVector24(out var der) || der.IsEmpty || !inner.TryReadVector16(out _))
            {
                return false;
            }

            certificates.Add(der.ToArray());
        }

        message = new Certificate13(context.ToArray(), certificates);
        return true;
    }

    public void Encode(ref WireWriter w)
    {
        w.WriteVector8(Context);
        var scope = w.BeginVector24();
        foreach (var der in Certificates)
        {
            w.WriteVector24(der);
            w.WriteUInt16(0);
        }

        w.EndVector(scope);
    }
}

/// <summary>Message bodies of ours written straight into an exact-size array (no record, encoder closure or scratch).</summary>
internal static class Messages13
{
    /// <summary>
    /// The server's DTLS 1.3 ServerHello (RFC 8446 4.1.3, RFC 9147 5.3): legacy_version {254, 253}, our random, the client's
    /// legacy_session_id echoed, the suite, compression 0, then supported_versions (DTLS 1.3) and key_share (our share),
    /// the same bytes <see cref="ServerHello.Encode"/> writes for those fields.
    /// </summary>
    public static byte[] ServerHelloBody(ReadOnlySpan<byte> random, ReadOnlySpan<byte> sessionId, CipherSuite suite, NamedGroup group, ReadOnlySpan<byte> share)
    {
        var extensionsLength = (4 + 2) + (4 + 4 + share.Length);
        var body = new byte[2 + random.Length + 1 + sessionId.Length + 2 + 1 + 2 + extensionsLength];
        var w = new WireWriter(body);
        w.WriteUInt16(ProtocolVersion.Dtls12.Value);
        w.WriteBytes(random);
        w.WriteVector8(sessionId);
        w.WriteUInt16(suite.Value);
        w.WriteUInt8(0);
        var scope = w.BeginVector16();
        w.WriteUInt16(ExtensionType.SupportedVersions.Value);
        w.WriteUInt16(2);
        w.WriteUInt16(ProtocolVersion.Dtls13.Value);
        w.WriteUInt16(Wire13.KeyShare.Value);
        w.WriteUInt16((ushort)(4 + share.Length));
        w.WriteUInt16(group.Value);
        w.WriteVector16(share);
        w.EndVector(scope);
        return w.Overflowed || w.Position != body.Length ? throw new InvalidOperationException("ServerHello does not fit.") : body;
    }

    /// <summary>CertificateVerify (RFC 8446 4.4.3): <c>SignatureScheme algorithm; opaque signature&lt;0..2^16-1&gt;</c>.</summary>
    public static byte[] CertificateVerifyBody(SignatureScheme scheme, ReadOnlySpan<byte> signature)
    {
        var body = new byte[4 + signature.Length];
        var w = new WireWriter(body);
        w.WriteUInt16(scheme.Value);
        w.WriteVector16(signature);
        return body;
    }
}

/// <summary>Finished (RFC 8446 4.4.4): verify_data of the hash length.</summary>
internal sealed record Finished13(byte[] VerifyData)
{
    public void Encode(ref WireWriter w) => w.WriteBytes(VerifyData);
}

/// <summary>The record numbers an ACK names (RFC 9147 7): <c>RecordNumber record_numbers&lt;0..2^16-1&gt;</c>, each <c>uint64 epoch; uint64 sequence_number</c>.</summary>
internal static class AckMessage
{
    /// <summary>Bytes one record number takes.</summary>
    public const int EntrySize = 16;

    /// <summary>
    /// Checks an ACK body and returns its record numbers as bytes (<see cref="EntrySize"/> each, read with
    /// <see cref="EntryAt"/>): the receive path walks them in place instead of building a list.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> body, out ReadOnlySpan<byte> records)
    {
        var r = new WireReader(body);
        if (!r.TryReadVector16(out records) || !r.IsEmpty || records.Length % EntrySize != 0)
        {
            records = default;
            return false;
        }

        return true;
    }

    /// <summary>The record number at byte <paramref name="offset"/> of what <see cref="TryRead"/> returned.</summary>
    public static (ulong Epoch, ulong Sequence) EntryAt(ReadOnlySpan<byte> records, int offset) =>
        (BinaryPrimitives.ReadUInt64BigEndian(records[offset..]), BinaryPrimitives.ReadUInt64BigEndian(records[(offset + 8)..]));

    /// <summary>Writes the ACK body; returns its length.</summary>
    public static int Encode(Span<byte> destination, IReadOnlyList<(ulong Epoch, ulong Sequence)> records) =>
        Encode(destination, records, 0, records.Count);

    /// <summary>Writes the ACK body of <paramref name="count"/> records from <paramref name="start"/>; returns its length.</summary>
    public static int Encode(Span<byte> destination, IReadOnlyList<(ulong Epoch, ulong Sequence)> records, int start, int count)
    {
        var w = new WireWriter(destination);
        var scope = w.BeginVector16();
        for (var i = start; i < start + count; i++)
        {
            var (epoch, sequence) = records[i];
            w.WriteUInt64(epoch);
            w.WriteUInt64(sequence);
        }

        w.EndVector(scope);
        return w.Overflowed ? throw new InvalidOperationException("ACK does not fit.") : w.Position;
    }
}
