using System.Net;
using System.Text;
using Airlift.Ice;
using Airlift.Ice.Stun;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>stun-ice</c>: the STUN decoder (with MESSAGE-INTEGRITY verification) and the ICE-lite agent, with the ICE
/// credentials of the captured Chromium (header bit 0 clear) or Firefox sessions, so the captured checks authenticate.
/// Header bit 1 also sets the remote credentials; bit 2 allows only two tuples. Each step is one datagram on one of four
/// tuples (control bits 0-1); control bit 2 moves time 5 s on, bit 3 31 s (consent expiry), bit 4 closes the agent.
/// Checked: every datagram the agent sends decodes as STUN; polling ends.
/// </summary>
internal static class IceTarget
{
    public static readonly (string Ufrag, string Password, string RemoteUfrag, string RemotePassword)[] Credentials =
    [
        ("srvU", "serverpasswordserverpassword", "RutT", "remotepasswordremotepassword1"),
        ("JwgcGTVC", "Ho7ijS4jBySbgfifLFWLdu8n", "e5cb8c26", "d9000ad804295edf01d05cb5c79c5ed3"),
    ];

    public static readonly IceTuple[] Tuples =
    [
        new(new IPEndPoint(IPAddress.Parse("127.0.0.1"), 5678), new IPEndPoint(IPAddress.Parse("127.0.0.1"), 57165), IceProtocol.Udp),
        new(new IPEndPoint(IPAddress.Parse("127.0.0.1"), 5678), new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4000), IceProtocol.Udp),
        new(new IPEndPoint(IPAddress.Parse("::1"), 5678), new IPEndPoint(IPAddress.Parse("2001:db8::7"), 4000), IceProtocol.Udp),
        new(new IPEndPoint(IPAddress.Parse("127.0.0.1"), 5678), new IPEndPoint(IPAddress.Parse("127.0.0.1"), 40000), IceProtocol.Tcp),
    ];

    public static void Run(ReadOnlySpan<byte> input)
    {
        FuzzLogger.Reset();
        var script = new FuzzScript(input);
        var credentials = Credentials[script.Header & 1];
        var random = RandomSource.Seeded(21);
        var agent = new IceLiteAgent(new IceLiteAgentOptions
        {
            FillRandom = random.Fill,
            LocalUfrag = credentials.Ufrag,
            LocalPassword = credentials.Password,
            MaxTuples = (script.Header & 4) != 0 ? 2 : 16,
            LoggerFactory = FuzzLogger.Factory,
        });
        if ((script.Header & 2) != 0)
        {
            agent.SetRemoteCredentials(credentials.RemoteUfrag, credentials.RemotePassword);
        }

        var key = Encoding.UTF8.GetBytes(credentials.Password);
        var now = TimeSpan.Zero;
        while (script.TryNext(out var control, out var payload))
        {
            if ((control & 12) != 0)
            {
                now += TimeSpan.FromSeconds(((control & 4) != 0 ? 5 : 0) + ((control & 8) != 0 ? 31 : 0));
                agent.HandleTimeout(now);
                Drain(agent);
            }

            // The decoder on its own, as a host that parses once and routes by USERNAME does.
            if (StunMessage.TryDecode(payload, out var message, out _) && message!.HasMessageIntegrity)
            {
                _ = message.VerifyMessageIntegrity(payload, key);
            }

            // Half the inputs go down the host's path: decoded once above, the decoded message handed to the agent.
            _ = (control & 32) != 0 && message is not null
                ? agent.HandleDecodedStun(now, Tuples[control & 3], payload, message)
                : agent.HandleDatagram(now, Tuples[control & 3], payload);
            Drain(agent);
            if ((control & 16) != 0)
            {
                agent.Close();
                Drain(agent);
            }
        }

        FuzzTrace.Write($"agent {agent.State}, selected {agent.SelectedTuple}, stats {agent.Stats}");
    }

    private static void Drain(IceLiteAgent agent)
    {
        FuzzLogger.ThrowIfCaptured();
        if (agent.Stats.InternalErrors > 0)
        {
            throw new FuzzFindingException($"the agent counted {agent.Stats.InternalErrors} internal error(s)");
        }

        Span<byte> buffer = stackalloc byte[1500];
        for (var i = 0; i < 10_000; i++)
        {
            var output = agent.PollOutput(buffer);
            switch (output.Kind)
            {
                case IceOutputKind.Transmit:
                    if (!StunMessage.TryDecode(buffer[..output.Length], out _, out var error))
                    {
                        throw new FuzzFindingException($"the agent sent a datagram that does not decode as STUN: {error}");
                    }

                    continue;
                case IceOutputKind.Event:
                    continue;
                case IceOutputKind.BufferTooSmall:
                    throw new FuzzFindingException($"the agent wants to send a {output.Length}-byte STUN datagram");
                default:
                    if (output.Deadline != agent.NextDeadline)
                    {
                        throw new FuzzFindingException("PollOutput's deadline is not the agent's NextDeadline");
                    }

                    return;
            }
        }

        throw new FuzzFindingException("the agent's output did not end within 10000 polls");
    }
}
