using System.Net;
using Airlift.Dtls;

namespace Airlift.Net;

/// <summary>One peer's DTLS association on a socket driver.</summary>
public sealed class DtlsUdpSession
{
    private readonly DtlsSocketLoop _loop;

    internal DtlsUdpSession(DtlsSocketLoop loop, IPEndPoint remote, DtlsEndpoint endpoint)
    {
        _loop = loop;
        Remote = remote;
        Endpoint = endpoint;
    }

    /// <summary>The peer's address.</summary>
    public IPEndPoint Remote { get; }

    /// <summary>The sans-IO endpoint; only touch it through this session's methods (the loop owns it).</summary>
    internal DtlsEndpoint Endpoint { get; }

    internal TimeSpan Deadline { get; set; } = DtlsOutput.NoDeadline;

    /// <summary>Current state.</summary>
    public DtlsState State => Endpoint.State;

    /// <summary>Counters.</summary>
    public DtlsStats Stats => Endpoint.Stats;

    /// <summary>The handshake timeline, for diagnostics.</summary>
    public string Trace => Endpoint.Trace;

    /// <summary>Sends application data as one record.</summary>
    public void Send(ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        _loop.WithEndpoint(this, (e, _) => e.Send(copy));
    }

    /// <summary>Sends close_notify.</summary>
    public void Close() => _loop.WithEndpoint(this, (e, now) => e.Close(now));

    /// <summary>Keying material exporter (RFC 5705).</summary>
    public byte[] ExportKeyingMaterial(string label, byte[]? context, int length)
    {
        byte[]? result = null;
        _loop.WithEndpoint(this, (e, _) => result = e.ExportKeyingMaterial(label, context, length));
        return result!;
    }
}
