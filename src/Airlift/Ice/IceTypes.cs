using System.Net;

namespace Airlift.Ice;

/// <summary>Transport protocol of an ICE tuple.</summary>
public enum IceProtocol
{
    /// <summary>UDP.</summary>
    Udp,

    /// <summary>TCP (RFC 6544; an ICE-lite server offers passive TCP candidates).</summary>
    Tcp,
}

/// <summary>
/// A 5-tuple as ICE sees it: our local transport address, the peer's address, and the protocol.
/// Compared by value, so it can key dictionaries.
/// </summary>
/// <param name="Local">Local address the datagram arrived on (the local candidate).</param>
/// <param name="Remote">Source address of the peer (its candidate as seen by us).</param>
/// <param name="Protocol">UDP or TCP.</param>
public readonly record struct IceTuple(IPEndPoint Local, IPEndPoint Remote, IceProtocol Protocol)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Protocol.ToString().ToUpperInvariant()} {Local} <-> {Remote}";
}

/// <summary>A datagram the agent wants sent from <see cref="Tuple"/>'s local address to its remote address.</summary>
/// <param name="Tuple">The tuple to send on.</param>
/// <param name="Datagram">The bytes to send; owned by the caller once polled.</param>
public readonly record struct IceTransmit(IceTuple Tuple, ReadOnlyMemory<byte> Datagram);

/// <summary>What <see cref="IceLiteAgent.PollOutput"/> returned.</summary>
public enum IceOutputKind
{
    /// <summary>A datagram to send: <see cref="IceOutput.Length"/> bytes of the caller's buffer, on <see cref="IceOutput.Tuple"/>.</summary>
    Transmit,

    /// <summary>An event in <see cref="IceOutput.Event"/>.</summary>
    Event,

    /// <summary>Nothing more now: call <see cref="IceLiteAgent.HandleTimeout"/> at <see cref="IceOutput.Deadline"/>.</summary>
    Timeout,

    /// <summary>The caller's buffer cannot hold the next datagram (it needs <see cref="IceOutput.Length"/> bytes); nothing was consumed.</summary>
    BufferTooSmall,
}

/// <summary>One output of <see cref="IceLiteAgent.PollOutput"/>, shaped like <c>DtlsOutput</c> and <c>WebRtcOutput</c>.</summary>
/// <param name="Kind">What this is.</param>
/// <param name="Tuple">The tuple to send a <see cref="IceOutputKind.Transmit"/> on.</param>
/// <param name="Length">Bytes written (Transmit) or needed (BufferTooSmall).</param>
/// <param name="Event">The event (Event only).</param>
/// <param name="Deadline">When to call <see cref="IceLiteAgent.HandleTimeout"/> (Timeout only); <see cref="NoDeadline"/> when nothing is pending.</param>
public readonly record struct IceOutput(IceOutputKind Kind, IceTuple Tuple, int Length, IceEvent? Event, TimeSpan Deadline)
{
    /// <summary>"No deadline": <see cref="TimeSpan.MaxValue"/>, the value every Airlift engine uses (as <c>DtlsOutput.NoDeadline</c>).</summary>
    public static readonly TimeSpan NoDeadline = TimeSpan.MaxValue;
}

/// <summary>ICE connection state of a lite agent (a subset of RFC 8445 / W3C RTCIceConnectionState).</summary>
public enum IceState
{
    /// <summary>No valid connectivity check yet.</summary>
    New,

    /// <summary>A valid check arrived and a tuple is selected, but the controlling agent has not nominated it.</summary>
    Connected,

    /// <summary>The selected tuple was nominated (USE-CANDIDATE) by the controlling agent.</summary>
    Completed,

    /// <summary>Consent expired on every tuple (RFC 7675); a new valid check recovers.</summary>
    Disconnected,

    /// <summary>Disconnected for longer than the failure grace period. Terminal.</summary>
    Failed,

    /// <summary>Closed by <see cref="IceLiteAgent.Close"/>. Terminal.</summary>
    Closed,
}

/// <summary>What <see cref="IceLiteAgent.HandleStun"/> did with a datagram.</summary>
public enum IceStunOutcome
{
    /// <summary>A valid Binding request: answered with a success response.</summary>
    Answered,

    /// <summary>The request was answered with an error response (400, 401, 420 or 487).</summary>
    Rejected,

    /// <summary>
    /// Malformed, not a Binding request, an unauthenticated request too short to answer without
    /// amplification, or input in a terminal state: dropped and counted.
    /// </summary>
    Dropped,
}

/// <summary>An event reported by <see cref="IceLiteAgent.PollOutput"/>.</summary>
public abstract record IceEvent;

/// <summary>The agent's <see cref="IceState"/> changed.</summary>
/// <param name="State">The new state.</param>
public sealed record IceStateChanged(IceState State) : IceEvent;

/// <summary>
/// The selected tuple changed; DTLS and media must follow it at once (and resend any pending
/// flight on the new tuple). Null when no tuple is selected any more.
/// </summary>
/// <param name="Tuple">The newly selected tuple, or null.</param>
public sealed record SelectedTupleChanged(IceTuple? Tuple) : IceEvent;

/// <summary>Counters kept by an <see cref="IceLiteAgent"/> (a snapshot).</summary>
/// <param name="ChecksAnswered">Valid Binding requests answered with success.</param>
/// <param name="Nominations">Valid checks carrying USE-CANDIDATE.</param>
/// <param name="IntegrityFailures">Requests whose MESSAGE-INTEGRITY did not verify (answered 401).</param>
/// <param name="UnknownUsernames">Requests whose USERNAME did not name our ufrag and the peer's (answered 401).</param>
/// <param name="BadRequests">Requests missing USERNAME or MESSAGE-INTEGRITY, or otherwise invalid (answered 400).</param>
/// <param name="UnknownAttributeRejections">Requests with unknown comprehension-required attributes (answered 420).</param>
/// <param name="RoleConflicts">Requests from a peer that also claimed the controlled role (answered 487).</param>
/// <param name="Malformed">Datagrams that were not well-formed STUN (bad header, attribute or FINGERPRINT).</param>
/// <param name="Ignored">Well-formed STUN that was not a Binding request (indications, responses, other methods), or input after a terminal state.</param>
/// <param name="TuplesExpired">Tuples dropped because consent expired (RFC 7675).</param>
/// <param name="TuplesEvicted">Tuples evicted to stay within <see cref="IceLiteAgentOptions.MaxTuples"/>.</param>
/// <param name="TransmitsDropped">Responses dropped because the transmit queue was full.</param>
/// <param name="ErrorResponsesSuppressed">400/401 responses not sent because they would be larger than the unauthenticated request (anti-amplification).</param>
/// <param name="InternalErrors">Datagrams whose handling threw unexpectedly (a bug); each was dropped and counted, the agent kept working.</param>
public sealed record IceLiteStats(
    long ChecksAnswered,
    long Nominations,
    long IntegrityFailures,
    long UnknownUsernames,
    long BadRequests,
    long UnknownAttributeRejections,
    long RoleConflicts,
    long Malformed,
    long Ignored,
    long TuplesExpired,
    long TuplesEvicted,
    long TransmitsDropped,
    long ErrorResponsesSuppressed,
    long InternalErrors);
