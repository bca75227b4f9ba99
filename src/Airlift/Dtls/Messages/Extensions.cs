using System.Diagnostics.CodeAnalysis;
using Airlift.Codec;

namespace Airlift.Dtls.Messages;

/// <summary>
/// The hello extensions block and typed codecs for the extensions Airlift understands. Each typed
/// <c>TryDecode*</c> reads an <see cref="Extension.Data"/> and rejects malformed or trailing bytes;
/// each <c>Create*</c> builds the <see cref="Extension"/> to put in a hello.
/// </summary>
internal static class Extensions
{
    /// <summary>
    /// Decodes a whole extensions block, the 2-byte length prefix included (RFC 5246 7.4.1.2):
    /// every byte of <paramref name="block"/> must be consumed. Two extensions of the same type are a
    /// decode failure (RFC 5246 7.4.1.4).
    /// </summary>
    public static bool TryDecodeList(ReadOnlySpan<byte> block, [NotNullWhen(true)] out List<Extension>? extensions)
    {
        var r = new WireReader(block);
        if (!TryRead(ref r, out extensions) || !r.IsEmpty)
        {
            extensions = null;
            return false;
        }

        return true;
    }

    /// <summary>Reads a length-prefixed extensions block at the reader's position.</summary>
    internal static bool TryRead(ref WireReader r, [NotNullWhen(true)] out List<Extension>? extensions)
    {
        extensions = null;
        if (!r.TryReadVector16(out var content))
        {
            return false;
        }

        var list = new List<Extension>();
        var seen = new HashSet<ushort>();
        var inner = new WireReader(content);
        while (!inner.IsEmpty)
        {
            if (!inner.TryReadUInt16(out var type) || !inner.TryReadVector16(out var data) || !seen.Add(type))
            {
                return false;
            }

            list.Add(new Extension(new ExtensionType(type), data.ToArray()));
        }

        extensions = list;
        return true;
    }

    /// <summary>Writes the 2-byte length prefix and every extension in order.</summary>
    public static void EncodeList(ref WireWriter writer, IReadOnlyList<Extension> extensions)
    {
        var scope = writer.BeginVector16();
        for (var i = 0; i < extensions.Count; i++)
        {
            var extension = extensions[i];
            writer.WriteUInt16(extension.Type.Value);
            writer.WriteVector16(extension.Data);
        }

        writer.EndVector(scope);
    }

    /// <summary>Finds the extension of the given type.</summary>
    public static bool TryFind(IReadOnlyList<Extension> extensions, ExtensionType type, out Extension extension)
    {
        for (var i = 0; i < extensions.Count; i++)
        {
            var e = extensions[i];
            if (e.Type == type)
            {
                extension = e;
                return true;
            }
        }

        extension = default;
        return false;
    }

    /// <summary>supported_groups (RFC 8422 5.1.1): <c>NamedGroup named_group_list&lt;2..2^16-1&gt;</c>.</summary>
    public static bool TryDecodeSupportedGroups(ReadOnlySpan<byte> data, [NotNullWhen(true)] out List<NamedGroup>? groups)
    {
        groups = null;
        if (!TryReadUInt16List(data, 2, out var values))
        {
            return false;
        }

        groups = values.ConvertAll(v => new NamedGroup(v));
        return true;
    }

    /// <summary>Builds supported_groups.</summary>
    public static Extension CreateSupportedGroups(IReadOnlyList<NamedGroup> groups)
    {
        RequireNonEmpty(groups.Count, nameof(groups));
        var data = new byte[2 + 2 * groups.Count];
        var w = new WireWriter(data);
        var scope = w.BeginVector16();
        for (var i = 0; i < groups.Count; i++)
        {
            var g = groups[i];
            w.WriteUInt16(g.Value);
        }

        w.EndVector(scope);
        return new Extension(ExtensionType.SupportedGroups, data);
    }

    /// <summary>signature_algorithms (RFC 5246 7.4.1.4.1): <c>supported_signature_algorithms&lt;2..2^16-2&gt;</c>.</summary>
    public static bool TryDecodeSignatureAlgorithms(ReadOnlySpan<byte> data, [NotNullWhen(true)] out List<SignatureScheme>? schemes)
    {
        schemes = null;
        if (!TryReadUInt16List(data, 2, out var values))
        {
            return false;
        }

        schemes = values.ConvertAll(v => new SignatureScheme(v));
        return true;
    }

    /// <summary>Builds signature_algorithms.</summary>
    public static Extension CreateSignatureAlgorithms(IReadOnlyList<SignatureScheme> schemes)
    {
        RequireNonEmpty(schemes.Count, nameof(schemes));
        var data = new byte[2 + 2 * schemes.Count];
        var w = new WireWriter(data);
        WriteSchemes(ref w, schemes);
        return new Extension(ExtensionType.SignatureAlgorithms, data);
    }

    /// <summary>
    /// use_srtp (RFC 5764 4.1.1): <c>SRTPProtectionProfile SRTPProtectionProfiles&lt;2..2^16-1&gt;</c>
    /// followed by <c>opaque srtp_mki&lt;0..255&gt;</c>.
    /// </summary>
    public static bool TryDecodeUseSrtp(ReadOnlySpan<byte> data, [NotNullWhen(true)] out List<SrtpProtectionProfile>? profiles, [NotNullWhen(true)] out byte[]? mki)
    {
        profiles = null;
        mki = null;
        var r = new WireReader(data);
        if (!r.TryReadVector16(out var list) || !TryReadUInt16Values(list, 2, out var values) || !r.TryReadVector8(out var mkiBytes) || !r.IsEmpty)
        {
            return false;
        }

        profiles = values.ConvertAll(v => new SrtpProtectionProfile(v));
        mki = mkiBytes.ToArray();
        return true;
    }

    /// <summary>Builds use_srtp; the MKI is usually empty in WebRTC.</summary>
    public static Extension CreateUseSrtp(IReadOnlyList<SrtpProtectionProfile> profiles, ReadOnlySpan<byte> mki)
    {
        RequireNonEmpty(profiles.Count, nameof(profiles));
        if (mki.Length > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(mki));
        }

        var data = new byte[2 + 2 * profiles.Count + 1 + mki.Length];
        var w = new WireWriter(data);
        var scope = w.BeginVector16();
        for (var i = 0; i < profiles.Count; i++)
        {
            var p = profiles[i];
            w.WriteUInt16(p.Value);
        }

        w.EndVector(scope);
        w.WriteVector8(mki);
        return new Extension(ExtensionType.UseSrtp, data);
    }

    /// <summary>ec_point_formats (RFC 8422 5.1.2): <c>ECPointFormat ec_point_format_list&lt;1..2^8-1&gt;</c>.</summary>
    public static bool TryDecodeEcPointFormats(ReadOnlySpan<byte> data, [NotNullWhen(true)] out byte[]? formats)
    {
        formats = null;
        var r = new WireReader(data);
        if (!r.TryReadVector8(out var list) || list.IsEmpty || !r.IsEmpty)
        {
            return false;
        }

        formats = list.ToArray();
        return true;
    }

    /// <summary>Builds ec_point_formats (Airlift sends only uncompressed, 0).</summary>
    public static Extension CreateEcPointFormats(ReadOnlySpan<byte> formats)
    {
        RequireNonEmpty(formats.Length, nameof(formats));
        if (formats.Length > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(formats));
        }

        var data = new byte[1 + formats.Length];
        data[0] = (byte)formats.Length;
        formats.CopyTo(data.AsSpan(1));
        return new Extension(ExtensionType.EcPointFormats, data);
    }

    /// <summary>extended_master_secret (RFC 7627 5.1): the extension_data is empty.</summary>
    public static bool TryDecodeExtendedMasterSecret(ReadOnlySpan<byte> data) => data.IsEmpty;

    /// <summary>Builds extended_master_secret.</summary>
    public static Extension CreateExtendedMasterSecret() => new(ExtensionType.ExtendedMasterSecret, []);

    /// <summary>renegotiation_info (RFC 5746 3.2): <c>opaque renegotiated_connection&lt;0..255&gt;</c>.</summary>
    public static bool TryDecodeRenegotiationInfo(ReadOnlySpan<byte> data, [NotNullWhen(true)] out byte[]? renegotiatedConnection)
    {
        renegotiatedConnection = null;
        var r = new WireReader(data);
        if (!r.TryReadVector8(out var value) || !r.IsEmpty)
        {
            return false;
        }

        renegotiatedConnection = value.ToArray();
        return true;
    }

    /// <summary>Builds renegotiation_info; empty on an initial handshake.</summary>
    public static Extension CreateRenegotiationInfo(ReadOnlySpan<byte> renegotiatedConnection)
    {
        if (renegotiatedConnection.Length > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(renegotiatedConnection));
        }

        var data = new byte[1 + renegotiatedConnection.Length];
        data[0] = (byte)renegotiatedConnection.Length;
        renegotiatedConnection.CopyTo(data.AsSpan(1));
        return new Extension(ExtensionType.RenegotiationInfo, data);
    }

    /// <summary>supported_versions, ClientHello form (RFC 8446 4.2.1): <c>ProtocolVersion versions&lt;2..254&gt;</c>.</summary>
    public static bool TryDecodeSupportedVersions(ReadOnlySpan<byte> data, [NotNullWhen(true)] out List<ProtocolVersion>? versions)
    {
        versions = null;
        var r = new WireReader(data);
        if (!r.TryReadVector8(out var list) || !r.IsEmpty || !TryReadUInt16Values(list, 2, out var values))
        {
            return false;
        }

        versions = values.ConvertAll(v => new ProtocolVersion(v));
        return true;
    }

    /// <summary>Builds supported_versions (ClientHello form).</summary>
    public static Extension CreateSupportedVersions(IReadOnlyList<ProtocolVersion> versions)
    {
        RequireNonEmpty(versions.Count, nameof(versions));
        if (versions.Count > 127)
        {
            throw new ArgumentOutOfRangeException(nameof(versions));
        }

        var data = new byte[1 + 2 * versions.Count];
        var w = new WireWriter(data);
        var scope = w.BeginVector8();
        for (var i = 0; i < versions.Count; i++)
        {
            var v = versions[i];
            w.WriteUInt16(v.Value);
        }

        w.EndVector(scope);
        return new Extension(ExtensionType.SupportedVersions, data);
    }

    /// <summary>Writes a 2-byte-length-prefixed list of signature schemes (shared with CertificateRequest).</summary>
    internal static void WriteSchemes(ref WireWriter w, IReadOnlyList<SignatureScheme> schemes)
    {
        var scope = w.BeginVector16();
        for (var i = 0; i < schemes.Count; i++)
        {
            var s = schemes[i];
            w.WriteUInt16(s.Value);
        }

        w.EndVector(scope);
    }

    /// <summary>Reads a 2-byte-length-prefixed list of uint16 values that fills <paramref name="data"/> exactly.</summary>
    private static bool TryReadUInt16List(ReadOnlySpan<byte> data, int minBytes, [NotNullWhen(true)] out List<ushort>? values)
    {
        values = null;
        var r = new WireReader(data);
        return r.TryReadVector16(out var list) && r.IsEmpty && TryReadUInt16Values(list, minBytes, out values);
    }

    /// <summary>Splits a vector's content into uint16 values; odd lengths and lists below the minimum fail.</summary>
    internal static bool TryReadUInt16Values(ReadOnlySpan<byte> content, int minBytes, [NotNullWhen(true)] out List<ushort>? values)
    {
        values = null;
        if (content.Length < minBytes || content.Length % 2 != 0)
        {
            return false;
        }

        var list = new List<ushort>(content.Length / 2);
        for (var i = 0; i < content.Length; i += 2)
        {
            list.Add((ushort)((content[i] << 8) | content[i + 1]));
        }

        values = list;
        return true;
    }

    private static void RequireNonEmpty(int count, string name)
    {
        if (count == 0)
        {
            throw new ArgumentException("The list must not be empty.", name);
        }
    }
}
