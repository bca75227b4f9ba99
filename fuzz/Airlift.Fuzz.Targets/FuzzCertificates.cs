using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;

namespace Airlift.Fuzz;

/// <summary>
/// Fixed P-256 certificates (test-only keys, committed) for both sides of every fuzzed handshake, so that a recorded
/// flight and its fingerprint stay valid across runs and a crash file replays the same way.
/// </summary>
internal static class FuzzCertificates
{
    private static readonly Lazy<DtlsCertificate> ServerLazy = new(() => Load("server"));
    private static readonly Lazy<DtlsCertificate> ClientLazy = new(() => Load("client"));

    public static DtlsCertificate Server => ServerLazy.Value;

    public static DtlsCertificate Client => ClientLazy.Value;

    public static string ReadResource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"missing resource {name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static DtlsCertificate Load(string name)
    {
        var leaf = X509Certificate2.CreateFromPem(ReadResource(name + ".pem"), ReadResource(name + ".key"));
        return DtlsCertificate.FromCertificate(leaf);
    }
}
