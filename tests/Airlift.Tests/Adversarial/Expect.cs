using Airlift.Dtls;

namespace Airlift.Tests.Adversarial;


/// <summary>What one attack on a DTLS endpoint must lead to. Every outcome also proves that nothing else broke.</summary>
internal abstract record Expect;

/// <summary>
/// Dropped and counted: <paramref name="Counter"/> rises by <paramref name="Count"/> (at least that many when
/// <paramref name="AtLeast"/>), no other drop counter moves, no failure, the handshake state is unchanged, the target
/// answers with <paramref name="Answers"/> datagrams; then the genuine traffic still completes the handshake (or data
/// still flows both ways once connected).
/// </summary>
/// <remarks>With <paramref name="Buffered"/>, the attack may leave bytes in reassembly (never above the configured budget).</remarks>
internal sealed record Dropped(Counter Counter, int Count = 1, int Answers = 0, bool AtLeast = false, bool Buffered = false) : Expect;

/// <summary>
/// Harmless to the protocol: the attack's bytes are taken as the genuine message they carry (e.g. a message cut into
/// overlapping or one-byte fragments, RFC 6347 4.2.3); no drop counter moves, no failure, and the handshake completes.
/// </summary>
internal sealed record Completes : Expect;

/// <summary>
/// Fatal: the target fails with <paramref name="Reason"/>, reports <paramref name="Alert"/>, and (when
/// <paramref name="AlertSent"/>) sends exactly that fatal alert, which the peer receives as
/// <see cref="DtlsFailureReason.PeerAlert"/>. The target never connects, never exports keys, and stays silent after.
/// </summary>
internal sealed record Fatal(DtlsFailureReason Reason, AlertDescription Alert, bool AlertSent = true) : Expect;

/// <summary>
/// The peer's close_notify was honoured: the target reports <see cref="DtlsClosed"/> (ByPeer), answers with its own
/// close_notify when it was connected (RFC 5246 7.2.1; <paramref name="Answers"/> datagrams), then sends nothing more.
/// </summary>
internal sealed record ClosedByPeer(int Answers = 0) : Expect;
