using Airlift.Cli.Serve;
using Airlift.WebRtc;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// An offer's bytes end up in our answer (mid, protocol, formats, fmtp): a control character or a CR inside a line must
/// not reach it. RFC 8866 5 and 9: lines end with CRLF, and no field holds NUL, CR or LF. Found by the sdp fuzz target
/// (fuzz/crashes/sdp/): a lone CR in the m= line's format list became a bare CR in the answer, and DEL or ESC bytes in
/// the protocol were copied into it.
/// </summary>
public class SdpOfferControlCharacterTests
{
    [Theory]
    [InlineData("m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=audio 9 UDP/TLS/RTP/SAVPF opus\r 111")]
    [InlineData("m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=audio 9 UDP/TLS/RTP/\u007FSAVPF 111")]
    [InlineData("a=mid:0", "a=mid:0\u001B")]
    [InlineData("a=mid:0", "a=mid:\u00000")]
    public void An_offer_with_a_control_character_inside_a_line_is_refused(string line, string replacement)
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156);
        Assert.Contains(line, offer, StringComparison.Ordinal);
        var hostile = offer.Replace(line, replacement, StringComparison.Ordinal);

        Assert.False(SdpOffer.TryParse(hostile, out _, out var error));
        Assert.Equal(SdpOfferErrorKind.ControlCharacter, error.Kind);
        Assert.Contains("control character", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Tabs_and_line_ends_with_or_without_cr_are_accepted()
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156).Replace("a=mid:0\r\n", "a=mid:0\n", StringComparison.Ordinal)
            .Replace("s=-", "s=\t-", StringComparison.Ordinal);
        Assert.True(SdpOffer.TryParse(offer, out _, out var error), error?.ToString());
    }
}
