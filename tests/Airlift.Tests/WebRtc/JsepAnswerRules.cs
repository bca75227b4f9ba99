using System.Globalization;
using Airlift.WebRtc;

namespace Airlift.Tests.WebRtc;

/// <summary>
/// A separate, deliberately small reader of an answer's text (not the library's parser) and the JSEP / BUNDLE rules an
/// answer must follow.
/// </summary>
internal static class JsepAnswerRules
{
    internal sealed record Section(string Kind, int Port, string Protocol, string? Mid, string? Direction, IReadOnlyList<string> Lines);

    public static List<Section> Sections(string answer)
    {
        var result = new List<Section>();
        var blocks = answer.Split("\r\nm=");
        foreach (var block in blocks.Skip(1))
        {
            var lines = block.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            var m = lines[0].Split(' ');
            result.Add(new Section(
                m[0],
                int.Parse(m[1], CultureInfo.InvariantCulture),
                m[2],
                lines.FirstOrDefault(l => l.StartsWith("a=mid:", StringComparison.Ordinal))?["a=mid:".Length..],
                lines.Select(l => l.Length > 2 ? l[2..] : l).FirstOrDefault(l => l is "sendrecv" or "sendonly" or "recvonly" or "inactive"),
                lines));
        }

        return result;
    }

    /// <summary>Asserts the rules; <paramref name="setup"/> is the a=setup every accepted section must carry.</summary>
    public static void Check(SdpOffer offer, string answer, string setup)
    {
        Assert.StartsWith("v=0\r\n", answer, StringComparison.Ordinal);
        Assert.EndsWith("\r\n", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", answer.Replace("\r\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("\r\na=ice-lite\r\n", answer, StringComparison.Ordinal);

        // JSEP 5.3.1: one m-section per offered one, in order, same kind and protocol, the mid echoed.
        var sections = Sections(answer);
        Assert.Equal(offer.Media.Count, sections.Count);
        for (var i = 0; i < sections.Count; i++)
        {
            Assert.Equal(offer.Media[i].Kind, sections[i].Kind);
            Assert.Equal(offer.Media[i].Protocol, sections[i].Protocol);
            Assert.Equal(offer.Media[i].Mid, sections[i].Mid);
        }

        var accepted = sections.Where(s => s.Port != 0).ToList();
        Assert.NotEmpty(accepted);

        // RFC 9143: the answer's group holds exactly the accepted sections' mids, the offerer-tagged first; they share one
        // address:port; a declined section (port 0) is outside the group.
        var groupLine = answer.Split("\r\n").SingleOrDefault(l => l.StartsWith("a=group:BUNDLE", StringComparison.Ordinal));
        if (offer.Bundle.Count > 0)
        {
            Assert.NotNull(groupLine);
            var group = groupLine["a=group:BUNDLE ".Length..].Split(' ');
            Assert.Equal(accepted.Select(s => s.Mid).Order(StringComparer.Ordinal), group.Order(StringComparer.Ordinal));
            Assert.Equal(offer.Bundle[0], group[0]);
            Assert.All(group, mid => Assert.Contains(mid, offer.Bundle));
        }

        Assert.Single(accepted.Select(s => s.Port).Distinct());
        foreach (var s in sections)
        {
            if (s.Port == 0)
            {
                Assert.Equal("inactive", s.Direction);
                Assert.DoesNotContain(s.Lines, l => l.StartsWith("a=candidate", StringComparison.Ordinal));
                continue;
            }

            // RFC 8842 5 / RFC 8839 5.4: our DTLS role and ICE credentials; rtcp-mux (RFC 5761), candidates for UDP and ICE-TCP.
            Assert.Contains("a=setup:" + setup, s.Lines);
            Assert.Single(s.Lines, l => l.StartsWith("a=fingerprint:sha-256 ", StringComparison.Ordinal));
            Assert.Single(s.Lines, l => l.StartsWith("a=ice-ufrag:", StringComparison.Ordinal));
            Assert.Single(s.Lines, l => l.StartsWith("a=ice-pwd:", StringComparison.Ordinal));
            Assert.Contains("a=rtcp-mux", s.Lines);
            Assert.Contains(s.Lines, l => l.StartsWith("a=candidate:", StringComparison.Ordinal) && l.Contains(" udp ", StringComparison.OrdinalIgnoreCase));
            Assert.Contains(s.Lines, l => l.StartsWith("a=candidate:", StringComparison.Ordinal) && l.Contains(" tcp ", StringComparison.OrdinalIgnoreCase) && l.Contains("tcptype passive", StringComparison.Ordinal));
            Assert.Contains("a=end-of-candidates", s.Lines);
            Assert.DoesNotContain("a=bundle-only", s.Lines);

            // One answered payload type, offered in the same section, with its rtpmap.
            var offered = offer.Media.Single(m => m.Mid == s.Mid);
            var pt = s.Lines[0].Split(' ')[3];
            Assert.Contains(pt, offered.Formats);
            Assert.Contains(s.Lines, l => l.StartsWith($"a=rtpmap:{pt} ", StringComparison.Ordinal));
            Assert.Equal(offered.RtcpReducedSize, s.Lines.Contains("a=rtcp-rsize"));

            // Every answered extension was offered in this section with the same id (RFC 8285 5).
            foreach (var ext in s.Lines.Where(l => l.StartsWith("a=extmap:", StringComparison.Ordinal)))
            {
                var parts = ext["a=extmap:".Length..].Split(' ');
                Assert.Contains(offered.Extensions, e => e.Id.ToString(CultureInfo.InvariantCulture) == parts[0] && e.Uri == parts[1]);
            }
        }
    }
}
