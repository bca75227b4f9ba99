using System.Globalization;
using Airlift.Dtls;
using Airlift.Tests.Cli;
using Airlift.Tests.Interop;

namespace Airlift.Tests.EndToEnd;

/// <summary>
/// What the end-to-end tests need and where it is: the repository (for the driver scripts and scripts/.peers), root for
/// network namespaces, Chromium, Node with playwright-core (installed by scripts/test.sh), Firefox ESR, aiortc; and the
/// DTLS version each browser must negotiate.
/// </summary>
internal static class EndToEndSupport
{
    public const string ChromiumPackage = "chromium";
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string PlaywrightPackage = "playwright-core";
    public const string FirefoxPackage = "firefox-esr";
    public const string FirefoxPath = "/usr/bin/firefox-esr";

    /// <summary>
    /// The DTLS version <paramref name="browser"/> must negotiate with <c>airlift serve</c>, as the browser's
    /// <c>RTCTransportStats.tlsVersion</c> reports it (four upper-case hex digits of the wire value: "FEFD" is DTLS 1.2,
    /// "FEFC" DTLS 1.3), with its post-quantum key share on (<paramref name="postQuantum"/>, the default of both browsers)
    /// or off. The one place the browser tests take it from: both browsers offer DTLS 1.3 first, and Airlift answers in
    /// DTLS 1.3 (issue #11), with or without the post-quantum share, in both DTLS roles; every browser case demands it
    /// from the browser and, through <see cref="ExpectedServerDtlsVersion"/>, from serve's own stats.
    /// </summary>
    public static string ExpectedDtlsVersion(BrowserKind browser, bool postQuantum) => (browser, postQuantum) switch
    {
        _ => "FEFC",
    };

    /// <summary>The same version as serve's stats name it (<c>dtls.version</c>, <see cref="ProtocolVersion.ToString"/>: "DTLS 1.2").</summary>
    public static string ExpectedServerDtlsVersion(BrowserKind browser, bool postQuantum) =>
        ServerDtlsVersionName(ExpectedDtlsVersion(browser, postQuantum));

    /// <summary>
    /// The key exchange group serve's trace must show for <paramref name="browser"/>, or null when none is asserted. Follows
    /// <see cref="ExpectedDtlsVersion"/>: in DTLS 1.3 the browser's own key share decides it (X25519MLKEM768 by default,
    /// x25519 with the post-quantum share off); in DTLS 1.2 the group is Airlift's choice among the browser's
    /// supported_groups, not a property of the browser, so it is not asserted.
    /// </summary>
    public static string? ExpectedKeyExchangeGroup(BrowserKind browser, bool postQuantum) =>
        KeyExchangeGroupFor(ExpectedDtlsVersion(browser, postQuantum), postQuantum);

    /// <summary>See <see cref="ExpectedKeyExchangeGroup"/>.</summary>
    public static string? KeyExchangeGroupFor(string tlsVersion, bool postQuantum) =>
        tlsVersion == "FEFC" ? (postQuantum ? "X25519MLKEM768" : "x25519") : null;

    /// <summary>A <c>tlsVersion</c> as serve's stats name it: "FEFD" is "DTLS 1.2", "FEFC" is "DTLS 1.3".</summary>
    public static string ServerDtlsVersionName(string tlsVersion) =>
        new ProtocolVersion(ushort.Parse(tlsVersion, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)).ToString();

    /// <summary>The repository root (the folder holding Airlift.slnx), or null when the tests run outside a checkout.</summary>
    public static string? RepoRoot { get; } = FindRepoRoot();

    public static string ThisFolder => Path.Combine(RepoRoot ?? ".", "tests", "Airlift.Tests", "EndToEnd");

    public static string PlaywrightCore => Path.Combine(RepoRoot ?? ".", "scripts", ".peers", "node", "node_modules", "playwright-core");

    /// <summary>Where screenshots and server logs go: beside the test assembly, under artifacts/e2e.</summary>
    public static string ArtifactDir => Path.Combine(AppContext.BaseDirectory, "artifacts", "e2e");

    public static string? MissingForNamespaces()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return "requires root on Linux for a network namespace (unshare -n)";
        }

        if (!Peers.IsAvailable("unshare") || !(Peers.IsAvailable("ip") || File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip")))
        {
            return "requires unshare and ip (apt-get install util-linux iproute2)";
        }

        return RepoRoot is null ? "requires the repository checkout (Airlift.slnx above the test assembly)" : null;
    }

    public static string? MissingForChromium()
    {
        if (MissingForNamespaces() is { } ns)
        {
            return ns;
        }

        if (!File.Exists(ChromiumPath))
        {
            return $"requires chromium (apt-get install {ChromiumPackage})";
        }

        if (!Peers.IsAvailable("node"))
        {
            return "requires node (apt-get install nodejs npm)";
        }

        if (!Directory.Exists(PlaywrightCore))
        {
            return $"requires {PlaywrightPackage} (npm install --prefix scripts/.peers/node {PlaywrightPackage}; scripts/test.sh does it)";
        }

        return File.Exists(AirliftCli.Dll) ? null : "requires airlift.dll beside the test assembly";
    }

    public static string? MissingForFirefox()
    {
        if (MissingForNamespaces() is { } ns)
        {
            return ns;
        }

        if (!File.Exists(FirefoxPath))
        {
            return $"requires firefox-esr (apt-get install {FirefoxPackage})";
        }

        if (!Peers.IsAvailable("node"))
        {
            return "requires node (apt-get install nodejs npm)";
        }

        return File.Exists(AirliftCli.Dll) ? null : "requires airlift.dll beside the test assembly";
    }

    private static string? FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Airlift.slnx")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}

/// <summary>Skips when Chromium's end-to-end needs are missing; with AIRLIFT_REQUIRE_PEERS=1 it runs and fails naming them.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (!Peers.Required && EndToEndSupport.MissingForChromium() is { } missing)
        {
            Skip = missing;
        }
    }
}

/// <summary>Skips when Firefox's end-to-end needs are missing; with AIRLIFT_REQUIRE_PEERS=1 it runs and fails naming them.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class FirefoxFactAttribute : FactAttribute
{
    public FirefoxFactAttribute()
    {
        if (!Peers.Required && EndToEndSupport.MissingForFirefox() is { } missing)
        {
            Skip = missing;
        }
    }
}

/// <summary>The browsers the end-to-end tests drive.</summary>
internal enum BrowserKind
{
    /// <summary>Chromium (BoringSSL), driven by Playwright.</summary>
    Chromium,

    /// <summary>Firefox ESR (NSS), stock, driven by its own page.</summary>
    Firefox,
}

/// <summary>The browser tests share one collection so the two browser runs never overlap on the machine's cores.</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection
{
    public const string Name = "Browsers";
}
