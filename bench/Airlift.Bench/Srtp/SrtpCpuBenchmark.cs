using System.Buffers.Binary;
using System.Globalization;
using Airlift.Bench.Dtls;
using Airlift.Dtls;
using Airlift.Srtp;

namespace Airlift.Bench.Srtp;

/// <summary>
/// SRTP protect and unprotect per packet in thread CPU time (<c>CLOCK_THREAD_CPUTIME_ID</c>), Airlift beside libsrtp in
/// the same run: each sample protects then unprotects a ring of 128 RTP packets (12-byte header, 160 or 1200-byte
/// payload, consecutive sequence numbers) with one implementation, and the implementations take turns sample by sample,
/// so a shared machine's load falls on all of them alike. Elapsed-time tools (BenchmarkDotNet) follow the machine's load
/// on a 2-core host shared by several builds; a thread's own CPU time much less.
/// <c>dotnet run -c Release --project bench/Airlift.Bench -- srtp [--samples 400] [--filter TEXT]</c>; set
/// <c>AIRLIFT_LIBSRTP_OPENSSL</c> to libsrtp built on OpenSSL (<c>build-libsrtp-openssl.sh</c>) for the issue's anchor.
/// Prints a Markdown table: median CPU per packet, ratio libsrtp(OpenSSL) / Airlift (above 1.0: Airlift is faster),
/// bytes allocated per packet by this thread.
/// </summary>
internal static class SrtpCpuBenchmark
{
    private const int Ring = 128;
    private const int HeaderLength = 12;

    private static readonly string[] Profiles =
    [
        "SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AES128_CM_HMAC_SHA1_32", "SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_256_GCM",
    ];

    public static int Run(string[] args)
    {
        var samples = 400;
        string? filter = null;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--samples" && i + 1 < args.Length)
            {
                samples = int.Parse(args[++i], CultureInfo.InvariantCulture);
            }
            else if (args[i] == "--filter" && i + 1 < args.Length)
            {
                filter = args[++i];
            }
            else
            {
                Console.Error.WriteLine($"unknown argument {args[i]}; use --samples N --filter TEXT");
                return 2;
            }
        }

        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("srtp mode reads CLOCK_THREAD_CPUTIME_ID and runs on Linux only");
            return 2;
        }

        var openSsl = LibSrtpNative.OpenSslPath;
        Console.WriteLine($"Samples per row: {samples} of {Ring} packets each (after {samples / 8} warm-up samples); median thread CPU time per packet.");
        Console.WriteLine($"libsrtp on OpenSSL: {openSsl ?? "not found (set AIRLIFT_LIBSRTP_OPENSSL; bench/Airlift.Bench/Srtp/build-libsrtp-openssl.sh)"}; libsrtp on NSS: Debian libsrtp2.so.1.");
        Console.WriteLine($"Managed AES-NI path available: {Airlift.Srtp.Primitives.SrtpIntrinsics.IsAvailable}; libcrypto HMAC_CTX path available: {Airlift.Srtp.Primitives.SrtpOpenSslHmac.IsAvailable}.");
        Console.WriteLine();
        Console.WriteLine("| profile | payload | implementation | protect | unprotect | libsrtp(OpenSSL)/this protect | libsrtp(OpenSSL)/this unprotect | allocated per packet |");
        Console.WriteLine("|---|---:|---|---:|---:|---:|---:|---:|");
        foreach (var name in Profiles)
        {
            foreach (var payload in (int[])[160, 1200])
            {
                if (filter is not null && !$"{name} {payload}".Contains(filter, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                RunCase(name, payload, samples, openSsl is not null);
            }
        }

        if (filter is null || "components".Contains(filter, StringComparison.OrdinalIgnoreCase))
        {
            Components(samples);
        }

        return 0;
    }

    // Where AES-CM-HMAC-SHA1 protect time goes: each HMAC-SHA1 way (the path Airlift takes, the platform's, the other OpenSSL
    // calls one could make) and each AES-CTR over the same bytes (header + payload + ROC), alone, beside the whole protect.
    private static void Components(int samples)
    {
        Console.WriteLine();
        Console.WriteLine("| component (AES_CM_128_HMAC_SHA1_80 protect) | 160 B | 1200 B |");
        Console.WriteLine("|---|---:|---:|");
        var key = new byte[16];
        var authKey = new byte[20];
        RandomSource.Seeded(3).Fill(key);
        RandomSource.Seeded(4).Fill(authKey);
        using var hmac = System.Security.Cryptography.IncrementalHash.CreateHMAC(System.Security.Cryptography.HashAlgorithmName.SHA1, authKey);
        using var native = new Airlift.Srtp.Primitives.SrtpHmacSha1(authKey, openSsl: true);
        using var levers = new OpenSslHmacLevers(authKey);
        using var ctr = new Airlift.Srtp.AesCounterMode(key, Airlift.Srtp.Primitives.SrtpIntrinsics.IsAvailable);
        using var platformCtr = new Airlift.Srtp.AesCounterMode(key, intrinsics: false);
        if (!native.UsesOpenSsl)
        {
            Console.Error.WriteLine("libcrypto's HMAC_CTX is not usable here: the OpenSSL rows would measure the platform path");
            return;
        }

        var mac = new byte[20];
        var iv = new byte[16];
        var rows = new List<(string Name, Action<byte[]> Op, bool Mac)>
        {
            ("HMAC-SHA1, libcrypto HMAC_CTX keyed once, NULL-key re-init + update + final (Airlift's path)", b => native.TryCompute(b, mac), true),
            ("HMAC-SHA1, platform IncrementalHash, one append + TryGetHashAndReset (fallback path)", b => { hmac.AppendData(b); hmac.TryGetHashAndReset(mac, out _); }, true),
            ("HMAC-SHA1, libcrypto EVP_MAC keyed once, NULL-key re-init + update + final (libsrtp 2.5's calls)", b => levers.EvpMac(b, mac), true),
            ("HMAC-SHA1, libcrypto SHA1_Update/Final from saved pad states (4 calls; not used)", b => levers.SavedPads(b, mac), true),
            ("HMAC-SHA1, libcrypto one-shot HMAC() (re-keys every call)", b => levers.OneShotHmac(b, mac), true),
            ("HMAC-SHA1, libcrypto one-shot EVP_Q_mac (fetches and re-keys every call)", b => levers.QuickMac(b, mac), true),
            ("HMAC-SHA1, platform one-shot HMACSHA1.HashData", b => System.Security.Cryptography.HMACSHA1.HashData(authKey, b, mac), true),
            ("three empty P/Invoke calls into libcrypto (OpenSSL_version_num)", _ => OpenSslHmacLevers.ThreeEmptyCalls(), false),
            ("AES-CTR, managed AES-NI", b => ctr.Apply(iv, b.AsSpan(HeaderLength, b.Length - HeaderLength - 4)), false),
            ("AES-CTR, platform (reused ECB transform + XOR)", b => platformCtr.Apply(iv, b.AsSpan(HeaderLength, b.Length - HeaderLength - 4)), false),
        };
        var results = new Dictionary<int, double[]>();
        foreach (var payload in (int[])[160, 1200])
        {
            var buffer = new byte[HeaderLength + payload + 4];
            RandomSource.Seeded(5).Fill(buffer);
            var expected = System.Security.Cryptography.HMACSHA1.HashData(authKey, buffer);
            results[payload] = new double[rows.Count];
            for (var r = 0; r < rows.Count; r++)
            {
                var (name, op, isMac) = rows[r];
                if (isMac)
                {
                    Array.Clear(mac);
                    op(buffer);
                    if (!mac.AsSpan().SequenceEqual(expected))
                    {
                        throw new InvalidOperationException($"{name}: wrong MAC");
                    }
                }

                results[payload][r] = Measure(samples, () => op(buffer));
            }
        }

        for (var r = 0; r < rows.Count; r++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {rows[r].Name} | {results[160][r]:F0} ns | {results[1200][r]:F0} ns |"));
        }
    }

    private static double Measure(int samples, Action op)
    {
        var values = new double[samples];
        for (var s = -samples / 8; s < samples; s++)
        {
            var t0 = CpuTimeBenchmark.ThreadCpuMicroseconds();
            for (var i = 0; i < Ring; i++)
            {
                op();
            }

            var t1 = CpuTimeBenchmark.ThreadCpuMicroseconds();
            if (s >= 0)
            {
                values[s] = (t1 - t0) * 1000 / Ring;
            }
        }

        return Median(values);
    }

    private static void RunCase(string name, int payload, int samples, bool openSsl)
    {
        SrtpProtectionProfile.TryParse(name, out var profile);
        var material = new byte[profile.KeyingMaterialLength];
        RandomSource.Seeded(1).Fill(material);
        var keys = SrtpKeys.FromKeyingMaterial(profile, material, DtlsRole.Client);
        var key = keys.Local.Key.Span;
        var salt = keys.Local.Salt.Span;

        var aesCm = !name.Contains("GCM", StringComparison.Ordinal);
        var impls = new List<Impl>();
        if (aesCm)
        {
            impls.Add(new AirliftImpl("Airlift (AES-NI + OpenSSL HMAC_CTX, default)", profile, key, salt, new SrtpOptions()));
            impls.Add(new AirliftImpl("Airlift (AES-NI + platform HMAC)", profile, key, salt, new SrtpOptions { UseOpenSslHmac = false }));
        }
        else
        {
            impls.Add(new AirliftImpl("Airlift (managed AES-NI)", profile, key, salt, new SrtpOptions()));
        }

        impls.Add(new AirliftImpl("Airlift (platform crypto)", profile, key, salt, new SrtpOptions { UseHardwareIntrinsics = false, UseOpenSslHmac = false }));
        var anchorIndex = -1;
        if (openSsl)
        {
            anchorIndex = impls.Count;
            impls.Add(new LibSrtpImpl("libsrtp 2.5.0 on OpenSSL 3", profile, key, salt, LibSrtpBuild.OpenSsl));
        }

        impls.Add(new LibSrtpImpl("libsrtp 2.5.0 on NSS (Debian)", profile, key, salt, LibSrtpBuild.DebianNss));

        var plain = new byte[HeaderLength + payload];
        RandomSource.Seeded(2).Fill(plain);
        plain[0] = 0x80;
        plain[1] = 111;
        BinaryPrimitives.WriteUInt32BigEndian(plain.AsSpan(8), 0x1234_5678);
        var ring = new byte[Ring][];
        var lengths = new int[Ring];
        for (var i = 0; i < Ring; i++)
        {
            ring[i] = new byte[plain.Length + 64];
        }

        var protect = impls.Select(_ => new double[samples]).ToArray();
        var unprotect = impls.Select(_ => new double[samples]).ToArray();
        var allocated = new long[impls.Count];
        var warmup = samples / 8;
        for (var s = -warmup; s < samples; s++)
        {
            for (var m = 0; m < impls.Count; m++)
            {
                var impl = impls[m];
                for (var i = 0; i < Ring; i++)
                {
                    plain.CopyTo(ring[i], 0);
                    BinaryPrimitives.WriteUInt16BigEndian(ring[i].AsSpan(2), impl.Sequence++);
                }

                var bytes = GC.GetAllocatedBytesForCurrentThread();
                var t0 = CpuTimeBenchmark.ThreadCpuMicroseconds();
                for (var i = 0; i < Ring; i++)
                {
                    lengths[i] = impl.Protect(ring[i], plain.Length);
                }

                var t1 = CpuTimeBenchmark.ThreadCpuMicroseconds();
                var ok = 0;
                for (var i = 0; i < Ring; i++)
                {
                    ok += impl.Unprotect(ring[i], lengths[i]) ? 1 : 0;
                }

                var t2 = CpuTimeBenchmark.ThreadCpuMicroseconds();
                var after = GC.GetAllocatedBytesForCurrentThread();
                if (ok != Ring)
                {
                    throw new InvalidOperationException($"{impl.Name} {name}: {Ring - ok} packets failed to round-trip");
                }

                if (s >= 0)
                {
                    protect[m][s] = (t1 - t0) * 1000 / Ring;
                    unprotect[m][s] = (t2 - t1) * 1000 / Ring;
                    allocated[m] += after - bytes;
                }
            }
        }

        var medians = impls.Select((_, m) => (Protect: Median(protect[m]), Unprotect: Median(unprotect[m]))).ToArray();
        var anchor = anchorIndex >= 0 ? medians[anchorIndex] : (Protect: double.NaN, Unprotect: double.NaN);
        for (var m = 0; m < impls.Count; m++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {payload} B | {impls[m].Name} | {medians[m].Protect:F0} ns | {medians[m].Unprotect:F0} ns | {anchor.Protect / medians[m].Protect:F2}x | {anchor.Unprotect / medians[m].Unprotect:F2}x | {allocated[m] / ((double)samples * Ring * 2):F1} B |"));
            impls[m].Dispose();
        }
    }

    private static double Median(double[] values)
    {
        var copy = (double[])values.Clone();
        Array.Sort(copy);
        return copy[copy.Length / 2];
    }

    private abstract class Impl(string name) : IDisposable
    {
        public string Name { get; } = name;

        public ushort Sequence { get; set; }

        public abstract int Protect(byte[] buffer, int length);

        public abstract bool Unprotect(byte[] buffer, int length);

        public abstract void Dispose();
    }

    private sealed class AirliftImpl : Impl
    {
        private readonly SrtpContext _protect;
        private readonly SrtpContext _unprotect;

        public AirliftImpl(string name, SrtpProtectionProfile profile, ReadOnlySpan<byte> key, ReadOnlySpan<byte> salt, SrtpOptions options)
            : base(name)
        {
            _protect = SrtpContext.Create(profile, SrtpDirection.Protect, key, salt, options);
            _unprotect = SrtpContext.Create(profile, SrtpDirection.Unprotect, key, salt, options);
        }

        public override int Protect(byte[] buffer, int length) => _protect.TryProtectRtp(buffer, length, out var n) ? n : 0;

        public override bool Unprotect(byte[] buffer, int length) => _unprotect.TryUnprotectRtp(buffer.AsSpan(0, length), out _);

        public override void Dispose()
        {
            _protect.Dispose();
            _unprotect.Dispose();
        }
    }

    private sealed class LibSrtpImpl : Impl
    {
        private readonly LibSrtpNative _protect;
        private readonly LibSrtpNative _unprotect;

        public LibSrtpImpl(string name, SrtpProtectionProfile profile, ReadOnlySpan<byte> key, ReadOnlySpan<byte> salt, LibSrtpBuild build)
            : base(name)
        {
            _protect = LibSrtpNative.Create(profile, outbound: true, key, salt, build);
            _unprotect = LibSrtpNative.Create(profile, outbound: false, key, salt, build);
        }

        public override int Protect(byte[] buffer, int length) => _protect.Protect(buffer, ref length) == 0 ? length : 0;

        public override bool Unprotect(byte[] buffer, int length) => _unprotect.Unprotect(buffer, ref length) == 0;

        public override void Dispose()
        {
            _protect.Dispose();
            _unprotect.Dispose();
        }
    }
}
