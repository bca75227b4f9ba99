using System.Text.RegularExpressions;
using Airlift.Dtls;

namespace Airlift.Tests.Interop;

/// <summary>
/// Parsers for what the peer CLIs print once a DTLS handshake completes (formats captured from
/// OpenSSL 3.0.19 and GnuTLS 3.7.9; see PEERS.md). Each takes the whole output (<see cref="PeerProcess.Output"/>)
/// and reads the first matching line. The top-level methods try every format.
/// </summary>
internal static partial class PeerOutput
{
    /// <summary>Readiness and completion lines to pass to <see cref="PeerProcess.WaitForAsync(Regex, TimeSpan)"/>.</summary>
    internal static class Lines
    {
        /// <summary>openssl s_server has bound its socket ("ACCEPT").</summary>
        public static readonly Regex OpenSslServerReady = new(@"^ACCEPT$", RegexOptions.CultureInvariant);

        /// <summary>openssl s_server / s_client printed the exported keying material (handshake done).</summary>
        public static readonly Regex OpenSslExporter = new(@"^\s+Keying material: [0-9A-Fa-f]+\s*$", RegexOptions.CultureInvariant);

        /// <summary>openssl s_server / s_client printed the negotiated suite (handshake done).</summary>
        public static readonly Regex OpenSslHandshakeDone = new(@"(^CIPHER is |^New, .*Cipher is )", RegexOptions.CultureInvariant);

        /// <summary>gnutls-serv (run under stdbuf -oL) is listening and waiting for a ClientHello.</summary>
        public static readonly Regex GnuTlsServerReady = new(@"^Waiting for connection\.\.\.$", RegexOptions.CultureInvariant);

        /// <summary>gnutls-cli finished the handshake.</summary>
        public static readonly Regex GnuTlsClientHandshakeDone = new(@"^- Handshake was completed", RegexOptions.CultureInvariant);

        /// <summary>gnutls-cli printed the exported keying material.</summary>
        public static readonly Regex GnuTlsExporter = new(@"^- Key material: [0-9A-Fa-f]+\s*$", RegexOptions.CultureInvariant);
    }

    /// <summary>Reads exported keying material (RFC 5705) printed by OpenSSL or GnuTLS.</summary>
    public static bool TryParseExporter(string output, out byte[] material) =>
        OpenSsl.TryParseExporter(output, out material) || GnuTls.TryParseExporter(output, out material);

    /// <summary>Reads the negotiated cipher suite printed by OpenSSL or GnuTLS.</summary>
    public static bool TryParseCipher(string output, out CipherSuite suite) =>
        OpenSsl.TryParseCipher(output, out suite) || GnuTls.TryParseCipher(output, out suite);

    /// <summary>Reads the negotiated DTLS-SRTP protection profile printed by OpenSSL or GnuTLS.</summary>
    public static bool TryParseSrtpProfile(string output, out SrtpProtectionProfile profile) =>
        OpenSsl.TryParseSrtpProfile(output, out profile) || GnuTls.TryParseSrtpProfile(output, out profile);

    private static bool TryHex(Match m, out byte[] bytes)
    {
        bytes = [];
        if (!m.Success)
        {
            return false;
        }

        var hex = m.Groups["hex"].Value;
        if (hex.Length == 0 || hex.Length % 2 != 0)
        {
            return false;
        }

        bytes = Convert.FromHexString(hex);
        return true;
    }

    /// <summary>OpenSSL 3.0 s_server / s_client formats.</summary>
    internal static partial class OpenSsl
    {
        /// <summary>OpenSSL cipher names of the suites Airlift implements, to IANA.</summary>
        public static IReadOnlyDictionary<string, CipherSuite> CipherNames { get; } = new Dictionary<string, CipherSuite>(StringComparer.Ordinal)
        {
            ["ECDHE-ECDSA-AES128-GCM-SHA256"] = CipherSuite.EcdheEcdsaWithAes128GcmSha256,
            ["ECDHE-ECDSA-AES256-GCM-SHA384"] = CipherSuite.EcdheEcdsaWithAes256GcmSha384,
            ["ECDHE-ECDSA-CHACHA20-POLY1305"] = CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256,
            ["ECDHE-RSA-AES128-GCM-SHA256"] = CipherSuite.EcdheRsaWithAes128GcmSha256,
            ["ECDHE-RSA-AES256-GCM-SHA384"] = CipherSuite.EcdheRsaWithAes256GcmSha384,
            ["ECDHE-RSA-CHACHA20-POLY1305"] = CipherSuite.EcdheRsaWithChaCha20Poly1305Sha256,
        };

        /// <summary>OpenSSL SRTP profile names (as in -use_srtp and its output), to IANA.</summary>
        public static IReadOnlyDictionary<string, SrtpProtectionProfile> SrtpNames { get; } = new Dictionary<string, SrtpProtectionProfile>(StringComparer.Ordinal)
        {
            ["SRTP_AES128_CM_SHA1_80"] = SrtpProtectionProfile.Aes128CmHmacSha1_80,
            ["SRTP_AES128_CM_SHA1_32"] = SrtpProtectionProfile.Aes128CmHmacSha1_32,
            ["SRTP_AEAD_AES_128_GCM"] = SrtpProtectionProfile.AeadAes128Gcm,
            ["SRTP_AEAD_AES_256_GCM"] = SrtpProtectionProfile.AeadAes256Gcm,
        };

        /// <summary>The OpenSSL name of <paramref name="profile"/> (for -use_srtp).</summary>
        public static string SrtpName(SrtpProtectionProfile profile) =>
            SrtpNames.First(kv => kv.Value == profile).Key;

        /// <summary>The OpenSSL name of <paramref name="suite"/> (for -cipher).</summary>
        public static string CipherName(CipherSuite suite) =>
            CipherNames.First(kv => kv.Value == suite).Key;

        /// <summary>"    Keying material: 0A1B..." (upper-case hex, after "Keying material exporter:").</summary>
        public static bool TryParseExporter(string output, out byte[] material) =>
            TryHex(ExporterLine().Match(output), out material);

        /// <summary>Server: "CIPHER is NAME"; client: "New, TLSv1.2, Cipher is NAME". False for suites Airlift does not implement.</summary>
        public static bool TryParseCipher(string output, out CipherSuite suite)
        {
            suite = default;
            var m = CipherLine().Match(output);
            return m.Success && CipherNames.TryGetValue(m.Groups["name"].Value, out suite);
        }

        /// <summary>"SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80".</summary>
        public static bool TryParseSrtpProfile(string output, out SrtpProtectionProfile profile)
        {
            profile = default;
            var m = SrtpLine().Match(output);
            return m.Success && SrtpNames.TryGetValue(m.Groups["name"].Value, out profile);
        }

        [GeneratedRegex(@"^\s+Keying material: (?<hex>[0-9A-Fa-f]+)\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
        private static partial Regex ExporterLine();

        [GeneratedRegex(@"^(?:CIPHER is |New, [^,]+, Cipher is )(?<name>\S+)\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
        private static partial Regex CipherLine();

        [GeneratedRegex(@"^SRTP Extension negotiated, profile=(?<name>\S+)\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
        private static partial Regex SrtpLine();
    }

    /// <summary>GnuTLS 3.7 gnutls-cli formats (gnutls-serv prints none of these for DTLS; see PEERS.md).</summary>
    internal static partial class GnuTls
    {
        /// <summary>"- Key material: 0a1b..." (lower-case hex).</summary>
        public static bool TryParseExporter(string output, out byte[] material) =>
            TryHex(ExporterLine().Match(output), out material);

        /// <summary>
        /// "- Description: (DTLS1.2-X.509)-(ECDHE-SECP256R1)-(RSA-SHA256)-(AES-128-GCM)": key exchange,
        /// server signature and AEAD cipher name the suite (GCM/ChaCha20 suites carry no separate MAC).
        /// False for suites Airlift does not implement.
        /// </summary>
        public static bool TryParseCipher(string output, out CipherSuite suite)
        {
            suite = default;
            var m = DescriptionLine().Match(output);
            if (!m.Success || !m.Groups["kx"].Value.StartsWith("ECDHE", StringComparison.Ordinal))
            {
                return false;
            }

            var sig = m.Groups["sig"].Value;
            bool? ecdsa = sig.StartsWith("ECDSA", StringComparison.Ordinal) ? true
                : sig.StartsWith("RSA", StringComparison.Ordinal) ? false
                : null;
            if (ecdsa is null)
            {
                return false;
            }

            CipherSuite? found = (m.Groups["cipher"].Value, ecdsa.Value) switch
            {
                ("AES-128-GCM", true) => CipherSuite.EcdheEcdsaWithAes128GcmSha256,
                ("AES-256-GCM", true) => CipherSuite.EcdheEcdsaWithAes256GcmSha384,
                ("CHACHA20-POLY1305", true) => CipherSuite.EcdheEcdsaWithChaCha20Poly1305Sha256,
                ("AES-128-GCM", false) => CipherSuite.EcdheRsaWithAes128GcmSha256,
                ("AES-256-GCM", false) => CipherSuite.EcdheRsaWithAes256GcmSha384,
                ("CHACHA20-POLY1305", false) => CipherSuite.EcdheRsaWithChaCha20Poly1305Sha256,
                _ => null,
            };
            if (found is null)
            {
                return false;
            }

            suite = found.Value;
            return true;
        }

        /// <summary>"- SRTP profile: SRTP_AES128_CM_HMAC_SHA1_80" (IANA names).</summary>
        public static bool TryParseSrtpProfile(string output, out SrtpProtectionProfile profile)
        {
            profile = default;
            var m = SrtpLine().Match(output);
            return m.Success && SrtpProtectionProfile.TryParse(m.Groups["name"].Value, out profile);
        }

        [GeneratedRegex(@"^- Key material: (?<hex>[0-9A-Fa-f]+)\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
        private static partial Regex ExporterLine();

        [GeneratedRegex(@"^- Description: \((?<ver>[^)]*)\)-\((?<kx>[^)]*)\)-\((?<sig>[^)]*)\)-\((?<cipher>[^)]*)\)", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
        private static partial Regex DescriptionLine();

        [GeneratedRegex(@"^- SRTP profile: (?<name>\S+)\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
        private static partial Regex SrtpLine();
    }
}
