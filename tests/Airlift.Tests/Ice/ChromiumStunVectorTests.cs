using System.Net;
using System.Text;
using System.Text.Json;
using Airlift.Ice;
using Airlift.Ice.Stun;

namespace Airlift.Tests.Ice;

public class ChromiumStunVectorTests
{
    // Named in the capture's description line.
    private const string ServerUfrag = "srvU";
    private const string ServerPassword = "serverpasswordserverpassword";
    private const int ServerPort = 5678;

    private static readonly byte[] ServerKey = Encoding.UTF8.GetBytes(ServerPassword);

    private sealed record Datagram(int From, int To, byte[] Bytes);

    private static List<Datagram> LoadStun()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "vectors", "chromium156-to-icelite-dtls12.jsonl");
        var result = new List<Datagram>();
        foreach (var line in File.ReadLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.TryGetProperty("kind", out var kind) && kind.GetString() == "stun")
            {
                result.Add(new Datagram(root.GetProperty("from").GetInt32(), root.GetProperty("to").GetInt32(), Convert.FromHexString(root.GetProperty("hex").GetString()!)));
            }
        }

        return result;
    }

    [Fact]
    public void Chromium_checks_decode_verify_and_carry_ice_controlling_and_its_0xC057_attribute_is_ignored()
    {
        var requests = LoadStun().Where(d => d.To == ServerPort).ToList();
        Assert.Equal(5, requests.Count);
        foreach (var d in requests)
        {
            Assert.True(StunMessage.TryDecode(d.Bytes, out var m, out var error), error.ToString());
            Assert.Equal(StunMessageType.BindingRequest, m!.Type);
            Assert.Equal("srvU:RutT", m.Username);
            Assert.NotNull(m.IceControlling);
            Assert.Null(m.IceControlled);
            Assert.NotNull(m.Priority);
            Assert.True(m.HasFingerprint);
            Assert.Empty(m.UnknownComprehensionRequired);
            Assert.True(m.VerifyMessageIntegrity(d.Bytes, ServerKey));
        }

        // The first check is not nominating; Chromium then nominates with USE-CANDIDATE.
        Assert.True(StunMessage.TryDecode(requests[0].Bytes, out var first, out _));
        Assert.False(first!.UseCandidate);
        Assert.True(StunMessage.TryDecode(requests[1].Bytes, out var second, out _));
        Assert.True(second!.UseCandidate);
    }

    [Fact]
    public void Captured_server_responses_decode_and_verify_with_the_server_password()
    {
        foreach (var d in LoadStun().Where(d => d.From == ServerPort))
        {
            Assert.True(StunMessage.TryDecode(d.Bytes, out var m, out var error), error.ToString());
            Assert.Equal(StunMessageType.BindingSuccess, m!.Type);
            Assert.Equal(new IPEndPoint(IPAddress.Loopback, d.To), m.XorMappedAddress);
            Assert.True(m.VerifyMessageIntegrity(d.Bytes, ServerKey));
        }
    }

    [Fact]
    public void Agent_answers_each_chromium_check_with_the_exact_bytes_the_reference_endpoint_sent()
    {
        var agent = new IceLiteAgent(new IceLiteAgentOptions
        {
            FillRandom = new Random(1).NextBytes,
            LocalUfrag = ServerUfrag,
            LocalPassword = ServerPassword,
        });
        agent.SetRemoteCredentials("RutT", "chromiumpasswordnotused00");
        var all = LoadStun();
        var now = TimeSpan.Zero;
        for (var i = 0; i < all.Count; i++)
        {
            var d = all[i];
            if (d.To != ServerPort)
            {
                continue;
            }

            var tuple = new IceTuple(new IPEndPoint(IPAddress.Loopback, ServerPort), new IPEndPoint(IPAddress.Loopback, d.From), IceProtocol.Udp);
            now += TimeSpan.FromMilliseconds(100);
            Assert.Equal(IceStunOutcome.Answered, agent.HandleStun(now, tuple, d.Bytes));
            Assert.True(agent.TryPollTransmit(out var tx));
            Assert.Equal(tuple, tx.Tuple);
            Assert.Equal(Convert.ToHexString(all[i + 1].Bytes), Convert.ToHexString(tx.Datagram.Span));
        }

        Assert.Equal(IceState.Completed, agent.State);
        Assert.Equal(5, agent.Stats.ChecksAnswered);
        Assert.Equal(4, agent.Stats.Nominations);
    }
}
