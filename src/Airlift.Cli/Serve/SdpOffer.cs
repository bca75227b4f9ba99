using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Airlift.Ice.Sdp;

namespace Airlift.Cli.Serve;

/// <summary>Media direction attribute (RFC 8866 6.7).</summary>
internal enum MediaDirection
{
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

/// <summary>One codec of an m-section: payload type, <c>a=rtpmap</c>, <c>a=fmtp</c> and <c>a=rtcp-fb</c> values.</summary>
internal sealed record OfferCodec(int PayloadType, string Name, int ClockRate, string? Channels, string? Fmtp, IReadOnlyList<string> Feedback)
{
    /// <summary>Codec names that are not a media codec of their own (repair, redundancy, comfort noise, DTMF).</summary>
    public bool IsAuxiliary => Name.ToLowerInvariant() is "rtx" or "red" or "ulpfec" or "flexfec-03" or "cn" or "telephone-event";
}

/// <summary>An <c>a=extmap</c> line (RFC 8285 8): id and URI (direction and attributes dropped).</summary>
internal sealed record OfferExtension(int Id, string Uri);

/// <summary>One m-section of an offer, as much of it as an echo answer needs.</summary>
internal sealed record OfferMedia
{
    public required string Kind { get; init; }

    public required int Port { get; init; }

    public required string Protocol { get; init; }

    /// <summary>The format tokens of the m= line, in offer (preference) order.</summary>
    public required IReadOnlyList<string> Formats { get; init; }

    public string? Mid { get; init; }

    public MediaDirection Direction { get; init; } = MediaDirection.SendRecv;

    public bool RtcpMux { get; init; }

    public bool RtcpReducedSize { get; init; }

    /// <summary>Codecs with an <c>a=rtpmap</c>, in m= line order.</summary>
    public IReadOnlyList<OfferCodec> Codecs { get; init; } = [];

    public IReadOnlyList<OfferExtension> Extensions { get; init; } = [];

    /// <summary>SSRCs the offerer declared it sends from (<c>a=ssrc</c>), in order of appearance.</summary>
    public IReadOnlyList<uint> Ssrcs { get; init; } = [];

    /// <summary>True for audio or video over an RTP/SAVPF-like profile that DTLS-SRTP carries.</summary>
    public bool IsRtp => Kind is "audio" or "video" && Protocol.Contains("RTP/", StringComparison.Ordinal);
}

/// <summary>
/// The parts of an SDP offer (RFC 8866, JSEP RFC 8829) the echo server answers: the ICE/DTLS parameters (via
/// <see cref="SdpIceDescription"/>), the BUNDLE group and each m-section's codecs, extensions and SSRCs. Small and strict
/// about what it reads; lines it does not read are not checked. Never throws on bad input.
/// </summary>
internal sealed record SdpOffer
{
    /// <summary>Largest offer accepted (a Chromium offer with audio and video is 5-7 KB).</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>Most m-sections read.</summary>
    public const int MaxMediaSections = 16;

    public required SdpIceDescription Ice { get; init; }

    public required IReadOnlyList<OfferMedia> Media { get; init; }

    /// <summary>The mids of the first <c>a=group:BUNDLE</c> line, or empty.</summary>
    public IReadOnlyList<string> Bundle { get; init; } = [];

    public static bool TryParse(string sdp, [NotNullWhen(true)] out SdpOffer? offer, [NotNullWhen(false)] out string? error)
    {
        offer = null;
        if (string.IsNullOrWhiteSpace(sdp))
        {
            error = "empty offer";
            return false;
        }

        if (sdp.Length > MaxLength)
        {
            error = $"offer longer than {MaxLength} characters";
            return false;
        }

        if (!sdp.StartsWith("v=0", StringComparison.Ordinal))
        {
            error = "an SDP description starts with v=0 (RFC 8866 5)";
            return false;
        }

        // Offer bytes reach the answer (mid, protocol, formats, fmtp): a CR inside a line would break it, and no field
        // holds NUL, CR or LF (RFC 8866 9); browsers send no other control character either. Found by fuzzing.
        if (FindControlCharacter(sdp) is { } at)
        {
            error = $"control character U+{(int)sdp[at]:X4} at offset {at}: CR only before LF, no other control character (RFC 8866 5, 9)";
            return false;
        }

        if (!SdpIceDescription.TryParse(sdp, out var ice, out var iceError))
        {
            error = iceError.ToString();
            return false;
        }

        var media = new List<MediaBuilder>();
        IReadOnlyList<string> bundle = [];
        var lines = sdp.Split('\n');
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                if (media.Count >= MaxMediaSections)
                {
                    error = $"more than {MaxMediaSections} m-sections";
                    return false;
                }

                var fields = line[2..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 4 || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
                {
                    error = $"line {n + 1}: malformed m= line \"{line}\"";
                    return false;
                }

                media.Add(new MediaBuilder(fields[0], port, fields[2], fields[3..]));
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
                    bundle = line["a=group:BUNDLE".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                }

                continue;
            }

            if (!media[^1].TryApply(line, out var lineError))
            {
                error = $"line {n + 1}: {lineError}: \"{line}\"";
                return false;
            }
        }

        if (media.Count == 0)
        {
            error = "the offer has no m-section";
            return false;
        }

        offer = new SdpOffer { Ice = ice, Media = [.. media.Select(m => m.Build())], Bundle = bundle };
        error = null;
        return true;
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

    private sealed class MediaBuilder(string kind, int port, string protocol, string[] formats)
    {
        private readonly Dictionary<int, (string Name, int Clock, string? Channels)> _rtpmap = [];
        private readonly Dictionary<int, string> _fmtp = [];
        private readonly Dictionary<int, List<string>> _feedback = [];
        private readonly List<OfferExtension> _extensions = [];
        private readonly List<uint> _ssrcs = [];
        private string? _mid;
        private MediaDirection _direction = MediaDirection.SendRecv;
        private bool _rtcpMux;
        private bool _rsize;

        public bool TryApply(string line, out string? error)
        {
            error = null;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? line[2..] : line[2..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            switch (name)
            {
                case "mid":
                    if (value.Length is 0 or > 32 || value.Any(c => c <= ' ' || c > '~'))
                    {
                        error = "a=mid must be 1..32 visible characters";
                        return false;
                    }

                    _mid ??= value;
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
                case "rtpmap":
                    return TryRtpmap(value, out error);
                case "fmtp":
                    if (!TrySplitPayloadType(value, out var pt, out var rest) || rest.Length == 0)
                    {
                        error = "a=fmtp needs a payload type and parameters";
                        return false;
                    }

                    _fmtp.TryAdd(pt, rest);
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
                        list.Add(fb);
                    }

                    return true;
                case "extmap":
                    return TryExtmap(value, out error);
                case "ssrc":
                    var space = value.IndexOf(' ', StringComparison.Ordinal);
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

        public OfferMedia Build()
        {
            var codecs = new List<OfferCodec>();
            foreach (var f in formats)
            {
                if (int.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out var pt) && _rtpmap.TryGetValue(pt, out var map))
                {
                    codecs.Add(new OfferCodec(
                        pt,
                        map.Name,
                        map.Clock,
                        map.Channels,
                        _fmtp.GetValueOrDefault(pt),
                        [.. _feedback.GetValueOrDefault(pt) ?? [], .. _feedback.GetValueOrDefault(-1) ?? []]));
                }
            }

            return new OfferMedia
            {
                Kind = kind,
                Port = port,
                Protocol = protocol,
                Formats = formats,
                Mid = _mid,
                Direction = _direction,
                RtcpMux = _rtcpMux,
                RtcpReducedSize = _rsize,
                Codecs = codecs,
                Extensions = _extensions,
                Ssrcs = _ssrcs,
            };
        }

        private bool TryRtpmap(string value, out string? error)
        {
            // a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
            error = "a=rtpmap must be \"<pt> <name>/<clock>[/<channels>]\"";
            if (!TrySplitPayloadType(value, out var pt, out var rest))
            {
                return false;
            }

            var parts = rest.Split('/');
            if (parts.Length is < 2 or > 3 || parts[0].Length is 0 or > 64 || parts[0].Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var clock) || clock == 0)
            {
                return false;
            }

            if (parts.Length == 3 && (parts[2].Length is 0 or > 3 || !parts[2].All(char.IsAsciiDigit)))
            {
                return false;
            }

            _rtpmap.TryAdd(pt, (parts[0], clock, parts.Length == 3 ? parts[2] : null));
            error = null;
            return true;
        }

        private bool TryExtmap(string value, out string? error)
        {
            // a=extmap:<id>[/<direction>] <URI> [<attributes>]
            error = "a=extmap must be \"<id>[/<direction>] <uri>\" with id 1..255";
            var fields = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2)
            {
                return false;
            }

            var idText = fields[0];
            var slash = idText.IndexOf('/', StringComparison.Ordinal);
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
                _extensions.Add(new OfferExtension(id, fields[1]));
            }

            error = null;
            return true;
        }

        /// <summary>"96 rest" to (96, "rest"); "*" is payload type -1 when <paramref name="allowWildcard"/>.</summary>
        private static bool TrySplitPayloadType(string value, out int pt, out string rest, bool allowWildcard = false)
        {
            var space = value.IndexOf(' ', StringComparison.Ordinal);
            var token = space < 0 ? value : value[..space];
            rest = space < 0 ? "" : value[(space + 1)..].Trim();
            if (allowWildcard && token == "*")
            {
                pt = -1;
                return true;
            }

            return int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out pt) && pt <= 127;
        }
    }
}
