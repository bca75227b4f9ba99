using Airlift.Dtls;

namespace Airlift.Tests.Dtls;

/// <summary>
/// <see cref="DtlsEndpoint.TryPollOutput"/>: a buffer smaller than the next datagram is a status with the size needed, never an
/// exception, and nothing is lost (issue #13; the same shape as the ICE agent's and the emulator's PollOutput).
/// <see cref="DtlsEndpoint.PollOutput"/> keeps throwing, so that existing drain loops cannot spin on an unknown kind.
/// </summary>
public class TryPollOutputTests
{
    public static TheoryData<int> Versions => new() { 12, 13 };

    private static DtlsOptions Options(int version, DtlsCertificate certificate, ulong seed) =>
        DtlsHandshakeTests.Options(certificate, seed) with { ProtocolVersions = version == 13 ? [ProtocolVersion.Dtls13] : [ProtocolVersion.Dtls12] };

    [Theory]
    [MemberData(nameof(Versions))]
    public void A_small_buffer_gives_BufferTooSmall_with_the_size_and_the_datagram_stays_queued(int version)
    {
        using var client = DtlsEndpoint.CreateClient(Options(version, TestCertificates.Ecdsa, 1801), TimeSpan.Zero);
        var small = new byte[40];

        var first = client.TryPollOutput(small);
        Assert.Equal(DtlsOutputKind.BufferTooSmall, first.Kind);
        Assert.True(first.DatagramLength > small.Length);

        var again = client.TryPollOutput(small); // nothing was taken: the same answer
        Assert.Equal(first, again);

        var buffer = new byte[first.DatagramLength];
        var hello = client.TryPollOutput(buffer);
        Assert.Equal(DtlsOutputKind.Datagram, hello.Kind);
        Assert.Equal(first.DatagramLength, hello.DatagramLength);
        Assert.Equal(1, client.Stats.DatagramsSent);
    }

    [Fact]
    public void PollOutput_still_throws_on_a_small_buffer_and_takes_nothing()
    {
        using var client = DtlsEndpoint.CreateClient(Options(12, TestCertificates.Ecdsa, 1802), TimeSpan.Zero);

        Assert.Throws<ArgumentException>(() => client.PollOutput(new byte[40]));
        Assert.Equal(DtlsOutputKind.Datagram, client.PollOutput(new byte[2048]).Kind);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void A_handshake_drained_with_TryPollOutput_and_growing_buffers_connects(int version)
    {
        var now = TimeSpan.FromSeconds(1);
        using var client = DtlsEndpoint.CreateClient(Options(version, TestCertificates.Ecdsa, 1803), now);
        using var server = DtlsEndpoint.CreateServer(Options(version, TestCertificates.EcdsaPeer, 1804), now);
        var tooSmall = 0;

        // Drain with a buffer that starts tiny and grows to the size asked for: the one loop shape with BufferTooSmall.
        List<byte[]> Drain(DtlsEndpoint endpoint)
        {
            var sent = new List<byte[]>();
            var buffer = new byte[16];
            for (var i = 0; i < 1000; i++)
            {
                var output = endpoint.TryPollOutput(buffer);
                if (output.Kind == DtlsOutputKind.Timeout)
                {
                    break;
                }

                if (output.Kind == DtlsOutputKind.BufferTooSmall)
                {
                    tooSmall++;
                    buffer = new byte[output.DatagramLength];
                }
                else if (output.Kind == DtlsOutputKind.Datagram)
                {
                    sent.Add(buffer.AsSpan(0, output.DatagramLength).ToArray());
                }
            }

            return sent;
        }

        for (var step = 0; step < 50 && !(client.State == DtlsState.Connected && server.State == DtlsState.Connected); step++)
        {
            foreach (var d in Drain(client))
            {
                server.HandleDatagram(now, d);
            }

            foreach (var d in Drain(server))
            {
                client.HandleDatagram(now, d);
            }

            now += TimeSpan.FromMilliseconds(1);
        }

        Assert.Equal(DtlsState.Connected, client.State);
        Assert.Equal(DtlsState.Connected, server.State);
        Assert.True(tooSmall > 0);
    }
}
