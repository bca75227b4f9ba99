using Airlift.Cli.Lab.Peers;

namespace Airlift.Tests.Interop.RealPeers;

/// <summary>
/// A theory that drives real peers through the lab runner. Skipped with the install hint when a peer's toolchain is
/// missing (checked cheaply, without building), unless AIRLIFT_REQUIRE_PEERS=1: then it runs and fails in
/// <see cref="PeerToolAssert.Ready"/>, which also builds the helper on first use.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class PeerToolTheoryAttribute : TheoryAttribute
{
    public PeerToolTheoryAttribute(params string[] peers)
    {
        if (!PeerToolAssert.Required && PeerToolAssert.Missing(peers) is { } missing)
        {
            Skip = missing;
        }
    }
}

/// <summary>The fact counterpart of <see cref="PeerToolTheoryAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class PeerToolFactAttribute : FactAttribute
{
    public PeerToolFactAttribute(params string[] peers)
    {
        if (!PeerToolAssert.Required && PeerToolAssert.Missing(peers) is { } missing)
        {
            Skip = missing;
        }
    }
}

internal static class PeerToolAssert
{
    public static bool Required => Environment.GetEnvironmentVariable("AIRLIFT_REQUIRE_PEERS") == "1";

    public static string? Missing(IEnumerable<string> peers)
    {
        foreach (var kind in PeerCatalog.Resolve(peers))
        {
            if (kind.Check() is { } problem)
            {
                return $"peer {kind.Name}: {problem}";
            }
        }

        return null;
    }

    /// <summary>Checks and builds the peer; fails the test with the install hint when it cannot run.</summary>
    public static PeerKind Ready(string name)
    {
        var kind = PeerCatalog.Resolve([name]).Single();
        if (kind.Prepare() is { } problem)
        {
            Assert.Fail($"peer {name}: {problem}" + (Required ? " [AIRLIFT_REQUIRE_PEERS=1]" : ""));
        }

        return kind;
    }
}
