using Airlift.Dtls;

namespace Airlift.Srtp;

/// <summary>One SRTP master key and master salt (RFC 3711 3.2.1).</summary>
public sealed class SrtpMasterKey
{
    /// <summary>Copies <paramref name="key"/> and <paramref name="salt"/>.</summary>
    public SrtpMasterKey(ReadOnlySpan<byte> key, ReadOnlySpan<byte> salt)
    {
        Key = key.ToArray();
        Salt = salt.ToArray();
    }

    /// <summary>The master key (16 or 32 bytes).</summary>
    public ReadOnlyMemory<byte> Key { get; }

    /// <summary>The master salt (14 bytes for AES-CM, 12 for GCM).</summary>
    public ReadOnlyMemory<byte> Salt { get; }
}

/// <summary>
/// The two SRTP master keys of a DTLS-SRTP association, split from the exporter output by role (RFC 5764 4.2):
/// the material is client_write_SRTP_master_key | server_write_SRTP_master_key | client_write_SRTP_master_salt |
/// server_write_SRTP_master_salt. The DTLS client protects with the client keys; the server with the server keys.
/// </summary>
/// <remarks>Over a <c>WebRtcTransport</c>, <c>Airlift.WebRtc.MediaSession</c> does this from the transport's keying material event.</remarks>
public sealed class SrtpKeys
{
    private SrtpKeys(SrtpProtectionProfile profile, SrtpMasterKey local, SrtpMasterKey remote)
    {
        Profile = profile;
        Local = local;
        Remote = remote;
    }

    /// <summary>The negotiated protection profile.</summary>
    public SrtpProtectionProfile Profile { get; }

    /// <summary>Our write key: protects what we send.</summary>
    public SrtpMasterKey Local { get; }

    /// <summary>The peer's write key: unprotects what we receive.</summary>
    public SrtpMasterKey Remote { get; }

    /// <summary>Splits exporter output (RFC 5764 4.2 layout) for <paramref name="role"/>.</summary>
    /// <exception cref="ArgumentException">The profile is not supported or the material has the wrong length.</exception>
    public static SrtpKeys FromKeyingMaterial(SrtpProtectionProfile profile, ReadOnlySpan<byte> material, DtlsRole role)
    {
        if (!SrtpProfileInfo.TryGet(profile, out var info))
        {
            throw new ArgumentException($"unsupported SRTP protection profile {profile}", nameof(profile));
        }

        var k = info.MasterKeyLength;
        var s = info.MasterSaltLength;
        if (material.Length != 2 * (k + s))
        {
            throw new ArgumentException($"{profile} needs {2 * (k + s)} bytes of keying material, got {material.Length}", nameof(material));
        }

        var client = new SrtpMasterKey(material[..k], material.Slice(2 * k, s));
        var server = new SrtpMasterKey(material.Slice(k, k), material.Slice(2 * k + s, s));
        return role == DtlsRole.Client ? new SrtpKeys(profile, client, server) : new SrtpKeys(profile, server, client);
    }

    /// <summary>A context that protects outgoing RTP/RTCP with <see cref="Local"/>.</summary>
    public SrtpContext CreateProtectContext(SrtpOptions? options = null) =>
        SrtpContext.Create(Profile, SrtpDirection.Protect, Local.Key.Span, Local.Salt.Span, options);

    /// <summary>A context that unprotects incoming SRTP/SRTCP with <see cref="Remote"/>.</summary>
    public SrtpContext CreateUnprotectContext(SrtpOptions? options = null) =>
        SrtpContext.Create(Profile, SrtpDirection.Unprotect, Remote.Key.Span, Remote.Salt.Span, options);
}
