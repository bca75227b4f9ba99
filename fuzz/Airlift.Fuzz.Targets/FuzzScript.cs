using System.Buffers.Binary;

namespace Airlift.Fuzz;

/// <summary>
/// The input format shared by the multi-datagram targets: one header byte (the target's mode bits), then steps of
/// <c>[control][length, 16-bit big-endian][length bytes]</c>. A length past the end takes what is left, so every input
/// means something. At most <see cref="MaxSteps"/> steps are read; the rest is ignored (bounded work per input).
/// </summary>
public ref struct FuzzScript
{
    /// <summary>Most steps read from one input.</summary>
    public const int MaxSteps = 32;

    private ReadOnlySpan<byte> _rest;
    private int _steps;

    /// <summary>Starts reading <paramref name="input"/>; an empty input has header 0 and no steps.</summary>
    public FuzzScript(ReadOnlySpan<byte> input)
    {
        Header = input.IsEmpty ? (byte)0 : input[0];
        _rest = input.IsEmpty ? default : input[1..];
    }

    /// <summary>The first byte of the input (mode bits).</summary>
    public byte Header { get; }

    /// <summary>Reads the next step; false when the input or the step budget is exhausted.</summary>
    public bool TryNext(out byte control, out ReadOnlySpan<byte> payload)
    {
        control = 0;
        payload = default;
        if (_rest.IsEmpty || _steps >= MaxSteps)
        {
            return false;
        }

        _steps++;
        control = _rest[0];
        _rest = _rest[1..];
        var length = _rest.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(_rest) : 0;
        _rest = _rest[Math.Min(2, _rest.Length)..];
        length = Math.Min(length, _rest.Length);
        payload = _rest[..length];
        _rest = _rest[length..];
        return true;
    }

    /// <summary>Encodes a step in this format (corpus making and tests).</summary>
    public static byte[] Step(byte control, ReadOnlySpan<byte> payload)
    {
        var step = new byte[3 + payload.Length];
        step[0] = control;
        BinaryPrimitives.WriteUInt16BigEndian(step.AsSpan(1), (ushort)payload.Length);
        payload.CopyTo(step.AsSpan(3));
        return step;
    }

    /// <summary>Concatenates a header byte and steps into one input.</summary>
    public static byte[] Build(byte header, IEnumerable<byte[]> steps)
    {
        var result = new List<byte> { header };
        foreach (var s in steps)
        {
            result.AddRange(s);
        }

        return [.. result];
    }
}

/// <summary>
/// An invariant of an engine was broken (an unbounded loop, an oversized datagram, an internal error reported as a
/// failure...). Thrown by a target; afl++ records it as a crash like any other exception that escapes the engine.
/// </summary>
public sealed class FuzzFindingException : Exception
{
    /// <summary>Creates a finding.</summary>
    public FuzzFindingException(string message)
        : base(message)
    {
    }

    /// <summary>Creates a finding.</summary>
    public FuzzFindingException()
    {
    }

    /// <summary>Creates a finding with its cause.</summary>
    public FuzzFindingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Optional trace of what an input reached (AIRLIFT_FUZZ_TRACE=1 with <c>replay</c>), to check that seeds go deep.</summary>
public static class FuzzTrace
{
    /// <summary>True when AIRLIFT_FUZZ_TRACE is set to 1.</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("AIRLIFT_FUZZ_TRACE") == "1";

    /// <summary>Writes a line to stderr when enabled.</summary>
    public static void Write(string line)
    {
        if (Enabled)
        {
            Console.Error.WriteLine("  trace: " + line);
        }
    }
}
