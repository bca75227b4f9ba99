namespace Airlift.Ice.Sdp;

/// <summary>What was wrong with an SDP line.</summary>
public enum SdpErrorKind
{
    /// <summary>An <c>a=candidate</c> line does not follow RFC 8839 5.1.</summary>
    MalformedCandidate,

    /// <summary>A candidate uses a transport other than UDP or TCP.</summary>
    UnsupportedTransport,

    /// <summary>An <c>a=ice-ufrag</c> value is not 4..256 ice-chars (RFC 8839 5.4).</summary>
    MalformedUfrag,

    /// <summary>An <c>a=ice-pwd</c> value is not 22..256 ice-chars (RFC 8839 5.4).</summary>
    MalformedPassword,

    /// <summary>An <c>a=fingerprint</c> value is not "hash-func SP hex:hex:..." (RFC 8122 5).</summary>
    MalformedFingerprint,

    /// <summary>An <c>a=setup</c> value is not actpass, active, passive or holdconn (RFC 4145 4).</summary>
    MalformedSetup,

    /// <summary>The same attribute appears twice with different values at one level.</summary>
    ConflictingAttribute,
}

/// <summary>A typed SDP parse error.</summary>
/// <param name="Kind">What was wrong.</param>
/// <param name="LineNumber">1-based line number in the parsed text (1 for single-line parsers).</param>
/// <param name="Line">The offending line.</param>
/// <param name="Message">A human-readable explanation.</param>
public sealed record SdpError(SdpErrorKind Kind, int LineNumber, string Line, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"SDP line {LineNumber} ({Kind}): {Message}: \"{Line}\"";
}

/// <summary>Thrown by the throwing SDP parse helpers; carries the typed <see cref="SdpError"/>.</summary>
public sealed class SdpFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    public SdpFormatException(SdpError error)
        : base(error?.ToString())
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = error;
    }

    /// <summary>The parse error.</summary>
    public SdpError Error { get; }
}
