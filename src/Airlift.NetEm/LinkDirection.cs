namespace Airlift.NetEm;

/// <summary>Which way a datagram travels through the emulated path. Each direction has its own impairments and random stream.</summary>
public enum LinkDirection
{
    /// <summary>From the DTLS client (or the proxy's downstream peer) to the server.</summary>
    ClientToServer = 0,

    /// <summary>From the server back to the client.</summary>
    ServerToClient = 1,
}
