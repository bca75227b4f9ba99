using Airlift.Srtp;
using Airlift.Transport;

namespace Airlift.WebRtc;

/// <summary>What a <see cref="MediaSession"/> call did.</summary>
public enum MediaStatus
{
    /// <summary>Done; <see cref="MediaResult.Length"/> is the packet's new length.</summary>
    Ok,

    /// <summary>No keys yet (<see cref="MediaSession.SetKeys"/> not called): nothing done. Media before the DTLS handshake
    /// completes is dropped.</summary>
    NotKeyed,

    /// <summary>The buffer has no room after the packet for the SRTP/SRTCP trailer (<see cref="MediaSession.RtpTrailerLength"/>,
    /// <see cref="MediaSession.RtcpTrailerLength"/>): nothing done.</summary>
    BufferTooSmall,

    /// <summary>SRTP dropped the packet; the reason is in <see cref="MediaResult.Srtp"/> and counted in the context's stats.</summary>
    SrtpDropped,

    /// <summary>Protected, but the transport did not take it (no selected tuple, finished, too large, queue full).</summary>
    NotSent,
}

/// <summary>The outcome of one <see cref="MediaSession"/> call.</summary>
/// <param name="Status">What happened.</param>
/// <param name="Length">For <see cref="MediaStatus.Ok"/> (and <see cref="MediaStatus.NotSent"/>): the packet's length after the call.</param>
/// <param name="Srtp">The SRTP outcome (<see cref="SrtpStatus.Ok"/> unless <see cref="MediaStatus.SrtpDropped"/>).</param>
public readonly record struct MediaResult(MediaStatus Status, int Length, SrtpStatus Srtp = SrtpStatus.Ok);

/// <summary>
/// SRTP bound to a <see cref="WebRtcTransport"/>: turns the transport's DTLS-SRTP <see cref="KeyingMaterial"/> event into
/// the SRTP/SRTCP protect (our write key) and unprotect (the peer's) contexts (RFC 5764 4.2), and moves media in and out as
/// spans, in place, with no allocation per packet.
/// </summary>
/// <remarks>
/// <para>Why a type beside the transport rather than SRTP inside it: the transport stays a demultiplexer and DTLS/ICE state
/// machine that hands out protected bytes, so a server can keep protected packets (NACK answers resend the identical SRTP
/// packet from an <see cref="RtpHistory"/>), protect one plaintext for many viewers with each viewer's own session, or drive
/// the transport from a host that queues events (Net.TransportHost), while the layering stays WebRtc -> Transport, Srtp and
/// Srtp never sees DTLS types.</para>
/// <para>Receive: when <see cref="WebRtcTransport.PollOutput"/> returns <see cref="WebRtcOutputKind.RtpReceived"/>, call
/// <see cref="UnprotectRtp"/> on those bytes of the poll buffer; the plaintext replaces them. Send: write a plain RTP packet
/// into a buffer with <see cref="RtpTrailerLength"/> spare bytes and call <see cref="SendRtp"/>: it is protected in place
/// and queued on the transport (copied into a reused buffer), ready for the next PollOutput.</para>
/// <para>Not thread-safe: one caller at a time (the one that drives the transport).</para>
/// </remarks>
public sealed class MediaSession : IDisposable
{
    private readonly SrtpOptions? _options;
    private SrtpContext? _protect;
    private SrtpContext? _unprotect;

    /// <summary>A session without keys; <paramref name="options"/> configure both SRTP contexts (replay window, SSRC limit).</summary>
    public MediaSession(SrtpOptions? options = null)
    {
        _options = options;
    }

    /// <summary>True once <see cref="SetKeys"/> was called.</summary>
    public bool IsKeyed => _protect is not null;

    /// <summary>The negotiated SRTP protection profile, once keyed.</summary>
    public Dtls.SrtpProtectionProfile? Profile => _protect?.Profile;

    /// <summary>Bytes an SRTP packet is longer than its RTP packet (the tag), once keyed; 0 before.</summary>
    public int RtpTrailerLength => _protect?.RtpTrailerLength ?? 0;

    /// <summary>Bytes an SRTCP packet is longer than its RTCP packet (E flag + index, tag), once keyed; 0 before.</summary>
    public int RtcpTrailerLength => _protect?.RtcpTrailerLength ?? 0;

    /// <summary>Counters of the protect context (what we sent), once keyed.</summary>
    public SrtpStats? ProtectStats => _protect?.Stats;

    /// <summary>Counters of the unprotect context (what we received: authentication failures, replays...), once keyed.</summary>
    public SrtpStats? UnprotectStats => _unprotect?.Stats;

    /// <summary>Splits DTLS-SRTP keying material into our and the peer's master keys by DTLS role (RFC 5764 4.2).</summary>
    /// <exception cref="ArgumentException">The profile is not supported or the material has the wrong length.</exception>
    public static SrtpKeys CreateKeys(KeyingMaterial keyingMaterial)
    {
        ArgumentNullException.ThrowIfNull(keyingMaterial);
        return SrtpKeys.FromKeyingMaterial(keyingMaterial.Profile, keyingMaterial.Material, keyingMaterial.Role);
    }

    /// <summary>Keys the session from the transport's <see cref="KeyingMaterial"/> event (a second call rekeys: new contexts).</summary>
    /// <exception cref="ArgumentException">The profile is not supported or the material has the wrong length.</exception>
    public void SetKeys(KeyingMaterial keyingMaterial)
    {
        var keys = CreateKeys(keyingMaterial);
        var protect = keys.CreateProtectContext(_options);
        var unprotect = keys.CreateUnprotectContext(_options);
        Dispose();
        (_protect, _unprotect) = (protect, unprotect);
    }

    /// <summary>Unprotects a received SRTP packet in place (the bytes <see cref="WebRtcOutputKind.RtpReceived"/> wrote).</summary>
    public MediaResult UnprotectRtp(Span<byte> packet) =>
        _unprotect is not { } c ? new(MediaStatus.NotKeyed, 0) : Result(c.UnprotectRtp(packet, out var length), length);

    /// <summary>Unprotects a received SRTCP packet in place.</summary>
    public MediaResult UnprotectRtcp(Span<byte> packet) =>
        _unprotect is not { } c ? new(MediaStatus.NotKeyed, 0) : Result(c.UnprotectRtcp(packet, out var length), length);

    /// <summary>Protects the plain RTP packet in <paramref name="buffer"/>[..<paramref name="length"/>] in place.</summary>
    public MediaResult ProtectRtp(Span<byte> buffer, int length)
    {
        if (_protect is not { } c)
        {
            return new(MediaStatus.NotKeyed, 0);
        }

        return (uint)length > (uint)buffer.Length || buffer.Length - length < c.RtpTrailerLength
            ? new(MediaStatus.BufferTooSmall, 0)
            : Result(c.ProtectRtp(buffer, length, out var protectedLength), protectedLength);
    }

    /// <summary>Protects the plain RTCP packet (or compound) in <paramref name="buffer"/>[..<paramref name="length"/>] in place.</summary>
    public MediaResult ProtectRtcp(Span<byte> buffer, int length)
    {
        if (_protect is not { } c)
        {
            return new(MediaStatus.NotKeyed, 0);
        }

        return (uint)length > (uint)buffer.Length || buffer.Length - length < c.RtcpTrailerLength
            ? new(MediaStatus.BufferTooSmall, 0)
            : Result(c.ProtectRtcp(buffer, length, out var protectedLength), protectedLength);
    }

    /// <summary>Protects the plain RTP packet in <paramref name="buffer"/>[..<paramref name="length"/>] in place and queues it on <paramref name="transport"/>.</summary>
    public MediaResult SendRtp(WebRtcTransport transport, Span<byte> buffer, int length) => Send(transport, buffer, ProtectRtp(buffer, length));

    /// <summary>Protects the plain RTCP packet in <paramref name="buffer"/>[..<paramref name="length"/>] in place and queues it on <paramref name="transport"/>.</summary>
    public MediaResult SendRtcp(WebRtcTransport transport, Span<byte> buffer, int length) => Send(transport, buffer, ProtectRtcp(buffer, length));

    private static MediaResult Send(WebRtcTransport transport, Span<byte> buffer, MediaResult protectedResult)
    {
        ArgumentNullException.ThrowIfNull(transport);
        if (protectedResult.Status != MediaStatus.Ok)
        {
            return protectedResult;
        }

        return transport.SendMedia(buffer[..protectedResult.Length]) ? protectedResult : protectedResult with { Status = MediaStatus.NotSent };
    }

    private static MediaResult Result(SrtpStatus status, int length) =>
        status == SrtpStatus.Ok ? new(MediaStatus.Ok, length) : new(MediaStatus.SrtpDropped, 0, status);

    /// <summary>Disposes both contexts (their keys are zeroed); the session is unkeyed again.</summary>
    public void Dispose()
    {
        _protect?.Dispose();
        _unprotect?.Dispose();
        _protect = _unprotect = null;
    }
}
