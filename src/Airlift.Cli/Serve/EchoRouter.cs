using System.Buffers.Binary;

using Airlift.WebRtc;

namespace Airlift.Cli.Serve;

/// <summary>Why the echo did not send a packet back.</summary>
internal enum EchoDrop
{
    None,

    /// <summary>Not an RTP packet (version, length).</summary>
    Malformed,

    /// <summary>A payload type no accepted section has.</summary>
    UnknownPayloadType,

    /// <summary>The section is not one we send on (the offer was sendonly).</summary>
    NotSending,

    /// <summary>A new SSRC while <see cref="EchoLimits.MaxRemoteSsrcs"/> are already remembered.</summary>
    SsrcLimit,
}

/// <summary>RTCP translation counters.</summary>
internal struct RtcpCounts
{
    /// <summary>PLI (RFC 4585 6.3.1) forwarded to the browser's own sending stream.</summary>
    public long Pli;

    /// <summary>FIR (RFC 5104 4.3.1) forwarded.</summary>
    public long Fir;

    /// <summary>Generic NACK packets (RFC 4585 6.2.1) forwarded, for packets that never reached us.</summary>
    public long Nack;

    /// <summary>NACKed sequence numbers answered from our own <see cref="RtpHistory"/> (lost on the way back).</summary>
    public long NackServed;

    /// <summary>NACKed sequence numbers asked again within the same RTCP packet (answered or forwarded once).</summary>
    public long NackDuplicate;

    /// <summary>NACKed packets we hold but resent less than <see cref="NackAnswerOptions.NackResendInterval"/> ago.</summary>
    public long NackTooSoon;

    /// <summary>NACKed packets we hold beyond <see cref="NackAnswerOptions.MaxResendsPerRtcp"/> in one RTCP packet.</summary>
    public long NackOverCap;

    /// <summary>NACKed packets we hold but the session's <see cref="ResendBudget"/> could not pay for.</summary>
    public long NackOverBudget;

    /// <summary>Sender and receiver reports forwarded.</summary>
    public long Reports;

    /// <summary>RTCP packets (within compounds) not forwarded: SDES, BYE, APP, XR, transport-cc, REMB, unknown streams, malformed.</summary>
    public long Discarded;

    public void Add(in RtcpCounts other)
    {
        Pli += other.Pli;
        Fir += other.Fir;
        Nack += other.Nack;
        NackServed += other.NackServed;
        NackDuplicate += other.NackDuplicate;
        NackTooSoon += other.NackTooSoon;
        NackOverCap += other.NackOverCap;
        NackOverBudget += other.NackOverBudget;
        Reports += other.Reports;
        Discarded += other.Discarded;
    }
}

/// <summary>
/// The SSRC mirror of the echo (plaintext RTP/RTCP; SRTP is the caller's). RTP from the offerer's stream A of a section is
/// sent back as our stream S of the same section: only the SSRC changes, so sequence numbers, timestamps, payload type and
/// header extensions stay, and the offerer's receiver sees a copy of its own sender.
/// RTCP from the offerer is mirrored the same way so each side's control loop closes over the echo path:
/// <list type="bullet">
/// <item>Feedback about S (PLI, FIR, NACK, RFC 4585 / RFC 5104) becomes feedback about A, from S: the offerer's encoder
/// answers its own receiver's keyframe requests, and its sender resends NACKed packets, which come back as S with the very
/// sequence numbers the receiver asked for.</item>
/// <item>Report blocks about S become report blocks about A (loss and jitter of the round trip; LSR/DLSR still pair with
/// the offerer's own sender reports, so its RTT is the echo's). A sender report from A becomes a sender report from S, so the
/// receiver gets NTP/RTP timestamp pairs for the echoed stream.</item>
/// <item>SDES, BYE, APP, XR, and feedback that was not negotiated (transport-cc, REMB) are not forwarded: their values
/// describe the offerer's own endpoints, not the echo.</item>
/// </list>
/// The output is never longer than the input. State is bounded: at most <see cref="EchoLimits.MaxRemoteSsrcs"/> offerer
/// SSRCs are remembered; RTP from a new one beyond that is dropped (<see cref="EchoDrop.SsrcLimit"/>).
/// Not thread-safe (one per session, used by its event loop).
/// </summary>
internal sealed class EchoRouter
{
    private const int RtpHeaderLength = 12;
    private const int RtcpSr = 200;
    private const int RtcpRr = 201;
    private const int RtcpRtpfb = 205;
    private const int RtcpPsfb = 206;
    private const int ReportBlockLength = 24;
    private const int SenderInfoLength = 20;

    private readonly EchoStream[] _streams;
    private readonly uint?[] _currentRemote;
    private readonly Dictionary<uint, int> _byRemote = [];
    private readonly Dictionary<uint, int> _byLocal = [];
    private readonly ulong[] _nacked = new ulong[65536 / 64]; // one bit per sequence number, for the NACK being read
    private readonly int _maxRemoteSsrcs;

    public EchoRouter(IReadOnlyList<EchoStream> streams, int maxRemoteSsrcs = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRemoteSsrcs, 1);
        _maxRemoteSsrcs = maxRemoteSsrcs;
        _streams = [.. streams];
        _currentRemote = new uint?[_streams.Length];
        for (var i = 0; i < _streams.Length; i++)
        {
            _byLocal[_streams[i].LocalSsrc] = i;
            foreach (var ssrc in _streams[i].RemoteSsrcs)
            {
                if (_byRemote.Count < _maxRemoteSsrcs)
                {
                    _byRemote.TryAdd(ssrc, i);
                }
            }

            // RFC 8829 declares the primary SSRC first (an a=ssrc-group:FID pair lists it first too).
            if (_streams[i].RemoteSsrcs.Count > 0)
            {
                _currentRemote[i] = _streams[i].RemoteSsrcs[0];
            }
        }
    }

    public IReadOnlyList<EchoStream> Streams => _streams;

    /// <summary>The offerer SSRC last seen (or first declared) on section <paramref name="index"/>.</summary>
    public uint? RemoteSsrc(int index) => _currentRemote[index];

    /// <summary>
    /// Rewrites the plaintext RTP packet <paramref name="packet"/> for the echo (its SSRC becomes ours for the section) and
    /// returns the section index, or -1 with the reason it is not echoed.
    /// </summary>
    public int RewriteRtp(Span<byte> packet, out EchoDrop drop)
    {
        if (packet.Length < RtpHeaderLength || packet[0] >> 6 != 2)
        {
            drop = EchoDrop.Malformed;
            return -1;
        }

        var payloadType = packet[1] & 0x7F;
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(packet[8..]);
        var index = FindStream(ssrc, payloadType, out drop);
        if (index < 0)
        {
            return -1;
        }

        var stream = _streams[index];
        if (!stream.Send)
        {
            drop = EchoDrop.NotSending;
            return -1;
        }

        BinaryPrimitives.WriteUInt32BigEndian(packet[8..], stream.LocalSsrc);
        drop = EchoDrop.None;
        return index;
    }

    /// <summary>
    /// Translates the plaintext compound RTCP packet <paramref name="input"/> into <paramref name="output"/> (at least as long)
    /// and returns the bytes written; 0 when nothing is worth forwarding. Stops at the first malformed packet (RFC 3550 6.4).
    /// Each sequence number counts once per NACK packet (repeats are counted in <see cref="RtcpCounts.NackDuplicate"/>);
    /// those <paramref name="nacks"/> holds are answered there (resent or dropped by its limits) and left out of the
    /// forwarded NACK, the rest are forwarded to the offerer's sender.
    /// </summary>
    public int TranslateRtcp(ReadOnlySpan<byte> input, Span<byte> output, ref RtcpCounts counts, NackResponder? nacks = null)
    {
        var written = 0;
        while (input.Length >= 4)
        {
            var first = input[0];
            var length = (BinaryPrimitives.ReadUInt16BigEndian(input[2..]) + 1) * 4;
            if (first >> 6 != 2 || length > input.Length)
            {
                counts.Discarded++;
                break;
            }

            var packet = input[..length];
            input = input[length..];
            var padded = (first & 0x20) != 0;
            var count = first & 0x1F;
            var type = packet[1];
            var n = padded ? 0 : type switch
            {
                RtcpSr => TranslateReport(packet, count, sender: true, output[written..], ref counts),
                RtcpRr => TranslateReport(packet, count, sender: false, output[written..], ref counts),
                RtcpRtpfb when count == 1 => TranslateNack(packet, output[written..], ref counts, nacks),
                RtcpPsfb when count == 1 => TranslateFeedback(packet, output[written..], ref counts.Pli),
                RtcpPsfb when count == 4 => TranslateFir(packet, output[written..], ref counts),
                _ => 0,
            };
            if (n == 0)
            {
                counts.Discarded++;
            }

            written += Math.Max(n, 0);
        }

        return written;
    }

    private int FindStream(uint ssrc, int payloadType, out EchoDrop drop)
    {
        drop = EchoDrop.None;
        if (_byRemote.TryGetValue(ssrc, out var known))
        {
            if (!_streams[known].PayloadTypes.Contains(payloadType))
            {
                drop = EchoDrop.UnknownPayloadType;
                return -1;
            }

            _currentRemote[known] = ssrc;
            return known;
        }

        if (_byRemote.Count >= _maxRemoteSsrcs)
        {
            // Remember no more, and do not let an unremembered SSRC take a section over either.
            drop = EchoDrop.SsrcLimit;
            return -1;
        }

        // A new SSRC: the first receiving section with this payload type that has no sender yet, else the first with it.
        var pick = -1;
        for (var i = 0; i < _streams.Length; i++)
        {
            if (!_streams[i].Receive || !_streams[i].PayloadTypes.Contains(payloadType))
            {
                continue;
            }

            if (pick < 0)
            {
                pick = i;
            }

            if (_currentRemote[i] is null)
            {
                pick = i;
                break;
            }
        }

        if (pick < 0)
        {
            drop = EchoDrop.UnknownPayloadType;
            return -1;
        }

        _byRemote[ssrc] = pick;
        _currentRemote[pick] = ssrc;
        return pick;
    }

    /// <summary>Our SSRC S for section <paramref name="index"/> to the offerer's A, if one is known.</summary>
    private bool TryMirrorMedia(uint localSsrc, out uint remoteSsrc, out int index)
    {
        remoteSsrc = 0;
        if (!_byLocal.TryGetValue(localSsrc, out index) || _currentRemote[index] is not { } remote)
        {
            return false;
        }

        remoteSsrc = remote;
        return true;
    }

    // SR: V P RC PT=200 length | SSRC of sender | sender info (20) | report blocks (24 each) | profile extensions.
    // RR: V P RC PT=201 length | SSRC of packet sender | report blocks (24 each) | profile extensions (RFC 3550 6.4).
    private int TranslateReport(ReadOnlySpan<byte> packet, int blocks, bool sender, Span<byte> output, ref RtcpCounts counts)
    {
        var fixedLength = 8 + (sender ? SenderInfoLength : 0);
        if (packet.Length < fixedLength + blocks * ReportBlockLength)
        {
            return 0;
        }

        var senderSsrc = BinaryPrimitives.ReadUInt32BigEndian(packet[4..]);
        var senderIndex = -1;
        var asSender = sender && _byRemote.TryGetValue(senderSsrc, out senderIndex) && _streams[senderIndex].Send;
        var header = asSender ? fixedLength : 8;
        var written = header;
        var kept = 0;
        int? firstIndex = asSender ? senderIndex : null;
        for (var b = 0; b < blocks; b++)
        {
            var block = packet.Slice(fixedLength + b * ReportBlockLength, ReportBlockLength);
            if (!TryMirrorMedia(BinaryPrimitives.ReadUInt32BigEndian(block), out var remote, out var index))
            {
                continue;
            }

            firstIndex ??= index;
            block.CopyTo(output[written..]);
            BinaryPrimitives.WriteUInt32BigEndian(output[written..], remote);
            written += ReportBlockLength;
            kept++;
        }

        if (firstIndex is not { } owner || (!asSender && kept == 0))
        {
            return 0;
        }

        if (asSender)
        {
            packet[8..fixedLength].CopyTo(output[8..]);
        }

        output[0] = (byte)(0x80 | kept);
        output[1] = (byte)(asSender ? RtcpSr : RtcpRr);
        BinaryPrimitives.WriteUInt16BigEndian(output[2..], (ushort)(written / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(output[4..], _streams[owner].LocalSsrc);
        counts.Reports++;
        return written;
    }

    // RFC 4585 6.1: V P FMT PT length | SSRC of packet sender | SSRC of media source | FCI.
    private int TranslateFeedback(ReadOnlySpan<byte> packet, Span<byte> output, ref long counter)
    {
        if (packet.Length < 12 || !TryMirrorMedia(BinaryPrimitives.ReadUInt32BigEndian(packet[8..]), out var remote, out var index))
        {
            return 0;
        }

        packet.CopyTo(output);
        BinaryPrimitives.WriteUInt32BigEndian(output[4..], _streams[index].LocalSsrc);
        BinaryPrimitives.WriteUInt32BigEndian(output[8..], remote);
        counter++;
        return packet.Length;
    }

    // RFC 4585 6.2.1: FCI entries of PID (16) | BLP (16): PID lost, and PID+i+1 lost for each bit i set in BLP.
    // Returns -1 when every NACKed packet is ours to answer or a repeat (nothing to forward, nothing discarded).
    private int TranslateNack(ReadOnlySpan<byte> packet, Span<byte> output, ref RtcpCounts counts, NackResponder? nacks)
    {
        if (packet.Length < 16 || !TryMirrorMedia(BinaryPrimitives.ReadUInt32BigEndian(packet[8..]), out var remote, out var index))
        {
            return 0;
        }

        Array.Clear(_nacked);
        var written = 12;
        var pid = -1;
        var blp = 0;
        var handled = false;
        for (var at = 12; at + 4 <= packet.Length; at += 4)
        {
            var first = BinaryPrimitives.ReadUInt16BigEndian(packet[at..]);
            var mask = BinaryPrimitives.ReadUInt16BigEndian(packet[(at + 2)..]);
            for (var bit = -1; bit < 16; bit++)
            {
                if (bit >= 0 && (mask & (1 << bit)) == 0)
                {
                    continue;
                }

                var seq = (ushort)(first + bit + 1);
                ref var seen = ref _nacked[seq >> 6];
                var seqBit = 1UL << (seq & 63);
                if ((seen & seqBit) != 0)
                {
                    counts.NackDuplicate++;
                    handled = true;
                    continue;
                }

                seen |= seqBit;

                if (nacks is not null && Count(nacks.TryAnswer(index, seq), ref counts))
                {
                    handled = true;
                    continue;
                }

                // Pack the sequence numbers we never received into PID/BLP pairs again.
                var offset = (ushort)(seq - pid - 1);
                if (pid >= 0 && offset < 16)
                {
                    blp |= 1 << offset;
                    continue;
                }

                if (pid >= 0 && written + 4 < packet.Length)
                {
                    written = WriteNackItem(output, written, (ushort)pid, blp);
                }

                pid = seq;
                blp = 0;
            }
        }

        if (pid < 0)
        {
            return handled ? -1 : 0;
        }

        written = WriteNackItem(output, written, (ushort)pid, blp);
        packet[..12].CopyTo(output);
        BinaryPrimitives.WriteUInt16BigEndian(output[2..], (ushort)(written / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(output[4..], _streams[index].LocalSsrc);
        BinaryPrimitives.WriteUInt32BigEndian(output[8..], remote);
        counts.Nack++;
        return written;
    }

    private static int WriteNackItem(Span<byte> output, int at, ushort pid, int blp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(output[at..], pid);
        BinaryPrimitives.WriteUInt16BigEndian(output[(at + 2)..], (ushort)blp);
        return at + 4;
    }

    // RFC 5104 4.3.1: the media source field is unused; each FCI entry is SSRC (4) | seq nr (1) | reserved (3).
    /// <summary>Counts a NACK answer; true when we hold the packet (resent or dropped), false when the request is forwarded.</summary>
    private static bool Count(NackAnswer answer, ref RtcpCounts counts)
    {
        switch (answer)
        {
            case NackAnswer.Resend:
                counts.NackServed++;
                return true;
            case NackAnswer.Duplicate:
                counts.NackDuplicate++;
                return true;
            case NackAnswer.TooSoon:
                counts.NackTooSoon++;
                return true;
            case NackAnswer.OverCap:
                counts.NackOverCap++;
                return true;
            case NackAnswer.OverBudget:
                counts.NackOverBudget++;
                return true;
            default:
                return false;
        }
    }

    private int TranslateFir(ReadOnlySpan<byte> packet, Span<byte> output, ref RtcpCounts counts)
    {
        if (packet.Length < 20 || (packet.Length - 12) % 8 != 0)
        {
            return 0;
        }

        packet[..12].CopyTo(output);
        var written = 12;
        int? owner = null;
        for (var at = 12; at < packet.Length; at += 8)
        {
            if (!TryMirrorMedia(BinaryPrimitives.ReadUInt32BigEndian(packet[at..]), out var remote, out var index))
            {
                continue;
            }

            owner ??= index;
            packet.Slice(at, 8).CopyTo(output[written..]);
            BinaryPrimitives.WriteUInt32BigEndian(output[written..], remote);
            written += 8;
        }

        if (owner is not { } o)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt16BigEndian(output[2..], (ushort)(written / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(output[4..], _streams[o].LocalSsrc);
        counts.Fir++;
        return written;
    }
}
