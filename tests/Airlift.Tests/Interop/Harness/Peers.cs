using System.Collections.Concurrent;

namespace Airlift.Tests.Interop;

/// <summary>A real peer program and the Debian package that provides it.</summary>
internal sealed record Peer(string Program, string Package)
{
    /// <summary>The skip / failure message for a missing peer.</summary>
    public string MissingMessage => $"requires {Program} (apt-get install {Package})";
}

/// <summary>
/// The real peers the interop tests drive. A test names the programs it needs in
/// <see cref="PeerFactAttribute"/> and calls <see cref="EnsureAvailable"/> first thing.
/// With AIRLIFT_REQUIRE_PEERS=1 (scripts/test.sh, CI) a missing peer fails the test instead of skipping it.
/// </summary>
internal static class Peers
{
    /// <summary>OpenSSL CLI (s_server, s_client).</summary>
    public const string OpenSsl = "openssl";

    /// <summary>GnuTLS server CLI.</summary>
    public const string GnuTlsServ = "gnutls-serv";

    /// <summary>GnuTLS client CLI.</summary>
    public const string GnuTlsCli = "gnutls-cli";

    /// <summary>coreutils stdbuf, used to line-buffer gnutls-serv's stdout.</summary>
    public const string StdBuf = "stdbuf";

    private static readonly ConcurrentDictionary<string, bool> Found = new(StringComparer.Ordinal);

    /// <summary>Every known peer, by program name.</summary>
    public static IReadOnlyDictionary<string, Peer> Known { get; } = new Dictionary<string, Peer>(StringComparer.Ordinal)
    {
        [OpenSsl] = new(OpenSsl, "openssl"),
        [GnuTlsServ] = new(GnuTlsServ, "gnutls-bin"),
        [GnuTlsCli] = new(GnuTlsCli, "gnutls-bin"),
        [StdBuf] = new(StdBuf, "coreutils"),
    };

    /// <summary>True when AIRLIFT_REQUIRE_PEERS=1: missing peers fail tests rather than skip them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("AIRLIFT_REQUIRE_PEERS") == "1";

    /// <summary>The peer record for <paramref name="program"/>; unknown programs get package = program.</summary>
    public static Peer Get(string program) =>
        Known.TryGetValue(program, out var peer) ? peer : new Peer(program, program);

    /// <summary>True when <paramref name="program"/> is an executable file on PATH (cached).</summary>
    public static bool IsAvailable(string program) => Found.GetOrAdd(program, FindOnPath);

    /// <summary>True when the peer's program is on PATH.</summary>
    public static bool IsAvailable(Peer peer) => IsAvailable(peer.Program);

    /// <summary>"requires X (apt-get install Y)" for the first missing program, or null when all are present.</summary>
    public static string? MissingMessage(IEnumerable<string> programs)
    {
        foreach (var p in programs)
        {
            if (!IsAvailable(p))
            {
                return Get(p).MissingMessage;
            }
        }

        return null;
    }

    /// <summary>
    /// Throws with "requires X (apt-get install Y)" when a program is missing. Call at the top of every
    /// [PeerFact]: when peers are not required the attribute already skipped the test, so reaching this
    /// with a missing peer means AIRLIFT_REQUIRE_PEERS=1 and the run must fail.
    /// </summary>
    public static void EnsureAvailable(params string[] programs)
    {
        var missing = MissingMessage(programs);
        if (missing is not null)
        {
            throw new InvalidOperationException(missing + (Required ? " [AIRLIFT_REQUIRE_PEERS=1]" : ""));
        }
    }

    private static bool FindOnPath(string program)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            return IsExecutable(program);
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (IsExecutable(Path.Combine(dir, program)))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsExecutable(string file)
    {
        if (!File.Exists(file))
        {
            return false;
        }

        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        var mode = File.GetUnixFileMode(file);
        return (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
    }
}
