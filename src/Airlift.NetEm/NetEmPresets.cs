using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Airlift.NetEm;

/// <summary>
/// Named impairment profiles: the four field failures of SCENARIOS.md and two everyday access networks.
/// Every preset uses seed 0; change it with <c>preset with { Seed = n }</c>.
/// </summary>
public static class NetEmPresets
{
    /// <summary>UDP payload that fits a 1492-byte link MTU: 1492 - 20 (IPv4 header) - 8 (UDP header).</summary>
    public const int PathMtu1492UdpPayload = 1492 - 20 - 8;

    /// <summary>Receive buffer of the TURN relay module in F4.</summary>
    public const int TurnRelayBufferSize = 1600;

    /// <summary>Loss rate of <c>f2-downlink-loss</c> without a number: the worst level of the F2 weak-network test.</summary>
    public const double DefaultDownlinkLossRate = 0.20;

    /// <summary>The kebab-case names <see cref="TryGet"/> accepts (the parameterised ones take a suffix, see there).</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["none", "f1-path-mtu", "f2-downlink-loss", "f3-one-way", "f4-turn-relay", "wifi", "cellular"];

    /// <summary>
    /// F1: the client sits behind a 1492-byte link MTU (a home router, PPPoE-sized) and IP fragments do not
    /// get through, so any UDP payload above 1464 bytes vanishes, in both directions. The field saw
    /// 1499- and 1474-byte server flights disappear this way.
    /// </summary>
    public static NetEmOptions F1PathMtu { get; } = Symmetric(new LinkImpairment { MaxDatagramSize = PathMtu1492UdpPayload });

    /// <summary>
    /// F3: a one-way path. The client reaches the server but nothing comes back (the IPv6 NAT of the
    /// field report): server-to-client is a black hole, client-to-server is clean.
    /// </summary>
    public static NetEmOptions F3OneWay { get; } = NetEmOptions.None with
    {
        ServerToClient = new LinkImpairment { Blackhole = true },
    };

    /// <summary>
    /// A home Wi-Fi hop: 20 ms +- 10 ms one way, 1% independent loss plus short bursts (mean 2 datagrams,
    /// half lost) adding about 0.5%, so 1-2% loss overall, and 0.5% of datagrams reordered by 5 ms.
    /// The numbers are the project's target profile for "ordinary Wi-Fi", in the range people usually give
    /// Linux netem for it; they are not a measurement.
    /// </summary>
    public static NetEmOptions Wifi { get; } = Symmetric(new LinkImpairment
    {
        Delay = TimeSpan.FromMilliseconds(20),
        Jitter = TimeSpan.FromMilliseconds(10),
        LossRate = 0.01,
        Burst = new BurstLoss(pGoodToBad: 0.005, pBadToGood: 0.5, lossInBad: 0.5),
        ReorderRate = 0.005,
        ReorderDelay = TimeSpan.FromMilliseconds(5),
    });

    /// <summary>
    /// A mobile (LTE-like) link: 60 ms +- 30 ms one way, 0.5% independent loss plus Gilbert-Elliott bursts
    /// (p = 1%, r = 25%: mean burst 4 datagrams, half lost) adding about 1.9%, so 1-3% loss overall;
    /// 1% reordered by 10 ms, 0.1% duplicated. The project's target profile for "cellular", not a measurement.
    /// </summary>
    public static NetEmOptions Cellular { get; } = Symmetric(new LinkImpairment
    {
        Delay = TimeSpan.FromMilliseconds(60),
        Jitter = TimeSpan.FromMilliseconds(30),
        LossRate = 0.005,
        Burst = new BurstLoss(pGoodToBad: 0.01, pBadToGood: 0.25, lossInBad: 0.5),
        ReorderRate = 0.01,
        ReorderDelay = TimeSpan.FromMilliseconds(10),
        DuplicateRate = 0.001,
    });

    /// <summary>
    /// F2: independent loss on the downlink (server to client) only; the field test used 5%, 10% and 20%.
    /// The uplink is clean.
    /// </summary>
    /// <param name="rate">Loss probability in [0, 1].</param>
    public static NetEmOptions F2DownlinkLoss(double rate) => NetEmOptions.None with
    {
        ServerToClient = new LinkImpairment { LossRate = rate },
    };

    /// <summary>
    /// F4: the path runs through a TURN relay whose receive buffer is <paramref name="maxDatagram"/> bytes
    /// (1600 in the field); larger datagrams never come out, in both directions. The field's 2969-byte glued
    /// flight died this way. Use 1200 for the stricter case SCENARIOS.md also asks for.
    /// </summary>
    /// <param name="maxDatagram">Largest datagram the relay passes.</param>
    public static NetEmOptions F4TurnRelay(int maxDatagram = TurnRelayBufferSize) =>
        Symmetric(new LinkImpairment { MaxDatagramSize = maxDatagram });

    /// <summary>
    /// Looks a preset up by kebab-case name (case-insensitive): <c>none</c>, <c>f1-path-mtu</c>,
    /// <c>f2-downlink-loss</c> (20%) or <c>f2-downlink-loss-N</c> (N percent, e.g. <c>f2-downlink-loss-5</c>),
    /// <c>f3-one-way</c>, <c>f4-turn-relay</c> (1600) or <c>f4-turn-relay-N</c> (N bytes, e.g.
    /// <c>f4-turn-relay-1200</c>), <c>wifi</c>, <c>cellular</c>.
    /// </summary>
    public static bool TryGet(string name, [NotNullWhen(true)] out NetEmOptions? options)
    {
        options = null;
        if (string.IsNullOrWhiteSpace(name))
        {
            return false;
        }

        var key = name.Trim().ToLowerInvariant();
        options = key switch
        {
            "none" => NetEmOptions.None,
            "f1-path-mtu" => F1PathMtu,
            "f2-downlink-loss" => F2DownlinkLoss(DefaultDownlinkLossRate),
            "f3-one-way" => F3OneWay,
            "f4-turn-relay" => F4TurnRelay(),
            "wifi" => Wifi,
            "cellular" => Cellular,
            _ => null,
        };
        if (options is not null)
        {
            return true;
        }

        if (TrySuffix(key, "f2-downlink-loss-", out var percent) && percent <= 100)
        {
            options = F2DownlinkLoss(percent / 100.0);
        }
        else if (TrySuffix(key, "f4-turn-relay-", out var size) && size >= 1)
        {
            options = F4TurnRelay(size);
        }

        return options is not null;
    }

    private static bool TrySuffix(string key, string prefix, out int value)
    {
        value = 0;
        return key.StartsWith(prefix, StringComparison.Ordinal)
            && int.TryParse(key.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static NetEmOptions Symmetric(LinkImpairment impairment) => new(impairment, impairment, [], 0);
}
