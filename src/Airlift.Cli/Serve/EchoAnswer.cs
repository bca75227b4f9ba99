using System.Diagnostics.CodeAnalysis;
using Airlift.Ice.Sdp;
using Airlift.WebRtc;

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
/// The echo server's answer, built by the library's <see cref="SdpAnswerBuilder"/> (JSEP RFC 8829 5.3, BUNDLE RFC 9143,
/// bundle-only sections accepted): for each audio/video section the offer's first media codec with its payload type, so
/// the echoed packets need no payload type rewrite. Only the <c>sdes:mid</c> header extension is accepted (RFC 9143 15):
/// the echo copies header extensions unchanged, and mid is the only one whose value is still right on the way back;
/// transport-cc and REMB feedback are declined for the same reason. RTX, RED and FEC are declined, so NACKed packets are
/// resent on the media SSRC, which the echo maps like any other. We send on a section only when the offerer sends on it
/// too (there is nothing to echo otherwise).
/// </summary>
internal static class EchoAnswer
{
    /// <summary>The BUNDLE mid header extension (RFC 9143 15.2).</summary>
    public const string MidExtensionUri = SdpAnswerBuilder.MidExtensionUri;

    private const string StreamId = "airlift-echo";

    public static bool TryBuild(SdpOffer offer, EchoAnswerParameters p, [NotNullWhen(true)] out EchoPlan? plan, [NotNullWhen(false)] out string? error)
    {
        var options = new SdpAnswerOptions
        {
            Ufrag = p.Ufrag,
            Password = p.Password,
            Fingerprint = p.Fingerprint,
            Setup = p.Setup,
            Candidates = p.Candidates,
            SessionId = p.SessionId,
            SessionName = "airlift echo",
            Cname = p.Cname,
            StreamId = StreamId,
            NewSsrc = p.NewSsrc,
            ChooseDirection = m => m.Direction == MediaDirection.SendRecv ? MediaDirection.SendRecv : MediaDirection.RecvOnly,
        };
        if (!SdpAnswerBuilder.TryBuild(offer, options, out var answer, out var answerError))
        {
            plan = null;
            error = answerError.ToString();
            return false;
        }

        plan = new EchoPlan(
            answer.Sdp,
            [.. answer.Streams.Select(s => new EchoStream(s.Mid, s.Kind, new HashSet<int> { s.Codec.PayloadType }, s.LocalSsrc, s.RemoteSsrcs, s.Receive, s.Send))]);
        error = null;
        return true;
    }

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
