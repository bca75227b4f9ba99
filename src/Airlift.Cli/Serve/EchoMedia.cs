using System.Buffers.Binary;
using Airlift.Transport;
using Airlift.WebRtc;

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
    long RetransmittedBytes,
    long SsrcLimit,
    long Amplifying,
    long BytesIn,
    long BytesOut,
    long[] StreamIn,
    long[] StreamOut,
    RtcpCounts Rtcp);

/// <summary>
/// The media path of one echo, without sockets or clocks: SRTP packets from the peer in, SRTP packets to the peer out through
/// a <see cref="MediaSend"/>. Unprotects, mirrors SSRCs (<see cref="EchoRouter"/>), protects, keeps the video it sent in an
/// <see cref="RtpHistory"/> and answers NACKs from it (<see cref="NackResponder"/>).
/// Every send is caused by one authenticated packet from the peer and budgeted: an echoed RTP packet or translated RTCP
/// packet is never longer than the packet that caused it (checked; a longer one is dropped and counted as amplifying), and
/// NACK answers are paid from a <see cref="ResendBudget"/> earned from the bytes received. So bytes out (28 bytes of IPv4 +
/// UDP header counted per datagram) stay within (1 + <see cref="NackAnswerOptions.ResendBudgetRatio"/>) x bytes in.
/// Time is passed in. Not thread-safe: one caller (the session's event loop) at a time; <see cref="Snapshot"/> may be
/// called from any thread.
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
    private readonly NackResponder _nacks;
    private readonly Lock _gate = new();
    private readonly MediaSession _srtp = new();
    private RtcpCounts _rtcp;
    private Counters _c;

    public EchoMedia(IReadOnlyList<EchoStream> streams, EchoLimits limits, MediaSend send, TimeSpan now)
    {
        limits.Validate();
        _router = new EchoRouter(streams, limits.MaxRemoteSsrcs);
        _send = send;
        _streamIn = new long[streams.Count];
        _streamOut = new long[streams.Count];
        _histories = new RtpHistory?[streams.Count];
        var kept = 0;
        for (var i = 0; i < streams.Count && kept < limits.MaxHistoryStreams; i++)
        {
            if (streams[i].Send && streams[i].Kind == "video")
            {
                _histories[i] = new RtpHistory();
                kept++;
            }
        }

        _nacks = new NackResponder(_histories, limits.Nack, now);
    }

    public EchoRouter Router => _router;

    /// <summary>Keys the path from the transport's DTLS-SRTP keying material (the library's <see cref="MediaSession"/>).</summary>
    /// <exception cref="ArgumentException">The profile is not supported or the material has the wrong length.</exception>
    public void SetKeys(KeyingMaterial keyingMaterial) => _srtp.SetKeys(keyingMaterial);

    /// <summary>The SRTP side of this echo (profile and counters).</summary>
    public MediaSession Srtp => _srtp;

    /// <summary>One SRTP packet from the peer (unprotected in place).</summary>
    public void HandleRtp(TimeSpan now, Span<byte> packet)
    {
        _ = now; // the echo of one packet needs no clock; the signature matches HandleRtcp
        Interlocked.Increment(ref _c.RtpIn);
        Interlocked.Add(ref _c.RtpInBytes, packet.Length);
        if (!_srtp.IsKeyed)
        {
            Interlocked.Increment(ref _c.BeforeKeys);
            ServeMetrics.Drop("before_keys");
            return;
        }

        var wireIn = packet.Length + EchoLimits.DatagramOverhead;
        var unprotected = _srtp.UnprotectRtp(packet);
        if (unprotected.Status != MediaStatus.Ok)
        {
            return; // counted in the context's stats
        }

        var plain = unprotected.Length;
        Received(wireIn);

        if (plain + _srtp.RtpTrailerLength > _work.Length)
        {
            Interlocked.Increment(ref _c.TooLarge);
            ServeMetrics.Drop("too_large");
            return;
        }

        var buffer = _work.AsSpan();
        packet[..plain].CopyTo(buffer);
        var index = _router.RewriteRtp(buffer[..plain], out var drop);
        if (index < 0)
        {
            Interlocked.Increment(ref drop == EchoDrop.NotSending ? ref _c.NotSending : ref drop == EchoDrop.SsrcLimit ? ref _c.SsrcLimit : ref _c.UnknownStream);
            ServeMetrics.Drop(drop switch
            {
                EchoDrop.NotSending => "not_sending",
                EchoDrop.SsrcLimit => "ssrc_limit",
                EchoDrop.Malformed => "malformed",
                _ => "unknown_stream",
            });
            return;
        }

        Interlocked.Increment(ref _streamIn[index]);
        var protectedRtp = _srtp.ProtectRtp(buffer, plain);
        if (protectedRtp.Status != MediaStatus.Ok)
        {
            return;
        }

        var length = protectedRtp.Length;

        if (!WithinInput(length, packet.Length))
        {
            return;
        }

        _histories[index]?.Store(BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]), buffer[..length]);
        if (!Send(buffer[..length]))
        {
            return;
        }

        Interlocked.Increment(ref _streamOut[index]);
        Interlocked.Increment(ref _c.RtpOut);
        Interlocked.Add(ref _c.RtpOutBytes, length);
    }

    /// <summary>One SRTCP packet from the peer (unprotected in place).</summary>
    public void HandleRtcp(TimeSpan now, Span<byte> packet)
    {
        Interlocked.Increment(ref _c.RtcpIn);
        if (!_srtp.IsKeyed)
        {
            Interlocked.Increment(ref _c.BeforeKeys);
            ServeMetrics.Drop("before_keys");
            return;
        }

        var wireIn = packet.Length + EchoLimits.DatagramOverhead;
        var unprotected = _srtp.UnprotectRtcp(packet);
        if (unprotected.Status != MediaStatus.Ok)
        {
            return;
        }

        var plain = unprotected.Length;
        Received(wireIn);

        if (plain + _srtp.RtcpTrailerLength > _work.Length)
        {
            Interlocked.Increment(ref _c.TooLarge);
            ServeMetrics.Drop("too_large");
            return;
        }

        var counts = default(RtcpCounts);
        _nacks.Begin(now);
        var length = _router.TranslateRtcp(packet[..plain], _work, ref counts, _nacks);
        lock (_gate)
        {
            _rtcp.Add(counts);
        }

        ServeMetrics.Drop("nack_duplicate", counts.NackDuplicate);
        ServeMetrics.Drop("nack_too_soon", counts.NackTooSoon);
        ServeMetrics.Drop("nack_over_cap", counts.NackOverCap);
        ServeMetrics.Drop("nack_over_budget", counts.NackOverBudget);
        foreach (var (stream, seq) in _nacks.Accepted)
        {
            // The identical SRTP packet again: the browser never received this index, so it is no replay there. Its bytes
            // were taken from the budget when it was accepted.
            if (_histories[stream]!.TryGet(seq, out var again) && Send(again))
            {
                Interlocked.Increment(ref _c.Retransmitted);
                Interlocked.Add(ref _c.RetransmittedBytes, again.Length + EchoLimits.DatagramOverhead);
                ServeMetrics.Resends.Add(1);
                ServeMetrics.ResendBytes.Add(again.Length + EchoLimits.DatagramOverhead);
            }
        }

        if (length == 0 || _srtp.ProtectRtcp(_work, length) is not { Status: MediaStatus.Ok, Length: var protectedLength })
        {
            return;
        }

        if (WithinInput(protectedLength, packet.Length) && Send(_work.AsSpan(0, protectedLength)))
        {
            Interlocked.Increment(ref _c.RtcpOut);
        }
    }

    /// <summary>Bytes the session's NACK answers could spend now.</summary>
    public long ResendBudgetAvailable => _nacks.Budget.Available;

    private void Received(int wireBytes)
    {
        Interlocked.Add(ref _c.BytesIn, wireBytes);
        _nacks.Budget.Earn(wireBytes);
    }

    // The echo and the RTCP translation must not amplify: one packet out of at most the length of the one that caused it.
    private bool WithinInput(int outLength, int inLength)
    {
        if (outLength <= inLength)
        {
            return true;
        }

        Interlocked.Increment(ref _c.Amplifying);
        ServeMetrics.Drop("amplifying");
        return false;
    }

    private bool Send(ReadOnlySpan<byte> packet)
    {
        if (!_send(packet))
        {
            Interlocked.Increment(ref _c.SendFailed);
            return false;
        }

        Interlocked.Add(ref _c.BytesOut, packet.Length + EchoLimits.DatagramOverhead);
        return true;
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
            Interlocked.Read(ref _c.RetransmittedBytes),
            Interlocked.Read(ref _c.SsrcLimit),
            Interlocked.Read(ref _c.Amplifying),
            Interlocked.Read(ref _c.BytesIn),
            Interlocked.Read(ref _c.BytesOut),
            ReadAll(_streamIn),
            ReadAll(_streamOut),
            rtcp);
    }

    private static long[] ReadAll(long[] counters)
    {
        var copy = new long[counters.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Interlocked.Read(ref counters[i]);
        }

        return copy;
    }

    public void Dispose()
    {
        _srtp.Dispose();
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
        public long RetransmittedBytes;
        public long SsrcLimit;
        public long Amplifying;
        public long BytesIn;
        public long BytesOut;
    }
}
