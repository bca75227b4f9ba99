using System.Buffers.Binary;
using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Srtp;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Airlift.Bench.Srtp;

/// <summary>
/// SRTP protect, and protect + unprotect, of one RTP packet (12-byte header, 160 or 1200-byte payload) per profile: Airlift
/// (the default: managed AES-NI where the CPU has it and, for AES-CM, HMAC-SHA1 through libcrypto's HMAC_CTX; and the platform
/// path, <c>UseHardwareIntrinsics = false, UseOpenSslHmac = false</c>) beside
/// libsrtp 2 (P/Invoke to libsrtp2.so.1 on OpenSSL, same packets, same run) and beside the bare platform primitives (AES-CTR
/// from a reused ECB transform + XOR and HMAC-SHA1, or one AesGcm seal). Each call first copies the plaintext into the
/// buffer (protect works in place) and bumps the sequence number (replay protection refuses repeats on both sides).
/// Unprotect alone = RoundTrip - Protect. Targets: Airlift >= 1.0x libsrtp, 0 B allocated.
/// Run: <c>dotnet run -c Release --project bench/Airlift.Bench -- --filter '*SrtpBenchmarks*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class SrtpBenchmarks
{
    private const int HeaderLength = 12;
    private const int MaxPayload = 1200;

    private readonly byte[] _plain = new byte[HeaderLength + MaxPayload];
    private readonly byte[] _buffer = new byte[HeaderLength + MaxPayload + 64];
    private readonly byte[] _counters = new byte[MaxPayload + 16];
    private readonly byte[] _keystream = new byte[MaxPayload + 16];
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _mac = new byte[20];
    private readonly byte[] _roc = new byte[4];
    private SrtpContext _protect = null!;
    private SrtpContext _unprotect = null!;
    private SrtpContext _platformProtect = null!;
    private SrtpContext _platformUnprotect = null!;
    private LibSrtpNative _libProtect = null!;
    private LibSrtpNative _libUnprotect = null!;
    private Aes _aes = null!;
    private ICryptoTransform _ecb = null!;
    private IncrementalHash _hmac = null!;
    private AesGcm _gcm = null!;
    private bool _aead;
    private int _tag;
    private ushort _seq;
    private ushort _libSeq;
    private ushort _platformSeq;

    /// <summary>Profile name (IANA).</summary>
    [Params("SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AES128_CM_HMAC_SHA1_32", "SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_256_GCM")]
    public string Profile { get; set; } = "SRTP_AES128_CM_HMAC_SHA1_80";

    /// <summary>RTP payload bytes after the 12-byte header.</summary>
    [Params(160, 1200)]
    public int PayloadLength { get; set; } = 1200;

    private int PacketLength => HeaderLength + PayloadLength;

    [GlobalSetup]
    public void Setup()
    {
        SrtpProtectionProfile.TryParse(Profile, out var profile);
        var material = new byte[profile.KeyingMaterialLength];
        RandomSource.Seeded(1).Fill(material);
        RandomSource.Seeded(2).Fill(_plain);
        _plain[0] = 0x80;
        _plain[1] = 111;
        BinaryPrimitives.WriteUInt32BigEndian(_plain.AsSpan(8), 0x1234_5678);

        var keys = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
        _protect = SrtpContext.Create(profile, SrtpDirection.Protect, keys.Local.Key.Span, keys.Local.Salt.Span);
        _unprotect = SrtpContext.Create(profile, SrtpDirection.Unprotect, keys.Local.Key.Span, keys.Local.Salt.Span);
        var platform = new SrtpOptions { UseHardwareIntrinsics = false, UseOpenSslHmac = false };
        _platformProtect = SrtpContext.Create(profile, SrtpDirection.Protect, keys.Local.Key.Span, keys.Local.Salt.Span, platform);
        _platformUnprotect = SrtpContext.Create(profile, SrtpDirection.Unprotect, keys.Local.Key.Span, keys.Local.Salt.Span, platform);
        _libProtect = LibSrtpNative.Create(profile, outbound: true, keys.Local.Key.Span, keys.Local.Salt.Span);
        _libUnprotect = LibSrtpNative.Create(profile, outbound: false, keys.Local.Key.Span, keys.Local.Salt.Span);

        // Bare primitives keyed with arbitrary session-key-sized material (the key values do not change the cost).
        _aead = profile.Value >= 7;
        _tag = _protect.RtpTrailerLength;
        var sessionKey = keys.Local.Key.ToArray();
        _aes = Aes.Create();
        _aes.Key = sessionKey;
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _ecb = _aes.CreateEncryptor();
        _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, material.AsSpan(0, 20));
        _gcm = new AesGcm(sessionKey, 16);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _protect.Dispose();
        _unprotect.Dispose();
        _platformProtect.Dispose();
        _platformUnprotect.Dispose();
        _libProtect.Dispose();
        _libUnprotect.Dispose();
        _ecb.Dispose();
        _aes.Dispose();
        _hmac.Dispose();
        _gcm.Dispose();
    }

    /// <summary>Airlift SrtpContext.ProtectRtp.</summary>
    [Benchmark]
    [BenchmarkCategory("Protect")]
    public int Airlift_Protect()
    {
        Load(ref _seq);
        _protect.TryProtectRtp(_buffer, PacketLength, out var n);
        return n;
    }

    /// <summary>libsrtp srtp_protect.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Protect")]
    public int LibSrtp_Protect()
    {
        Load(ref _libSeq);
        var n = PacketLength;
        _libProtect.Protect(_buffer, ref n);
        return n;
    }

    /// <summary>AES-CTR (one reused ECB transform, counter blocks + XOR) and HMAC-SHA1 over header+payload+ROC; or one AesGcm seal.</summary>
    [Benchmark]
    [BenchmarkCategory("Protect")]
    public int Primitives_Protect()
    {
        Load(ref _seq);
        return SealPrimitive(ecbPerCall: false);
    }

    /// <summary>Airlift SrtpContext.ProtectRtp on the platform path (UseHardwareIntrinsics = false, UseOpenSslHmac = false).</summary>
    [Benchmark]
    [BenchmarkCategory("Protect")]
    public int AirliftPlatform_Protect()
    {
        Load(ref _platformSeq);
        _platformProtect.TryProtectRtp(_buffer, PacketLength, out var n);
        return n;
    }

    /// <summary>Airlift protect then unprotect.</summary>
    [Benchmark]
    [BenchmarkCategory("RoundTrip")]
    public int Airlift_RoundTrip()
    {
        Load(ref _seq);
        _protect.TryProtectRtp(_buffer, PacketLength, out var n);
        _unprotect.TryUnprotectRtp(_buffer.AsSpan(0, n), out var m);
        return m;
    }

    /// <summary>libsrtp protect then unprotect.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("RoundTrip")]
    public int LibSrtp_RoundTrip()
    {
        Load(ref _libSeq);
        var n = PacketLength;
        _libProtect.Protect(_buffer, ref n);
        _libUnprotect.Unprotect(_buffer, ref n);
        return n;
    }

    /// <summary>Airlift protect then unprotect on the platform path.</summary>
    [Benchmark]
    [BenchmarkCategory("RoundTrip")]
    public int AirliftPlatform_RoundTrip()
    {
        Load(ref _platformSeq);
        _platformProtect.TryProtectRtp(_buffer, PacketLength, out var n);
        _platformUnprotect.TryUnprotectRtp(_buffer.AsSpan(0, n), out var m);
        return m;
    }

    private void Load(ref ushort seq)
    {
        _plain.AsSpan(0, PacketLength).CopyTo(_buffer);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(2), seq++);
    }

    private int SealPrimitive(bool ecbPerCall)
    {
        var payload = _buffer.AsSpan(HeaderLength, PayloadLength);
        if (_aead)
        {
            _gcm.Encrypt(_nonce, payload, payload, _buffer.AsSpan(PacketLength, 16), _buffer.AsSpan(0, HeaderLength));
            return PacketLength + 16;
        }

        Ctr(payload, ecbPerCall);
        _hmac.AppendData(_buffer.AsSpan(0, PacketLength));
        _hmac.AppendData(_roc);
        _hmac.TryGetHashAndReset(_mac, out _);
        _mac.AsSpan(0, _tag).CopyTo(_buffer.AsSpan(PacketLength));
        return PacketLength + _tag;
    }

    private void Ctr(Span<byte> payload, bool ecbPerCall)
    {
        var blocks = (payload.Length + 15) / 16;
        for (var b = 0; b < blocks; b++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_counters.AsSpan(b * 16 + 14), (ushort)b);
        }

        if (ecbPerCall)
        {
            _aes.EncryptEcb(_counters.AsSpan(0, blocks * 16), _keystream, PaddingMode.None);
        }
        else
        {
            _ecb.TransformBlock(_counters, 0, blocks * 16, _keystream, 0);
        }

        var ks = _keystream.AsSpan(0, payload.Length);
        for (var i = 0; i < payload.Length; i += 8)
        {
            var end = Math.Min(8, payload.Length - i);
            if (end == 8)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(payload[i..], BinaryPrimitives.ReadUInt64LittleEndian(payload[i..]) ^ BinaryPrimitives.ReadUInt64LittleEndian(ks[i..]));
            }
            else
            {
                for (var j = i; j < payload.Length; j++)
                {
                    payload[j] ^= ks[j];
                }
            }
        }
    }
}
