using Airlift.Ice.Sdp;

namespace Airlift.WebRtc;

/// <summary>Why an offer could not be parsed or answered.</summary>
public enum SdpOfferErrorKind
{
    /// <summary>The offer is empty or whitespace.</summary>
    Empty,

    /// <summary>The offer is longer than <see cref="SdpOffer.MaxLength"/> characters.</summary>
    TooLong,

    /// <summary>The text does not start with <c>v=0</c> (RFC 8866 5).</summary>
    NotSdp,

    /// <summary>A control character other than CR before LF or TAB (RFC 8866 5, 9).</summary>
    ControlCharacter,

    /// <summary>An ICE or DTLS attribute is malformed (see <see cref="SdpOfferError.Ice"/>, RFC 8839 / RFC 8842).</summary>
    IceAttribute,

    /// <summary>An <c>m=</c> line does not follow RFC 8866 5.14.</summary>
    MalformedMediaLine,

    /// <summary>More than <see cref="SdpOffer.MaxMediaSections"/> m-sections.</summary>
    TooManyMediaSections,

    /// <summary>A media-level attribute the parser reads is malformed (mid, rtpmap, fmtp, rtcp-fb, extmap, ssrc, rid, simulcast).</summary>
    MalformedAttribute,

    /// <summary>The offer has no m-section.</summary>
    NoMediaSection,

    /// <summary>Two m-sections carry the same <c>a=mid</c> (RFC 8843 / RFC 9143 requires unique mids).</summary>
    DuplicateMid,

    /// <summary>The offer has no <c>a=ice-ufrag</c> / <c>a=ice-pwd</c> (RFC 8839 5.4).</summary>
    MissingIceCredentials,

    /// <summary>The offer has no <c>a=fingerprint</c> (RFC 8842 5).</summary>
    MissingFingerprint,

    /// <summary>The offer has no usable <c>a=setup</c> (missing, or <c>holdconn</c>; RFC 8842 5).</summary>
    MissingSetup,

    /// <summary>The answerer was given no candidate to put in the answer.</summary>
    NoCandidates,

    /// <summary>No m-section can be accepted (no audio or video with rtcp-mux, UDP/TLS/RTP/SAVPF and a supported codec).</summary>
    NothingAccepted,
}

/// <summary>A typed offer parse or answer error (the same shape as <see cref="SdpError"/>).</summary>
/// <param name="Kind">What was wrong.</param>
/// <param name="LineNumber">1-based line number in the offer, or 0 when the error is not about one line.</param>
/// <param name="Line">The offending line, or empty.</param>
/// <param name="Message">A human-readable explanation, safe to return to the peer (it quotes only the offer).</param>
/// <param name="Ice">The ICE/DTLS attribute error, for <see cref="SdpOfferErrorKind.IceAttribute"/>.</param>
public sealed record SdpOfferError(SdpOfferErrorKind Kind, int LineNumber, string Line, string Message, SdpError? Ice = null)
{
    /// <inheritdoc/>
    public override string ToString() =>
        Ice is not null ? Ice.ToString()
        : LineNumber > 0 && Kind != SdpOfferErrorKind.NotSdp ? $"line {LineNumber}: {Message}: \"{Line}\""
        : Message;
}
