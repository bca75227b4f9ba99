using System.Net;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.Tests.Dtls;
using Airlift.WebRtc;

namespace Airlift.Tests.WebRtc;

/// <summary>
/// Every offer in tests/fixtures/sdp (captured from Chromium and Firefox ESR with both bundle policies and from aiortc by
/// scripts/capture-sdp-offers.sh, plus a hand-written Safari-style one) is parsed and answered by the library in both DTLS
/// roles, and each answer is checked against JSEP (RFC 8829 5.3.1) and BUNDLE (RFC 9143) by <see cref="JsepAnswerRules"/>,
/// a separate small reader of the answer text.
/// </summary>
public class SdpFixtureTests
{
    public static TheoryData<string> Fixtures() => new(FixtureNames());

    private static string[] FixtureNames() => [.. Directory.GetFiles(FixtureDir, "*.sdp").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal)];

    private static string FixtureDir => Path.Combine(AppContext.BaseDirectory, "fixtures", "sdp");

    /// <summary>The fixture text without its '#' header lines, with CRLF line ends as browsers send them.</summary>
    internal static string Load(string name)
    {
        var lines = File.ReadAllText(Path.Combine(FixtureDir, name + ".sdp")).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n')
            .Where(l => !l.StartsWith('#'));
        return string.Join("\r\n", lines).TrimEnd('\r', '\n') + "\r\n";
    }

    internal static SdpAnswerOptions Options(SdpSetupRole setup) => new()
    {
        Ufrag = "srvU",
        Password = "serverpasswordserverpass",
        Fingerprint = TestCertificates.Ecdsa.GetFingerprint().ToString(),
        Setup = setup,
        Candidates =
        [
            IceCandidate.CreateHost(new IPEndPoint(IPAddress.Loopback, 50000), IceProtocol.Udp),
            IceCandidate.CreateHost(new IPEndPoint(IPAddress.Loopback, 50001), IceProtocol.Tcp),
        ],
        SessionId = 42,
    };

    [Fact]
    public void TheFixtureFolder_HoldsEveryCapturedClient_AndTheHandWrittenSafariOffer()
    {
        var names = FixtureNames().ToHashSet(StringComparer.Ordinal);
        Assert.Superset(new HashSet<string>(StringComparer.Ordinal) { "chromium-balanced", "chromium-max-bundle", "firefox-balanced", "firefox-max-bundle", "aiortc", "safari-style" }, names);
        Assert.Contains("HAND-WRITTEN", File.ReadAllText(Path.Combine(FixtureDir, "safari-style.sdp")), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EveryFixture_IsParsed_AndAnsweredInBothDtlsRoles_FollowingJsepAndBundle(string name)
    {
        var text = Load(name);
        Assert.True(SdpOffer.TryParse(text, out var offer, out var error), error?.ToString());
        foreach (var setup in new[] { SdpSetupRole.Passive, SdpSetupRole.Active })
        {
            Assert.True(SdpAnswerBuilder.TryBuild(offer, Options(setup), out var answer, out var buildError), buildError?.ToString());
            JsepAnswerRules.Check(offer, answer.Sdp, setup == SdpSetupRole.Passive ? "passive" : "active");

            // Audio and video are both accepted and both ways (every fixture offers them sendrecv); the data channel is declined.
            Assert.Equal(["audio", "video"], answer.Streams.Select(s => s.Kind));
            Assert.All(answer.Streams, s => Assert.True(s.Send && s.Receive));
            var data = offer.Media.Single(m => m.IsDataChannel);
            Assert.Equal(0, JsepAnswerRules.Sections(answer.Sdp)[offer.Media.ToList().IndexOf(data)].Port);
        }
    }

    [Fact]
    public void FirefoxMaxBundle_BundleOnlyVideo_IsAcceptedIntoTheBundle_WithTheTaggedTransport_Rfc9143()
    {
        // Issue #12: Firefox ESR with max-bundle offers video as "m=video 0 ... a=bundle-only" in "a=group:BUNDLE 0 1 2".
        // The old answer gave it port 0 and a=inactive, so video never flowed.
        Assert.True(SdpOffer.TryParse(Load("firefox-max-bundle"), out var offer, out _));
        var video = offer.Media.Single(m => m.Kind == "video");
        Assert.Equal(0, video.Port);
        Assert.True(video.BundleOnly);

        Assert.True(SdpAnswerBuilder.TryBuild(offer, Options(SdpSetupRole.Passive), out var answer, out _));
        var sections = JsepAnswerRules.Sections(answer.Sdp);
        Assert.Equal(50000, sections[1].Port);
        Assert.Equal("sendrecv", sections[1].Direction);
        Assert.Equal(["0", "1"], answer.Bundle);
        Assert.Contains("a=group:BUNDLE 0 1\r\n", answer.Sdp, StringComparison.Ordinal);
        Assert.DoesNotContain("a=bundle-only", answer.Sdp, StringComparison.Ordinal);
        Assert.Equal(["0", "1"], answer.Streams.Select(s => s.Mid));
    }

    [Fact]
    public void BundleOnlySection_IsDeclined_WhenTheOffererTaggedSectionIsDeclined()
    {
        // Without rtcp-mux on the tagged audio section there is no BUNDLE transport to put the bundle-only video on.
        var text = Load("firefox-max-bundle").Replace("a=rtcp-mux\r\n", "", StringComparison.Ordinal);
        Assert.True(SdpOffer.TryParse(text, out var offer, out _));
        Assert.False(SdpAnswerBuilder.TryBuild(offer, Options(SdpSetupRole.Passive), out _, out var error));
        Assert.Equal(SdpOfferErrorKind.NothingAccepted, error.Kind);
    }

    [Fact]
    public void SafariStyleSimulcast_IsParsed_AndDeclinedByLeavingRidAndSimulcastOut_Rfc8853()
    {
        Assert.True(SdpOffer.TryParse(Load("safari-style"), out var offer, out _));
        var video = offer.Media.Single(m => m.Kind == "video");
        Assert.Equal(["h", "m", "l"], video.Rids);
        Assert.Equal("send h;m;l", video.Simulcast);
        Assert.StartsWith("9a3b7c2e", video.Msid, StringComparison.Ordinal);

        Assert.True(SdpAnswerBuilder.TryBuild(offer, Options(SdpSetupRole.Passive), out var answer, out _));
        Assert.DoesNotContain("a=simulcast", answer.Sdp, StringComparison.Ordinal);
        Assert.DoesNotContain("a=rid", answer.Sdp, StringComparison.Ordinal);
        Assert.DoesNotContain("rtp-stream-id", answer.Sdp, StringComparison.Ordinal);
        Assert.Equal("H264", answer.Streams.Single(s => s.Kind == "video").Codec.Name);
    }

    [Fact]
    public void OnlySupportedHeaderExtensions_AreAnswered_WithTheOfferedIds_Rfc8285()
    {
        Assert.True(SdpOffer.TryParse(Load("chromium-max-bundle"), out var offer, out _));
        var midId = offer.Media[0].Extensions.Single(e => e.Uri == SdpAnswerBuilder.MidExtensionUri).Id;
        Assert.True(SdpAnswerBuilder.TryBuild(offer, Options(SdpSetupRole.Passive), out var answer, out _));
        var audio = JsepAnswerRules.Sections(answer.Sdp)[0];
        Assert.Equal([$"a=extmap:{midId} {SdpAnswerBuilder.MidExtensionUri}"], audio.Lines.Where(l => l.StartsWith("a=extmap:", StringComparison.Ordinal)));
        Assert.Equal(midId, answer.Streams[0].MidExtensionId);

        var withLevel = Options(SdpSetupRole.Passive) with
        {
            Extensions = new HashSet<string>(StringComparer.Ordinal) { SdpAnswerBuilder.MidExtensionUri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level" },
        };
        Assert.True(SdpAnswerBuilder.TryBuild(offer, withLevel, out var second, out _));
        Assert.Equal(2, JsepAnswerRules.Sections(second.Sdp)[0].Lines.Count(l => l.StartsWith("a=extmap:", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("sendonly", "recvonly", true, false)]
    [InlineData("recvonly", "sendonly", false, true)]
    [InlineData("inactive", "inactive", false, false)]
    public void AnswerDirection_IsTheOfferReversed_Jsep531(string offered, string answered, bool receive, bool send)
    {
        var text = Load("chromium-max-bundle").Replace("a=sendrecv", "a=" + offered, StringComparison.Ordinal);
        Assert.True(SdpOffer.TryParse(text, out var offer, out _));
        Assert.True(SdpAnswerBuilder.TryBuild(offer, Options(SdpSetupRole.Passive), out var answer, out _));
        Assert.All(JsepAnswerRules.Sections(answer.Sdp).Where(s => s.Port != 0), s => Assert.Equal(answered, s.Direction));
        Assert.All(answer.Streams, s => Assert.Equal((receive, send), (s.Receive, s.Send)));
        Assert.Equal(send, answer.Sdp.Contains("a=ssrc:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("a=ice-ufrag:", SdpOfferErrorKind.MissingIceCredentials)]
    [InlineData("a=fingerprint:", SdpOfferErrorKind.MissingFingerprint)]
    [InlineData("a=setup:", SdpOfferErrorKind.MissingSetup)]
    public void OfferWithoutAnIceOrDtlsAttribute_GetsATypedError(string dropped, SdpOfferErrorKind kind)
    {
        var text = string.Join("\r\n", Load("chromium-max-bundle").Split("\r\n").Where(l => !l.StartsWith(dropped, StringComparison.Ordinal)));
        Assert.True(SdpOffer.TryParse(text, out var offer, out _));
        Assert.False(SdpAnswerBuilder.TryBuild(offer, Options(SdpSetupRole.Passive), out _, out var error));
        Assert.Equal(kind, error.Kind);
    }

    [Theory]
    [InlineData("a=mid:1\r\n", "a=mid:0\r\n", SdpOfferErrorKind.DuplicateMid)]
    [InlineData("m=video 9 ", "m=video x ", SdpOfferErrorKind.MalformedMediaLine)]
    [InlineData("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus", SdpOfferErrorKind.MalformedAttribute)]
    [InlineData("v=0", "v=1", SdpOfferErrorKind.NotSdp)]
    public void MalformedOffer_GetsATypedError_WithItsLine(string from, string to, SdpOfferErrorKind kind)
    {
        var text = Load("chromium-max-bundle");
        Assert.Contains(from, text, StringComparison.Ordinal);
        Assert.False(SdpOffer.TryParse(text.Replace(from, to, StringComparison.Ordinal), out _, out var error));
        Assert.Equal(kind, error.Kind);
    }
}
