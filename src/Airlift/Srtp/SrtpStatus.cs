namespace Airlift.Srtp;

/// <summary>Outcome of one protect or unprotect call. Every value except <see cref="Ok"/> is a counted drop.</summary>
public enum SrtpStatus
{
    /// <summary>The packet was protected or unprotected in place.</summary>
    Ok = 0,

    /// <summary>Shorter than its header (RTP fixed header, CSRCs, header extension; RTCP header) plus the SRTP trailer.</summary>
    Truncated,

    /// <summary>Not an RTP/RTCP packet: version is not 2, or the stated length does not fit the buffer.</summary>
    Malformed,

    /// <summary>Protect only: the buffer has no room after the packet for the SRTCP index and the tag.</summary>
    BufferTooSmall,

    /// <summary>The authentication tag (HMAC-SHA1 or GCM) did not verify (RFC 3711 3.3 step 5, RFC 7714 section 8).</summary>
    AuthenticationFailed,

    /// <summary>The packet index was seen before (replay list, RFC 3711 3.3.2).</summary>
    Replayed,

    /// <summary>The packet index is behind the replay window, or before the first index of the stream.</summary>
    TooOld,

    /// <summary>A new SSRC arrived while <see cref="SrtpOptions.MaxSsrcs"/> streams were already tracked.</summary>
    SsrcLimitReached,

    /// <summary>The index space of the master key is spent (2^48 SRTP or 2^31 SRTCP packets, RFC 3711 9.2): rekey.</summary>
    KeyExhausted,
}

/// <summary>Which operation an <see cref="SrtpContext"/> performs. One context per direction (RFC 3711 3.2.3: separate replay state per direction).</summary>
public enum SrtpDirection
{
    /// <summary>Outbound: protect RTP and RTCP with the local master key.</summary>
    Protect,

    /// <summary>Inbound: unprotect SRTP and SRTCP with the remote master key.</summary>
    Unprotect,
}
