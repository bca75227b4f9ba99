using Airlift.Tests.EndToEnd;
using Airlift.WebRtc;

namespace Airlift.Tests.WebRtc;

/// <summary>
/// <see cref="SdpOffer.TryParse"/> reads lines as spans of the offer (issue #13): the fields it keeps are the same as when
/// every line was a string, spacing and malformed values included, and a browser offer no longer costs 85 KB of garbage.
/// </summary>
public sealed class SdpOfferLineReadingTests
{
    private static readonly string Chromium = CapturedOffers.Crlf(CapturedOffers.Chromium156);

    /// <summary>The 1-based line number of <paramref name="line"/> in the captured offer.</summary>
    private static int LineOf(string line) => Array.IndexOf(Chromium.Split("\r\n"), line) + 1;

    private static SdpMediaSection Audio(string offer)
    {
        Assert.True(SdpOffer.TryParse(offer, out var parsed, out var error), error?.ToString());
        return parsed.Media[0];
    }

    [Fact]
    public void Rtpmap_Fmtp_Feedback_Extmap_AreKeptAsOffered_SurroundingSpacesOfTheirValuesTrimmed_Rfc8866_6()
    {
        var offer = Chromium
            .Replace("a=fmtp:111 minptime=10;useinbandfec=1", "a=fmtp:111   minptime=10;useinbandfec=1  ", StringComparison.Ordinal)
            .Replace("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=extmap:1/sendrecv   urn:ietf:params:rtp-hdrext:ssrc-audio-level  vad=on", StringComparison.Ordinal);
        var audio = Audio(offer);
        var opus = audio.Codecs.Single(c => c.PayloadType == 111);
        Assert.Equal("opus", opus.Name);
        Assert.Equal(48000, opus.ClockRate);
        Assert.Equal("2", opus.Channels);
        Assert.Equal("minptime=10;useinbandfec=1", opus.Fmtp);
        Assert.Contains("transport-cc", opus.Feedback);
        Assert.Contains(new SdpExtension(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), audio.Extensions);
        Assert.Equal("0", audio.Mid);
        Assert.Equal(MediaDirection.SendRecv, audio.Direction);
        Assert.True(audio.RtcpMux);
    }

    [Theory]
    [InlineData("a=rtpmap:111 opus/48000/2/1")] // four '/'-separated parts
    [InlineData("a=rtpmap:111 opus")]
    [InlineData("a=rtpmap:111 opus/0/2")]
    [InlineData("a=rtpmap:111 op us/48000/2")]
    [InlineData("a=rtpmap:111 opus/48000/")]
    public void A_malformed_rtpmap_is_refused_naming_its_line(string rtpmap)
    {
        var lineNumber = LineOf("a=rtpmap:111 opus/48000/2");
        var offer = Chromium.Replace("a=rtpmap:111 opus/48000/2", rtpmap, StringComparison.Ordinal);

        Assert.False(SdpOffer.TryParse(offer, out _, out var error));

        Assert.Equal(SdpOfferErrorKind.MalformedAttribute, error.Kind);
        Assert.Equal(lineNumber, error.LineNumber);
        Assert.Equal(rtpmap, error.Line);
        Assert.StartsWith("a=rtpmap must be", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a=extmap:1", "a=extmap must be")]
    [InlineData("a=extmap:256 urn:x", "a=extmap must be")]
    [InlineData("a=mid:", "a=mid must be")]
    [InlineData("a=fmtp:111", "a=fmtp needs")]
    [InlineData("a=rtcp-fb:* ", "a=rtcp-fb needs")]
    [InlineData("a=ssrc:x cname:y", "a=ssrc needs")]
    [InlineData("a=rid:a/b send", "a=rid needs")]
    public void Malformed_media_attributes_are_refused_with_the_same_reasons(string line, string reason)
    {
        var offer = Chromium.Replace("a=rtcp-fb:111 transport-cc", line, StringComparison.Ordinal);

        Assert.False(SdpOffer.TryParse(offer, out _, out var error));

        Assert.Equal(SdpOfferErrorKind.MalformedAttribute, error.Kind);
        Assert.Equal(LineOf("a=rtcp-fb:111 transport-cc"), error.LineNumber);
        Assert.Equal(line, error.Line);
        Assert.StartsWith(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_browser_offer_is_parsed_with_less_than_80_KB_allocated()
    {
        Assert.True(SdpOffer.TryParse(Chromium, out _, out _)); // warm: statics and first-call allocations

        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(SdpOffer.TryParse(Chromium, out _, out _));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // A string per line, then its trimmed, name and value copies: 121 KB for this 5 KB offer (36 KB of it the ICE
        // attributes' own parse). Read as spans: about 65 KB.
        Assert.True(allocated < 80 * 1024, $"{allocated} bytes allocated");
    }
}
