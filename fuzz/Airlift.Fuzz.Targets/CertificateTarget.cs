using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Airlift.Dtls;

namespace Airlift.Fuzz;

/// <summary>
/// Target <c>certificate</c>. Header bits 0-1 pick the mode:
/// 0: PEM loading (<see cref="DtlsCertificate.LoadPem"/>): the input up to the first NUL byte is the certificate file,
///    the rest the key file; 3: PKCS #12 loading (<see cref="DtlsCertificate.LoadPfx"/>). Both document
///    <see cref="InvalidDataException"/> for a malformed file: that one exception is the API's contract for bad caller
///    input, so it is allowed; any other is a finding.
/// 1: the input is the DER certificate a DTLS server presents: a recorded real server flight is re-encoded with it (and
///    the client expects its fingerprint), so the client endpoint parses it and checks its key as in a handshake; any
///    exception is a finding.
/// 2: the DER goes to the certificate helpers the engine calls (fingerprint, signature-scheme compatibility, signature
///    verification), which must never throw; the .NET parse in front of them may reject it, as the engine's does.
/// </summary>
internal static class CertificateTarget
{
    private static readonly Lazy<string> Directory = new(() =>
    {
        var root = System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        return System.IO.Directory.CreateDirectory(Path.Combine(root, $"airlift-fuzz-{Environment.ProcessId}")).FullName;
    });

    private static readonly Lazy<byte[][]> ServerFlight = new(RecordServerFlight);

    public static void Run(ReadOnlySpan<byte> input)
    {
        FuzzLogger.Reset();
        var mode = input.IsEmpty ? 0 : input[0] & 3;
        var body = input.IsEmpty ? default : input[1..];
        switch (mode)
        {
            case 0:
                Pem(body);
                break;
            case 1:
                PeerCertificate(body);
                break;
            case 2:
                Helpers(body);
                break;
            default:
                Pfx(body);
                break;
        }

        FuzzLogger.ThrowIfCaptured();
    }

    private static void Pem(ReadOnlySpan<byte> body)
    {
        var split = body.IndexOf((byte)0);
        var cert = split < 0 ? body : body[..split];
        var key = split < 0 ? default : body[(split + 1)..];
        var certPath = Path.Combine(Directory.Value, "cert.pem");
        var keyPath = Path.Combine(Directory.Value, "key.pem");
        File.WriteAllBytes(certPath, cert.ToArray());
        File.WriteAllBytes(keyPath, key.ToArray());
        try
        {
            using var loaded = DtlsCertificate.LoadPem(certPath, keyPath);
            _ = loaded.GetFingerprint();
        }
        catch (InvalidDataException)
        {
            // The documented answer to a malformed file.
        }
    }

    private static void Pfx(ReadOnlySpan<byte> body)
    {
        var path = Path.Combine(Directory.Value, "cert.pfx");
        File.WriteAllBytes(path, body.ToArray());
        try
        {
            using var loaded = DtlsCertificate.LoadPfx(path);
            _ = loaded.GetFingerprint();
        }
        catch (InvalidDataException)
        {
            // The documented answer to a malformed file.
        }
    }

    private static void Helpers(ReadOnlySpan<byte> der)
    {
        _ = CertificateFingerprint.Compute("sha-256", der);
        X509Certificate2 leaf;
        try
        {
            leaf = X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            return; // the engine's parse step rejects it the same way (bad_certificate)
        }

        using (leaf)
        {
            ReadOnlySpan<byte> data = [1, 2, 3, 4];
            foreach (var scheme in (ReadOnlySpan<ushort>)[0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501, 0x0807])
            {
                _ = SignatureVerifier.IsCompatible(leaf, new SignatureScheme(scheme));
                _ = SignatureVerifier.Verify(leaf, new SignatureScheme(scheme), data, der.Length > 64 ? der[^64..] : der);
            }
        }
    }

    private static void PeerCertificate(ReadOnlySpan<byte> der)
    {
        var v = new DtlsVariant(0);
        var options = DtlsPair.Options(DtlsRole.Client, v, underTest: true, seed: 1) with
        {
            ExpectedPeerFingerprint = CertificateFingerprint.Compute("sha-256", der),
        };
        using var endpoint = DtlsEndpoint.CreateClient(options, TimeSpan.Zero);
        var client = new DtlsSide("client", endpoint, options);
        DtlsDriver.Drain(client);
        foreach (var datagram in ServerFlight.Value)
        {
            DtlsDriver.Deliver(client, TimeSpan.FromMilliseconds(10), WithCertificate(datagram, der));
        }
    }

    /// <summary>
    /// The server's first flight as a real Airlift server sent it to the seeded client, one record per handshake message
    /// and no fragmentation (a large datagram limit), so the Certificate message can be swapped.
    /// </summary>
    private static byte[][] RecordServerFlight()
    {
        var v = new DtlsVariant(0);
        var clientOptions = DtlsPair.Options(DtlsRole.Client, v, underTest: true, seed: 1);
        var serverOptions = DtlsPair.Options(DtlsRole.Server, v, underTest: false, seed: 2) with { MaxDatagramSize = 16384, DatagramSizeFallbacks = [] };
        var client = new DtlsSide("client", DtlsEndpoint.CreateClient(clientOptions, TimeSpan.Zero), clientOptions);
        var server = new DtlsSide("server", DtlsEndpoint.CreateServer(serverOptions, TimeSpan.Zero), serverOptions);
        DtlsDriver.Drain(client);
        while (client.Out.TryDequeue(out var datagram))
        {
            DtlsDriver.Deliver(server, TimeSpan.FromMilliseconds(5), datagram);
        }

        return [.. server.Out];
    }

    /// <summary>Rewrites a datagram of plaintext records, replacing the body of an unfragmented Certificate message.</summary>
    public static byte[] WithCertificate(byte[] datagram, ReadOnlySpan<byte> der)
    {
        const int RecordHeader = 13;
        const int HandshakeHeader = 12;
        var output = new List<byte>(datagram.Length + der.Length);
        var at = 0;
        while (datagram.Length - at >= RecordHeader)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(at + 11));
            var record = datagram.AsSpan(at, Math.Min(RecordHeader + length, datagram.Length - at));
            at += record.Length;
            if (record[0] != 22 || record.Length < RecordHeader + HandshakeHeader || record[RecordHeader] != 11)
            {
                output.AddRange(record);
                continue;
            }

            // Certificate body: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>.
            var bodyLength = 3 + 3 + der.Length;
            var rebuilt = new byte[RecordHeader + HandshakeHeader + bodyLength];
            record[..(RecordHeader + HandshakeHeader)].CopyTo(rebuilt);
            BinaryPrimitives.WriteUInt16BigEndian(rebuilt.AsSpan(11), (ushort)Math.Min(HandshakeHeader + bodyLength, ushort.MaxValue));
            WriteUInt24(rebuilt.AsSpan(RecordHeader + 1), bodyLength);
            WriteUInt24(rebuilt.AsSpan(RecordHeader + 6), 0);
            WriteUInt24(rebuilt.AsSpan(RecordHeader + 9), bodyLength);
            WriteUInt24(rebuilt.AsSpan(RecordHeader + HandshakeHeader), 3 + der.Length);
            WriteUInt24(rebuilt.AsSpan(RecordHeader + HandshakeHeader + 3), der.Length);
            der.CopyTo(rebuilt.AsSpan(RecordHeader + HandshakeHeader + 6));
            output.AddRange(rebuilt);
        }

        return [.. output];
    }

    private static void WriteUInt24(Span<byte> destination, int value)
    {
        destination[0] = (byte)(value >> 16);
        destination[1] = (byte)(value >> 8);
        destination[2] = (byte)value;
    }
}
