namespace Airlift.Dtls.Handshake;

/// <summary>One item of a flight: a handshake message in a given epoch, or a ChangeCipherSpec.</summary>
internal readonly record struct FlightEntry(ushort Epoch, HandshakeMessage? Message)
{
    /// <summary>A ChangeCipherSpec (always sent in the epoch it closes, 0).</summary>
    public static FlightEntry ChangeCipherSpec => new(0, null);

    /// <summary>True for the ChangeCipherSpec entry.</summary>
    public bool IsChangeCipherSpec => Message is null;

    /// <summary>Short name for ladders and reports.</summary>
    public override string ToString() => Message is null ? "CCS" : Message.Type.ToString();
}

/// <summary>
/// The retransmission state machine of RFC 6347 4.2.4 (RFC 9147 5.8), one value per endpoint.
/// PREPARING: building the next flight; SENDING: writing it out; WAITING: timer armed for the peer's next
/// flight; FINISHED: our last flight is out (kept for a while by the side that sent the final flight).
/// </summary>
internal enum FlightState
{
    Preparing,
    Sending,
    Waiting,
    Finished,
}
