using System.Buffers.Binary;
using Airlift.Transport;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>rfc4571</c>: the ICE-TCP framer against a naive reference parser. Header bits 0-2 pick the frame limit; each
/// step's payload arrives as received bytes (control bit 0: through <c>GetWriteBuffer</c>/<c>Advance</c> instead of
/// <c>Append</c>); control bit 1 reads frames only after the step. Checked: the frames equal the reference's, no frame
/// exceeds the limit, the buffered count stays within the fixed buffer, and an oversized prefix stops the stream.
/// </summary>
internal static class FramerTarget
{
    private static readonly int[] Limits = [1, 2, 3, 64, 1200, 1500, 65535, 600];

    public static void Run(ReadOnlySpan<byte> input)
    {
        var script = new FuzzScript(input);
        var limit = Limits[script.Header & 7];
        var framer = new Rfc4571Framer(limit);
        var accepted = new List<byte>();
        var frames = new List<byte[]>();
        while (script.TryNext(out var control, out var payload))
        {
            int taken;
            if ((control & 1) != 0)
            {
                var free = framer.GetWriteBuffer().Span;
                taken = Math.Min(free.Length, payload.Length);
                payload[..taken].CopyTo(free);
                framer.Advance(taken);
            }
            else
            {
                taken = framer.Append(payload);
            }

            if (taken < 0 || taken > payload.Length)
            {
                throw new FuzzFindingException($"took {taken} of {payload.Length} bytes");
            }

            if (taken == 0 && !payload.IsEmpty && !framer.IsOversized && framer.Buffered < Rfc4571Framer.HeaderLength + limit)
            {
                throw new FuzzFindingException($"took nothing with {framer.Buffered} of {Rfc4571Framer.HeaderLength + limit} bytes buffered");
            }

            accepted.AddRange(payload[..taken]);
            if ((control & 2) == 0)
            {
                ReadAll(framer, frames, limit);
            }

            if (framer.Buffered < 0 || framer.Buffered > Rfc4571Framer.HeaderLength + limit)
            {
                throw new FuzzFindingException($"buffered {framer.Buffered} bytes with a limit of {limit}");
            }
        }

        ReadAll(framer, frames, limit);
        var expected = Reference([.. accepted], limit, out var oversized);
        if (oversized != framer.IsOversized || expected.Count != frames.Count)
        {
            throw new FuzzFindingException($"framer gave {frames.Count} frames (oversized {framer.IsOversized}), reference {expected.Count} (oversized {oversized})");
        }

        for (var i = 0; i < frames.Count; i++)
        {
            if (!frames[i].AsSpan().SequenceEqual(expected[i]))
            {
                throw new FuzzFindingException($"frame {i} differs from the reference");
            }

            var encoded = new byte[Rfc4571Framer.HeaderLength + frames[i].Length];
            if (Rfc4571Framer.WriteFrame(frames[i], encoded) != encoded.Length)
            {
                throw new FuzzFindingException("WriteFrame length");
            }
        }
    }

    private static void ReadAll(Rfc4571Framer framer, List<byte[]> frames, int limit)
    {
        for (var i = 0; i < 100_000 && framer.TryReadFrame(out var frame); i++)
        {
            if (frame.Length > limit)
            {
                throw new FuzzFindingException($"a {frame.Length}-byte frame above the limit {limit}");
            }

            frames.Add(frame.ToArray());
        }
    }

    private static List<byte[]> Reference(byte[] stream, int limit, out bool oversized)
    {
        var result = new List<byte[]>();
        oversized = false;
        var at = 0;
        while (stream.Length - at >= 2)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(stream.AsSpan(at));
            if (length > limit)
            {
                oversized = true;
                break;
            }

            if (stream.Length - at - 2 < length)
            {
                break;
            }

            result.Add(stream.AsSpan(at + 2, length).ToArray());
            at += 2 + length;
        }

        return result;
    }
}
