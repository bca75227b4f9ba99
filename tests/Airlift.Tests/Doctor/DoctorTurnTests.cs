using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using Airlift.Cli.Doctor;
using Airlift.Cli.Doctor.Capture;
using Xunit;
using static Airlift.Tests.Doctor.CaptureBytes;
using static Airlift.Tests.Doctor.SyntheticDtls;

namespace Airlift.Tests.Doctor;

/// <summary>
/// The doctor on captures taken between a client and its TURN server (RFC 8656): ChannelData (12.4) and Send/Data
/// indications (10, 11) are unwrapped so the inner ICE/DTLS handshake is analysed, with the relay named in the session.
/// The inner datagrams are real ones (Chromium's, tests/fixtures/vectors) or the synthetic F4 flight, wrapped here.
/// </summary>
public sealed class DoctorTurnTests
{
    private static readonly IPEndPoint Client = Ep("10.0.0.2:50000");
    private static readonly IPEndPoint Turn = Ep("10.0.0.1:3478");
    private static readonly IPEndPoint Peer = Ep("10.0.0.9:4444");
    private const ushort Channel = 0x4000;

    /// <summary>Chromium's ICE + DTLS 1.3 datagrams from a captured vector: (ms, from the browser?, payload).</summary>
    private static List<(double Ms, bool FromClient, byte[] Payload)> ChromiumVector()
    {
        var list = new List<(double, bool, byte[])>();
        int? browser = null;
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "fixtures", "vectors", "chromium156-loopback-dtls13-nopq.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var d = doc.RootElement;
            if (!d.TryGetProperty("hex", out var hex))
            {
                continue;
            }

            var from = d.GetProperty("from").GetInt32();
            browser ??= from; // the browser sends the first STUN check
            list.Add((d.GetProperty("t").GetDouble() * 1000, from == browser, Convert.FromHexString(hex.GetString()!)));
        }

        return list;
    }

    /// <summary>A ChannelData message (RFC 8656 12.4), padded to 4 bytes when asked.</summary>
    private static byte[] ChannelData(ushort channel, byte[] data, bool pad)
    {
        var length = 4 + data.Length;
        var total = pad ? (length + 3) & ~3 : length;
        var m = new byte[total];
        BinaryPrimitives.WriteUInt16BigEndian(m, channel);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)data.Length);
        data.CopyTo(m, 4);
        return m;
    }

    /// <summary>A STUN message with the given attributes (each padded to 4 bytes), no integrity.</summary>
    private static byte[] TurnMessage(ushort type, int txid, params (ushort Type, byte[] Value)[] attributes)
    {
        var body = new List<byte>();
        foreach (var (t, v) in attributes)
        {
            body.AddRange([(byte)(t >> 8), (byte)t, (byte)(v.Length >> 8), (byte)v.Length, .. v]);
            while (body.Count % 4 != 0)
            {
                body.Add(0);
            }
        }

        var m = new byte[20 + body.Count];
        BinaryPrimitives.WriteUInt16BigEndian(m, type);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)body.Count);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), 0x2112A442);
        TxId(txid).CopyTo(m, 8);
        body.CopyTo(m, 20);
        return m;
    }

    private static byte[] XorPeerAddress(IPEndPoint peer)
    {
        var v = new byte[8];
        v[1] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(v.AsSpan(2), (ushort)(peer.Port ^ 0x2112));
        var a = peer.Address.GetAddressBytes();
        byte[] cookie = [0x21, 0x12, 0xA4, 0x42];
        for (var i = 0; i < 4; i++)
        {
            v[4 + i] = (byte)(a[i] ^ cookie[i]);
        }

        return v;
    }

    private static Timeline BindChannel() => new Timeline()
        .Send(-20, Client, Turn, TurnMessage(0x0003, 90)) // Allocate request
        .Send(-19, Turn, Client, TurnMessage(0x0113, 90)) // Allocate error (401), as a TURN server first answers
        .Send(-10, Client, Turn, TurnMessage(0x0009, 91, (0x000C, [0x40, 0x00, 0, 0]), (0x0012, XorPeerAddress(Peer))))
        .Send(-9, Turn, Client, TurnMessage(0x0109, 91));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Chromium_dtls13_through_turn_channel_data_is_unwrapped_and_has_no_finding_rfc8656_12_4(bool pad)
    {
        var t = BindChannel();
        foreach (var (ms, fromClient, payload) in ChromiumVector())
        {
            t.Send(ms, fromClient ? Client : Turn, fromClient ? Turn : Client, ChannelData(Channel, payload, pad));
        }

        var r = t.Analyze();

        var s = Assert.Single(r.Sessions);
        Assert.Empty(s.Verdicts);
        Assert.Equal("DTLS 1.3", s.Version);
        Assert.Equal(Client, s.Client);
        Assert.Equal(Peer, s.Server);
        Assert.All(s.Events, e => Assert.Equal(new TurnRelay(Turn, Channel, true), e.Relay));
        Assert.Equal(4, r.Stats.TurnControlMessages);
        Assert.True(r.Stats.TurnChannelData > 20);
        Assert.Contains("via TURN 10.0.0.1:3478 channel 0x4000", DoctorReport.RenderText(r), StringComparison.Ordinal);
        using var json = JsonDocument.Parse(DoctorReport.RenderJson(r));
        Assert.Equal(0x4000, json.RootElement.GetProperty("sessions")[0].GetProperty("relays")[0].GetProperty("channel").GetInt32());
    }

    [Fact]
    public void Chromium_dtls13_through_turn_send_and_data_indications_is_unwrapped_rfc8656_10()
    {
        var t = new Timeline();
        var txid = 1000;
        foreach (var (ms, fromClient, payload) in ChromiumVector())
        {
            // Send indication (0x0016) from the client, Data indication (0x0017) from the server.
            t.Send(ms, fromClient ? Client : Turn, fromClient ? Turn : Client, TurnMessage(fromClient ? (ushort)0x0016 : (ushort)0x0017, txid++, (0x0012, XorPeerAddress(Peer)), (0x0013, payload)));
        }

        var r = t.Analyze();

        var s = Assert.Single(r.Sessions);
        Assert.Empty(s.Verdicts);
        Assert.Equal("DTLS 1.3", s.Version);
        Assert.Equal(Peer, s.Server);
        Assert.All(s.Events, e => Assert.Equal(new TurnRelay(Turn, null, true), e.Relay));
        Assert.Contains("via TURN 10.0.0.1:3478 Send/Data indications", DoctorReport.RenderText(r), StringComparison.Ordinal);
    }

    [Fact]
    public void F4_glued_flight_through_a_turn_channel_is_named_with_the_relay_scenarios_f4()
    {
        var t = BindChannel()
            .Send(0, Client, Turn, ChannelData(Channel, ClientHello(), pad: true))
            .Send(10, Turn, Client, ChannelData(Channel, HelloVerifyRequest(), pad: true))
            .Send(20, Client, Turn, ChannelData(Channel, ClientHello(1, 32, 1), pad: true));
        foreach (var ms in new double[] { 30, 90, 220, 480, 1000 })
        {
            t.Send(ms, Turn, Client, ChannelData(Channel, Concat(Message(2, 1, ServerHelloBody(), 1), GluedCertificate(2772, 2)), pad: true));
        }

        t.Send(500, Client, Turn, ChannelData(Channel, ClientHello(1, 32, 2), pad: true));

        var r = t.Analyze();

        var s = Assert.Single(r.Sessions);
        var v = Assert.Single(s.Verdicts, v => v.Code == VerdictCodes.F4);
        Assert.Equal(Severity.Failure, v.Severity);
        Assert.Equal(Peer, s.Server);
        Assert.Contains("via TURN 10.0.0.1:3478 channel 0x4000", DoctorReport.RenderText(r), StringComparison.Ordinal);
    }

    [Fact]
    public void Channel_data_bound_before_the_capture_began_is_unwrapped_with_the_turn_server_standing_in_for_the_peer()
    {
        var t = new Timeline();
        foreach (var (ms, fromClient, payload) in ChromiumVector())
        {
            t.Send(ms, fromClient ? Client : Turn, fromClient ? Turn : Client, ChannelData(0x4001, payload, pad: false));
        }

        var s = Assert.Single(t.Analyze().Sessions);

        Assert.Empty(s.Verdicts);
        Assert.Equal(Turn, s.Server);
        Assert.All(s.Events, e => Assert.False(e.Relay!.PeerKnown));
    }

    [Fact]
    public void Malformed_channel_data_and_indications_are_left_as_they_are_without_a_crash()
    {
        var t = new Timeline()
            .Send(0, Client, Turn, [0x40, 0x00, 0x10, 0x00, 1, 2, 3]) // length 4096 in a 7-byte datagram
            .Send(1, Client, Turn, [0x7F, 0xFF, 0x00, 0x00]) // empty ChannelData
            .Send(2, Client, Turn, TurnMessage(0x0016, 5, (0x0013, [1, 2, 3]))) // Send indication without XOR-PEER-ADDRESS
            .Send(3, Client, Turn, TurnMessage(0x0016, 6, (0x0012, [0, 9, 0, 0]), (0x0013, [1]))); // bad address family

        var r = t.Analyze();

        Assert.Equal(1, r.Stats.TurnChannelData); // only the well-formed empty one
        Assert.Equal(0, r.Stats.TurnIndications);
    }
}
