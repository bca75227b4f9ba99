using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Airlift.Ice;
using Airlift.Ice.Sdp;

namespace Airlift.WebRtc;

/// <summary>What an answer needs besides the offer: our transport's signaling values and what we accept.</summary>
public sealed record SdpAnswerOptions
{
    /// <summary>Our ICE ufrag (<c>a=ice-ufrag</c>, RFC 8839 5.4), e.g. <c>WebRtcTransport.LocalUfrag</c>.</summary>
    public required string Ufrag { get; init; }

    /// <summary>Our ICE password (<c>a=ice-pwd</c>).</summary>
    public required string Password { get; init; }

    /// <summary>Our certificate fingerprint as SDP writes it: <c>sha-256 AB:CD:...</c> (RFC 8122 5).</summary>
    public required string Fingerprint { get; init; }

    /// <summary>Our <c>a=setup</c>: <see cref="SdpSetupRole.Passive"/> (we are the DTLS server) or <see cref="SdpSetupRole.Active"/> (RFC 8842 5.3).</summary>
    public required SdpSetupRole Setup { get; init; }

    /// <summary>Our candidates (UDP and ICE-TCP passive, RFC 6544); the first UDP one gives the m= line's port and <c>c=</c> line.</summary>
    public required IReadOnlyList<IceCandidate> Candidates { get; init; }

    /// <summary>The <c>o=</c> session id.</summary>
    public ulong SessionId { get; init; } = 1;

    /// <summary>The <c>s=</c> line's text.</summary>
    public string SessionName { get; init; } = "-";

    /// <summary>The RTCP CNAME of the SSRCs we declare.</summary>
    public string Cname { get; init; } = "airlift";

    /// <summary>The media stream id of the tracks we send (<c>a=msid</c>, RFC 8830).</summary>
    public string StreamId { get; init; } = "airlift";

    /// <summary>Gives the SSRC of each section we send on; null gives 1, 2, 3... (use a random source that avoids collisions, RFC 3550 8.1).</summary>
    public Func<uint>? NewSsrc { get; init; }

    /// <summary>
    /// Header extension URIs answered when offered, with the offer's id (RFC 8285 5). Default: only
    /// <c>urn:ietf:params:rtp-hdrext:sdes:mid</c> (RFC 9143 15), which is needed to demultiplex a BUNDLE group.
    /// </summary>
    public IReadOnlySet<string> Extensions { get; init; } = new HashSet<string>(StringComparer.Ordinal) { SdpAnswerBuilder.MidExtensionUri };

    /// <summary>The codec feedback kept when offered. Default: <c>nack</c>, <c>nack pli</c> (RFC 4585), <c>ccm fir</c> (RFC 5104).</summary>
    public IReadOnlySet<string> Feedback { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "nack", "nack pli", "ccm fir" };

    /// <summary>Picks the codec of a section from its offered codecs (preference order); null declines the section. Default: the first media codec (not RTX, RED, FEC, CN or DTMF).</summary>
    public Func<SdpMediaSection, SdpCodec?>? ChooseCodec { get; init; }

    /// <summary>
    /// What we want on a section: <see cref="MediaDirection.SendRecv"/> by default. The answer's direction is this
    /// intersected with the offer's reversed (JSEP 5.3.1: an offered <c>sendonly</c> is answered at most <c>recvonly</c>).
    /// </summary>
    public Func<SdpMediaSection, MediaDirection>? ChooseDirection { get; init; }
}

/// <summary>One accepted m-section: what the offerer sends, and what we send back on it.</summary>
/// <param name="Mid">The section's mid (empty when the offer had none).</param>
/// <param name="Kind"><c>audio</c> or <c>video</c>.</param>
/// <param name="Codec">The one codec accepted (its offered payload type).</param>
/// <param name="LocalSsrc">The SSRC we declare (<c>a=ssrc</c>) when we send, else 0.</param>
/// <param name="RemoteSsrcs">The SSRCs the offer declared for this section.</param>
/// <param name="Receive">The offerer sends on this section.</param>
/// <param name="Send">We send on this section.</param>
/// <param name="MidExtensionId">The id of the mid header extension when answered, else 0.</param>
public sealed record AnsweredStream(string Mid, string Kind, SdpCodec Codec, uint LocalSsrc, IReadOnlyList<uint> RemoteSsrcs, bool Receive, bool Send, int MidExtensionId);

/// <summary>An answer and the streams it set up.</summary>
/// <param name="Sdp">The answer (CRLF line ends).</param>
/// <param name="Streams">The accepted audio/video sections, in m-line order.</param>
/// <param name="Bundle">The mids of the answer's BUNDLE group (the first is the answerer-tagged section), or empty.</param>
public sealed record WebRtcAnswer(string Sdp, IReadOnlyList<AnsweredStream> Streams, IReadOnlyList<string> Bundle);

/// <summary>
/// Builds the SDP answer of an ICE-lite WebRTC server (JSEP RFC 8829 5.3): <c>a=ice-lite</c> (RFC 8445 2.5), our ICE
/// credentials and candidates (RFC 8839), fingerprint and <c>a=setup</c> (RFC 8842), one DTLS transport for every accepted
/// section (BUNDLE, RFC 9143), rtcp-mux (RFC 5761, required), rtcp-rsize when offered (RFC 5506), and per audio/video
/// section one codec with its offered payload type, the supported header extensions and feedback, <c>a=msid</c> and
/// <c>a=ssrc</c> for what we send.
/// </summary>
/// <remarks>
/// <para>Every m-line of the offer is answered, in order, with its mid (JSEP 5.3.1). A section is declined (port 0,
/// <c>a=inactive</c>, left out of the BUNDLE group, RFC 9143 7.3.3) when it is not audio/video over SAVPF with rtcp-mux
/// and an acceptable codec, when a BUNDLE group exists and it is not in it, or without a group when it is not the first
/// such section. Data channel sections are declined this way until SCTP exists.</para>
/// <para><c>bundle-only</c> sections (port 0 + <c>a=bundle-only</c> inside the BUNDLE group, what Firefox offers with
/// bundlePolicy max-bundle) are accepted into the group when the offerer-tagged section is accepted: RFC 9143 updates
/// RFC 3264 so that an answer may give a non-zero port to a section offered with port 0, and every accepted section of the
/// answer carries the one BUNDLE address (JSEP 5.3.1 puts no <c>a=bundle-only</c> in answers).</para>
/// <para>Simulcast (<c>a=simulcast</c>, <c>a=rid</c>) is declined by leaving both out (RFC 8853 5.3): the offerer then
/// sends one stream. The rid header extensions are not answered unless listed in <see cref="SdpAnswerOptions.Extensions"/>.</para>
/// </remarks>
public static class SdpAnswerBuilder
{
    /// <summary>The BUNDLE mid header extension (RFC 9143 15.2).</summary>
    public const string MidExtensionUri = "urn:ietf:params:rtp-hdrext:sdes:mid";

    /// <summary>Builds the answer to <paramref name="offer"/>; false with a typed error when it cannot be answered.</summary>
    public static bool TryBuild(SdpOffer offer, SdpAnswerOptions options, [NotNullWhen(true)] out WebRtcAnswer? answer, [NotNullWhen(false)] out SdpOfferError? error)
    {
        ArgumentNullException.ThrowIfNull(offer);
        ArgumentNullException.ThrowIfNull(options);
        answer = null;
        if (offer.Ice.Ufrag is null || offer.Ice.Password is null)
        {
            error = new SdpOfferError(SdpOfferErrorKind.MissingIceCredentials, 0, "", "the offer has no a=ice-ufrag / a=ice-pwd (RFC 8839 5.4)");
            return false;
        }

        if (offer.Ice.Fingerprints.Count == 0)
        {
            error = new SdpOfferError(SdpOfferErrorKind.MissingFingerprint, 0, "", "the offer has no a=fingerprint (DTLS-SRTP needs one, RFC 8842 5)");
            return false;
        }

        if (offer.Ice.Setup is null or SdpSetupRole.HoldConn)
        {
            error = new SdpOfferError(SdpOfferErrorKind.MissingSetup, 0, "", offer.Ice.Setup is null ? "the offer has no a=setup (RFC 8842 5)" : "a=setup:holdconn gives no DTLS role");
            return false;
        }

        if (options.Candidates.Count == 0)
        {
            error = new SdpOfferError(SdpOfferErrorKind.NoCandidates, 0, "", "the server has no candidate to offer");
            return false;
        }

        var chooseCodec = options.ChooseCodec ?? (m => m.Codecs.FirstOrDefault(c => !c.IsAuxiliary));
        var codecs = new SdpCodec?[offer.Media.Count];
        var tagged = offer.Bundle.Count > 0 ? offer.Bundle[0] : null;
        var taggedAccepted = false;
        var acceptedCount = 0;

        // First the sections with a port of their own (and the tagged one), then bundle-only ones if the tagged one is in.
        for (var pass = 0; pass < 2; pass++)
        {
            for (var i = 0; i < offer.Media.Count; i++)
            {
                var m = offer.Media[i];
                var bundleOnly = m.Port == 0 && m.BundleOnly;
                if (bundleOnly != (pass == 1) || !IsCandidateSection(m))
                {
                    continue;
                }

                if (offer.Bundle.Count > 0 ? m.Mid is null || !offer.Bundle.Contains(m.Mid) : acceptedCount > 0)
                {
                    continue;
                }

                if (bundleOnly && !taggedAccepted)
                {
                    continue; // its only transport would be the tagged section's, which we declined
                }

                if (chooseCodec(m) is { } codec)
                {
                    codecs[i] = codec;
                    acceptedCount++;
                    taggedAccepted |= m.Mid is not null && m.Mid == tagged;
                }
            }
        }

        if (acceptedCount == 0)
        {
            error = new SdpOfferError(
                SdpOfferErrorKind.NothingAccepted,
                0,
                "",
                "nothing to accept: no audio or video m-section with rtcp-mux, a DTLS-SRTP profile (UDP/TLS/RTP/SAVPF) and a supported codec"
                    + (offer.Bundle.Count == 0 && offer.Media.Count > 1 ? " (several m-sections need a=group:BUNDLE)" : ""));
            return false;
        }

        var primary = options.Candidates.FirstOrDefault(c => c.Protocol == IceProtocol.Udp) ?? options.Candidates[0];
        var connection = ConnectionLine(primary.Address);
        var bundled = new List<string>();
        for (var i = 0; i < offer.Media.Count; i++)
        {
            if (codecs[i] is not null && offer.Bundle.Count > 0 && offer.Media[i].Mid is { } mid)
            {
                bundled.Add(mid);
            }
        }

        // The answerer-tagged section is the offerer-tagged one when accepted (RFC 9143 7.3.1): keep it first.
        if (tagged is not null && bundled.Remove(tagged))
        {
            bundled.Insert(0, tagged);
        }

        var sb = new StringBuilder(2048);
        void Line(string s) => sb.Append(s).Append("\r\n");

        Line("v=0");
        Line(FormattableString.Invariant($"o=- {options.SessionId} 1 IN IP4 127.0.0.1"));
        Line("s=" + options.SessionName);
        Line("t=0 0");
        Line(SdpIce.IceLiteLine);
        if (bundled.Count > 0)
        {
            Line("a=group:BUNDLE " + string.Join(' ', bundled));
        }

        Line("a=msid-semantic: WMS " + options.StreamId);

        var streams = new List<AnsweredStream>();
        uint nextSsrc = 0;
        for (var i = 0; i < offer.Media.Count; i++)
        {
            var m = offer.Media[i];
            if (codecs[i] is not { } codec)
            {
                // Declined (RFC 8866 5.14, JSEP 5.3.1, RFC 9143 7.3.3): port 0, the offered protocol and first format, the mid kept.
                Line($"m={m.Kind} 0 {m.Protocol} {(m.Formats.Count > 0 ? m.Formats[0] : "0")}");
                Line("c=IN IP4 0.0.0.0");
                if (m.Mid is { } declinedMid)
                {
                    Line("a=mid:" + declinedMid);
                }

                Line("a=inactive");
                continue;
            }

            var wanted = options.ChooseDirection?.Invoke(m) ?? MediaDirection.SendRecv;
            var receive = m.Direction is MediaDirection.SendRecv or MediaDirection.SendOnly && wanted is MediaDirection.SendRecv or MediaDirection.RecvOnly;
            var send = m.Direction is MediaDirection.SendRecv or MediaDirection.RecvOnly && wanted is MediaDirection.SendRecv or MediaDirection.SendOnly;
            var direction = (receive, send) switch
            {
                (true, true) => "sendrecv",
                (true, false) => "recvonly",
                (false, true) => "sendonly",
                _ => "inactive",
            };
            var ssrc = send ? options.NewSsrc?.Invoke() ?? ++nextSsrc : 0;
            var trackId = $"{options.StreamId}-{m.Kind}-{m.Mid ?? "0"}";

            Line(FormattableString.Invariant($"m={m.Kind} {primary.Port} {m.Protocol} {codec.PayloadType}"));
            Line(connection);
            if (m.Mid is { } mid)
            {
                Line("a=mid:" + mid);
            }

            Line(SdpIce.FormatUfrag(options.Ufrag));
            Line(SdpIce.FormatPassword(options.Password));
            Line("a=fingerprint:" + options.Fingerprint);
            Line(SdpIce.FormatSetup(options.Setup));
            Line("a=" + direction);
            if (send)
            {
                Line($"a=msid:{options.StreamId} {trackId}");
            }

            Line("a=rtcp-mux");
            if (m.RtcpReducedSize)
            {
                Line("a=rtcp-rsize");
            }

            var midExtension = 0;
            var answeredIds = new HashSet<int>();
            foreach (var ext in m.Extensions)
            {
                if (options.Extensions.Contains(ext.Uri) && answeredIds.Add(ext.Id) && (ext.Uri != MidExtensionUri || m.Mid is not null))
                {
                    Line(FormattableString.Invariant($"a=extmap:{ext.Id} {ext.Uri}"));
                    midExtension = ext.Uri == MidExtensionUri ? ext.Id : midExtension;
                }
            }

            Line(FormattableString.Invariant($"a=rtpmap:{codec.PayloadType} {codec.Name}/{codec.ClockRate}") + (codec.Channels is { } ch ? "/" + ch : ""));
            foreach (var fb in codec.Feedback.Where(options.Feedback.Contains).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                Line(FormattableString.Invariant($"a=rtcp-fb:{codec.PayloadType} {fb}"));
            }

            if (codec.Fmtp is { } fmtp)
            {
                Line(FormattableString.Invariant($"a=fmtp:{codec.PayloadType} {fmtp}"));
            }

            if (send)
            {
                Line(FormattableString.Invariant($"a=ssrc:{ssrc} cname:{options.Cname}"));
                Line(FormattableString.Invariant($"a=ssrc:{ssrc} msid:{options.StreamId} {trackId}"));
            }

            foreach (var candidate in options.Candidates)
            {
                Line(candidate.ToSdpLine());
            }

            Line("a=end-of-candidates");
            streams.Add(new AnsweredStream(m.Mid ?? "", m.Kind, codec, ssrc, m.Ssrcs, receive, send, midExtension));
        }

        answer = new WebRtcAnswer(sb.ToString(), streams, bundled);
        error = null;
        return true;
    }

    /// <summary>Audio or video over SAVP(F) with rtcp-mux, and a port or bundle-only.</summary>
    private static bool IsCandidateSection(SdpMediaSection m) =>
        m.IsRtp && m.RtcpMux && m.Protocol.Contains("SAVP", StringComparison.Ordinal) && (m.Port != 0 || m.BundleOnly);

    private static string ConnectionLine(string address) =>
        IPAddress.TryParse(address, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6
            ? "c=IN IP6 " + address
            : "c=IN IP4 " + (IPAddress.TryParse(address, out _) ? address : "0.0.0.0");

}
