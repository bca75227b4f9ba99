namespace Airlift.Transport;

/// <summary>What a datagram on a multiplexed WebRTC port carries (RFC 7983 7).</summary>
internal enum PacketKind
{
    Stun,
    Zrtp,
    Dtls,
    TurnChannel,
    Rtp,
    Rtcp,
    Unknown,
}

/// <summary>
/// First-byte demultiplexing of STUN, ZRTP, DTLS, TURN channel data and RTP/RTCP on one port
/// (RFC 7983 7, updating RFC 5764 5.1.2), with RTP and RTCP told apart by the second byte
/// (RFC 5761 4: RTCP packet types 192..223 collide with no usable RTP payload type).
/// </summary>
internal static class PacketClassifier
{
    public static PacketKind Classify(ReadOnlySpan<byte> datagram)
    {
        if (datagram.IsEmpty)
        {
            return PacketKind.Unknown;
        }

        return datagram[0] switch
        {
            <= 3 => PacketKind.Stun,
            >= 16 and <= 19 => PacketKind.Zrtp,
            >= 20 and <= 63 => PacketKind.Dtls,
            >= 64 and <= 79 => PacketKind.TurnChannel,
            >= 128 and <= 191 => datagram.Length >= 2 && datagram[1] is >= 192 and <= 223 ? PacketKind.Rtcp : PacketKind.Rtp,
            _ => PacketKind.Unknown,
        };
    }
}
