using System.Runtime.CompilerServices;

// The echo server's SDP, SSRC and RTCP logic is tested directly (tests/Airlift.Tests/EndToEnd).
[assembly: InternalsVisibleTo("Airlift.Tests")]
