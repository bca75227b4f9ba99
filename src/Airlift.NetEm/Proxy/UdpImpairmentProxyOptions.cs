using System.Net;

namespace Airlift.NetEm.Proxy;

/// <summary>Settings of a <see cref="UdpImpairmentProxy"/>.</summary>
/// <param name="Listen">Where clients send (port 0: pick a free port, see <see cref="UdpImpairmentProxy.ListenEndpoint"/>).</param>
/// <param name="Upstream">The server every client's datagrams are forwarded to.</param>
/// <param name="NetEm">Impairments; client-to-server is the clients' traffic, server-to-client the upstream's replies.</param>
public sealed record UdpImpairmentProxyOptions(IPEndPoint Listen, IPEndPoint Upstream, NetEmOptions NetEm)
{
    /// <summary>Default for <see cref="MaxClients"/>.</summary>
    public const int DefaultMaxClients = 64;

    /// <summary>Default for <see cref="ClientIdleTimeout"/> (60 s).</summary>
    public static readonly TimeSpan DefaultClientIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Largest accepted <see cref="ClientIdleTimeout"/> (one day).</summary>
    public static readonly TimeSpan MaxClientIdleTimeout = TimeSpan.FromDays(1);

    /// <summary>
    /// Accept listen or upstream addresses outside loopback. Off by default: a proxy listening on a
    /// reachable interface forwards whatever anyone sends it (an open relay), and a remote upstream sends
    /// emulated test traffic off the machine.
    /// </summary>
    public bool AllowNonLoopback { get; init; }

    /// <summary>Most client addresses served at once (each gets its own upstream socket); datagrams from further clients are dropped and counted.</summary>
    public int MaxClients { get; init; } = DefaultMaxClients;

    /// <summary>A client with no traffic either way for this long loses its upstream socket; its datagrams still in flight are dropped and counted.</summary>
    public TimeSpan ClientIdleTimeout { get; init; } = DefaultClientIdleTimeout;

    /// <summary>Checks the options, including the loopback rule.</summary>
    /// <exception cref="ArgumentException">An option is missing, out of range, or an address is not loopback while <see cref="AllowNonLoopback"/> is off.</exception>
    public void Validate()
    {
        if (Listen is null)
        {
            throw new ArgumentException("Listen endpoint is required.", nameof(Listen));
        }

        if (Upstream is null)
        {
            throw new ArgumentException("Upstream endpoint is required.", nameof(Upstream));
        }

        if (NetEm is null)
        {
            throw new ArgumentException("NetEm options are required (use NetEmOptions.None).", nameof(NetEm));
        }

        NetEm.Validate();
        if (Upstream.Port == 0)
        {
            throw new ArgumentException("Upstream port must not be 0.", nameof(Upstream));
        }

        if (MaxClients < 1)
        {
            throw new ArgumentException($"MaxClients must be at least 1 (was {MaxClients}).", nameof(MaxClients));
        }

        if (ClientIdleTimeout <= TimeSpan.Zero || ClientIdleTimeout > MaxClientIdleTimeout)
        {
            throw new ArgumentException($"ClientIdleTimeout must be within (0, {MaxClientIdleTimeout}] (was {ClientIdleTimeout}).", nameof(ClientIdleTimeout));
        }

        if (!AllowNonLoopback && !IsLoopback(Listen.Address))
        {
            throw new ArgumentException(
                $"Listen address {Listen.Address} is not loopback. The proxy forwards whatever it receives to the upstream, so on a reachable " +
                "interface it is an open relay for anyone who can send to it. Listen on 127.0.0.1 or ::1, or set AllowNonLoopback if you really mean it.",
                nameof(Listen));
        }

        if (!AllowNonLoopback && !IsLoopback(Upstream.Address))
        {
            throw new ArgumentException(
                $"Upstream address {Upstream.Address} is not loopback. The proxy would send emulated test traffic (duplicates included) off this " +
                "machine to a host that did not ask for it. Use a loopback upstream, or set AllowNonLoopback if you really mean it.",
                nameof(Upstream));
        }
    }

    internal static bool IsLoopback(IPAddress address) =>
        IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
}
