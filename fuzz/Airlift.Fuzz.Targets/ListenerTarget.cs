using System.Net;
using Airlift.Dtls;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>dtls-listener</c>: the stateless cookie front (<see cref="DtlsServerListener"/>) with a seeded cookie secret
/// at a fixed time, so a recorded ClientHello with its cookie stays valid and the fuzzer can mutate past the cookie check.
/// Each step is one datagram from one of four peer addresses (control bits 0-1); control bit 2 moves time 45 s on
/// (cookie rotation). Once a peer is accepted, its datagrams go to its endpoint, as a socket loop routes them.
/// Header bit 0 gives the listener a response buffer too small for a HelloVerifyRequest.
/// Checked: a HelloVerifyRequest (all its copies) is never larger than the datagram that caused it.
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

    public static DtlsOptions ListenerOptions() => DtlsPair.Options(DtlsRole.Server, default, underTest: true, seed: 11);

    public static void Run(ReadOnlySpan<byte> input)
    {
        FuzzLogger.Reset();
        var script = new FuzzScript(input);
        var options = ListenerOptions();
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

            if (sessions[index] is { } session)
            {
                DtlsDriver.Deliver(session, now, payload);
                continue;
            }

            var decision = listener.HandleDatagram(now, Remotes[index], payload, response, out var length, out var copies, out var endpoint);
            FuzzLogger.ThrowIfCaptured();
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
                case DtlsListenerDecision.Accepted:
                    var side = new DtlsSide("listener-endpoint", endpoint ?? throw new FuzzFindingException("Accepted without an endpoint"), options);
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
