using System.Buffers.Binary;
using Airlift.Srtp;

namespace Airlift.Cli.Serve;

/// <summary>Sends one SRTP or SRTCP packet to the peer; false when it could not be queued.</summary>
internal delegate bool MediaSend(ReadOnlySpan<byte> packet);

/// <summary>Counters of an <see cref="EchoMedia"/> (a snapshot).</summary>
internal readonly record struct EchoMediaStats(
    long RtpIn,
    long RtpInBytes,
    long RtpOut,
    long RtpOutBytes,
    long RtcpIn,
    long RtcpOut,
    long BeforeKeys,
    long UnknownStream,
    long NotSending,
    long TooLarge,
    long SendFailed,
    long Retransmitted,
    long[] StreamIn,
    long[] StreamOut,
    RtcpCounts Rtcp);

/// <summary>
/// The media path of one echo, without sockets or clocks: SRTP packets from the peer in, SRTP packets to the peer out through
/// a <see cref="MediaSend"/>. Unprotects, mirrors SSRCs (<see cref="EchoRouter"/>), protects, keeps the video it sent in an
/// <see cref="RtpHistory"/> and answers NACKs from it. Not thread-safe: one caller (the session's event loop) at a time;
/// <see cref="Snapshot"/> may be called from any thread.
/// </summary>
internal sealed class EchoMedia : IDisposable
{
    // Room for the largest media packet the transport delivers plus any SRTP/SRTCP trailer.
    private const int WorkBufferSize = 2048;

    private readonly EchoRouter _router;
    private readonly MediaSend _send;
    private readonly byte[] _work = new byte[WorkBufferSize];
    private readonly long[] _streamIn;
    private readonly long[] _streamOut;
    private readonly RtpHistory?[] _histories;
    private readonly List<(int Stream, ushort Seq)> _resend = [];
    private readonly Lock _gate = new();
    private SrtpContext? _protect;
    private SrtpContext? _unprotect;
    private RtcpCounts _rtcp;
    private Counters _c;

    public EchoMedia(IReadOnlyList<EchoStream> streams, MediaSend send)
    {
        _router = new EchoRouter(streams);
        _send = send;
        _streamIn = new long[streams.Count];
        _streamOut = new long[streams.Count];
        _histories = [.. streams.Select(s => s.Send && s.Kind == "video" ? new RtpHistory() : null)];
    }

    public EchoRouter Router => _router;

    /// <summary>The SRTP context for what we send (null before keys); its stats may be read from any thread.</summary>
    public SrtpContext? Protect => _protect;

    /// <summary>The SRTP context for what we receive (null before keys).</summary>
    public SrtpContext? Unprotect => _unprotect;

    /// <summary>Keys the path (DTLS-SRTP keying material arrived); takes ownership of both contexts.</summary>
    public void SetKeys(SrtpContext protect, SrtpContext unprotect)
    {
        _protect?.Dispose();
        _unprotect?.Dispose();
        (_protect, _unprotect) = (protect, unprotect);
    }

    /// <summary>One SRTP packet from the peer (unprotected in place).</summary>
    public void HandleRtp(TimeSpan now, Span<byte> packet)
    {
        _ = now;
        Interlocked.Increment(ref _c.RtpIn);
        Interlocked.Add(ref _c.RtpInBytes, packet.Length);
        if (_protect is not { } protect || _unprotect is not { } unprotect)
        {
            Interlocked.Increment(ref _c.BeforeKeys);
            return;
        }

        if (unprotect.UnprotectRtp(packet, out var plain) != SrtpStatus.Ok)
        {
            return; // counted in the context's stats
        }

        if (plain + protect.RtpTrailerLength > _work.Length)
        {
            Interlocked.Increment(ref _c.TooLarge);
            return;
        }

        var buffer = _work.AsSpan();
        packet[..plain].CopyTo(buffer);
        var index = _router.RewriteRtp(buffer[..plain], out var drop);
        if (index < 0)
        {
            Interlocked.Increment(ref drop == EchoDrop.NotSending ? ref _c.NotSending : ref _c.UnknownStream);
            return;
        }

        Interlocked.Increment(ref _streamIn[index]);
        if (protect.ProtectRtp(buffer, plain, out var length) != SrtpStatus.Ok)
        {
            return;
        }

        _histories[index]?.Store(BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]), buffer[..length]);
        if (!_send(buffer[..length]))
        {
            Interlocked.Increment(ref _c.SendFailed);
            return;
        }

        Interlocked.Increment(ref _streamOut[index]);
        Interlocked.Increment(ref _c.RtpOut);
        Interlocked.Add(ref _c.RtpOutBytes, length);
    }

    /// <summary>One SRTCP packet from the peer (unprotected in place).</summary>
    public void HandleRtcp(TimeSpan now, Span<byte> packet)
    {
        _ = now;
        Interlocked.Increment(ref _c.RtcpIn);
        if (_protect is not { } protect || _unprotect is not { } unprotect)
        {
            Interlocked.Increment(ref _c.BeforeKeys);
            return;
        }

        if (unprotect.UnprotectRtcp(packet, out var plain) != SrtpStatus.Ok)
        {
            return;
        }

        if (plain + protect.RtcpTrailerLength > _work.Length)
        {
            Interlocked.Increment(ref _c.TooLarge);
            return;
        }

        var counts = default(RtcpCounts);
        _resend.Clear();
        var length = _router.TranslateRtcp(packet[..plain], _work, ref counts, _histories, _resend);
        lock (_gate)
        {
            _rtcp.Add(counts);
        }

        foreach (var (stream, seq) in _resend)
        {
            // The identical SRTP packet again: the browser never received this index, so it is no replay there.
            if (_histories[stream]!.TryGet(seq, out var again) && _send(again))
            {
                Interlocked.Increment(ref _c.Retransmitted);
            }
        }

        if (length == 0 || protect.ProtectRtcp(_work, length, out var protectedLength) != SrtpStatus.Ok)
        {
            return;
        }

        if (_send(_work.AsSpan(0, protectedLength)))
        {
            Interlocked.Increment(ref _c.RtcpOut);
        }
        else
        {
            Interlocked.Increment(ref _c.SendFailed);
        }
    }

    public EchoMediaStats Snapshot()
    {
        RtcpCounts rtcp;
        lock (_gate)
        {
            rtcp = _rtcp;
        }

        return new(
            Interlocked.Read(ref _c.RtpIn),
            Interlocked.Read(ref _c.RtpInBytes),
            Interlocked.Read(ref _c.RtpOut),
            Interlocked.Read(ref _c.RtpOutBytes),
            Interlocked.Read(ref _c.RtcpIn),
            Interlocked.Read(ref _c.RtcpOut),
            Interlocked.Read(ref _c.BeforeKeys),
            Interlocked.Read(ref _c.UnknownStream),
            Interlocked.Read(ref _c.NotSending),
            Interlocked.Read(ref _c.TooLarge),
            Interlocked.Read(ref _c.SendFailed),
            Interlocked.Read(ref _c.Retransmitted),
            [.. _streamIn.Select(v => Interlocked.Read(ref v))],
            [.. _streamOut.Select(v => Interlocked.Read(ref v))],
            rtcp);
    }

    public void Dispose()
    {
        _protect?.Dispose();
        _unprotect?.Dispose();
        _protect = _unprotect = null;
    }

    private struct Counters
    {
        public long RtpIn;
        public long RtpInBytes;
        public long RtpOut;
        public long RtpOutBytes;
        public long RtcpIn;
        public long RtcpOut;
        public long BeforeKeys;
        public long UnknownStream;
        public long NotSending;
        public long TooLarge;
        public long SendFailed;
        public long Retransmitted;
    }
}
