using System.Diagnostics.CodeAnalysis;

namespace Airlift.Ice.Sdp;

/// <summary>DTLS role attribute (RFC 4145 4, RFC 8842 5).</summary>
public enum SdpSetupRole
{
    /// <summary><c>actpass</c>: the offerer lets the answerer choose.</summary>
    ActPass,

    /// <summary><c>active</c>: this side is the DTLS client.</summary>
    Active,

    /// <summary><c>passive</c>: this side is the DTLS server.</summary>
    Passive,

    /// <summary><c>holdconn</c>.</summary>
    HoldConn,
}

/// <summary>
/// A certificate fingerprint from <c>a=fingerprint</c> (RFC 8122 5): the hash function name,
/// lower-cased (e.g. <c>sha-256</c>), and the colon-separated upper-case hex value.
/// </summary>
/// <param name="Algorithm">Hash function token, lower case.</param>
/// <param name="Value">Hex bytes separated by colons, upper case.</param>
public readonly record struct SdpFingerprint(string Algorithm, string Value)
{
    /// <summary>The attribute value: <c>sha-256 AB:CD:...</c>.</summary>
    public override string ToString() => $"{Algorithm} {Value}";
}

/// <summary>
/// The ICE and DTLS parameters of an SDP offer or answer, and helpers to write the matching
/// lines. Small and strict; not an SDP stack.
/// </summary>
public sealed record SdpIceDescription
{
    /// <summary><c>a=ice-lite</c> present.</summary>
    public bool IceLite { get; init; }

    /// <summary><c>a=ice-ufrag</c>, or null.</summary>
    public string? Ufrag { get; init; }

    /// <summary><c>a=ice-pwd</c>, or null.</summary>
    public string? Password { get; init; }

    /// <summary>Every <c>a=fingerprint</c> in effect (RFC 8122 allows several).</summary>
    public IReadOnlyList<SdpFingerprint> Fingerprints { get; init; } = [];

    /// <summary><c>a=setup</c>, or null.</summary>
    public SdpSetupRole? Setup { get; init; }

    /// <summary><c>a=candidate</c> lines of the first m-section.</summary>
    public IReadOnlyList<IceCandidate> Candidates { get; init; } = [];

    /// <summary>
    /// Extracts the ICE/DTLS parameters. Session-level values apply unless the first m-section
    /// carries its own; later m-sections are ignored (with BUNDLE the first one carries the transport).
    /// Candidates with transports other than UDP and TCP are skipped; every other malformed line we
    /// read is an error. Lines we do not read are not checked.
    /// </summary>
    public static bool TryParse(string sdp, [NotNullWhen(true)] out SdpIceDescription? description, [NotNullWhen(false)] out SdpError? error)
    {
        ArgumentNullException.ThrowIfNull(sdp);
        description = null;
        var session = new Level();
        var media = new Level();
        var mediaSections = 0;
        var lines = sdp.Split('\n');
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].TrimEnd('\r');
            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                mediaSections++;
                continue;
            }

            if (mediaSections > 1 || !line.StartsWith("a=", StringComparison.Ordinal))
            {
                continue;
            }

            var level = mediaSections == 0 ? session : media;
            if (!level.TryApply(line, n + 1, out var lineError))
            {
                error = lineError!;
                return false;
            }
        }

        description = new SdpIceDescription
        {
            IceLite = session.IceLite || media.IceLite,
            Ufrag = media.Ufrag ?? session.Ufrag,
            Password = media.Password ?? session.Password,
            Fingerprints = media.Fingerprints.Count > 0 ? media.Fingerprints : session.Fingerprints,
            Setup = media.Setup ?? session.Setup,
            Candidates = media.Candidates,
        };
        error = null;
        return true;
    }

    /// <summary>Like <see cref="TryParse"/> but throws.</summary>
    /// <exception cref="SdpFormatException">A line we read is malformed.</exception>
    public static SdpIceDescription Parse(string sdp) =>
        TryParse(sdp, out var description, out var error) ? description : throw new SdpFormatException(error);

    private sealed class Level
    {
        public bool IceLite;
        public string? Ufrag;
        public string? Password;
        public SdpSetupRole? Setup;
        public readonly List<SdpFingerprint> Fingerprints = [];
        public readonly List<IceCandidate> Candidates = [];

        public bool TryApply(string line, int lineNumber, out SdpError? error)
        {
            error = null;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? line[2..] : line[2..colon];
            var value = colon < 0 ? null : line[(colon + 1)..];
            switch (name)
            {
                case "ice-lite":
                    IceLite = true;
                    return true;
                case "ice-ufrag":
                    if (!SdpIce.TryParseUfrag(value, lineNumber, line, out var ufrag, out error))
                    {
                        return false;
                    }

                    return TrySet(ref Ufrag, ufrag, line, lineNumber, out error);
                case "ice-pwd":
                    if (!SdpIce.TryParsePassword(value, lineNumber, line, out var pwd, out error))
                    {
                        return false;
                    }

                    return TrySet(ref Password, pwd, line, lineNumber, out error);
                case "fingerprint":
                    if (!SdpIce.TryParseFingerprint(value, lineNumber, line, out var fp, out error))
                    {
                        return false;
                    }

                    Fingerprints.Add(fp);
                    return true;
                case "setup":
                    if (!SdpIce.TryParseSetup(value, lineNumber, line, out var setup, out error))
                    {
                        return false;
                    }

                    if (Setup is { } existing && existing != setup)
                    {
                        error = new SdpError(SdpErrorKind.ConflictingAttribute, lineNumber, line, "a=setup given twice with different values");
                        return false;
                    }

                    Setup = setup;
                    return true;
                case "candidate":
                    if (IceCandidate.TryParse(line, lineNumber, out var candidate, out error))
                    {
                        Candidates.Add(candidate!);
                        return true;
                    }

                    if (error!.Kind == SdpErrorKind.UnsupportedTransport)
                    {
                        error = null;
                        return true;
                    }

                    return false;
                default:
                    return true;
            }
        }

        private static bool TrySet(ref string? slot, string value, string line, int lineNumber, out SdpError? error)
        {
            if (slot is not null && slot != value)
            {
                error = new SdpError(SdpErrorKind.ConflictingAttribute, lineNumber, line, "attribute given twice with different values");
                return false;
            }

            slot = value;
            error = null;
            return true;
        }
    }
}

/// <summary>Writes and parses the single-value ICE/DTLS SDP attributes.</summary>
public static class SdpIce
{
    /// <summary><c>a=ice-lite</c> (session level, RFC 8839 5.3).</summary>
    public const string IceLiteLine = "a=ice-lite";

    /// <summary><c>a=ice-ufrag:...</c>.</summary>
    /// <exception cref="ArgumentException">Not 4..256 ice-chars.</exception>
    public static string FormatUfrag(string ufrag) =>
        IceCandidate.IsIceChars(ufrag ?? string.Empty, 4, 256) ? "a=ice-ufrag:" + ufrag : throw new ArgumentException("ufrag must be 4..256 ice-chars.", nameof(ufrag));

    /// <summary><c>a=ice-pwd:...</c>.</summary>
    /// <exception cref="ArgumentException">Not 22..256 ice-chars.</exception>
    public static string FormatPassword(string password) =>
        IceCandidate.IsIceChars(password ?? string.Empty, 22, 256) ? "a=ice-pwd:" + password : throw new ArgumentException("pwd must be 22..256 ice-chars.", nameof(password));

    /// <summary><c>a=fingerprint:sha-256 AB:...</c>.</summary>
    /// <exception cref="ArgumentException">The algorithm or value is malformed.</exception>
    public static string FormatFingerprint(SdpFingerprint fingerprint)
    {
        var line = "a=fingerprint:" + fingerprint;
        return TryParseFingerprint(fingerprint.ToString(), 1, line, out _, out var error)
            ? line
            : throw new ArgumentException(error!.Message, nameof(fingerprint));
    }

    /// <summary><c>a=setup:actpass|active|passive|holdconn</c>.</summary>
    public static string FormatSetup(SdpSetupRole role) => "a=setup:" + role switch
    {
        SdpSetupRole.ActPass => "actpass",
        SdpSetupRole.Active => "active",
        SdpSetupRole.Passive => "passive",
        SdpSetupRole.HoldConn => "holdconn",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    /// <summary>Parses the value of <c>a=fingerprint:</c> (e.g. <c>sha-256 AB:CD:...</c>).</summary>
    public static bool TryParseFingerprint(string value, out SdpFingerprint fingerprint, [NotNullWhen(false)] out SdpError? error) =>
        TryParseFingerprint(value, 1, "a=fingerprint:" + value, out fingerprint, out error);

    internal static bool TryParseUfrag(string? value, int lineNumber, string line, out string ufrag, out SdpError? error)
    {
        ufrag = value ?? string.Empty;
        error = IceCandidate.IsIceChars(ufrag, 4, 256) ? null : new SdpError(SdpErrorKind.MalformedUfrag, lineNumber, line, "ice-ufrag must be 4..256 ice-chars");
        return error is null;
    }

    internal static bool TryParsePassword(string? value, int lineNumber, string line, out string password, out SdpError? error)
    {
        password = value ?? string.Empty;
        error = IceCandidate.IsIceChars(password, 22, 256) ? null : new SdpError(SdpErrorKind.MalformedPassword, lineNumber, line, "ice-pwd must be 22..256 ice-chars");
        return error is null;
    }

    internal static bool TryParseSetup(string? value, int lineNumber, string line, out SdpSetupRole role, out SdpError? error)
    {
        error = null;
        switch (value)
        {
            case "actpass":
                role = SdpSetupRole.ActPass;
                return true;
            case "active":
                role = SdpSetupRole.Active;
                return true;
            case "passive":
                role = SdpSetupRole.Passive;
                return true;
            case "holdconn":
                role = SdpSetupRole.HoldConn;
                return true;
            default:
                role = default;
                error = new SdpError(SdpErrorKind.MalformedSetup, lineNumber, line, "setup must be actpass, active, passive or holdconn");
                return false;
        }
    }

    internal static bool TryParseFingerprint(string? value, int lineNumber, string line, out SdpFingerprint fingerprint, out SdpError? error)
    {
        fingerprint = default;
        error = new SdpError(SdpErrorKind.MalformedFingerprint, lineNumber, line, "expected \"hash-func XX:XX:...\" with 2-digit hex bytes");
        if (value is null)
        {
            return false;
        }

        var space = value.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || space == value.Length - 1)
        {
            return false;
        }

        var algorithm = value[..space];
        var hex = value[(space + 1)..];
        foreach (var c in algorithm)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }

        // 2 hex digits, then (":" 2 hex digits)*, nothing else (RFC 8122 5).
        if ((hex.Length + 1) % 3 != 0)
        {
            return false;
        }

        for (var i = 0; i < hex.Length; i++)
        {
            var ok = i % 3 == 2 ? hex[i] == ':' : char.IsAsciiHexDigit(hex[i]);
            if (!ok)
            {
                return false;
            }
        }

        fingerprint = new SdpFingerprint(algorithm.ToLowerInvariant(), hex.ToUpperInvariant());
        error = null;
        return true;
    }
}
