using System.Net;
using Airlift.Cli.Serve;
using Airlift.Ice;
using Airlift.Ice.Sdp;
using Airlift.WebRtc;

namespace Airlift.Tests.EndToEnd;

public class EchoAnswerTests
{
    private const string Ufrag = "SrvU";
    private const string Password = "ServerPasswordServerPass";
    private const string Fingerprint = "sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";

    private static EchoAnswerParameters Parameters(SdpSetupRole setup = SdpSetupRole.Passive)
    {
        uint next = 1000;
        return new EchoAnswerParameters(
            Ufrag,
            Password,
            Fingerprint,
            setup,
            [
                IceCandidate.CreateHost(new IPEndPoint(IPAddress.Loopback, 50000), IceProtocol.Udp),
                IceCandidate.CreateHost(new IPEndPoint(IPAddress.Loopback, 50001), IceProtocol.Tcp),
            ],
            42,
            "cname1",
            () => next++);
    }

    private static EchoPlan Answer(string offer, SdpSetupRole setup = SdpSetupRole.Passive)
    {
        Assert.True(SdpOffer.TryParse(offer, out var parsed, out var error), error?.ToString());
        Assert.True(EchoAnswer.TryBuild(parsed, Parameters(setup), out var plan, out var buildError), buildError);
        return plan;
    }

    private static string Fail(string offer)
    {
        if (!SdpOffer.TryParse(offer, out var parsed, out var error))
        {
            return error.ToString();
        }

        Assert.False(EchoAnswer.TryBuild(parsed, Parameters(), out _, out var buildError));
        return buildError;
    }

    private static string[] Section(string answer, string mid)
    {
        var sections = answer.Split("\r\nm=");
        return sections.Single(s => s.Contains("\r\na=mid:" + mid + "\r\n", StringComparison.Ordinal)).Split("\r\n");
    }

    [Fact]
    public void ChromiumOffer_IsParsed_WithItsBundleMidsCodecsAndSsrcs()
    {
        Assert.True(SdpOffer.TryParse(CapturedOffers.Crlf(CapturedOffers.Chromium156), out var offer, out var error), error?.ToString());
        Assert.Equal(["0", "1", "2"], offer.Bundle);
        Assert.Equal(["audio", "video", "application"], offer.Media.Select(m => m.Kind));
        Assert.Equal(SdpSetupRole.ActPass, offer.Ice.Setup);
        var video = offer.Media[1];
        Assert.Equal(96, video.Codecs[0].PayloadType);
        Assert.Equal("VP8", video.Codecs[0].Name);
        Assert.Contains("nack pli", video.Codecs[0].Feedback);
        Assert.Equal([964496052u, 2264227088u], video.Ssrcs);
        Assert.True(video.RtcpMux);
        Assert.True(video.RtcpReducedSize);
    }

    [Fact]
    public void ChromiumOffer_Answer_IsIceLite_BundlesAudioAndVideo_AndRejectsTheDataChannel_Jsep_5_3()
    {
        var plan = Answer(CapturedOffers.Crlf(CapturedOffers.Chromium156));
        var lines = plan.Answer.Split("\r\n");
        Assert.Equal("v=0", lines[0]);
        Assert.Contains("a=ice-lite", lines); // RFC 8445 2.5, session level
        Assert.Contains("a=group:BUNDLE 0 1", lines); // RFC 9143: the rejected section is not in the group
        Assert.EndsWith("\r\n", plan.Answer, StringComparison.Ordinal);
        Assert.Contains("m=application 0 UDP/DTLS/SCTP webrtc-datachannel", lines);
        Assert.Equal(2, plan.Streams.Count);
        Assert.All(plan.Streams, s => Assert.True(s.Send && s.Receive));
    }

    [Fact]
    public void ChromiumOffer_Answer_CarriesOurTransportInEverySection_Rfc8839_Rfc8842()
    {
        var plan = Answer(CapturedOffers.Crlf(CapturedOffers.Chromium156));
        foreach (var mid in new[] { "0", "1" })
        {
            var section = Section(plan.Answer, mid);
            Assert.Contains("a=ice-ufrag:" + Ufrag, section);
            Assert.Contains("a=ice-pwd:" + Password, section);
            Assert.Contains("a=fingerprint:" + Fingerprint, section);
            Assert.Contains("a=setup:passive", section);
            Assert.Contains("a=rtcp-mux", section);
            Assert.Contains("a=rtcp-rsize", section);
            Assert.Contains("a=sendrecv", section);
            Assert.Contains("a=candidate:14 1 udp 2130706431 127.0.0.1 50000 typ host", section);
            Assert.Contains(section, l => l.StartsWith("a=candidate:", StringComparison.Ordinal) && l.EndsWith("127.0.0.1 50001 typ host tcptype passive", StringComparison.Ordinal));
            Assert.Contains("a=end-of-candidates", section);
        }
    }

    [Fact]
    public void ChromiumOffer_Answer_EchoesTheFirstCodecOfEachKind_WithItsPayloadType_AndNoRtxRedOrFec()
    {
        var plan = Answer(CapturedOffers.Crlf(CapturedOffers.Chromium156));
        var audio = Section(plan.Answer, "0");
        var video = Section(plan.Answer, "1");
        Assert.StartsWith("audio 50000 UDP/TLS/RTP/SAVPF 111", audio[0], StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:111 opus/48000/2", audio);
        Assert.Contains("a=fmtp:111 minptime=10;useinbandfec=1", audio);
        Assert.StartsWith("video 50000 UDP/TLS/RTP/SAVPF 96", video[0], StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:96 VP8/90000", video);
        Assert.DoesNotContain(video, l => l.Contains("rtx", StringComparison.Ordinal) || l.Contains("ulpfec", StringComparison.Ordinal) || l.Contains("red/", StringComparison.Ordinal));
        Assert.Equal([96], plan.Streams[1].PayloadTypes);
        Assert.Equal([111], plan.Streams[0].PayloadTypes);
    }

    [Fact]
    public void ChromiumOffer_Answer_KeepsNackPliFir_ButNotTransportCcOrRemb_AndOnlyTheMidExtension()
    {
        var video = Section(Answer(CapturedOffers.Crlf(CapturedOffers.Chromium156)).Answer, "1");
        Assert.Equal(
            ["a=rtcp-fb:96 ccm fir", "a=rtcp-fb:96 nack", "a=rtcp-fb:96 nack pli"],
            video.Where(l => l.StartsWith("a=rtcp-fb:", StringComparison.Ordinal)));
        Assert.Equal(["a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid"], video.Where(l => l.StartsWith("a=extmap:", StringComparison.Ordinal)));
    }

    [Fact]
    public void ChromiumOffer_Answer_DeclaresOurSsrcPerSection_AndRemembersTheOfferersPrimarySsrc_Rfc5576()
    {
        var plan = Answer(CapturedOffers.Crlf(CapturedOffers.Chromium156));
        Assert.Equal([1000u, 1001u], plan.Streams.Select(s => s.LocalSsrc));
        Assert.Contains("a=ssrc:1001 cname:cname1", Section(plan.Answer, "1"));
        Assert.Contains(Section(plan.Answer, "1"), l => l.StartsWith("a=msid:airlift-echo ", StringComparison.Ordinal));
        Assert.Equal(3545662400u, plan.Streams[0].RemoteSsrcs[0]);
        Assert.Equal(964496052u, plan.Streams[1].RemoteSsrcs[0]);
    }

    [Fact]
    public void SetupActive_IsWrittenWhenWeAreTheDtlsClient_Rfc8842_5()
    {
        var plan = Answer(CapturedOffers.Crlf(CapturedOffers.Chromium156), SdpSetupRole.Active);
        Assert.Contains("a=setup:active", Section(plan.Answer, "1"));
        Assert.DoesNotContain("a=setup:passive", plan.Answer, StringComparison.Ordinal);
    }

    [Fact]
    public void SendOnlyOffer_IsAnsweredRecvOnly_WithoutOurSsrc_Rfc3264_6_1()
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156).Replace("a=sendrecv", "a=sendonly", StringComparison.Ordinal);
        var plan = Answer(offer);
        var video = Section(plan.Answer, "1");
        Assert.Contains("a=recvonly", video);
        Assert.DoesNotContain(video, l => l.StartsWith("a=ssrc:", StringComparison.Ordinal));
        Assert.All(plan.Streams, s => Assert.False(s.Send));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("hello", "v=0")]
    [InlineData("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no m-section")]
    public void GarbageOffers_AreRefusedWithAReason(string offer, string reason) =>
        Assert.Contains(reason, Fail(offer), StringComparison.Ordinal);

    [Fact]
    public void OfferWithoutFingerprint_IsRefused_Rfc8842_5()
    {
        var offer = string.Join("\r\n", CapturedOffers.Crlf(CapturedOffers.Chromium156).Split("\r\n").Where(l => !l.StartsWith("a=fingerprint", StringComparison.Ordinal)));
        Assert.Contains("fingerprint", Fail(offer), StringComparison.Ordinal);
    }

    [Fact]
    public void OfferWithoutIceCredentials_IsRefused_Rfc8839_5_4()
    {
        var offer = string.Join("\r\n", CapturedOffers.Crlf(CapturedOffers.Chromium156).Split("\r\n").Where(l => !l.StartsWith("a=ice-pwd", StringComparison.Ordinal)));
        Assert.Contains("ice-pwd", Fail(offer), StringComparison.Ordinal);
    }

    [Fact]
    public void OfferWithMalformedSetup_IsRefusedWithTheLine()
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156).Replace("a=setup:actpass", "a=setup:sideways", StringComparison.Ordinal);
        Assert.Contains("MalformedSetup", Fail(offer), StringComparison.Ordinal);
    }

    [Fact]
    public void OfferWithoutRtcpMux_HasNothingToEcho_Rfc5761()
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156).Replace("a=rtcp-mux\r\n", "", StringComparison.Ordinal);
        Assert.Contains("nothing to accept", Fail(offer), StringComparison.Ordinal);
    }

    [Fact]
    public void PlainRtpOffer_WithoutSrtp_HasNothingToEcho()
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156).Replace("UDP/TLS/RTP/SAVPF", "RTP/AVP", StringComparison.Ordinal);
        Assert.Contains("nothing to accept", Fail(offer), StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateMid_IsRefused_Rfc9143()
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156).Replace("a=mid:1", "a=mid:0", StringComparison.Ordinal);
        Assert.Contains("two m-sections", Fail(offer), StringComparison.Ordinal);
    }

    [Fact]
    public void OversizedOffer_IsRefusedBeforeParsing()
    {
        var offer = "v=0\r\n" + new string('a', SdpOffer.MaxLength);
        Assert.Contains("longer than", Fail(offer), StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedRtpmap_IsRefusedWithTheLine()
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156).Replace("a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP8", StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:96 VP8\"", Fail(offer), StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutBundle_OnlyTheFirstRtpSectionIsAccepted()
    {
        var offer = CapturedOffers.Crlf(CapturedOffers.Chromium156).Replace("a=group:BUNDLE 0 1 2\r\n", "", StringComparison.Ordinal);
        var plan = Answer(offer);
        Assert.Single(plan.Streams);
        Assert.Equal("audio", plan.Streams[0].Kind);
        Assert.Contains("m=video 0 UDP/TLS/RTP/SAVPF 96", plan.Answer, StringComparison.Ordinal);
        Assert.DoesNotContain("a=group:BUNDLE", plan.Answer, StringComparison.Ordinal); // RFC 9143 7.3: no group the offer did not have
    }

    [Fact]
    public void MutatedOffers_NeverThrow_FromTheParserOrTheAnswerBuilder()
    {
        // Every offer reaches the parser and the builder from an unauthenticated HTTP client: a throw would leave a transport
        // session created for nothing. Seeded mutations of a real offer: lines dropped, repeated, swapped, cut, and bytes
        // replaced by SDP-significant characters and digits.
        var lines = CapturedOffers.Crlf(CapturedOffers.Chromium156).Split("\r\n");
        var rng = new Random(10);
        const string Alphabet = "0123456789 :=/-;\r\n\tam9";
        for (var round = 0; round < 1000; round++)
        {
            var mutated = lines.ToList();
            for (var k = rng.Next(1, 6); k > 0; k--)
            {
                var at = rng.Next(mutated.Count);
                switch (rng.Next(5))
                {
                    case 0:
                        mutated.RemoveAt(at);
                        break;
                    case 1:
                        mutated.Insert(at, mutated[rng.Next(mutated.Count)]);
                        break;
                    case 2:
                        (mutated[at], mutated[^1]) = (mutated[^1], mutated[at]);
                        break;
                    case 3:
                        mutated[at] = mutated[at][..rng.Next(mutated[at].Length + 1)];
                        break;
                    default:
                        var chars = mutated[at].ToCharArray();
                        if (chars.Length > 0)
                        {
                            chars[rng.Next(chars.Length)] = Alphabet[rng.Next(Alphabet.Length)];
                        }

                        mutated[at] = new string(chars);
                        break;
                }

                if (mutated.Count == 0)
                {
                    mutated.Add("v=0");
                }
            }

            var offer = string.Join("\r\n", mutated);
            if (SdpOffer.TryParse(offer, out var parsed, out _))
            {
                EchoAnswer.TryBuild(parsed, Parameters(), out _, out _);
            }
        }
    }
}
