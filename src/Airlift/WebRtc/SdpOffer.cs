using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Airlift.Ice.Sdp;

namespace Airlift.WebRtc;

/// <summary>Media direction attribute (RFC 8866 6.7).</summary>
public enum MediaDirection
{
    /// <summary><c>a=sendrecv</c> (the default).</summary>
    SendRecv,

    /// <summary><c>a=sendonly</c>.</summary>
    SendOnly,

    /// <summary><c>a=recvonly</c>.</summary>
    RecvOnly,

    /// <summary><c>a=inactive</c>.</summary>
    Inactive,
}

/// <summary>One codec of an m-section: payload type, <c>a=rtpmap</c>, <c>a=fmtp</c> and <c>a=rtcp-fb</c> values.</summary>
/// <param name="PayloadType">RTP payload type (0..127).</param>
/// <param name="Name">Encoding name as offered (e.g. <c>VP8</c>, <c>opus</c>).</param>
/// <param name="ClockRate">RTP clock rate.</param>
/// <param name="Channels">Encoding parameters (audio channels), or null.</param>
/// <param name="Fmtp">The <c>a=fmtp</c> parameters, or null.</param>
/// <param name="Feedback">The <c>a=rtcp-fb</c> values for this payload type and for <c>*</c>.</param>
public sealed record SdpCodec(int PayloadType, string Name, int ClockRate, string? Channels, string? Fmtp, IReadOnlyList<string> Feedback)
{
    /// <summary>Codec names that are not a media codec of their own (repair, redundancy, comfort noise, DTMF).</summary>
    public bool IsAuxiliary => Name.ToUpperInvariant() is "RTX" or "RED" or "ULPFEC" or "FLEXFEC-03" or "CN" or "TELEPHONE-EVENT";
}

/// <summary>An <c>a=extmap</c> line (RFC 8285 8): id and URI (direction and attributes dropped).</summary>
/// <param name="Id">Extension id (1..255).</param>
/// <param name="Uri">Extension URI.</param>
public sealed record SdpExtension(int Id, string Uri);

/// <summary>One m-section of an offer, as much of it as a server's answer needs.</summary>
public sealed record SdpMediaSection
{
    /// <summary>Media type: <c>audio</c>, <c>video</c>, <c>application</c>...</summary>
    public required string Kind { get; init; }

    /// <summary>Port of the m= line; 0 means rejected, or bundle-only when <see cref="BundleOnly"/> (RFC 9143 6).</summary>
    public required int Port { get; init; }

    /// <summary>Transport protocol of the m= line, e.g. <c>UDP/TLS/RTP/SAVPF</c>.</summary>
    public required string Protocol { get; init; }

    /// <summary>The format tokens of the m= line, in offer (preference) order.</summary>
    public required IReadOnlyList<string> Formats { get; init; }

    /// <summary>1-based line number of the m= line in the offer.</summary>
    public int LineNumber { get; init; }

    /// <summary><c>a=mid</c>, or null.</summary>
    public string? Mid { get; init; }

    /// <summary>The section's direction.</summary>
    public MediaDirection Direction { get; init; } = MediaDirection.SendRecv;

    /// <summary><c>a=rtcp-mux</c> (RFC 5761).</summary>
    public bool RtcpMux { get; init; }

    /// <summary><c>a=rtcp-rsize</c> (RFC 5506).</summary>
    public bool RtcpReducedSize { get; init; }

    /// <summary><c>a=bundle-only</c> (RFC 9143 6): with port 0, the section is offered on the BUNDLE transport only.</summary>
    public bool BundleOnly { get; init; }

    /// <summary>Codecs with an <c>a=rtpmap</c>, in m= line order.</summary>
    public IReadOnlyList<SdpCodec> Codecs { get; init; } = [];

    /// <summary><c>a=extmap</c> header extensions (at most 32 kept).</summary>
    public IReadOnlyList<SdpExtension> Extensions { get; init; } = [];

    /// <summary>SSRCs the offerer declared it sends from (<c>a=ssrc</c>), in order of appearance (at most 16 kept).</summary>
    public IReadOnlyList<uint> Ssrcs { get; init; } = [];

    /// <summary>The first <c>a=msid</c> value (stream id and track id, RFC 8830), or null.</summary>
    public string? Msid { get; init; }

    /// <summary>The rids of <c>a=rid</c> lines (RFC 8851), in order (at most 8 kept).</summary>
    public IReadOnlyList<string> Rids { get; init; } = [];

    /// <summary>The <c>a=simulcast</c> value (RFC 8853), or null. A server answering one stream per section declines it by leaving it out.</summary>
    public string? Simulcast { get; init; }

    /// <summary>True for audio or video over an RTP profile.</summary>
    public bool IsRtp => Kind is "audio" or "video" && Protocol.Contains("RTP/", StringComparison.Ordinal);

    /// <summary>True for a data channel section: <c>m=application ... UDP/DTLS/SCTP webrtc-datachannel</c> (RFC 8841), or the
    /// older <c>DTLS/SCTP 5000</c> form aiortc still offers.</summary>
    public bool IsDataChannel => Kind == "application" && Protocol.Contains("SCTP", StringComparison.Ordinal);
}

/// <summary>
/// The parts of an SDP offer (RFC 8866, JSEP RFC 8829) a WebRTC server answers: the ICE/DTLS parameters (via
/// <see cref="SdpIceDescription"/>), the first BUNDLE group (RFC 9143) and each m-section's codecs, extensions, SSRCs,
/// msid, rids and simulcast. Small and strict about what it reads; lines it does not read are not checked. Never throws
/// on bad input: <see cref="TryParse"/> returns a typed <see cref="SdpOfferError"/>.
/// </summary>
public sealed record SdpOffer
{
    /// <summary>Largest offer accepted (a browser offer with audio, video and a data channel is 4-7 KB).</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>Most m-sections read.</summary>
    public const int MaxMediaSections = 16;

    /// <summary>The session- and media-level ICE and DTLS attributes.</summary>
    public required SdpIceDescription Ice { get; init; }

    /// <summary>The m-sections in offer order.</summary>
    public required IReadOnlyList<SdpMediaSection> Media { get; init; }

    /// <summary>The mids of the first <c>a=group:BUNDLE</c> line, or empty. The first is the offerer-tagged section (RFC 9143 7.2).</summary>
    public IReadOnlyList<string> Bundle { get; init; } = [];

    /// <summary>Parses <paramref name="sdp"/> (CRLF or LF line ends).</summary>
    public static bool TryParse(string sdp, [NotNullWhen(true)] out SdpOffer? offer, [NotNullWhen(false)] out SdpOfferError? error)
    {
        offer = null;
        if (string.IsNullOrWhiteSpace(sdp))
        {
            error = new SdpOfferError(SdpOfferErrorKind.Empty, 0, "", "empty offer");
            return false;
        }

        if (sdp.Length > MaxLength)
        {
            error = new SdpOfferError(SdpOfferErrorKind.TooLong, 0, "", $"offer longer than {MaxLength} characters");
            return false;
        }

        if (!sdp.StartsWith("v=0", StringComparison.Ordinal))
        {
            var first = QuotableFirstLine(sdp);
            error = new SdpOfferError(SdpOfferErrorKind.NotSdp, 1, first, $"not an SDP offer: the first line must be v=0 (RFC 8866 5), got '{first}'");
            return false;
        }

        // Offer bytes reach the answer (mid, protocol, formats, fmtp): a CR inside a line would break it, and no field
        // holds NUL, CR or LF (RFC 8866 9); browsers send no other control character either. Found by fuzzing.
        if (FindControlCharacter(sdp) is { } at)
        {
            error = new SdpOfferError(
                SdpOfferErrorKind.ControlCharacter, 0, "", $"control character U+{(int)sdp[at]:X4} at offset {at}: CR only before LF, no other control character (RFC 8866 5, 9)");
            return false;
        }

        if (!SdpIceDescription.TryParse(sdp, out var ice, out var iceError))
        {
            error = new SdpOfferError(SdpOfferErrorKind.IceAttribute, iceError.LineNumber, iceError.Line, iceError.Message, iceError);
            return false;
        }

        var media = new List<MediaBuilder>();
        IReadOnlyList<string> bundle = [];

        // Lines are read as spans of the offer: a string is made only for what the offer keeps (issue #13: splitting into a
        // string per line, then trimmed, name and value copies, was 85 KB of garbage for a 5 KB browser offer).
        var text = sdp.AsSpan();
        var next = 0;
        for (var n = 0; next <= text.Length; n++)
        {
            var rest = text[next..];
            var end = rest.IndexOf('\n');
            var line = (end < 0 ? rest : rest[..end]).TrimEnd('\r');
            next += (end < 0 ? rest.Length : end) + 1;
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                var mline = line.ToString();
                if (media.Count >= MaxMediaSections)
                {
                    error = new SdpOfferError(SdpOfferErrorKind.TooManyMediaSections, n + 1, mline, $"more than {MaxMediaSections} m-sections");
                    return false;
                }

                var fields = mline[2..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 4 || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
                {
                    error = new SdpOfferError(SdpOfferErrorKind.MalformedMediaLine, n + 1, mline, "malformed m= line (RFC 8866 5.14)");
                    return false;
                }

                media.Add(new MediaBuilder(fields[0], port, fields[2], fields[3..], n + 1));
                continue;
            }

            if (!line.StartsWith("a=", StringComparison.Ordinal))
            {
                continue;
            }

            if (media.Count == 0)
            {
                if (line.StartsWith("a=group:BUNDLE", StringComparison.Ordinal) && bundle.Count == 0)
                {
                    bundle = line["a=group:BUNDLE".Length..].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                }

                continue;
            }

            if (!media[^1].TryApply(line, out var lineError))
            {
                error = new SdpOfferError(SdpOfferErrorKind.MalformedAttribute, n + 1, line.ToString(), lineError);
                return false;
            }
        }

        if (media.Count == 0)
        {
            error = new SdpOfferError(SdpOfferErrorKind.NoMediaSection, 0, "", "the offer has no m-section");
            return false;
        }

        var built = media.Select(m => m.Build()).ToList();
        var mids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in built)
        {
            if (m.Mid is { } mid && !mids.Add(mid))
            {
                error = new SdpOfferError(SdpOfferErrorKind.DuplicateMid, m.LineNumber, "a=mid:" + mid, "the same a=mid in two m-sections (RFC 9143 7.2)");
                return false;
            }
        }

        offer = new SdpOffer { Ice = ice, Media = built, Bundle = bundle };
        error = null;
        return true;
    }

    /// <summary>Longest part of a non-SDP first line quoted back in the error.</summary>
    private const int MaxQuotedLength = 40;

    /// <summary>
    /// The first line of <paramref name="text"/>, cut to <see cref="MaxQuotedLength"/> characters and with every control or
    /// format character shown as '?': the error may go back to the peer and into logs, so it carries no line break, escape
    /// sequence or bidi override, and cannot grow with the input.
    /// </summary>
    private static string QuotableFirstLine(string text)
    {
        var end = text.AsSpan().IndexOfAny('\r', '\n');
        var line = end < 0 ? text.AsSpan() : text.AsSpan(0, end);
        var cut = line.Length > MaxQuotedLength;
        if (cut)
        {
            line = line[..MaxQuotedLength];
        }

        Span<char> shown = stackalloc char[line.Length];
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            shown[i] = char.IsControl(c) || char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format ? '?' : c;
        }

        return cut ? string.Concat(shown, "...") : new string(shown);
    }

    private static int? FindControlCharacter(string sdp)
    {
        for (var i = 0; i < sdp.Length; i++)
        {
            var c = sdp[i];
            if (c is '\n' or '\t' || (c == '\r' && (i + 1 == sdp.Length || sdp[i + 1] == '\n')))
            {
                continue;
            }

            if (char.IsControl(c))
            {
                return i;
            }
        }

        return null;
    }

    private sealed class MediaBuilder(string kind, int port, string protocol, string[] formats, int lineNumber)
    {
        private readonly Dictionary<int, (string Name, int Clock, string? Channels)> _rtpmap = [];
        private readonly Dictionary<int, string> _fmtp = [];
        private readonly Dictionary<int, List<string>> _feedback = [];
        private readonly List<SdpExtension> _extensions = [];
        private readonly List<uint> _ssrcs = [];
        private readonly List<string> _rids = [];
        private string? _mid;
        private string? _msid;
        private string? _simulcast;
        private MediaDirection _direction = MediaDirection.SendRecv;
        private bool _rtcpMux;
        private bool _rsize;
        private bool _bundleOnly;

        public bool TryApply(ReadOnlySpan<char> line, [NotNullWhen(false)] out string? error)
        {
            error = null;
            var colon = line.IndexOf(':');
            var name = colon < 0 ? line[2..] : line[2..colon];
            var value = colon < 0 ? [] : line[(colon + 1)..];
            switch (name)
            {
                case "mid":
                    if (!IsToken(value, 32))
                    {
                        error = "a=mid must be 1..32 visible characters";
                        return false;
                    }

                    _mid ??= value.ToString();
                    return true;
                case "sendrecv":
                    _direction = MediaDirection.SendRecv;
                    return true;
                case "sendonly":
                    _direction = MediaDirection.SendOnly;
                    return true;
                case "recvonly":
                    _direction = MediaDirection.RecvOnly;
                    return true;
                case "inactive":
                    _direction = MediaDirection.Inactive;
                    return true;
                case "rtcp-mux":
                    _rtcpMux = true;
                    return true;
                case "rtcp-rsize":
                    _rsize = true;
                    return true;
                case "bundle-only":
                    _bundleOnly = true;
                    return true;
                case "msid":
                    // a=msid:<stream id> [<track id>] (RFC 8830 2): kept verbatim (visible characters and one space).
                    if (value.Length is 0 or > 128 || value.ContainsAnyExceptInRange(' ', '~'))
                    {
                        error = "a=msid must be 1..128 visible characters";
                        return false;
                    }

                    _msid ??= value.ToString();
                    return true;
                case "rid":
                    // a=rid:<rid-id> <direction> [...] (RFC 8851 10).
                    var ridEnd = value.IndexOf(' ');
                    var rid = ridEnd < 0 ? value : value[..ridEnd];
                    if (!IsToken(rid, 16) || !All(rid, c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                    {
                        error = "a=rid needs a rid-id of 1..16 letters, digits, '-' or '_'";
                        return false;
                    }

                    if (_rids.Count < 8 && !Contains(_rids, rid))
                    {
                        _rids.Add(rid.ToString());
                    }

                    return true;
                case "simulcast":
                    if (value.Length is 0 or > 256)
                    {
                        error = "a=simulcast needs a value of at most 256 characters";
                        return false;
                    }

                    _simulcast ??= value.ToString();
                    return true;
                case "rtpmap":
                    return TryRtpmap(value, out error);
                case "fmtp":
                    if (!TrySplitPayloadType(value, out var pt, out var rest) || rest.Length == 0)
                    {
                        error = "a=fmtp needs a payload type and parameters";
                        return false;
                    }

                    if (!_fmtp.ContainsKey(pt))
                    {
                        _fmtp[pt] = rest.ToString();
                    }

                    return true;
                case "rtcp-fb":
                    if (!TrySplitPayloadType(value, out var fbPt, out var fb, allowWildcard: true) || fb.Length == 0)
                    {
                        error = "a=rtcp-fb needs a payload type and a feedback type";
                        return false;
                    }

                    if (!_feedback.TryGetValue(fbPt, out var list))
                    {
                        _feedback[fbPt] = list = [];
                    }

                    if (list.Count < 16)
                    {
                        list.Add(fb.ToString());
                    }

                    return true;
                case "extmap":
                    return TryExtmap(value, out error);
                case "ssrc":
                    var space = value.IndexOf(' ');
                    var ssrcText = space < 0 ? value : value[..space];
                    if (!uint.TryParse(ssrcText, NumberStyles.None, CultureInfo.InvariantCulture, out var ssrc))
                    {
                        error = "a=ssrc needs a 32-bit SSRC";
                        return false;
                    }

                    if (!_ssrcs.Contains(ssrc) && _ssrcs.Count < 16)
                    {
                        _ssrcs.Add(ssrc);
                    }

                    return true;
                default:
                    return true;
            }
        }

        public SdpMediaSection Build()
        {
            var codecs = new List<SdpCodec>();
            foreach (var f in formats)
            {
                if (int.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out var pt) && _rtpmap.TryGetValue(pt, out var map))
                {
                    codecs.Add(new SdpCodec(
                        pt,
                        map.Name,
                        map.Clock,
                        map.Channels,
                        _fmtp.GetValueOrDefault(pt),
                        [.. _feedback.GetValueOrDefault(pt) ?? [], .. _feedback.GetValueOrDefault(-1) ?? []]));
                }
            }

            return new SdpMediaSection
            {
                Kind = kind,
                Port = port,
                Protocol = protocol,
                Formats = formats,
                LineNumber = lineNumber,
                Mid = _mid,
                Direction = _direction,
                RtcpMux = _rtcpMux,
                RtcpReducedSize = _rsize,
                BundleOnly = _bundleOnly,
                Codecs = codecs,
                Extensions = _extensions,
                Ssrcs = _ssrcs,
                Msid = _msid,
                Rids = _rids,
                Simulcast = _simulcast,
            };
        }

        private static bool IsToken(ReadOnlySpan<char> value, int maxLength) => value.Length > 0 && value.Length <= maxLength && !value.ContainsAnyExceptInRange('!', '~');

        private static bool All(ReadOnlySpan<char> value, Func<char, bool> predicate)
        {
            foreach (var c in value)
            {
                if (!predicate(c))
                {
                    return false;
                }
            }

            return true;
        }

        private static bool Contains(List<string> list, ReadOnlySpan<char> value)
        {
            foreach (var item in list)
            {
                if (value.SequenceEqual(item))
                {
                    return true;
                }
            }

            return false;
        }

        private bool TryRtpmap(ReadOnlySpan<char> value, [NotNullWhen(false)] out string? error)
        {
            // a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
            error = "a=rtpmap must be \"<pt> <name>/<clock>[/<channels>]\"";
            if (!TrySplitPayloadType(value, out var pt, out var rest))
            {
                return false;
            }

            // Two or three '/'-separated parts.
            var slash = rest.IndexOf('/');
            if (slash < 0)
            {
                return false;
            }

            var encoding = rest[..slash];
            var after = rest[(slash + 1)..];
            var slash2 = after.IndexOf('/');
            var clockText = slash2 < 0 ? after : after[..slash2];
            var hasChannels = slash2 >= 0;
            var channels = hasChannels ? after[(slash2 + 1)..] : [];
            if ((hasChannels && channels.Contains('/')) || encoding.Length is 0 or > 64 || !All(encoding, c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
                || !int.TryParse(clockText, NumberStyles.None, CultureInfo.InvariantCulture, out var clock) || clock == 0)
            {
                return false;
            }

            if (hasChannels && (channels.Length is 0 or > 3 || !All(channels, char.IsAsciiDigit)))
            {
                return false;
            }

            if (!_rtpmap.ContainsKey(pt))
            {
                _rtpmap[pt] = (encoding.ToString(), clock, hasChannels ? channels.ToString() : null);
            }

            error = null;
            return true;
        }

        private bool TryExtmap(ReadOnlySpan<char> value, [NotNullWhen(false)] out string? error)
        {
            // a=extmap:<id>[/<direction>] <URI> [<attributes>]
            error = "a=extmap must be \"<id>[/<direction>] <uri>\" with id 1..255";
            var idText = NextField(ref value);
            var uri = NextField(ref value);
            if (uri.IsEmpty)
            {
                return false;
            }

            var slash = idText.IndexOf('/');
            if (slash >= 0)
            {
                idText = idText[..slash];
            }

            if (!int.TryParse(idText, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id is < 1 or > 255)
            {
                return false;
            }

            if (_extensions.Count < 32)
            {
                _extensions.Add(new SdpExtension(id, uri.ToString()));
            }

            error = null;
            return true;
        }

        /// <summary>The next ' '-separated non-empty field of <paramref name="rest"/> (empty when none), and what follows it.</summary>
        private static ReadOnlySpan<char> NextField(ref ReadOnlySpan<char> rest)
        {
            rest = rest.TrimStart(' ');
            var space = rest.IndexOf(' ');
            var field = space < 0 ? rest : rest[..space];
            rest = space < 0 ? [] : rest[space..];
            return field;
        }

        /// <summary>"96 rest" to (96, "rest"); "*" is payload type -1 when <paramref name="allowWildcard"/>.</summary>
        private static bool TrySplitPayloadType(ReadOnlySpan<char> value, out int pt, out ReadOnlySpan<char> rest, bool allowWildcard = false)
        {
            var space = value.IndexOf(' ');
            var token = space < 0 ? value : value[..space];
            rest = space < 0 ? [] : value[(space + 1)..].Trim();
            if (allowWildcard && token is "*")
            {
                pt = -1;
                return true;
            }

            return int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out pt) && pt <= 127;
        }
    }
}
