using Airlift.Dtls;

namespace Airlift.Fuzz;

/// <summary>Runs one fuzz input. Any exception that escapes is a finding (afl++ records a crash).</summary>
/// <param name="input">The input bytes.</param>
public delegate void FuzzAction(ReadOnlySpan<byte> input);

/// <summary>A fuzz target.</summary>
/// <param name="Name">The name run.sh and the harness use.</param>
/// <param name="Instrument">The assemblies run.sh instruments for it (file names in the publish directory).</param>
/// <param name="Summary">What it exercises.</param>
/// <param name="Run">Runs one input.</param>
public sealed record FuzzTarget(string Name, IReadOnlyList<string> Instrument, string Summary, FuzzAction Run);

/// <summary>Every fuzz target of Airlift (see fuzz/README.md and docs/reliability.md, "Fuzzing").</summary>
public static class FuzzTargets
{
    private const string Library = "Airlift.Core.dll";
    private const string Cli = "airlift.dll";

    /// <summary>All targets, in the order run.sh runs them.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("dtls-client", [Library], "DTLS 1.2 client endpoint: record layer and handshake, fuzzed at each state against a real Airlift server", input => DtlsTargets.Run(input, DtlsRole.Client)),
        new("dtls-server", [Library], "DTLS 1.2 server endpoint: record layer and handshake, fuzzed at each state against a real Airlift client", input => DtlsTargets.Run(input, DtlsRole.Server)),
        new("dtls13-client", [Library], "DTLS 1.3 client endpoint: unified header, record number encryption, ACKs, HelloRetryRequest, KeyUpdate, fuzzed at each state against a real Airlift server", input => DtlsTargets.Run(input, DtlsRole.Client, dtls13: true)),
        new("dtls13-server", [Library], "DTLS 1.3 server endpoint: unified header, record number encryption, ACKs, fuzzed at each state against a real Airlift client", input => DtlsTargets.Run(input, DtlsRole.Server, dtls13: true)),
        new("dtls-listener", [Library], "stateless cookie listener (HelloVerifyRequest; DTLS 1.3 multi-datagram hellos and HelloRetryRequest; cookie check; restarts on one address) and the endpoints it accepts", ListenerTarget.Run),
        new("stun-ice", [Library], "STUN decoding, MESSAGE-INTEGRITY and the ICE-lite agent", IceTarget.Run),
        new("transport", [Library], "RFC 7983 classifier and WebRtcTransport (ICE-lite + DTLS on one port) with a real DTLS peer", TransportTarget.Run),
        new("srtp", [Library], "SRTP and SRTCP unprotect (all four profiles) and protect/unprotect round trips", SrtpTarget.Run),
        new("gcm-differential", [Library], "managed AES-NI + PCLMULQDQ AES-GCM, AES-CTR and SRTP protect against the platform (OpenSSL), byte for byte", GcmDifferentialTarget.Run),
        new("hmac-differential", [Library], "SRTP HMAC-SHA1 through libcrypto's HMAC_CTX against the platform's IncrementalHash and HMACSHA1, and whole AES-CM protect on both paths, byte for byte", HmacDifferentialTarget.Run),
        new("rfc4571", [Library], "RFC 4571 ICE-TCP framer against a reference parser", FramerTarget.Run),
        new("sdp", [Library, Cli], "serve's SDP offer parser and answer builder", SdpTarget.Run),
        new("certificate", [Library], "certificate loading (PEM, PKCS #12) and peer certificate parsing in a handshake", CertificateTarget.Run),
        new("capture", [Library, Cli], "airlift doctor: pcap/pcapng reader, IP reassembly, ICE-TCP framing, STUN/DTLS reading, session analysis and reports", CaptureTarget.Run),
    ];

    /// <summary>The target named <paramref name="name"/>, or null.</summary>
    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}

/// <summary>Replays inputs through a target outside afl++ (run.sh replay and the crash regression tests).</summary>
public static class FuzzReplay
{
    /// <summary>Runs <paramref name="input"/> once; returns the exception that escaped, or null.</summary>
    public static Exception? Run(FuzzTarget target, byte[] input)
    {
        ArgumentNullException.ThrowIfNull(target);
        try
        {
            target.Run(input);
            return null;
        }
#pragma warning disable CA1031 // Whatever escapes is the finding being reported.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return e;
        }
    }
}
