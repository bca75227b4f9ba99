using System.Buffers.Binary;
using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Srtp.Primitives;

namespace Airlift.Srtp;

/// <summary>
/// SRTP/SRTCP protection for one direction (RFC 3711; AEAD profiles RFC 7714). Works in place on caller buffers, never
/// allocates per packet, and never throws on packet input: every failure is an <see cref="SrtpStatus"/>, counted in
/// <see cref="Stats"/> and on the <c>Airlift.Srtp</c> meter. Keeps per-SSRC state (rollover counter, replay lists,
/// SRTCP index) for at most <see cref="SrtpOptions.MaxSsrcs"/> SSRCs. Not thread-safe: use one context per thread.
/// </summary>
/// <remarks>
/// Protect: the buffer holds the RTP/RTCP packet in its first <c>length</c> bytes and has room after it for
/// <see cref="RtpTrailerLength"/> / <see cref="RtcpTrailerLength"/> more. Unprotect: the span is exactly the received
/// packet; on success its first <c>plaintextLength</c> bytes are the RTP/RTCP packet. On failure the buffer content is
/// unspecified (drop it). Only master key index (MKI) free operation is supported, as DTLS-SRTP uses (RFC 5764 4.1.2).
/// The one exception not caused by misuse: on the OpenSSL HMAC path (<see cref="UsesOpenSslHmac"/>), if OpenSSL itself
/// fails (an allocation inside it), protect throws <see cref="CryptographicException"/> and unprotect drops the packet as
/// <see cref="SrtpStatus.AuthenticationFailed"/>.
/// </remarks>
public sealed class SrtpContext : IDisposable
{
    private const int RtpHeaderLength = 12;
    private const int RtcpHeaderLength = 8;
    private const int SrtcpIndexLength = 4;
    private const uint MaxSrtcpIndex = 0x7FFF_FFFF;
    private const int GcmNonceLength = 12;

    private readonly SrtpProfileInfo _info;
    private readonly Dictionary<uint, SrtpStream> _streams;

    // AES-CM profiles.
    private readonly AesCounterMode? _rtpCtr;
    private readonly AesCounterMode? _rtcpCtr;
    private readonly SrtpHmacSha1? _rtpMac;
    private readonly SrtpHmacSha1? _rtcpMac;

    // AEAD profiles.
    private readonly SrtpGcm? _rtpGcm;
    private readonly SrtpGcm? _rtcpGcm;

    private readonly byte[] _rtpSalt;
    private readonly byte[] _rtcpSalt;
    private readonly SrtpMetrics _metrics;
    private bool _disposed;

    internal SrtpContext(SrtpProfileInfo info, SrtpDirection direction, SrtpSessionKeys rtp, SrtpSessionKeys rtcp, SrtpOptions options)
    {
        options.Validate();
        _info = info;
        Direction = direction;
        Options = options;
        _metrics = SrtpMetrics.For(options.MeterFactory);
        _streams = new Dictionary<uint, SrtpStream>(Math.Min(options.MaxSsrcs, 1024));
        _rtpSalt = (byte[])rtp.Salt.Clone();
        _rtcpSalt = (byte[])rtcp.Salt.Clone();
        UsesHardwareIntrinsics = SrtpIntrinsics.Use(options);
        if (info.IsAead)
        {
            _rtpGcm = new SrtpGcm(rtp.EncryptionKey, UsesHardwareIntrinsics);
            _rtcpGcm = new SrtpGcm(rtcp.EncryptionKey, UsesHardwareIntrinsics);
        }
        else
        {
            _rtpCtr = new AesCounterMode(rtp.EncryptionKey, UsesHardwareIntrinsics);
            _rtcpCtr = new AesCounterMode(rtcp.EncryptionKey, UsesHardwareIntrinsics);
            var openSsl = SrtpOpenSslHmac.Use(options);
            _rtpMac = new SrtpHmacSha1(rtp.AuthKey, openSsl);
            _rtcpMac = new SrtpHmacSha1(rtcp.AuthKey, openSsl);
            UsesOpenSslHmac = _rtpMac.UsesOpenSsl && _rtcpMac.UsesOpenSsl;
        }
    }

    /// <summary>The protection profile.</summary>
    public SrtpProtectionProfile Profile => _info.Profile;

    /// <summary>Whether this context protects or unprotects.</summary>
    public SrtpDirection Direction { get; }

    /// <summary>The limits in force.</summary>
    public SrtpOptions Options { get; }

    /// <summary>
    /// True when this context encrypts with Airlift's managed AES-NI + PCLMULQDQ primitives, false when with the platform's
    /// AES / AES-GCM (see <see cref="SrtpOptions.UseHardwareIntrinsics"/>).
    /// </summary>
    public bool UsesHardwareIntrinsics { get; }

    /// <summary>
    /// True when this (AES-CM) context computes HMAC-SHA1 with libcrypto's <c>HMAC_CTX</c> directly, false when with the
    /// platform's <see cref="IncrementalHash"/> or when the profile has no HMAC (GCM). See <see cref="SrtpOptions.UseOpenSslHmac"/>.
    /// </summary>
    public bool UsesOpenSslHmac { get; }

    /// <summary>Packet and drop counters of this context.</summary>
    public SrtpStats Stats { get; } = new();

    /// <summary>Bytes SRTP adds to an RTP packet: the authentication tag (10, 4 or 16).</summary>
    public int RtpTrailerLength => _info.RtpTagLength;

    /// <summary>Bytes SRTCP adds to an RTCP packet: E flag and 31-bit index (4) plus the tag (10 or 16).</summary>
    public int RtcpTrailerLength => SrtcpIndexLength + _info.RtcpTagLength;

    /// <summary>True for the four profiles Airlift implements (AES-CM HMAC-SHA1 80/32, AEAD AES-128/256-GCM).</summary>
    public static bool IsSupported(SrtpProtectionProfile profile) => SrtpProfileInfo.TryGet(profile, out _);

    /// <summary>Derives the session keys (RFC 3711 4.3, key derivation rate 0) and creates a context.</summary>
    /// <exception cref="ArgumentException">Unsupported profile or wrong key/salt length.</exception>
    public static SrtpContext Create(SrtpProtectionProfile profile, SrtpDirection direction, ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt, SrtpOptions? options = null)
    {
        if (!SrtpProfileInfo.TryGet(profile, out var info))
        {
            throw new ArgumentException($"unsupported SRTP protection profile {profile}", nameof(profile));
        }

        if (masterKey.Length != info.MasterKeyLength)
        {
            throw new ArgumentException($"{profile} needs a {info.MasterKeyLength}-byte master key", nameof(masterKey));
        }

        if (masterSalt.Length != info.MasterSaltLength)
        {
            throw new ArgumentException($"{profile} needs a {info.MasterSaltLength}-byte master salt", nameof(masterSalt));
        }

        var rtp = SrtpSessionKeys.Derive(info, masterKey, masterSalt, rtcp: false);
        var rtcp = SrtpSessionKeys.Derive(info, masterKey, masterSalt, rtcp: true);
        try
        {
            return new SrtpContext(info, direction, rtp, rtcp, options ?? SrtpOptions.Default);
        }
        finally
        {
            rtp.Clear();
            rtcp.Clear();
        }
    }

    /// <summary>The rollover counter of <paramref name="ssrc"/> (RFC 3711 3.3.1), if the SSRC has SRTP state.</summary>
    public bool TryGetRolloverCounter(uint ssrc, out uint rolloverCounter)
    {
        if (_streams.TryGetValue(ssrc, out var s) && s.Rtp.HasAny)
        {
            rolloverCounter = (uint)(s.Rtp.Highest >> 16);
            return true;
        }

        rolloverCounter = 0;
        return false;
    }

    /// <summary>Protects the RTP packet in <c>buffer[..length]</c> in place (RFC 3711 3.3; RFC 7714 section 8).</summary>
    /// <returns><see cref="SrtpStatus.Ok"/> with <paramref name="protectedLength"/> = length + <see cref="RtpTrailerLength"/>, or why not.</returns>
    public SrtpStatus ProtectRtp(Span<byte> buffer, int length, out int protectedLength)
    {
        EnsureUsable(SrtpDirection.Protect);
        var status = ProtectRtpCore(buffer, length, out protectedLength);
        Record(status, SrtpMetrics.ProtectRtp, rtcp: false);
        return status;
    }

    /// <summary><see cref="ProtectRtp"/> as a bool.</summary>
    public bool TryProtectRtp(Span<byte> buffer, int length, out int protectedLength) =>
        ProtectRtp(buffer, length, out protectedLength) == SrtpStatus.Ok;

    /// <summary>Verifies and decrypts the SRTP packet <paramref name="packet"/> in place (RFC 3711 3.3; RFC 7714 section 8).</summary>
    /// <returns><see cref="SrtpStatus.Ok"/> with the RTP packet in <c>packet[..plaintextLength]</c>, or why not.</returns>
    public SrtpStatus UnprotectRtp(Span<byte> packet, out int plaintextLength)
    {
        EnsureUsable(SrtpDirection.Unprotect);
        var status = UnprotectRtpCore(packet, out plaintextLength);
        Record(status, SrtpMetrics.UnprotectRtp, rtcp: false);
        return status;
    }

    /// <summary><see cref="UnprotectRtp"/> as a bool.</summary>
    public bool TryUnprotectRtp(Span<byte> packet, out int plaintextLength) =>
        UnprotectRtp(packet, out plaintextLength) == SrtpStatus.Ok;

    /// <summary>
    /// Protects the (compound) RTCP packet in <c>buffer[..length]</c> in place (RFC 3711 3.4; RFC 7714 section 9), with the
    /// next 31-bit SRTCP index of its sender SSRC. <paramref name="encrypt"/> false sends it authenticated only (E flag 0).
    /// </summary>
    public SrtpStatus ProtectRtcp(Span<byte> buffer, int length, out int protectedLength, bool encrypt = true)
    {
        EnsureUsable(SrtpDirection.Protect);
        var status = ProtectRtcpCore(buffer, length, encrypt, out protectedLength);
        Record(status, SrtpMetrics.ProtectRtcp, rtcp: true);
        return status;
    }

    /// <summary><see cref="ProtectRtcp"/> (encrypted) as a bool.</summary>
    public bool TryProtectRtcp(Span<byte> buffer, int length, out int protectedLength) =>
        ProtectRtcp(buffer, length, out protectedLength) == SrtpStatus.Ok;

    /// <summary>Verifies and, when its E flag is set, decrypts the SRTCP packet <paramref name="packet"/> in place.</summary>
    public SrtpStatus UnprotectRtcp(Span<byte> packet, out int plaintextLength)
    {
        EnsureUsable(SrtpDirection.Unprotect);
        var status = UnprotectRtcpCore(packet, out plaintextLength);
        Record(status, SrtpMetrics.UnprotectRtcp, rtcp: true);
        return status;
    }

    /// <summary><see cref="UnprotectRtcp"/> as a bool.</summary>
    public bool TryUnprotectRtcp(Span<byte> packet, out int plaintextLength) =>
        UnprotectRtcp(packet, out plaintextLength) == SrtpStatus.Ok;

    /// <summary>Releases the cipher and MAC instances and clears the salts.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _rtpCtr?.Dispose();
        _rtcpCtr?.Dispose();
        _rtpMac?.Dispose();
        _rtcpMac?.Dispose();
        _rtpGcm?.Dispose();
        _rtcpGcm?.Dispose();
        CryptographicOperations.ZeroMemory(_rtpSalt);
        CryptographicOperations.ZeroMemory(_rtcpSalt);
    }

    /// <summary>Test hook: sets the next SRTCP index sent for <paramref name="ssrc"/> (creating its state).</summary>
    internal void SetNextRtcpIndex(uint ssrc, uint index)
    {
        if (!_streams.TryGetValue(ssrc, out var s))
        {
            s = AddStream(ssrc);
        }

        s.NextRtcpIndex = index;
    }

    private SrtpStatus ProtectRtpCore(Span<byte> buffer, int length, out int protectedLength)
    {
        protectedLength = 0;
        if ((uint)length > (uint)buffer.Length)
        {
            return SrtpStatus.Malformed;
        }

        var packet = buffer[..length];
        var status = ParseRtpHeader(packet, out var headerLength);
        if (status != SrtpStatus.Ok)
        {
            return status;
        }

        var tagLength = _info.RtpTagLength;
        if (buffer.Length - length < tagLength)
        {
            return SrtpStatus.BufferTooSmall;
        }

        var seq = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[8..]);
        if (!_streams.TryGetValue(ssrc, out var stream))
        {
            if (_streams.Count >= Options.MaxSsrcs)
            {
                return SrtpStatus.SsrcLimitReached;
            }

            stream = AddStream(ssrc);
        }

        // The sender estimates its own index like a receiver (libsrtp does the same), so out-of-order sends keep the
        // right ROC; a repeated index would reuse keystream, so it is refused.
        status = SrtpStream.EstimateIndex(stream.Rtp, seq, out var index);
        if (status == SrtpStatus.Ok)
        {
            status = stream.Rtp.Check(index);
        }

        if (status != SrtpStatus.Ok)
        {
            return status;
        }

        var payload = buffer[headerLength..length];
        var roc = (uint)(index >> 16);
        if (_info.IsAead)
        {
            Span<byte> nonce = stackalloc byte[GcmNonceLength];
            RtpNonce(_rtpSalt, ssrc, roc, seq, nonce);
            _rtpGcm!.Encrypt(nonce, payload, payload, buffer.Slice(length, tagLength), buffer[..headerLength]);
        }
        else
        {
            Span<byte> iv = stackalloc byte[16];
            CounterIv(_rtpSalt, ssrc, index, iv);
            _rtpCtr!.Apply(iv, payload);

            // The ROC goes where the tag will be (there is room: every tag is at least 4 bytes), so the MAC input is one span.
            BinaryPrimitives.WriteUInt32BigEndian(buffer[length..], roc);
            Span<byte> mac = stackalloc byte[SrtpHmacSha1.MacLength];
            ProtectMac(_rtpMac!, buffer[..(length + 4)], mac);
            mac[..tagLength].CopyTo(buffer[length..]);
        }

        stream.Rtp.Accept(index);
        protectedLength = length + tagLength;
        return SrtpStatus.Ok;
    }

    private SrtpStatus UnprotectRtpCore(Span<byte> packet, out int plaintextLength)
    {
        plaintextLength = 0;
        var tagLength = _info.RtpTagLength;
        if (packet.Length < RtpHeaderLength + tagLength)
        {
            return SrtpStatus.Truncated;
        }

        var end = packet.Length - tagLength;
        var status = ParseRtpHeader(packet[..end], out var headerLength);
        if (status != SrtpStatus.Ok)
        {
            return status;
        }

        var seq = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[8..]);
        var known = _streams.TryGetValue(ssrc, out var stream);
        if (!known && _streams.Count >= Options.MaxSsrcs)
        {
            return SrtpStatus.SsrcLimitReached;
        }

        status = SrtpStream.EstimateIndex(stream?.Rtp, seq, out var index);
        if (status == SrtpStatus.Ok && stream is not null)
        {
            status = stream.Rtp.Check(index);
        }

        if (status != SrtpStatus.Ok)
        {
            return status;
        }

        var roc = (uint)(index >> 16);
        var payload = packet[headerLength..end];
        var tag = packet[end..];
        if (_info.IsAead)
        {
            Span<byte> nonce = stackalloc byte[GcmNonceLength];
            RtpNonce(_rtpSalt, ssrc, roc, seq, nonce);
            if (!_rtpGcm!.TryDecrypt(nonce, payload, tag, packet[..headerLength]))
            {
                return SrtpStatus.AuthenticationFailed;
            }
        }
        else
        {
            // RFC 3711 4.2: the tag covers the authenticated portion (header and encrypted payload) followed by the ROC. The
            // tag is moved aside and the ROC written over its first bytes so the MAC input is one span; the tag is put
            // back if verification fails.
            Span<byte> received = stackalloc byte[16];
            tag.CopyTo(received);
            BinaryPrimitives.WriteUInt32BigEndian(tag, roc);
            Span<byte> mac = stackalloc byte[SrtpHmacSha1.MacLength];
            if (!_rtpMac!.TryCompute(packet[..(end + 4)], mac)
                || !CryptographicOperations.FixedTimeEquals(mac[..tagLength], received[..tagLength]))
            {
                received[..tagLength].CopyTo(tag);
                return SrtpStatus.AuthenticationFailed;
            }

            Span<byte> iv = stackalloc byte[16];
            CounterIv(_rtpSalt, ssrc, index, iv);
            _rtpCtr!.Apply(iv, payload);
        }

        // State changes only after the packet authenticated (RFC 3711 3.3.1, 3.3.2).
        stream ??= AddStream(ssrc);
        stream.Rtp.Accept(index);
        plaintextLength = end;
        return SrtpStatus.Ok;
    }

    private SrtpStatus ProtectRtcpCore(Span<byte> buffer, int length, bool encrypt, out int protectedLength)
    {
        protectedLength = 0;
        if ((uint)length > (uint)buffer.Length)
        {
            return SrtpStatus.Malformed;
        }

        var status = ParseRtcpHeader(buffer[..length]);
        if (status != SrtpStatus.Ok)
        {
            return status;
        }

        var tagLength = _info.RtcpTagLength;
        if (buffer.Length - length < SrtcpIndexLength + tagLength)
        {
            return SrtpStatus.BufferTooSmall;
        }

        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[4..]);
        if (!_streams.TryGetValue(ssrc, out var stream))
        {
            if (_streams.Count >= Options.MaxSsrcs)
            {
                return SrtpStatus.SsrcLimitReached;
            }

            stream = AddStream(ssrc);
        }

        var index = stream.NextRtcpIndex;
        if (index > MaxSrtcpIndex)
        {
            return SrtpStatus.KeyExhausted;
        }

        var word = (encrypt ? 0x8000_0000u : 0u) | index;
        var body = buffer[RtcpHeaderLength..length];
        if (_info.IsAead)
        {
            // RFC 7714 9.1: header | ciphertext | tag | E+index. AAD is the 8-byte header and the E+index word when
            // encrypting, or the whole packet and that word when only authenticating (plaintext then empty).
            Span<byte> nonce = stackalloc byte[GcmNonceLength];
            RtcpNonce(_rtcpSalt, ssrc, index, nonce);
            if (encrypt)
            {
                Span<byte> aad = stackalloc byte[RtcpHeaderLength + SrtcpIndexLength];
                buffer[..RtcpHeaderLength].CopyTo(aad);
                BinaryPrimitives.WriteUInt32BigEndian(aad[RtcpHeaderLength..], word);
                _rtcpGcm!.Encrypt(nonce, body, body, buffer.Slice(length, tagLength), aad);
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(buffer[length..], word);
                Span<byte> tag = stackalloc byte[16];
                _rtcpGcm!.Encrypt(nonce, ReadOnlySpan<byte>.Empty, Span<byte>.Empty, tag, buffer[..(length + SrtcpIndexLength)]);
                tag.CopyTo(buffer[length..]);
            }

            BinaryPrimitives.WriteUInt32BigEndian(buffer[(length + tagLength)..], word);
        }
        else
        {
            // RFC 3711 3.4: header | encrypted portion | E+index | tag; the tag covers everything before it.
            if (encrypt)
            {
                Span<byte> iv = stackalloc byte[16];
                CounterIv(_rtcpSalt, ssrc, index, iv);
                _rtcpCtr!.Apply(iv, body);
            }

            BinaryPrimitives.WriteUInt32BigEndian(buffer[length..], word);
            Span<byte> mac = stackalloc byte[SrtpHmacSha1.MacLength];
            ProtectMac(_rtcpMac!, buffer[..(length + SrtcpIndexLength)], mac);
            mac[..tagLength].CopyTo(buffer[(length + SrtcpIndexLength)..]);
        }

        stream.NextRtcpIndex = index + 1;
        protectedLength = length + SrtcpIndexLength + tagLength;
        return SrtpStatus.Ok;
    }

    private SrtpStatus UnprotectRtcpCore(Span<byte> packet, out int plaintextLength)
    {
        plaintextLength = 0;
        var tagLength = _info.RtcpTagLength;
        if (packet.Length < RtcpHeaderLength + SrtcpIndexLength + tagLength)
        {
            return SrtpStatus.Truncated;
        }

        var status = ParseRtcpHeader(packet);
        if (status != SrtpStatus.Ok)
        {
            return status;
        }

        // Where the E+index word sits: before the tag for AES-CM (RFC 3711 3.4), after it for GCM (RFC 7714 9.1).
        var end = packet.Length - SrtcpIndexLength - tagLength;
        var wordAt = _info.IsAead ? packet.Length - SrtcpIndexLength : end;
        var word = BinaryPrimitives.ReadUInt32BigEndian(packet[wordAt..]);
        var encrypted = (word & 0x8000_0000u) != 0;
        var index = word & MaxSrtcpIndex;
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[4..]);
        var known = _streams.TryGetValue(ssrc, out var stream);
        if (!known && _streams.Count >= Options.MaxSsrcs)
        {
            return SrtpStatus.SsrcLimitReached;
        }

        if (stream is not null)
        {
            status = stream.Rtcp.Check(index);
            if (status != SrtpStatus.Ok)
            {
                return status;
            }
        }

        var body = packet[RtcpHeaderLength..end];
        if (_info.IsAead)
        {
            Span<byte> nonce = stackalloc byte[GcmNonceLength];
            RtcpNonce(_rtcpSalt, ssrc, index, nonce);
            var tag = packet.Slice(end, tagLength);
            if (encrypted)
            {
                Span<byte> aad = stackalloc byte[RtcpHeaderLength + SrtcpIndexLength];
                packet[..RtcpHeaderLength].CopyTo(aad);
                BinaryPrimitives.WriteUInt32BigEndian(aad[RtcpHeaderLength..], word);
                if (!_rtcpGcm!.TryDecrypt(nonce, body, tag, aad))
                {
                    return SrtpStatus.AuthenticationFailed;
                }
            }
            else
            {
                // AAD = packet || E+index: move the word next to the packet (over the tag's first bytes) so the AAD is
                // one span; the tag is copied out first and put back if verification fails.
                Span<byte> savedTag = stackalloc byte[16];
                tag.CopyTo(savedTag);
                BinaryPrimitives.WriteUInt32BigEndian(packet[end..], word);
                if (!_rtcpGcm!.TryDecrypt(nonce, Span<byte>.Empty, savedTag, packet[..(end + SrtcpIndexLength)]))
                {
                    savedTag.CopyTo(tag);
                    return SrtpStatus.AuthenticationFailed;
                }
            }
        }
        else
        {
            Span<byte> mac = stackalloc byte[SrtpHmacSha1.MacLength];
            if (!_rtcpMac!.TryCompute(packet[..(end + SrtcpIndexLength)], mac)
                || !CryptographicOperations.FixedTimeEquals(mac[..tagLength], packet[(end + SrtcpIndexLength)..]))
            {
                return SrtpStatus.AuthenticationFailed;
            }

            if (encrypted)
            {
                Span<byte> iv = stackalloc byte[16];
                CounterIv(_rtcpSalt, ssrc, index, iv);
                _rtcpCtr!.Apply(iv, body);
            }
        }

        stream ??= AddStream(ssrc);
        stream.Rtcp.Accept(index);
        plaintextLength = end;
        return SrtpStatus.Ok;
    }

    /// <summary>RFC 3550 5.1: fixed header, CSRC list, optional header extension (RFC 3550 5.3.1); all stay in the clear.</summary>
    internal static SrtpStatus ParseRtpHeader(ReadOnlySpan<byte> packet, out int headerLength)
    {
        headerLength = 0;
        if (packet.Length < RtpHeaderLength)
        {
            return SrtpStatus.Truncated;
        }

        if (packet[0] >> 6 != 2)
        {
            return SrtpStatus.Malformed;
        }

        var h = RtpHeaderLength + 4 * (packet[0] & 0x0F);
        if ((packet[0] & 0x10) != 0)
        {
            if (h + 4 > packet.Length)
            {
                return SrtpStatus.Truncated;
            }

            h += 4 + 4 * BinaryPrimitives.ReadUInt16BigEndian(packet[(h + 2)..]);
        }

        if (h > packet.Length)
        {
            return SrtpStatus.Truncated;
        }

        headerLength = h;
        return SrtpStatus.Ok;
    }

    private static SrtpStatus ParseRtcpHeader(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < RtcpHeaderLength)
        {
            return SrtpStatus.Truncated;
        }

        return packet[0] >> 6 == 2 ? SrtpStatus.Ok : SrtpStatus.Malformed;
    }

    /// <summary>RFC 3711 4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).</summary>
    internal static void CounterIv(ReadOnlySpan<byte> salt, uint ssrc, ulong index, Span<byte> iv)
    {
        iv.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(iv[4..], ssrc);
        BinaryPrimitives.WriteUInt16BigEndian(iv[8..], (ushort)(index >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(iv[10..], (uint)index);
        for (var i = 0; i < salt.Length; i++)
        {
            iv[i] ^= salt[i];
        }
    }

    /// <summary>RFC 7714 8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt.</summary>
    internal static void RtpNonce(ReadOnlySpan<byte> salt, uint ssrc, uint roc, ushort seq, Span<byte> nonce)
    {
        nonce[..2].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(nonce[2..], ssrc);
        BinaryPrimitives.WriteUInt32BigEndian(nonce[6..], roc);
        BinaryPrimitives.WriteUInt16BigEndian(nonce[10..], seq);
        for (var i = 0; i < GcmNonceLength; i++)
        {
            nonce[i] ^= salt[i];
        }
    }

    /// <summary>RFC 7714 9.1: IV = (0x0000 || SSRC || 0x0000 || 0 || SRTCP index) XOR salt.</summary>
    internal static void RtcpNonce(ReadOnlySpan<byte> salt, uint ssrc, uint index, Span<byte> nonce)
    {
        nonce[..2].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(nonce[2..], ssrc);
        nonce.Slice(6, 2).Clear();
        BinaryPrimitives.WriteUInt32BigEndian(nonce[8..], index);
        for (var i = 0; i < GcmNonceLength; i++)
        {
            nonce[i] ^= salt[i];
        }
    }

    private static void ProtectMac(SrtpHmacSha1 mac, ReadOnlySpan<byte> data, Span<byte> output)
    {
        if (!mac.TryCompute(data, output))
        {
            ThrowMacFailed();
        }
    }

    // Not reachable from packet content: only an allocation failure inside OpenSSL makes HMAC_CTX fail.
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ThrowMacFailed() => throw new CryptographicException("OpenSSL failed to compute the SRTP HMAC-SHA1 (out of memory?)");

    private SrtpStream AddStream(uint ssrc)
    {
        var s = new SrtpStream(ssrc, Options.ReplayWindowSize);
        _streams.Add(ssrc, s);
        Stats.Ssrcs = _streams.Count;
        return s;
    }

    private void EnsureUsable(SrtpDirection direction)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (direction != Direction)
        {
            throw new InvalidOperationException($"this SRTP context was created for {Direction}");
        }
    }

    private void Record(SrtpStatus status, string operation, bool rtcp)
    {
        if (status == SrtpStatus.Ok)
        {
            if (rtcp)
            {
                Stats.RtcpPackets++;
            }
            else
            {
                Stats.RtpPackets++;
            }

            _metrics.Packet(operation);
        }
        else
        {
            Stats.Count(status);
            _metrics.Drop(operation, status);
        }
    }
}
