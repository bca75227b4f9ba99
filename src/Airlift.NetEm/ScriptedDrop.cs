using Airlift.Dtls;

namespace Airlift.NetEm;

/// <summary>
/// A deliberate drop, for reproducing one exact failure instead of waiting for a seed to produce it.
/// The plain form drops the first <see cref="Count"/> datagrams in <see cref="Direction"/> that carry a DTLS
/// handshake message of type <see cref="HandshakeType"/>; with <see cref="DatagramIndex"/> set it drops
/// <see cref="Count"/> consecutive datagrams by their 0-based index in that direction instead; with
/// <see cref="Dtls13Epoch"/> set it drops the first <see cref="Count"/> datagrams holding a DTLS 1.3 record of that epoch.
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
/// DTLS 1.3 (RFC 9147) encrypts the content type and the handshake type of every record after the ServerHello, so
/// the 1.2 rules above never match its flights; what stays visible is the low two bits of the epoch in the unified
/// header. <see cref="Dtls13FinalFlight"/> and <see cref="Dtls13Epoch"/> use them: epoch 2 carries each side's
/// encrypted handshake flight (the server's EncryptedExtensions..Finished, the client's final flight
/// Certificate..Finished), epoch 3 the first application epoch (the server's ACK of the client's final flight, and
/// application data).
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

    /// <summary>
    /// When set (0..3), the rule ignores <see cref="HandshakeType"/> and drops the first <see cref="Count"/> datagrams that hold a
    /// DTLS 1.3 unified-header record whose epoch's low two bits equal this value (RFC 9147 4).
    /// </summary>
    public int? Dtls13Epoch { get; init; }

    /// <summary>Drops the first <paramref name="count"/> datagrams in <paramref name="direction"/> carrying a handshake message of <paramref name="type"/>.</summary>
    public static ScriptedDrop FirstWithHandshake(LinkDirection direction, HandshakeType type, int count = 1) => new(direction, type.Value, count);

    /// <summary>Drops the first <paramref name="count"/> datagrams in <paramref name="direction"/> that carry a final flight (ChangeCipherSpec / Finished).</summary>
    public static ScriptedDrop FinalFlight(LinkDirection direction, int count = 1) => new(direction, Dtls.HandshakeType.Finished.Value, count);

    /// <summary>
    /// DTLS 1.3: drops the first <paramref name="count"/> datagrams in <paramref name="direction"/> that carry the sender's
    /// encrypted handshake flight (epoch 2): from the client its final flight (Certificate, CertificateVerify, Finished),
    /// from the server its EncryptedExtensions..Finished (with the ServerHello when they share a datagram). ACKs sent during
    /// the handshake also travel in epoch 2; on a path without other loss there are none before the final flight.
    /// </summary>
    public static ScriptedDrop Dtls13FinalFlight(LinkDirection direction, int count = 1) => Dtls13EpochDrop(direction, 2, count);

    /// <summary>DTLS 1.3: drops the first <paramref name="count"/> datagrams in <paramref name="direction"/> holding a record of epoch <paramref name="epoch"/> (low two bits).</summary>
    public static ScriptedDrop Dtls13EpochDrop(LinkDirection direction, int epoch, int count = 1) => new(direction, 0, count) { Dtls13Epoch = epoch & 3 };

    /// <summary>
    /// DTLS 1.3: drops the first <paramref name="count"/> datagrams in <paramref name="direction"/> of epoch 3; sent by the
    /// server right after the handshake they are its ACKs of the client's final flight (RFC 9147 7).
    /// </summary>
    public static ScriptedDrop Dtls13Ack(LinkDirection direction, int count = 1) => Dtls13EpochDrop(direction, 3, count);

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

        if (Dtls13Epoch is < 0 or > 3)
        {
            throw new ArgumentException($"Dtls13Epoch is the unified header's two epoch bits, 0..3 (was {Dtls13Epoch}).", nameof(Dtls13Epoch));
        }

        if (DatagramIndex is not null && Dtls13Epoch is not null)
        {
            throw new ArgumentException("A rule drops by DatagramIndex or by Dtls13Epoch, not both.", nameof(Dtls13Epoch));
        }
    }

    /// <inheritdoc/>
    public override string ToString() => (DatagramIndex, Dtls13Epoch) switch
    {
        ({ } index, _) => $"drop {Direction} datagrams #{index}..#{index + Count - 1}",
        (_, { } epoch) => $"drop first {Count} {Direction} datagram(s) with a DTLS 1.3 epoch-{epoch} record",
        _ => $"drop first {Count} {Direction} datagram(s) carrying {new HandshakeType(HandshakeType)}",
    };
}
