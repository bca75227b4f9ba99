namespace Airlift.Tests.Interop;

/// <summary>
/// A fact that needs real peer programs. When one is missing it is skipped with
/// "requires X (apt-get install Y)", unless AIRLIFT_REQUIRE_PEERS=1, in which case it runs and
/// fails in <see cref="Peers.EnsureAvailable"/> (call it first thing in the test).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class PeerFactAttribute : FactAttribute
{
    public PeerFactAttribute(params string[] peers)
    {
        PeerPrograms = peers;
        if (!Peers.Required && Peers.MissingMessage(peers) is { } missing)
        {
            Skip = missing;
        }
    }

    /// <summary>The programs this test drives.</summary>
    public IReadOnlyList<string> PeerPrograms { get; }
}

/// <summary>The theory counterpart of <see cref="PeerFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
internal sealed class PeerTheoryAttribute : TheoryAttribute
{
    public PeerTheoryAttribute(params string[] peers)
    {
        PeerPrograms = peers;
        if (!Peers.Required && Peers.MissingMessage(peers) is { } missing)
        {
            Skip = missing;
        }
    }

    /// <summary>The programs this test drives.</summary>
    public IReadOnlyList<string> PeerPrograms { get; }
}
