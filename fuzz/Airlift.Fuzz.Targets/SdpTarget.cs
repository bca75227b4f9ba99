using System.Net;
using System.Text;
using Airlift.Cli.Serve;
using Airlift.Dtls;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.WebRtc;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>sdp</c>: what <c>airlift serve</c> does with a posted offer: <see cref="SdpOffer.TryParse"/> (UTF-8 decoded as
/// the HTTP layer does), the fingerprint parse, and <see cref="EchoAnswer.TryBuild"/> with fixed parameters.
/// Checked: no exception; an answer we build has CRLF line ends only, no other control character but TAB (which RFC 8866 9
/// allows in field values, like the offer parser), and parses with
/// Airlift's own SDP ICE parser (an offer must not be able to inject lines into the answer).
/// </summary>
internal static class SdpTarget
{
    private static readonly IceCandidate[] Candidates =
    [
        IceCandidate.CreateHost(new IPEndPoint(IPAddress.Loopback, 50000), IceProtocol.Udp),
        IceCandidate.CreateHost(new IPEndPoint(IPAddress.IPv6Loopback, 50001), IceProtocol.Tcp),
    ];

    public static void Run(ReadOnlySpan<byte> input)
    {
        var text = Encoding.UTF8.GetString(input);
        if (!SdpOffer.TryParse(text, out var offer, out _))
        {
            return;
        }

        foreach (var fp in offer.Ice.Fingerprints)
        {
            _ = CertificateFingerprint.TryParse(fp.ToString(), out _);
        }

        uint next = 1000;
        foreach (var setup in (ReadOnlySpan<SdpSetupRole>)[SdpSetupRole.Passive, SdpSetupRole.Active])
        {
            var parameters = new EchoAnswerParameters(
                "fzSv",
                "fuzzpasswordfuzzpassword",
                "sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99",
                setup,
                Candidates,
                42,
                "airlift-fuzz",
                () => next++);
            if (!EchoAnswer.TryBuild(offer, parameters, out var plan, out _))
            {
                return;
            }

            CheckAnswer(plan.Answer);
        }
    }

    private static void CheckAnswer(string answer)
    {
        for (var i = 0; i < answer.Length; i++)
        {
            var c = answer[i];
            if (c == '\r')
            {
                if (i + 1 >= answer.Length || answer[i + 1] != '\n')
                {
                    throw new FuzzFindingException($"the answer has a bare CR at {i}");
                }
            }
            else if (c == '\n')
            {
                if (i == 0 || answer[i - 1] != '\r')
                {
                    throw new FuzzFindingException($"the answer has a bare LF at {i}");
                }
            }
            else if (char.IsControl(c) && c != '\t')
            {
                throw new FuzzFindingException($"the answer has control character U+{(int)c:X4} at {i}");
            }
        }

        if (!SdpIceDescription.TryParse(answer, out _, out var error))
        {
            throw new FuzzFindingException($"the answer does not parse: {error}");
        }
    }
}
