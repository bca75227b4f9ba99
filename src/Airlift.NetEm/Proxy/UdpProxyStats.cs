namespace Airlift.NetEm.Proxy;

/// <summary>A snapshot of a <see cref="UdpImpairmentProxy"/>'s counters.</summary>
/// <param name="Emulator">The emulator's counters (client-to-server: clients' datagrams; server-to-client: replies).</param>
/// <param name="ActiveClients">Client addresses with an upstream socket now.</param>
/// <param name="ClientsAccepted">Client sessions opened so far.</param>
/// <param name="ClientsRejected">Datagrams dropped because <see cref="UdpImpairmentProxyOptions.MaxClients"/> were already served.</param>
/// <param name="ClientsExpired">Sessions closed for being idle.</param>
/// <param name="ReceivedFromClients">Datagrams received on the listen socket and handed to the emulator.</param>
/// <param name="ReceivedFromUpstream">Datagrams received from the upstream and handed to the emulator.</param>
/// <param name="SentToUpstream">Datagrams the emulator delivered and the proxy sent upstream.</param>
/// <param name="SentToClients">Datagrams the emulator delivered and the proxy sent to clients.</param>
/// <param name="DroppedClientGone">Deliveries dropped because their client session had expired or was closed.</param>
/// <param name="SocketErrors">Send or receive errors (e.g. ICMP port unreachable from a closed upstream), each one dropped datagram at most.</param>
public sealed record UdpProxyStats(
    NetEmStats Emulator,
    int ActiveClients,
    long ClientsAccepted,
    long ClientsRejected,
    long ClientsExpired,
    long ReceivedFromClients,
    long ReceivedFromUpstream,
    long SentToUpstream,
    long SentToClients,
    long DroppedClientGone,
    long SocketErrors);
