using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Airlift.Ice.Sdp;

namespace Airlift.Cli.Serve;

/// <summary>One accepted m-section of an echo session: what the offerer sends, and what we send back in its place.</summary>
/// <param name="Mid">The section's mid (empty when the offer had none).</param>
/// <param name="Kind"><c>audio</c> or <c>video</c>.</param>
/// <param name="PayloadTypes">The payload types accepted in the answer (one codec; the echo keeps payload types).</param>
/// <param name="LocalSsrc">The SSRC we declare (<c>a=ssrc</c>) and put on the echoed packets.</param>
/// <param name="RemoteSsrcs">The SSRCs the offer declared for this section.</param>
/// <param name="Receive">The offerer sends on this section.</param>
/// <param name="Send">We send on this section (the echo).</param>
internal sealed record EchoStream(string Mid, string Kind, IReadOnlySet<int> PayloadTypes, uint LocalSsrc, IReadOnlyList<uint> RemoteSsrcs, bool Receive, bool Send);

/// <summary>What the answer builder needs besides the offer: our transport's signaling values.</summary>
internal sealed record EchoAnswerParameters(
    string Ufrag,
    string Password,
    string Fingerprint,
    SdpSetupRole Setup,
    IReadOnlyList<IceCandidate> Candidates,
    ulong SessionId,
    string Cname,
    Func<uint> NewSsrc);

/// <summary>An answer and the streams it set up.</summary>
internal sealed record EchoPlan(string Answer, IReadOnlyList<EchoStream> Streams);

/// <summary>
/// Builds the SDP answer of the echo server (JSEP RFC 8829 5.3): ICE-lite (RFC 8445 2.5), one DTLS transport for every
/// accepted section (BUNDLE, RFC 9143), rtcp-mux (RFC 5761), and for each audio/video section the offer's first media codec
/// with its payload type, so the echoed packets need no payload type rewrite. Only the <c>sdes:mid</c> header extension is
/// accepted (RFC 9143 15): the echo copies header extensions unchanged, and mid is the only one whose value is still right
/// on the way back; transport-cc and REMB feedback are declined for the same reason. RTX, RED and FEC are declined, so
/// NACKed packets are resent on the media SSRC, which the echo maps like any other.
/// </summary>
internal static class EchoAnswer
{
    /// <summary>The BUNDLE mid header extension (RFC 9143 15.2).</summary>
    public const string MidExtensionUri = "urn:ietf:params:rtp-hdrext:sdes:mid";

    private const string StreamId = "airlift-echo";

    /// <summary>The codec feedback kept in the answer: NACK (RFC 4585), PLI (RFC 4585 6.3.1), FIR (RFC 5104 4.3.1).</summary>
    private static readonly HashSet<string> KeptFeedback = new(StringComparer.OrdinalIgnoreCase) { "nack", "nack pli", "ccm fir" };

    public static bool TryBuild(SdpOffer offer, EchoAnswerParameters p, [NotNullWhen(true)] out EchoPlan? plan, [NotNullWhen(false)] out string? error)
    {
        plan = null;
        if (offer.Ice.Ufrag is null || offer.Ice.Password is null)
        {
            error = "the offer has no a=ice-ufrag / a=ice-pwd";
            return false;
        }

        if (offer.Ice.Fingerprints.Count == 0)
        {
            error = "the offer has no a=fingerprint (DTLS-SRTP needs one, RFC 8842 5)";
            return false;
        }

        if (offer.Ice.Setup is null)
        {
            error = "the offer has no a=setup (RFC 8842 5)";
            return false;
        }

        if (offer.Ice.Setup == SdpSetupRole.HoldConn)
        {
            error = "a=setup:holdconn gives no DTLS role";
            return false;
        }

        if (p.Candidates.Count == 0)
        {
            error = "the server has no candidate to offer";
            return false;
        }

        // Which sections go on our one transport: those in the offer's BUNDLE group, or, without a group, the first RTP section.
        var accepted = new List<(OfferMedia Media, OfferCodec Codec)>();
        var mids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in offer.Media)
        {
            if (m.Mid is { } mid && !mids.Add(mid))
            {
                error = $"a=mid:{mid} appears in two m-sections";
                return false;
            }

            if (!Acceptable(m, offer, accepted.Count, out var codec))
            {
                continue;
            }

            accepted.Add((m, codec));
        }

        if (accepted.Count == 0)
        {
            error = "nothing to echo: no audio or video m-section with rtcp-mux, a DTLS-SRTP profile (UDP/TLS/RTP/SAVPF) and a media codec"
                + (offer.Bundle.Count == 0 && offer.Media.Count > 1 ? " (several m-sections need a=group:BUNDLE)" : "");
            return false;
        }

        var primary = p.Candidates.FirstOrDefault(c => c.Protocol == Ice.IceProtocol.Udp) ?? p.Candidates[0];
        var connection = ConnectionLine(primary.Address);
        var sb = new StringBuilder(2048);
        void Line(string s) => sb.Append(s).Append("\r\n");

        Line("v=0");
        Line(FormattableString.Invariant($"o=- {p.SessionId} 1 IN IP4 127.0.0.1"));
        Line("s=airlift echo");
        Line("t=0 0");
        Line(SdpIce.IceLiteLine);
        var bundled = accepted.Where(a => a.Media.Mid is not null).Select(a => a.Media.Mid!).ToList();
        if (offer.Bundle.Count > 0 && bundled.Count > 0)
        {
            Line("a=group:BUNDLE " + string.Join(' ', bundled));
        }

        Line("a=msid-semantic: WMS " + StreamId);

        var streams = new List<EchoStream>();
        foreach (var m in offer.Media)
        {
            var match = accepted.FindIndex(a => ReferenceEquals(a.Media, m));
            if (match < 0)
            {
                // Rejected (RFC 8866 5.14 / JSEP 5.3.1): port 0, the offered protocol and first format, the mid kept.
                Line($"m={m.Kind} 0 {m.Protocol} {(m.Formats.Count > 0 ? m.Formats[0] : "0")}");
                Line("c=IN IP4 0.0.0.0");
                if (m.Mid is { } rejectedMid)
                {
                    Line("a=mid:" + rejectedMid);
                }

                Line("a=inactive");
                continue;
            }

            var codec = accepted[match].Codec;
            var receive = m.Direction is MediaDirection.SendRecv or MediaDirection.SendOnly;
            var send = receive && m.Direction is MediaDirection.SendRecv;
            var direction = (receive, send) switch
            {
                (true, true) => "sendrecv",
                (true, false) => "recvonly",
                _ => "inactive",
            };
            var ssrc = p.NewSsrc();
            var trackId = $"{StreamId}-{m.Kind}-{m.Mid ?? "0"}";

            Line(FormattableString.Invariant($"m={m.Kind} {primary.Port} {m.Protocol} {codec.PayloadType}"));
            Line(connection);
            if (m.Mid is { } mid)
            {
                Line("a=mid:" + mid);
            }

            Line(SdpIce.FormatUfrag(p.Ufrag));
            Line(SdpIce.FormatPassword(p.Password));
            Line("a=fingerprint:" + p.Fingerprint);
            Line(SdpIce.FormatSetup(p.Setup));
            Line("a=" + direction);
            if (send)
            {
                Line($"a=msid:{StreamId} {trackId}");
            }

            Line("a=rtcp-mux");
            if (m.RtcpReducedSize)
            {
                Line("a=rtcp-rsize");
            }

            foreach (var ext in m.Extensions)
            {
                if (ext.Uri == MidExtensionUri && m.Mid is not null)
                {
                    Line(FormattableString.Invariant($"a=extmap:{ext.Id} {ext.Uri}"));
                    break;
                }
            }

            Line(FormattableString.Invariant($"a=rtpmap:{codec.PayloadType} {codec.Name}/{codec.ClockRate}") + (codec.Channels is { } ch ? "/" + ch : ""));
            foreach (var fb in codec.Feedback.Where(KeptFeedback.Contains).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                Line(FormattableString.Invariant($"a=rtcp-fb:{codec.PayloadType} {fb}"));
            }

            if (codec.Fmtp is { } fmtp)
            {
                Line(FormattableString.Invariant($"a=fmtp:{codec.PayloadType} {fmtp}"));
            }

            if (send)
            {
                Line(FormattableString.Invariant($"a=ssrc:{ssrc} cname:{p.Cname}"));
                Line(FormattableString.Invariant($"a=ssrc:{ssrc} msid:{StreamId} {trackId}"));
            }

            foreach (var candidate in p.Candidates)
            {
                Line(candidate.ToSdpLine());
            }

            Line("a=end-of-candidates");
            streams.Add(new EchoStream(m.Mid ?? "", m.Kind, new HashSet<int> { codec.PayloadType }, ssrc, m.Ssrcs, receive, send));
        }

        plan = new EchoPlan(sb.ToString(), streams);
        error = null;
        return true;
    }

    private static bool Acceptable(OfferMedia m, SdpOffer offer, int acceptedSoFar, [NotNullWhen(true)] out OfferCodec? codec)
    {
        codec = null;
        if (!m.IsRtp || m.Port == 0 || !m.RtcpMux || !m.Protocol.Contains("SAVP", StringComparison.Ordinal))
        {
            return false;
        }

        if (offer.Bundle.Count > 0 ? m.Mid is null || !offer.Bundle.Contains(m.Mid) : acceptedSoFar > 0)
        {
            return false;
        }

        codec = m.Codecs.FirstOrDefault(c => !c.IsAuxiliary);
        return codec is not null;
    }

    private static string ConnectionLine(string address) =>
        IPAddress.TryParse(address, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6
            ? "c=IN IP6 " + address
            : "c=IN IP4 " + (IPAddress.TryParse(address, out _) ? address : "0.0.0.0");

    /// <summary>A random SSRC that is none of <paramref name="taken"/> (RFC 3550 8.1: pick at random, avoid collisions).</summary>
    public static uint NewSsrc(HashSet<uint> taken)
    {
        for (var i = 0; i < 64; i++)
        {
            var ssrc = BitConverter.ToUInt32(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
            if (ssrc != 0 && taken.Add(ssrc))
            {
                return ssrc;
            }
        }

        throw new InvalidOperationException("no free SSRC");
    }

    /// <summary>A short random token (cname, ids).</summary>
    public static string NewToken(int bytes = 9) =>
        Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes)).Replace('+', 'a').Replace('/', 'b').TrimEnd('=');
}
