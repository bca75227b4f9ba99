using System.Buffers.Binary;
using Airlift.Dtls;
using Airlift.Srtp;

namespace Airlift.Tests.Srtp;

/// <summary>Builds RTP/RTCP packets and context pairs for the SRTP tests.</summary>
internal static class SrtpTestPackets
{
    public static readonly SrtpProtectionProfile[] Profiles =
    [
        SrtpProtectionProfile.Aes128CmHmacSha1_80,
        SrtpProtectionProfile.Aes128CmHmacSha1_32,
        SrtpProtectionProfile.AeadAes128Gcm,
        SrtpProtectionProfile.AeadAes256Gcm,
    ];

    public static TheoryData<ushort> ProfileValues()
    {
        var data = new TheoryData<ushort>();
        foreach (var p in Profiles)
        {
            data.Add(p.Value);
        }

        return data;
    }

    /// <summary>Exporter-shaped keying material (client key | server key | client salt | server salt) from a seed.</summary>
    public static byte[] Material(SrtpProtectionProfile profile, ulong seed)
    {
        var m = new byte[profile.KeyingMaterialLength];
        RandomSource.Seeded(seed).Fill(m);
        return m;
    }

    /// <summary>A sender (client protect) and a receiver (server unprotect) sharing the client's write key.</summary>
    public static (SrtpContext Sender, SrtpContext Receiver) Pair(SrtpProtectionProfile profile, SrtpOptions? options = null, ulong seed = 7)
    {
        var material = Material(profile, seed);
        var client = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
        var server = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Server);
        return (client.CreateProtectContext(options), server.CreateUnprotectContext(options));
    }

    /// <summary>An RTP packet (RFC 3550 5.1) with optional CSRCs and a header extension of <paramref name="extensionWords"/> words.</summary>
    public static byte[] Rtp(ushort seq, uint ssrc, int payloadLength, int csrcs = 0, int extensionWords = -1, ulong seed = 1)
    {
        var header = 12 + 4 * csrcs + (extensionWords >= 0 ? 4 + 4 * extensionWords : 0);
        var p = new byte[header + payloadLength];
        RandomSource.Seeded(seed + seq).Fill(p);
        p[0] = (byte)(0x80 | (extensionWords >= 0 ? 0x10 : 0) | csrcs);
        p[1] = 111;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), 160u * seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(8), ssrc);
        if (extensionWords >= 0)
        {
            var x = 12 + 4 * csrcs;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(x), 0xBEDE);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(x + 2), (ushort)extensionWords);
        }

        return p;
    }

    /// <summary>An RTCP receiver report (RFC 3550 6.4.2) with one report block, padded by <paramref name="extra"/> words.</summary>
    public static byte[] Rtcp(uint ssrc, int extra = 0, ulong seed = 3)
    {
        var p = new byte[8 + 24 + 4 * extra];
        RandomSource.Seeded(seed).Fill(p);
        p[0] = 0x81;
        p[1] = 201;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length / 4 - 1));
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(4), ssrc);
        return p;
    }

    /// <summary>Copies <paramref name="packet"/> into a buffer with <paramref name="room"/> spare bytes after it.</summary>
    public static byte[] WithRoom(byte[] packet, int room = 64)
    {
        var b = new byte[packet.Length + room];
        packet.CopyTo(b, 0);
        return b;
    }

    /// <summary>Protects a copy of <paramref name="packet"/> and returns exactly the SRTP bytes.</summary>
    public static byte[] ProtectRtp(SrtpContext sender, byte[] packet)
    {
        var buffer = WithRoom(packet);
        Assert.Equal(SrtpStatus.Ok, sender.ProtectRtp(buffer, packet.Length, out var n));
        return buffer[..n];
    }

    /// <summary>Protects a copy of <paramref name="packet"/> and returns exactly the SRTCP bytes.</summary>
    public static byte[] ProtectRtcp(SrtpContext sender, byte[] packet, bool encrypt = true)
    {
        var buffer = WithRoom(packet);
        Assert.Equal(SrtpStatus.Ok, sender.ProtectRtcp(buffer, packet.Length, out var n, encrypt));
        return buffer[..n];
    }
}
