namespace Airlift.Dtls;

// Wire enums are open value types: an unknown or GREASE value read from the wire survives as
// itself instead of being coerced into a named member (STYLE.md, point 8).

/// <summary>TLS record content type (RFC 5246 6.2.1).</summary>
public readonly record struct ContentType(byte Value)
{
    /// <summary>change_cipher_spec (20).</summary>
    public static readonly ContentType ChangeCipherSpec = new(20);
    /// <summary>alert (21).</summary>
    public static readonly ContentType Alert = new(21);
    /// <summary>handshake (22).</summary>
    public static readonly ContentType Handshake = new(22);
    /// <summary>application_data (23).</summary>
    public static readonly ContentType ApplicationData = new(23);

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        20 => "change_cipher_spec",
        21 => "alert",
        22 => "handshake",
        23 => "application_data",
        _ => $"content_type({Value})",
    };
}

/// <summary>Handshake message type (RFC 5246 7.4, RFC 6347 4.3.2).</summary>
public readonly record struct HandshakeType(byte Value)
{
    /// <summary>hello_request (0).</summary>
    public static readonly HandshakeType HelloRequest = new(0);
    /// <summary>client_hello (1).</summary>
    public static readonly HandshakeType ClientHello = new(1);
    /// <summary>server_hello (2).</summary>
    public static readonly HandshakeType ServerHello = new(2);
    /// <summary>hello_verify_request (3).</summary>
    public static readonly HandshakeType HelloVerifyRequest = new(3);
    /// <summary>certificate (11).</summary>
    public static readonly HandshakeType Certificate = new(11);
    /// <summary>server_key_exchange (12).</summary>
    public static readonly HandshakeType ServerKeyExchange = new(12);
    /// <summary>certificate_request (13).</summary>
    public static readonly HandshakeType CertificateRequest = new(13);
    /// <summary>server_hello_done (14).</summary>
    public static readonly HandshakeType ServerHelloDone = new(14);
    /// <summary>certificate_verify (15).</summary>
    public static readonly HandshakeType CertificateVerify = new(15);
    /// <summary>client_key_exchange (16).</summary>
    public static readonly HandshakeType ClientKeyExchange = new(16);
    /// <summary>finished (20).</summary>
    public static readonly HandshakeType Finished = new(20);

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        3 => "HelloVerifyRequest",
        4 => "NewSessionTicket",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        24 => "KeyUpdate",
        254 => "MessageHash",
        _ => $"HandshakeType({Value})",
    };
}

/// <summary>Protocol version as on the wire (DTLS uses the one's complement: DTLS 1.0 = FEFF, DTLS 1.2 = FEFD).</summary>
public readonly record struct ProtocolVersion(ushort Value)
{
    /// <summary>DTLS 1.0 (0xFEFF), which clients use as the record version of their first ClientHello.</summary>
    public static readonly ProtocolVersion Dtls10 = new(0xFEFF);
    /// <summary>DTLS 1.2 (0xFEFD).</summary>
    public static readonly ProtocolVersion Dtls12 = new(0xFEFD);
    /// <summary>DTLS 1.3 (0xFEFC).</summary>
    public static readonly ProtocolVersion Dtls13 = new(0xFEFC);

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        0xFEFF => "DTLS 1.0",
        0xFEFD => "DTLS 1.2",
        0xFEFC => "DTLS 1.3",
        _ => $"0x{Value:X4}",
    };
}

/// <summary>TLS cipher suite (IANA registry).</summary>
public readonly record struct CipherSuite(ushort Value)
{
    /// <summary>TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xC02B).</summary>
    public static readonly CipherSuite EcdheEcdsaWithAes128GcmSha256 = new(0xC02B);
    /// <summary>TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xC02C).</summary>
    public static readonly CipherSuite EcdheEcdsaWithAes256GcmSha384 = new(0xC02C);
    /// <summary>TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (0xCCA9).</summary>
    public static readonly CipherSuite EcdheEcdsaWithChaCha20Poly1305Sha256 = new(0xCCA9);
    /// <summary>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xC02F).</summary>
    public static readonly CipherSuite EcdheRsaWithAes128GcmSha256 = new(0xC02F);
    /// <summary>TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xC030).</summary>
    public static readonly CipherSuite EcdheRsaWithAes256GcmSha384 = new(0xC030);
    /// <summary>TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (0xCCA8).</summary>
    public static readonly CipherSuite EcdheRsaWithChaCha20Poly1305Sha256 = new(0xCCA8);
    /// <summary>TLS_EMPTY_RENEGOTIATION_INFO_SCSV (0x00FF), RFC 5746.</summary>
    public static readonly CipherSuite EmptyRenegotiationInfoScsv = new(0x00FF);
    /// <summary>TLS_AES_128_GCM_SHA256 (0x1301), a TLS 1.3 / DTLS 1.3 suite (RFC 8446 B.4).</summary>
    public static readonly CipherSuite Tls13Aes128GcmSha256 = new(0x1301);
    /// <summary>TLS_AES_256_GCM_SHA384 (0x1302), a TLS 1.3 / DTLS 1.3 suite (RFC 8446 B.4).</summary>
    public static readonly CipherSuite Tls13Aes256GcmSha384 = new(0x1302);
    /// <summary>TLS_CHACHA20_POLY1305_SHA256 (0x1303), a TLS 1.3 / DTLS 1.3 suite (RFC 8446 B.4).</summary>
    public static readonly CipherSuite Tls13ChaCha20Poly1305Sha256 = new(0x1303);

    /// <summary>The IANA name, or a hex form for unknown values.</summary>
    public string Name => Value switch
    {
        0xC02B => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02C => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xCCA9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xC02F => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xCCA8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0x00FF => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        _ => $"0x{Value:X4}",
    };

    /// <summary>Parses an IANA name (case-insensitive) of a suite Airlift implements.</summary>
    public static bool TryParse(string name, out CipherSuite suite)
    {
        foreach (var s in new[] { EcdheEcdsaWithAes128GcmSha256, EcdheEcdsaWithAes256GcmSha384, EcdheEcdsaWithChaCha20Poly1305Sha256, EcdheRsaWithAes128GcmSha256, EcdheRsaWithAes256GcmSha384, EcdheRsaWithChaCha20Poly1305Sha256, Tls13Aes128GcmSha256, Tls13Aes256GcmSha384, Tls13ChaCha20Poly1305Sha256 })
        {
            if (string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                suite = s;
                return true;
            }
        }

        suite = default;
        return false;
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>TLS 1.2 SignatureScheme / SignatureAndHashAlgorithm (RFC 5246 7.4.1.4.1, RFC 8446 4.2.3).</summary>
public readonly record struct SignatureScheme(ushort Value)
{
    /// <summary>rsa_pkcs1_sha256 (0x0401).</summary>
    public static readonly SignatureScheme RsaPkcs1Sha256 = new(0x0401);
    /// <summary>rsa_pkcs1_sha384 (0x0501).</summary>
    public static readonly SignatureScheme RsaPkcs1Sha384 = new(0x0501);
    /// <summary>ecdsa_secp256r1_sha256 (0x0403).</summary>
    public static readonly SignatureScheme EcdsaSecp256r1Sha256 = new(0x0403);
    /// <summary>ecdsa_secp384r1_sha384 (0x0503).</summary>
    public static readonly SignatureScheme EcdsaSecp384r1Sha384 = new(0x0503);
    /// <summary>rsa_pss_rsae_sha256 (0x0804).</summary>
    public static readonly SignatureScheme RsaPssRsaeSha256 = new(0x0804);
    /// <summary>rsa_pss_rsae_sha384 (0x0805).</summary>
    public static readonly SignatureScheme RsaPssRsaeSha384 = new(0x0805);

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        0x0401 => "rsa_pkcs1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        _ => $"0x{Value:X4}",
    };
}

/// <summary>Named group for ECDHE (RFC 8422 5.1.1, RFC 8446 4.2.7).</summary>
public readonly record struct NamedGroup(ushort Value)
{
    /// <summary>secp256r1 (23).</summary>
    public static readonly NamedGroup Secp256r1 = new(23);
    /// <summary>secp384r1 (24).</summary>
    public static readonly NamedGroup Secp384r1 = new(24);
    /// <summary>x25519 (29), RFC 7748 / RFC 8422 5.1.1; the share is the 32-byte u-coordinate.</summary>
    public static readonly NamedGroup X25519 = new(29);
    /// <summary>
    /// X25519MLKEM768 (0x11EC, draft-ietf-tls-ecdhe-mlkem): the hybrid of ML-KEM-768 (FIPS 203) and X25519 that
    /// Chromium and NSS offer first. TLS 1.3 / DTLS 1.3 key_share only: it has no DTLS 1.2 ECDHE form.
    /// </summary>
    public static readonly NamedGroup X25519MlKem768 = new(0x11EC);

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        23 => "secp256r1",
        24 => "secp384r1",
        29 => "x25519",
        0x11EC => "X25519MLKEM768",
        _ => $"group({Value})",
    };
}

/// <summary>DTLS-SRTP protection profile (RFC 5764 4.1.2, RFC 7714 14.2).</summary>
public readonly record struct SrtpProtectionProfile(ushort Value)
{
    /// <summary>SRTP_AES128_CM_HMAC_SHA1_80 (0x0001).</summary>
    public static readonly SrtpProtectionProfile Aes128CmHmacSha1_80 = new(0x0001);
    /// <summary>SRTP_AES128_CM_HMAC_SHA1_32 (0x0002).</summary>
    public static readonly SrtpProtectionProfile Aes128CmHmacSha1_32 = new(0x0002);
    /// <summary>SRTP_AEAD_AES_128_GCM (0x0007).</summary>
    public static readonly SrtpProtectionProfile AeadAes128Gcm = new(0x0007);
    /// <summary>SRTP_AEAD_AES_256_GCM (0x0008).</summary>
    public static readonly SrtpProtectionProfile AeadAes256Gcm = new(0x0008);

    /// <summary>The IANA name, or a hex form for unknown values.</summary>
    public string Name => Value switch
    {
        0x0001 => "SRTP_AES128_CM_HMAC_SHA1_80",
        0x0002 => "SRTP_AES128_CM_HMAC_SHA1_32",
        0x0007 => "SRTP_AEAD_AES_128_GCM",
        0x0008 => "SRTP_AEAD_AES_256_GCM",
        _ => $"0x{Value:X4}",
    };

    /// <summary>Bytes of keying material the profile needs from the exporter: 2 x (key + salt).</summary>
    public int KeyingMaterialLength => Value switch
    {
        0x0001 or 0x0002 => 2 * (16 + 14),
        0x0007 => 2 * (16 + 12),
        0x0008 => 2 * (32 + 12),
        _ => 0,
    };

    /// <summary>Parses an IANA profile name (case-insensitive).</summary>
    public static bool TryParse(string name, out SrtpProtectionProfile profile)
    {
        ArgumentNullException.ThrowIfNull(name);

        // OpenSSL spells the two AES-CM profiles without HMAC (SRTP_AES128_CM_SHA1_80): accepted as the same profiles.
        var canonical = name.Replace("_CM_SHA1_", "_CM_HMAC_SHA1_", StringComparison.OrdinalIgnoreCase);
        foreach (var p in new[] { Aes128CmHmacSha1_80, Aes128CmHmacSha1_32, AeadAes128Gcm, AeadAes256Gcm })
        {
            if (string.Equals(p.Name, canonical, StringComparison.OrdinalIgnoreCase))
            {
                profile = p;
                return true;
            }
        }

        profile = default;
        return false;
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>TLS extension type (IANA registry).</summary>
public readonly record struct ExtensionType(ushort Value)
{
    /// <summary>supported_groups (10).</summary>
    public static readonly ExtensionType SupportedGroups = new(10);
    /// <summary>ec_point_formats (11).</summary>
    public static readonly ExtensionType EcPointFormats = new(11);
    /// <summary>signature_algorithms (13).</summary>
    public static readonly ExtensionType SignatureAlgorithms = new(13);
    /// <summary>use_srtp (14), RFC 5764.</summary>
    public static readonly ExtensionType UseSrtp = new(14);
    /// <summary>extended_master_secret (23), RFC 7627.</summary>
    public static readonly ExtensionType ExtendedMasterSecret = new(23);
    /// <summary>supported_versions (43), RFC 8446.</summary>
    public static readonly ExtensionType SupportedVersions = new(43);
    /// <summary>renegotiation_info (0xFF01), RFC 5746.</summary>
    public static readonly ExtensionType RenegotiationInfo = new(0xFF01);
}

/// <summary>Alert level (RFC 5246 7.2).</summary>
public enum AlertLevel : byte
{
    /// <summary>warning (1).</summary>
    Warning = 1,
    /// <summary>fatal (2).</summary>
    Fatal = 2,
}

/// <summary>Alert description (RFC 5246 7.2, RFC 8446 6).</summary>
public enum AlertDescription : byte
{
    /// <summary>close_notify.</summary>
    CloseNotify = 0,
    /// <summary>unexpected_message.</summary>
    UnexpectedMessage = 10,
    /// <summary>bad_record_mac.</summary>
    BadRecordMac = 20,
    /// <summary>record_overflow.</summary>
    RecordOverflow = 22,
    /// <summary>handshake_failure.</summary>
    HandshakeFailure = 40,
    /// <summary>bad_certificate.</summary>
    BadCertificate = 42,
    /// <summary>unsupported_certificate.</summary>
    UnsupportedCertificate = 43,
    /// <summary>certificate_expired.</summary>
    CertificateExpired = 45,
    /// <summary>certificate_unknown.</summary>
    CertificateUnknown = 46,
    /// <summary>illegal_parameter.</summary>
    IllegalParameter = 47,
    /// <summary>unknown_ca.</summary>
    UnknownCa = 48,
    /// <summary>decode_error.</summary>
    DecodeError = 50,
    /// <summary>decrypt_error.</summary>
    DecryptError = 51,
    /// <summary>protocol_version.</summary>
    ProtocolVersion = 70,
    /// <summary>insufficient_security.</summary>
    InsufficientSecurity = 71,
    /// <summary>internal_error.</summary>
    InternalError = 80,
    /// <summary>user_canceled.</summary>
    UserCanceled = 90,
    /// <summary>no_renegotiation.</summary>
    NoRenegotiation = 100,
    /// <summary>missing_extension (RFC 8446 6.2).</summary>
    MissingExtension = 109,
    /// <summary>unsupported_extension.</summary>
    UnsupportedExtension = 110,
    /// <summary>certificate_required (RFC 8446 6.2).</summary>
    CertificateRequired = 116,
}
