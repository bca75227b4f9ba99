using Airlift.Dtls;

namespace Airlift.NetEm;

/// <summary>
/// A deliberate drop, for reproducing one exact failure instead of waiting for a seed to produce it.
/// The plain form drops the first <see cref="Count"/> datagrams in <see cref="Direction"/> that carry a DTLS
/// handshake message of type <see cref="HandshakeType"/>; with <see cref="DatagramIndex"/> set it drops
/// <see cref="Count"/> consecutive datagrams by their 0-based index in that direction instead.
/// </summary>
/// <remarks>
/// <para>
/// "Carries" means: the datagram holds an epoch-0 (plaintext) DTLS handshake record with a message or
/// fragment of that type (a fragmented message counts once per datagram that holds a piece of it).
/// </para>
/// <para>
/// Finished (type 20) is sent encrypted under epoch 1, so its type cannot be read. A datagram is taken
/// to carry Finished when it holds a ChangeCipherSpec record or any handshake record with epoch &gt;= 1: in
/// DTLS 1.2 without renegotiation the only encrypted handshake message is Finished, and it always
/// travels in the flight that starts with ChangeCipherSpec (RFC 6347 4.2.4, flights 5 and 6).
/// </para>
/// <para>
/// Every rule counts independently: a datagram that matches two rules uses up one from each. Rules
/// are evaluated before any other impairment, so the count is of datagrams offered to the path.
/// </para>
/// </remarks>
/// <param name="Direction">Direction the rule watches.</param>
/// <param name="HandshakeType">Handshake message type (RFC 5246 7.4), e.g. 2 for ServerHello, 20 for Finished.</param>
/// <param name="Count">How many matching datagrams to drop; at least 1.</param>
public sealed record ScriptedDrop(LinkDirection Direction, byte HandshakeType, int Count)
{
    /// <summary>When set, the rule ignores <see cref="HandshakeType"/> and drops datagrams number DatagramIndex .. DatagramIndex+Count-1 (0-based, per direction).</summary>
    public long? DatagramIndex { get; init; }

    /// <summary>Drops the first <paramref name="count"/> datagrams in <paramref name="direction"/> carrying a handshake message of <paramref name="type"/>.</summary>
    public static ScriptedDrop FirstWithHandshake(LinkDirection direction, HandshakeType type, int count = 1) => new(direction, type.Value, count);

    /// <summary>Drops the first <paramref name="count"/> datagrams in <paramref name="direction"/> that carry a final flight (ChangeCipherSpec / Finished).</summary>
    public static ScriptedDrop FinalFlight(LinkDirection direction, int count = 1) => new(direction, Dtls.HandshakeType.Finished.Value, count);

    /// <summary>Drops datagram number <paramref name="index"/> (0-based) in <paramref name="direction"/>, whatever it holds.</summary>
    public static ScriptedDrop DropNth(LinkDirection direction, long index) => DropRange(direction, index, 1);

    /// <summary>Drops <paramref name="count"/> consecutive datagrams starting at 0-based <paramref name="firstIndex"/> in <paramref name="direction"/>.</summary>
    public static ScriptedDrop DropRange(LinkDirection direction, long firstIndex, int count) => new(direction, 0, count) { DatagramIndex = firstIndex };

    /// <summary>Checks the rule.</summary>
    /// <exception cref="ArgumentException">The direction is unknown, the count is not positive, or the index is negative.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Direction))
        {
            throw new ArgumentException($"Unknown direction {Direction}.", nameof(Direction));
        }

        if (Count < 1)
        {
            throw new ArgumentException($"Count must be at least 1 (was {Count}).", nameof(Count));
        }

        if (DatagramIndex is < 0)
        {
            throw new ArgumentException($"DatagramIndex must not be negative (was {DatagramIndex}).", nameof(DatagramIndex));
        }
    }

    /// <inheritdoc/>
    public override string ToString() => DatagramIndex is { } index
        ? $"drop {Direction} datagrams #{index}..#{index + Count - 1}"
        : $"drop first {Count} {Direction} datagram(s) carrying {new HandshakeType(HandshakeType)}";
}
