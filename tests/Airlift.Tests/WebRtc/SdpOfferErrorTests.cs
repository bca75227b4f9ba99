using Airlift.WebRtc;

namespace Airlift.Tests.WebRtc;

/// <summary>What <see cref="SdpOffer.TryParse"/> says about input that is not SDP at all (RFC 8866 5: v=0 comes first).</summary>
public sealed class SdpOfferErrorTests
{
    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1")]
    [InlineData("{\"type\":\"offer\",\"sdp\":\"v=0\"}", "{\"type\":\"offer\",\"sdp\":\"v=0\"}")]
    [InlineData("\nv=0\n", "")]
    public void Non_SDP_input_is_refused_quoting_its_first_line(string input, string quoted)
    {
        Assert.False(SdpOffer.TryParse(input, out _, out var error));

        Assert.Equal(SdpOfferErrorKind.NotSdp, error.Kind);
        Assert.Equal(1, error.LineNumber);
        Assert.Equal(quoted, error.Line);
        Assert.Equal($"not an SDP offer: the first line must be v=0 (RFC 8866 5), got '{quoted}'", error.Message);
        Assert.Equal(error.Message, error.ToString());
    }

    [Fact]
    public void The_quoted_first_line_is_cut_to_40_characters_and_shows_control_and_format_characters_as_question_marks()
    {
        var input = "\u001b[31mred\u202Eevil\t" + new string('x', 100) + "\nv=0";

        Assert.False(SdpOffer.TryParse(input, out _, out var error));

        Assert.Equal("?[31mred?evil?" + new string('x', 26) + "...", error.Line);
        Assert.DoesNotContain(error.ToString(), c => char.IsControl(c) || c == '\u202E');
        Assert.Contains("got '?[31mred?evil?xxx", error.Message, StringComparison.Ordinal);
    }
}
