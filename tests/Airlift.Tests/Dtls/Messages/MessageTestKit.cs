using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Tests.Dtls.Messages;

/// <summary>Same shape as every message's <c>TryDecode</c>.</summary>
internal delegate bool BodyDecoder<T>(ReadOnlySpan<byte> body, [NotNullWhen(true)] out T? message);

/// <summary>Same shape as every message's <c>Encode</c>.</summary>
internal delegate void BodyEncoder(ref WireWriter writer);

/// <summary>Round-trip and rejection checks shared by the message tests.</summary>
internal static class MessageTestKit
{
    public static byte[] Encode(BodyEncoder encode)
    {
        var buffer = new byte[8192];
        var writer = new WireWriter(buffer);
        encode(ref writer);
        Assert.False(writer.Overflowed);
        return writer.Written.ToArray();
    }

    public static T Decode<T>(BodyDecoder<T> decode, byte[] wire)
    {
        Assert.True(decode(wire, out var message));
        return message!;
    }

    /// <summary>
    /// Every strict prefix of <paramref name="wire"/> must fail to decode, except the lengths listed in
    /// <paramref name="validPrefixLengths"/> (a hello that simply ends before its optional extensions).
    /// </summary>
    public static void AssertEveryTruncationRejected<T>(BodyDecoder<T> decode, byte[] wire, params int[] validPrefixLengths)
    {
        for (var length = 0; length < wire.Length; length++)
        {
            var accepted = decode(wire.AsSpan(0, length), out _);
            Assert.True(accepted == validPrefixLengths.Contains(length), $"prefix of {length} of {wire.Length} bytes: accepted={accepted}");
        }
    }

    public static void AssertTrailingByteRejected<T>(BodyDecoder<T> decode, byte[] wire)
    {
        Assert.False(decode([.. wire, 0x00], out _));
        Assert.False(decode([.. wire, 0xFF, 0xFF], out _));
    }

    public static byte[] Bytes(int count, byte start)
    {
        var bytes = new byte[count];
        for (var i = 0; i < count; i++)
        {
            bytes[i] = (byte)(start + i);
        }

        return bytes;
    }
}
