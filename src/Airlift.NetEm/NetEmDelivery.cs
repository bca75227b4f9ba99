namespace Airlift.NetEm;

/// <summary>A datagram leaving the emulated path.</summary>
/// <param name="Direction">Direction it travelled.</param>
/// <param name="Datagram">The bytes (a private copy; duplicates get their own copy).</param>
/// <param name="SentAt">Time it was handed to <see cref="NetworkEmulator.Send(TimeSpan, LinkDirection, ReadOnlySpan{byte}, int)"/>.</param>
/// <param name="DeliverAt">Time the path releases it.</param>
/// <param name="Flow">The caller's tag from Send (the proxy uses it to find the client); 0 when not given.</param>
public sealed record NetEmDelivery(LinkDirection Direction, byte[] Datagram, TimeSpan SentAt, TimeSpan DeliverAt, int Flow = 0);
