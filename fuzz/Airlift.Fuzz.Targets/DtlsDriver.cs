using Airlift.Dtls;

namespace Airlift.Fuzz;

/// <summary>One endpoint in a fuzzed exchange: what it sent and has not been delivered yet, and its next deadline.</summary>
internal sealed class DtlsSide(string name, DtlsEndpoint endpoint, DtlsOptions options)
{
    public string Name { get; } = name;

    public DtlsEndpoint Endpoint { get; } = endpoint;

    public DtlsOptions Options { get; } = options;

    /// <summary>Datagrams this side sent, oldest first (bounded: the oldest are dropped past <see cref="DtlsDriver.MaxQueued"/>).</summary>
    public Queue<byte[]> Out { get; } = new();

    public TimeSpan Deadline { get; set; } = DtlsOutput.NoDeadline;

    public bool Connected { get; set; }
}

/// <summary>
/// Drains endpoints by the documented rule and checks what comes out. An exception from the endpoint, an internal error
/// reported as a failure, a datagram above the configured size, or a drain that never reaches its timeout is a finding.
/// </summary>
internal static class DtlsDriver
{
    public const int MaxOutputsPerDrain = 4096;
    public const int MaxQueued = 256;

    [ThreadStatic]
    private static byte[]? s_buffer;

    public static void Drain(DtlsSide side)
    {
        FuzzLogger.ThrowIfCaptured();
        if (side.Endpoint.Stats.InternalErrors > 0)
        {
            throw new FuzzFindingException($"{side.Name}: {side.Endpoint.Stats.InternalErrors} internal error(s) counted");
        }

        var buffer = s_buffer ??= new byte[65536];
        for (var i = 0; i < MaxOutputsPerDrain; i++)
        {
            var output = side.Endpoint.PollOutput(buffer);
            switch (output.Kind)
            {
                case DtlsOutputKind.Datagram:
                    if (output.DatagramLength > side.Options.MaxDatagramSize)
                    {
                        throw new FuzzFindingException($"{side.Name}: sent a {output.DatagramLength}-byte datagram above MaxDatagramSize {side.Options.MaxDatagramSize}");
                    }

                    if (side.Out.Count >= MaxQueued)
                    {
                        side.Out.Dequeue();
                    }

                    side.Out.Enqueue(buffer.AsSpan(0, output.DatagramLength).ToArray());
                    break;
                case DtlsOutputKind.Event:
                    OnEvent(side, output.Event!);
                    break;
                default:
                    side.Deadline = output.Deadline;
                    FuzzLogger.ThrowIfCaptured();
                    return;
            }
        }

        throw new FuzzFindingException($"{side.Name}: PollOutput did not return Timeout within {MaxOutputsPerDrain} outputs");
    }

    public static void Deliver(DtlsSide to, TimeSpan now, ReadOnlySpan<byte> datagram)
    {
        to.Endpoint.HandleDatagram(now, datagram);
        Drain(to);
    }

    /// <summary>XORs <paramref name="mask"/> over the start of <paramref name="datagram"/> (an empty mask leaves it intact).</summary>
    public static byte[] Mask(byte[] datagram, ReadOnlySpan<byte> mask)
    {
        var n = Math.Min(mask.Length, datagram.Length);
        for (var i = 0; i < n; i++)
        {
            datagram[i] ^= mask[i];
        }

        return datagram;
    }

    private static void OnEvent(DtlsSide side, DtlsEvent e)
    {
        switch (e)
        {
            case DtlsFailed { Reason: DtlsFailureReason.InternalError } failed:
                throw new FuzzFindingException($"{side.Name}: failed with an internal error: {failed.Message}");
            case DtlsConnected:
                side.Connected = true;

                // What every consumer does on this event: export keying material. The event API promises it still works
                // when the endpoint moved on to Closed within the same datagram (issue 10, race-free events).
                _ = side.Endpoint.ExportKeyingMaterial("EXTRACTOR-airlift-fuzz", null, 32);
                break;
        }
    }
}
