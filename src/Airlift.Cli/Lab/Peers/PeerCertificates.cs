using System.Security.Cryptography;
using System.Text;
using Airlift.Dtls;

namespace Airlift.Cli.Lab.Peers;

/// <summary>
/// The one certificate every side of a peer run uses: Airlift's <see cref="DtlsCertificate"/> plus the same material as
/// PEM files in a private temporary directory (deleted on dispose) for the peer programs.
/// </summary>
public sealed class PeerCertificates : IDisposable
{
    private readonly string _directory;

    private PeerCertificates(DtlsCertificate airlift, PeerCertificateFiles files, string directory, string kind)
    {
        Airlift = airlift;
        Files = files;
        _directory = directory;
        Kind = kind;
    }

    /// <summary>Airlift's certificate.</summary>
    public DtlsCertificate Airlift { get; }

    /// <summary>The PEM files.</summary>
    public PeerCertificateFiles Files { get; }

    /// <summary>"ecdsa" or "rsa-chain".</summary>
    public string Kind { get; }

    /// <summary>
    /// "ecdsa": a fresh P-256 self-signed certificate (what browsers make). "rsa-chain": the committed test chain
    /// tests/fixtures/certs/rsa-chain (RSA 2048 leaf + RSA 4096 intermediate, 2773 DER bytes sent: field case F4),
    /// found above the current directory or the program ($AIRLIFT_CERT_FIXTURES overrides).
    /// </summary>
    /// <exception cref="CliException">Unknown kind, or the rsa-chain fixture cannot be found.</exception>
    public static PeerCertificates Create(string kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        DtlsCertificate certificate = kind switch
        {
            "ecdsa" => DtlsCertificate.GenerateEcdsa("airlift-lab"),
            "rsa-chain" => LoadRsaChain(),
            _ => throw new CliException($"unknown certificate '{kind}' (ecdsa or rsa-chain)"),
        };

        var dir = Directory.CreateTempSubdirectory("airlift-peers-").FullName;
        var files = new PeerCertificateFiles(
            Path.Combine(dir, "leaf.pem"),
            certificate.ChainDer.Count > 1 ? Path.Combine(dir, "chain.pem") : null,
            Path.Combine(dir, "fullchain.pem"),
            Path.Combine(dir, "key.pem"));
        certificate.ExportPem(files.FullChainPath, files.KeyPath);
        File.WriteAllText(files.LeafPath, PemEncoding.WriteString("CERTIFICATE", certificate.ChainDer[0]) + "\n");
        if (files.ChainPath is not null)
        {
            var sb = new StringBuilder();
            foreach (var der in certificate.ChainDer.Skip(1))
            {
                sb.Append(PemEncoding.WriteString("CERTIFICATE", der)).Append('\n');
            }

            File.WriteAllText(files.ChainPath, sb.ToString());
        }

        return new PeerCertificates(certificate, files, dir, kind);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Airlift.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A peer still holding a file: the temp cleaner gets it.
        }
    }

    private static DtlsCertificate LoadRsaChain()
    {
        var dir = FindFixtures() ?? throw new CliException(
            "certificate rsa-chain: cannot find tests/fixtures/certs/rsa-chain (run from the Airlift repository or set AIRLIFT_CERT_FIXTURES to that folder)");
        return DtlsCertificate.LoadPem(Path.Combine(dir, "leaf.pem"), Path.Combine(dir, "leaf.key"), Path.Combine(dir, "intermediate.pem"));
    }

    private static string? FindFixtures()
    {
        if (Environment.GetEnvironmentVariable("AIRLIFT_CERT_FIXTURES") is { } env && File.Exists(Path.Combine(env, "leaf.pem")))
        {
            return env;
        }

        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                foreach (var relative in new[] { Path.Combine("tests", "fixtures", "certs", "rsa-chain"), Path.Combine("fixtures", "certs", "rsa-chain") })
                {
                    var candidate = Path.Combine(dir.FullName, relative);
                    if (File.Exists(Path.Combine(candidate, "leaf.pem")))
                    {
                        return candidate;
                    }
                }
            }
        }

        return null;
    }
}
