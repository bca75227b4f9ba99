using System.Net;
using Airlift.Dtls;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>dtls-listener</c>: the stateless cookie front (<see cref="DtlsServerListener"/>) with a seeded cookie secret
/// at a fixed time, so a recorded ClientHello with its cookie stays valid and the fuzzer can mutate past the cookie check.
/// Each step is one datagram from one of four peer addresses (control bits 0-1); control bit 2 moves time 45 s on
/// (cookie rotation). Once a peer is accepted, its datagrams go to its endpoint, as a socket loop routes them, unless
/// control bit 3 sends one to the listener anyway (a socket loop does that with a new ClientHello from a known address:
/// RFC 6347 4.2.8), and a new acceptance then replaces the peer's endpoint.
/// Header bit 0 gives the listener a response buffer too small for a HelloVerifyRequest. Header bit 1 makes it a DTLS
/// 1.3 listener (1.3 and 1.2, as servers are by default): ClientHellos over several datagrams are assembled (bounded),
/// answered with a stateless HelloRetryRequest, remembered for their copies, and accepted on a valid cookie.
/// Checked: a HelloVerifyRequest (all its copies) is never larger than the datagram that caused it; over the whole
/// input, the listener never sends more bytes than it received, IP and UDP headers counted (HelloRetryRequests answer
/// whole hellos, so they are held to the total).
/// </summary>
internal static class ListenerTarget
{
    public static readonly TimeSpan Start = TimeSpan.FromSeconds(1000);

    public static readonly IPEndPoint[] Remotes =
    [
        new(IPAddress.Parse("192.0.2.10"), 5000),
        new(IPAddress.Parse("192.0.2.10"), 5001),
        new(IPAddress.Parse("2001:db8::10"), 5000),
        new(IPAddress.Parse("::ffff:192.0.2.10"), 5000),
    ];

    public static DtlsOptions ListenerOptions(bool dtls13 = false)
    {
        var options = DtlsPair.Options(DtlsRole.Server, default, underTest: true, seed: 11, dtls13: dtls13);
        return dtls13 ? options with { ProtocolVersions = [ProtocolVersion.Dtls13, ProtocolVersion.Dtls12] } : options;
    }

    /// <summary>IPv4 and UDP header bytes counted around every datagram in and out (the amplification check).</summary>
    private const int Headers = 28;

    public static void Run(ReadOnlySpan<byte> input)
    {
        FuzzLogger.Reset();
        var script = new FuzzScript(input);
        var options = ListenerOptions(dtls13: (script.Header & 2) != 0);
        long bytesIn = 0, bytesOut = 0;
        var listener = new DtlsServerListener(options);
        var sessions = new DtlsSide?[Remotes.Length];
        var now = Start;
        Span<byte> response = stackalloc byte[(script.Header & 1) != 0 ? 32 : 512];
        while (script.TryNext(out var control, out var payload))
        {
            var index = control & 3;
            if ((control & 4) != 0)
            {
                now += TimeSpan.FromSeconds(45);
            }

            if (sessions[index] is { } session && (control & 8) == 0)
            {
                DtlsDriver.Deliver(session, now, payload);
                continue;
            }

            var decision = listener.HandleDatagram(now, Remotes[index], payload, response, out var length, out var copies, out var endpoint);
            FuzzLogger.ThrowIfCaptured();
            bytesIn += payload.Length + Headers;
            bytesOut += decision is DtlsListenerDecision.HelloVerifyRequest or DtlsListenerDecision.HelloRetryRequest ? (long)copies * (length + Headers) : 0;
            if (bytesOut > bytesIn)
            {
                throw new FuzzFindingException($"listener sent {bytesOut} bytes for {bytesIn} received (headers counted)");
            }

            if (listener.Stats.InternalErrors > 0)
            {
                throw new FuzzFindingException($"listener counted {listener.Stats.InternalErrors} internal error(s)");
            }

            switch (decision)
            {
                case DtlsListenerDecision.HelloVerifyRequest:
                    if (length <= 0 || length > response.Length || copies < 1 || (long)length * copies > payload.Length)
                    {
                        throw new FuzzFindingException($"listener answered {payload.Length} bytes with {copies} x {length} bytes");
                    }

                    break;
                case DtlsListenerDecision.HelloRetryRequest:
                    if (length <= 0 || length > response.Length || copies is < 1 or > 2 || endpoint is not null)
                    {
                        throw new FuzzFindingException($"HelloRetryRequest of {copies} x {length} bytes (endpoint: {endpoint is not null})");
                    }

                    break;
                case DtlsListenerDecision.Accepted:
                    var side = new DtlsSide("listener-endpoint", endpoint ?? throw new FuzzFindingException("Accepted without an endpoint"), options);
                    sessions[index]?.Endpoint.Dispose();
                    sessions[index] = side;
                    DtlsDriver.Drain(side);
                    break;
                default:
                    if (endpoint is not null || length != 0)
                    {
                        throw new FuzzFindingException("Dropped, yet an endpoint or a response was produced");
                    }

                    break;
            }
        }

        foreach (var s in sessions)
        {
            s?.Endpoint.Dispose();
        }

        FuzzLogger.ThrowIfCaptured();
        FuzzTrace.Write($"listener: HVR {listener.Stats.HelloVerifyRequestsSent}, accepted {listener.Stats.Accepted}, dropped {listener.Stats.Dropped}; sessions {string.Join(", ", sessions.Select(s => s?.Endpoint.State.ToString() ?? "-"))}");
    }
}
