using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Airlift.Dtls;
using Airlift.Net;
using Airlift.Transport;

namespace Airlift.Tests.Transport;

/// <summary>How a loopback peer moves datagrams: a UDP socket or an RFC 4571-framed TCP stream.</summary>
internal interface IPeerLink : IDisposable
{
    void Send(ReadOnlySpan<byte> datagram);

    /// <summary>Waits up to <paramref name="timeout"/> for one datagram; null when none came (or the link closed).</summary>
    byte[]? Receive(TimeSpan timeout);
}

internal sealed class UdpPeerLink : IPeerLink
{
    private readonly Socket _socket;
    private readonly IPEndPoint _server;
    private readonly byte[] _buffer = new byte[65535];

    public UdpPeerLink(IPEndPoint server)
    {
        _server = server;
        _socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(server.Address, 0));
    }

    public IPEndPoint LocalEndpoint => (IPEndPoint)_socket.LocalEndPoint!;

    public void Send(ReadOnlySpan<byte> datagram) => _socket.SendTo(datagram, SocketFlags.None, _server);

    public byte[]? Receive(TimeSpan timeout)
    {
        if (!_socket.Poll(timeout, SelectMode.SelectRead))
        {
            return null;
        }

        var n = _socket.Receive(_buffer);
        return _buffer.AsSpan(0, n).ToArray();
    }

    public void Dispose() => _socket.Dispose();
}

internal sealed class TcpPeerLink : IPeerLink
{
    private readonly Socket _socket;
    private readonly Rfc4571Framer _framer = new(65535);

    public TcpPeerLink(IPEndPoint server)
    {
        _socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Connect(server);
    }

    public Socket Socket => _socket;

    public void Send(ReadOnlySpan<byte> datagram)
    {
        var frame = new byte[datagram.Length + 2];
        Rfc4571Framer.WriteFrame(datagram, frame);
        _socket.Send(frame);
    }

    public byte[]? Receive(TimeSpan timeout)
    {
        var until = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (_framer.TryReadFrame(out var frame))
            {
                return frame.ToArray();
            }

            var left = TimeSpan.FromSeconds((double)(until - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
            if (left <= TimeSpan.Zero || !_socket.Poll(left, SelectMode.SelectRead))
            {
                return null;
            }

            var n = _socket.Receive(_framer.GetWriteBuffer().Span);
            if (n == 0)
            {
                return null;
            }

            _framer.Advance(n);
        }
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>
/// A controlling ICE peer with a DTLS endpoint on a real link, run synchronously on the test thread against a
/// <see cref="TransportHost"/> session: checks with USE-CANDIDATE until answered, then the DTLS handshake. Bounded by a
/// deadline; asserts nothing about timing.
/// </summary>
internal static class LoopbackPeer
{
    public sealed record Result(bool Connected, byte[]? KeyingMaterial, string Trace, int ChecksSent, bool Answered);

    public static Result Run(IPeerLink link, TransportSession session, DtlsRole peerRole, TimeSpan deadline, DtlsOptions? dtlsOptions = null)
    {
        var ice = new TestIceClient(TransportLab.PeerUfrag, TransportLab.PeerPassword, session.LocalUfrag, session.LocalPassword);
        var clock = Stopwatch.StartNew();
        var options = dtlsOptions ?? TransportLab.PeerDtlsOptions() with { ExpectedPeerFingerprint = session.LocalFingerprint };
        DtlsEndpoint? dtls = null;
        var buffer = new byte[65535];
        var answered = false;
        var checks = 0;
        var nextCheck = TimeSpan.Zero;
        var dtlsDeadline = TimeSpan.MaxValue;
        byte[]? km = null;
        var connected = false;

        void Drain()
        {
            while (dtls is not null)
            {
                var output = dtls.PollOutput(buffer);
                if (output.Kind == DtlsOutputKind.Datagram)
                {
                    link.Send(buffer.AsSpan(0, output.DatagramLength));
                }
                else if (output.Kind == DtlsOutputKind.Event)
                {
                    connected |= output.Event is DtlsConnected;
                    km ??= (output.Event as DtlsKeyingMaterial)?.Material;
                }
                else
                {
                    dtlsDeadline = output.Deadline;
                    return;
                }
            }
        }

        while (clock.Elapsed < deadline && !(connected && km is not null))
        {
            var now = clock.Elapsed;
            if (!answered && now >= nextCheck)
            {
                link.Send(ice.BuildCheck(useCandidate: true));
                checks++;
                nextCheck = now + TimeSpan.FromMilliseconds(100);
            }

            if (dtls is not null && now >= dtlsDeadline)
            {
                dtls.HandleTimeout(now);
                Drain();
            }

            var packet = link.Receive(TimeSpan.FromMilliseconds(20));
            if (packet is null || packet.Length == 0)
            {
                continue;
            }

            now = clock.Elapsed;
            if (packet[0] <= 3)
            {
                if (!answered && ice.IsAuthenticatedSuccess(packet))
                {
                    answered = true;
                    dtls = peerRole == DtlsRole.Client ? DtlsEndpoint.CreateClient(options, now) : DtlsEndpoint.CreateServer(options, now);
                    Drain();
                }
            }
            else if (dtls is not null)
            {
                dtls.HandleDatagram(now, packet);
                Drain();
            }
        }

        return new Result(connected, km, dtls?.Trace ?? "(no DTLS)", checks, answered);
    }
}
