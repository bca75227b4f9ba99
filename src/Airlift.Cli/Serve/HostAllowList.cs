using System.Net;

namespace Airlift.Cli.Serve;

/// <summary>
/// The Host header values <c>airlift serve</c> answers (DNS rebinding protection): a page on another site can make the
/// browser resolve its own name to this server's address, but the browser still sends that name as Host, so a request whose
/// Host is not a name of ours is refused. Allowed by default: <c>localhost</c>, the loopback literals, the bound HTTP address
/// and the announced address; more with <c>--allowed-host</c>. The port is not compared (a port forward may change it).
/// Names compare case-insensitively, without a trailing dot.
/// </summary>
internal sealed class HostAllowList
{
    private readonly HashSet<string> _hosts = new(StringComparer.OrdinalIgnoreCase);

    public HostAllowList(IPAddress bound, IPAddress? announced, IEnumerable<string> extra)
    {
        _hosts.Add("localhost");
        _hosts.Add(IPAddress.Loopback.ToString());
        _hosts.Add(IPAddress.IPv6Loopback.ToString());
        _hosts.Add(bound.ToString());
        if (announced is not null)
        {
            _hosts.Add(announced.ToString());
        }

        foreach (var host in extra)
        {
            if (!TryParseAllowed(host, out var name))
            {
                throw new ArgumentException($"'{host}' is not a host name or IP address", nameof(extra));
            }

            _hosts.Add(name);
        }
    }

    /// <summary>The allowed names, sorted (for the startup line and errors).</summary>
    public IReadOnlyList<string> Hosts => [.. _hosts.Order(StringComparer.OrdinalIgnoreCase)];

    /// <summary>True when <paramref name="hostHeader"/> (the request's Host, with or without a port) names this server; no Host (HTTP/1.0) is allowed.</summary>
    public bool IsAllowed(string? hostHeader) =>
        string.IsNullOrEmpty(hostHeader) || (TryHostPart(hostHeader, out var host) && _hosts.Contains(host));

    /// <summary>A value for <c>--allowed-host</c>: a DNS name (letters, digits, hyphens, dots) or an IP literal, normalized.</summary>
    public static bool TryParseAllowed(string value, out string host)
    {
        host = "";
        var text = value.Trim();
        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            text = text[1..^1];
        }

        if (IPAddress.TryParse(text, out var ip) && (text.Contains(':', StringComparison.Ordinal) || text.Count(c => c == '.') == 3))
        {
            host = ip.ToString();
            return true;
        }

        text = text.TrimEnd('.');
        if (text.Length is 0 or > 253 || text.Split('.').Any(label => label.Length is 0 or > 63 || label.StartsWith('-') || label.EndsWith('-')
            || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')))
        {
            return false;
        }

        host = text.ToLowerInvariant();
        return true;
    }

    /// <summary>The host part of a Host header (RFC 9110 7.2: uri-host [":" port]), without brackets or trailing dot.</summary>
    internal static bool TryHostPart(string hostHeader, out string host)
    {
        host = "";
        var text = hostHeader.Trim();
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            return IPAddress.TryParse(host, out var v6) && (host = v6.ToString()).Length > 0;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            text = text[..colon];
        }

        host = text.TrimEnd('.').ToLowerInvariant();
        return host.Length > 0;
    }
}
