using System.Net;
using System.Net.Sockets;

namespace Airlift.Tests.Interop;

/// <summary>Free UDP ports on loopback for peers that must be told a port up front.</summary>
internal static class UdpPorts
{
    /// <summary>
    /// Binds 127.0.0.1:0, reads the port the kernel chose, and closes the socket. Another process could
    /// take the port before the peer binds it; the kernel hands out ephemeral ports in rotation, so in
    /// practice that needs a very busy machine. gnutls-serv binds 0.0.0.0 and [::] too, so the port is
    /// also checked free there.
    /// </summary>
    public static int GetFree()
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            int port;
            using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
            {
                s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                port = ((IPEndPoint)s.LocalEndPoint!).Port;
            }

            if (IsFreeOnWildcard(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no free UDP port on 127.0.0.1 after 20 attempts");
    }

    private static bool IsFreeOnWildcard(int port)
    {
        try
        {
            using var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            v4.Bind(new IPEndPoint(IPAddress.Any, port));
        }
        catch (SocketException)
        {
            return false;
        }

        if (!Socket.OSSupportsIPv6)
        {
            return true;
        }

        try
        {
            using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = false };
            v6.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return false;
        }
        catch (SocketException)
        {
            // IPv6 disabled on this host: gnutls-serv will only bind IPv4.
        }

        return true;
    }
}
