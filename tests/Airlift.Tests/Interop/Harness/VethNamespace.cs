using System.Diagnostics;
using System.Net;

namespace Airlift.Tests.Interop;

/// <summary>A network namespace joined to the host by a veth pair, for peers (aiortc) that leave loopback out of their candidates. Needs root.</summary>
internal sealed class VethNamespace : IDisposable
{
    private readonly Action<string> _log;

    private VethNamespace(string name, string hostIf, IPAddress host, IPAddress peer, Action<string> log)
    {
        Name = name;
        HostInterface = hostIf;
        HostAddress = host;
        PeerAddress = peer;
        _log = log;
    }

    public string Name { get; }

    public string HostInterface { get; }

    public IPAddress HostAddress { get; }

    public IPAddress PeerAddress { get; }

    /// <summary>
    /// Creates namespace <c>airlift-{prefix}{id}</c> with a veth pair on 10.{octet}.{subnet}.0/24 (host .1, namespace .2).
    /// Names and subnet come from the pid and <paramref name="index"/> so parallel runs on one machine do not collide.
    /// </summary>
    public static async Task<VethNamespace> CreateAsync(string prefix, int octet, int index, Action<string> log)
    {
        var id = $"{Environment.ProcessId % 10000}{index}";
        var subnet = 1 + ((Environment.ProcessId * 2 + index) % 250);
        var ns = new VethNamespace($"airlift-{prefix}{id}", $"al{prefix[0]}{id}", IPAddress.Parse($"10.{octet}.{subnet}.1"), IPAddress.Parse($"10.{octet}.{subnet}.2"), log);
        var peerIf = $"alp{prefix[0]}{id}";
        try
        {
            await ns.Ip("netns", "add", ns.Name);
            await ns.Ip("link", "add", ns.HostInterface, "type", "veth", "peer", "name", peerIf);
            await ns.Ip("link", "set", peerIf, "netns", ns.Name);
            await ns.Ip("addr", "add", $"{ns.HostAddress}/24", "dev", ns.HostInterface);
            await ns.Ip("link", "set", ns.HostInterface, "up");
            await ns.Ip("netns", "exec", ns.Name, "ip", "addr", "add", $"{ns.PeerAddress}/24", "dev", peerIf);
            await ns.Ip("netns", "exec", ns.Name, "ip", "link", "set", peerIf, "up");
            await ns.Ip("netns", "exec", ns.Name, "ip", "link", "set", "lo", "up");
        }
        catch
        {
            ns.Dispose();
            throw;
        }

        return ns;
    }

    public void Dispose()
    {
        // Deleting the namespace destroys its veth end and with it ours; delete ours too in case the namespace never got it.
        RunQuiet("netns", "del", Name);
        RunQuiet("link", "del", HostInterface);
    }

    private async Task Ip(params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false })!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await p.WaitForExitAsync(cts.Token);
        var err = await p.StandardError.ReadToEndAsync(cts.Token);
        _log($"$ ip {string.Join(' ', args)} -> {p.ExitCode} {err.Trim()}");
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} failed: {err}");
        }
    }

    private static void RunQuiet(params string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false })!;
            p.WaitForExit(10_000);
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }
}
