using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Airlift.Dtls;

/// <summary>The public key algorithm of a <see cref="DtlsCertificate"/>.</summary>
public enum CertificateKeyType
{
    /// <summary>An elliptic-curve key; signs with ECDSA (ECDHE_ECDSA suites).</summary>
    Ecdsa,

    /// <summary>An RSA key; signs with RSA-PSS or PKCS #1 v1.5 (ECDHE_RSA suites).</summary>
    Rsa,
}

/// <summary>
/// The certificate and private key a DTLS endpoint presents, with the chain it sends in its
/// Certificate message. WebRTC endpoints normally use a fresh self-signed ECDSA certificate
/// (<see cref="GenerateEcdsa"/>) authenticated by its fingerprint in SDP rather than by a CA.
/// </summary>
public sealed class DtlsCertificate : IDisposable
{
    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;
    private readonly bool _ownsLeaf;
    private readonly SignatureScheme[] _schemes;

    private DtlsCertificate(X509Certificate2 leaf, IReadOnlyList<byte[]> chainDer, bool ownsLeaf)
    {
        Leaf = leaf;
        ChainDer = chainDer;
        _ownsLeaf = ownsLeaf;
        _ecdsa = leaf.GetECDsaPrivateKey();
        if (_ecdsa is not null)
        {
            KeyType = CertificateKeyType.Ecdsa;
            _schemes = _ecdsa.KeySize == 384
                ? [SignatureScheme.EcdsaSecp384r1Sha384, SignatureScheme.EcdsaSecp256r1Sha256]
                : [SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp384r1Sha384];
            return;
        }

        _rsa = leaf.GetRSAPrivateKey()
            ?? throw new NotSupportedException("The certificate's private key is neither EC nor RSA; Airlift signs with ECDSA or RSA only.");
        KeyType = CertificateKeyType.Rsa;
        _schemes = [SignatureScheme.RsaPssRsaeSha256, SignatureScheme.RsaPssRsaeSha384, SignatureScheme.RsaPkcs1Sha256, SignatureScheme.RsaPkcs1Sha384];
    }

    /// <summary>The end-entity certificate, with its private key.</summary>
    public X509Certificate2 Leaf { get; }

    /// <summary>DER certificates as sent in the Certificate message: the leaf first, then intermediates.</summary>
    public IReadOnlyList<byte[]> ChainDer { get; }

    /// <summary>The leaf's key algorithm, which decides the usable cipher suites.</summary>
    public CertificateKeyType KeyType { get; }

    /// <summary>
    /// Signature schemes this key can produce, in preference order (TLS 1.2 does not bind an ECDSA
    /// scheme's curve to the key, so an EC key offers both hashes, its own curve's first).
    /// </summary>
    internal IReadOnlyList<SignatureScheme> SignatureSchemes => _schemes;

    /// <summary>
    /// Generates a self-signed P-256 certificate in the compact shape browsers use for WebRTC: subject
    /// <c>CN=<paramref name="commonName"/></c>, no extensions, ECDSA-SHA256, under 300 bytes of DER.
    /// </summary>
    /// <param name="commonName">Subject and issuer common name.</param>
    /// <param name="validity">Lifetime from now; 30 days by default. notBefore is one day in the past to tolerate clock skew.</param>
    public static DtlsCertificate GenerateEcdsa(string commonName = "airlift", TimeSpan? validity = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(commonName);
        var lifetime = validity ?? TimeSpan.FromDays(30);
        if (lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(validity), "The validity must be positive.");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(commonName);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        var leaf = request.CreateSelfSigned(now.AddDays(-1), now + lifetime);
        return new DtlsCertificate(leaf, [leaf.RawData], ownsLeaf: true);
    }

    /// <summary>
    /// Loads a certificate and its key from PEM files. The certificate file holds the leaf first and
    /// optionally its chain; <paramref name="chainPath"/> adds more chain certificates. The key must be
    /// unencrypted: PKCS #8 (<c>PRIVATE KEY</c>), SEC 1 (<c>EC PRIVATE KEY</c>) or PKCS #1
    /// (<c>RSA PRIVATE KEY</c>).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, the key is encrypted or of another type, or the key does not match the certificate; the message names the file and the reason.</exception>
    public static DtlsCertificate LoadPem(string certificatePath, string keyPath, string? chainPath = null)
    {
        ArgumentNullException.ThrowIfNull(certificatePath);
        ArgumentNullException.ThrowIfNull(keyPath);
        var certificates = ReadPemCertificates(certificatePath);
        if (chainPath is not null)
        {
            certificates.AddRange(ReadPemCertificates(chainPath));
        }

        var publicLeaf = certificates[0];
        try
        {
            var leaf = AttachKey(publicLeaf, keyPath);
            var chain = OrderChain(leaf, certificates.Skip(1).ToList());
            return new DtlsCertificate(leaf, chain, ownsLeaf: true);
        }
        finally
        {
            foreach (var c in certificates)
            {
                c.Dispose();
            }
        }
    }

    /// <summary>Loads a PKCS #12 (.pfx/.p12) file; the certificate with a private key is the leaf, the others form the chain.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, the password is wrong, or no certificate has a private key.</exception>
    public static DtlsCertificate LoadPfx(string path, string? password = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"PFX file '{path}' does not exist.", path);
        }

        X509Certificate2Collection collection;
        try
        {
            collection = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password, X509KeyStorageFlags.Exportable);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or FormatException)
        {
            // The platform reports some malformed PKCS #12 structures as ArgumentException (found by fuzzing).
            throw new InvalidDataException($"PFX file '{path}': {e.Message}", e);
        }

        // The leaf is the certificate with a private key that issued no other certificate in the file
        // (a PFX may also carry CA keys); failing that, the first with a key.
        var withKeys = collection.Where(c => c.HasPrivateKey).ToList();
        var leaf = withKeys.Find(c => !collection.Any(o => !ReferenceEquals(o, c) && o.IssuerName.RawData.AsSpan().SequenceEqual(c.SubjectName.RawData)))
            ?? withKeys.FirstOrDefault();

        if (leaf is null)
        {
            foreach (var c in collection)
            {
                c.Dispose();
            }

            throw new InvalidDataException($"PFX file '{path}': no certificate has a private key.");
        }

        var others = collection.Where(c => !ReferenceEquals(c, leaf)).ToList();
        var chain = OrderChain(leaf, others);
        foreach (var c in others)
        {
            c.Dispose();
        }

        try
        {
            return new DtlsCertificate(leaf, chain, ownsLeaf: true);
        }
        catch (NotSupportedException e)
        {
            leaf.Dispose();
            throw new InvalidDataException($"PFX file '{path}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Wraps a certificate that already has its private key. The caller keeps ownership of
    /// <paramref name="leafWithPrivateKey"/> and <paramref name="chain"/>: disposing this object does not dispose them.
    /// </summary>
    /// <exception cref="ArgumentException">The certificate has no private key.</exception>
    /// <exception cref="NotSupportedException">The key is neither EC nor RSA.</exception>
    public static DtlsCertificate FromCertificate(X509Certificate2 leafWithPrivateKey, IEnumerable<X509Certificate2>? chain = null)
    {
        ArgumentNullException.ThrowIfNull(leafWithPrivateKey);
        if (!leafWithPrivateKey.HasPrivateKey)
        {
            throw new ArgumentException("The certificate has no private key.", nameof(leafWithPrivateKey));
        }

        var der = new List<byte[]> { leafWithPrivateKey.RawData };
        if (chain is not null)
        {
            der.AddRange(chain.Select(c => c.RawData));
        }

        return new DtlsCertificate(leafWithPrivateKey, der.AsReadOnly(), ownsLeaf: false);
    }

    /// <summary>The leaf's fingerprint for SDP <c>a=fingerprint</c> (RFC 8122).</summary>
    /// <param name="algorithm">sha-1, sha-256 (default), sha-384 or sha-512.</param>
    public CertificateFingerprint GetFingerprint(string algorithm = "sha-256") => CertificateFingerprint.Compute(algorithm, Leaf.RawData);

    /// <summary>
    /// Writes the leaf and chain as PEM certificates to <paramref name="certificatePath"/> and the key as
    /// unencrypted PKCS #8 PEM to <paramref name="keyPath"/> (created owner-only on Unix).
    /// </summary>
    public void ExportPem(string certificatePath, string keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificatePath);
        ArgumentNullException.ThrowIfNull(keyPath);
        var certificates = new StringBuilder();
        foreach (var der in ChainDer)
        {
            certificates.Append(PemEncoding.WriteString("CERTIFICATE", der)).Append('\n');
        }

        File.WriteAllText(certificatePath, certificates.ToString());
        var keyPem = _ecdsa is not null ? _ecdsa.ExportPkcs8PrivateKeyPem() : _rsa!.ExportPkcs8PrivateKeyPem();
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(keyPath, options);
        using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        writer.Write(keyPem);
        writer.Write('\n');
    }

    /// <summary>Signs with a scheme from <see cref="SignatureSchemes"/>. ECDSA output is DER; RSA-PSS uses a salt as long as the hash.</summary>
    /// <exception cref="ArgumentException">The scheme is not usable with this key.</exception>
    internal byte[] Sign(SignatureScheme scheme, ReadOnlySpan<byte> data)
    {
        if (Array.IndexOf(_schemes, scheme) < 0 || !SignatureSchemeInfo.TryGet(scheme, out var info))
        {
            throw new ArgumentException($"Signature scheme {scheme} is not usable with this {KeyType} key.", nameof(scheme));
        }

        return info.IsEcdsa
            ? _ecdsa!.SignData(data, info.Hash, DSASignatureFormat.Rfc3279DerSequence)
            : _rsa!.SignData(data.ToArray(), info.Hash, info.RsaPadding!);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _ecdsa?.Dispose();
        _rsa?.Dispose();
        if (_ownsLeaf)
        {
            Leaf.Dispose();
        }
    }

    private static List<X509Certificate2> ReadPemCertificates(string path)
    {
        var text = File.ReadAllText(path);
        var result = new List<X509Certificate2>();
        var rest = text.AsMemory();
        while (PemEncoding.TryFind(rest.Span, out var fields))
        {
            var label = rest.Span[fields.Label];
            if (label.SequenceEqual("CERTIFICATE"))
            {
                var der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(rest.Span[fields.Base64Data], der, out _))
                {
                    throw new InvalidDataException($"Certificate file '{path}': a CERTIFICATE block has invalid base64.");
                }

                try
                {
                    result.Add(X509CertificateLoader.LoadCertificate(der));
                }
                catch (CryptographicException e)
                {
                    throw new InvalidDataException($"Certificate file '{path}': certificate {result.Count + 1} is not valid DER X.509 ({e.Message}).", e);
                }
            }

            rest = rest[fields.Location.End..];
        }

        if (result.Count == 0)
        {
            throw new InvalidDataException($"Certificate file '{path}': no PEM 'CERTIFICATE' block found.");
        }

        return result;
    }

    private static X509Certificate2 AttachKey(X509Certificate2 publicLeaf, string keyPath)
    {
        var text = File.ReadAllText(keyPath);
        string? label = null;
        byte[]? der = null;
        var rest = text.AsMemory();
        while (PemEncoding.TryFind(rest.Span, out var fields))
        {
            var candidate = rest.Span[fields.Label].ToString();
            if (candidate is "PRIVATE KEY" or "EC PRIVATE KEY" or "RSA PRIVATE KEY" or "ENCRYPTED PRIVATE KEY")
            {
                label = candidate;
                der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(rest.Span[fields.Base64Data], der, out _))
                {
                    throw new InvalidDataException($"Key file '{keyPath}': the {label} block has invalid base64.");
                }

                break;
            }

            // Skip blocks such as "EC PARAMETERS" that `openssl ecparam -genkey` writes before the key.
            rest = rest[fields.Location.End..];
        }

        if (label is null || der is null)
        {
            throw new InvalidDataException($"Key file '{keyPath}': no PEM 'PRIVATE KEY', 'EC PRIVATE KEY' or 'RSA PRIVATE KEY' block found.");
        }

        if (label == "ENCRYPTED PRIVATE KEY")
        {
            throw new InvalidDataException($"Key file '{keyPath}': the key is encrypted; Airlift needs an unencrypted key (e.g. `openssl pkey -in key.pem -out plain.pem`).");
        }

        try
        {
            using var certEc = publicLeaf.GetECDsaPublicKey();
            if (certEc is not null)
            {
                if (label == "RSA PRIVATE KEY")
                {
                    throw new InvalidDataException($"Key file '{keyPath}': holds an RSA key but the certificate has an EC key.");
                }

                using var ec = ECDsa.Create();
                if (label == "EC PRIVATE KEY")
                {
                    ec.ImportECPrivateKey(der, out _);
                }
                else
                {
                    ec.ImportPkcs8PrivateKey(der, out _);
                }

                return publicLeaf.CopyWithPrivateKey(ec);
            }

            using var certRsa = publicLeaf.GetRSAPublicKey();
            if (certRsa is not null)
            {
                if (label == "EC PRIVATE KEY")
                {
                    throw new InvalidDataException($"Key file '{keyPath}': holds an EC key but the certificate has an RSA key.");
                }

                using var rsa = RSA.Create();
                if (label == "RSA PRIVATE KEY")
                {
                    rsa.ImportRSAPrivateKey(der, out _);
                }
                else
                {
                    rsa.ImportPkcs8PrivateKey(der, out _);
                }

                return publicLeaf.CopyWithPrivateKey(rsa);
            }
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"Key file '{keyPath}': cannot use the key with the certificate ({e.Message}).", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Key file '{keyPath}': the key does not match the certificate's public key ({e.Message}).", e);
        }
        catch (PlatformNotSupportedException e)
        {
            // An EC key on a curve the platform lacks (found by fuzzing).
            throw new InvalidDataException($"Key file '{keyPath}': the key uses a curve or algorithm this platform does not support ({e.Message}).", e);
        }

        throw new InvalidDataException($"Key file '{keyPath}': the certificate's public key is neither EC nor RSA.");
    }

    // Leaf first, then each issuer found among the given certificates, then any leftovers in file order.
    private static IReadOnlyList<byte[]> OrderChain(X509Certificate2 leaf, List<X509Certificate2> others)
    {
        var ordered = new List<byte[]> { leaf.RawData };
        var remaining = new List<X509Certificate2>(others);
        var current = leaf;
        while (!current.SubjectName.RawData.AsSpan().SequenceEqual(current.IssuerName.RawData))
        {
            var issuer = remaining.Find(c => c.SubjectName.RawData.AsSpan().SequenceEqual(current.IssuerName.RawData));
            if (issuer is null)
            {
                break;
            }

            ordered.Add(issuer.RawData);
            remaining.Remove(issuer);
            current = issuer;
        }

        ordered.AddRange(remaining.Select(c => c.RawData));
        return ordered.AsReadOnly();
    }
}
