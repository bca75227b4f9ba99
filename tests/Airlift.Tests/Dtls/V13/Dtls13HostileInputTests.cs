using System.Net;
using Airlift.Dtls;

namespace Airlift.Tests.Dtls.V13;

/// <summary>What a hostile or broken peer can do to a DTLS 1.3 endpoint: every case ends in a counted drop or a typed failure, never an exception, and the honest handshake still completes where it should.</summary>
public class Dtls13HostileInputTests
{
    private static DtlsOptions Options(DtlsCertificate certificate, ulong seed) => Dtls13HandshakeTests.Options(certificate, seed);

    private static bool IsUnified(byte[] datagram) => (datagram[0] & 0xE0) == 0x20;

    [Fact]
    public void Seeded_garbage_in_every_record_format_is_dropped_and_the_handshake_still_completes()
    {
        var random = new Random(1234);
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 40), Options(TestCertificates.Ecdsa, 41));
        for (var step = 0; step < 200 && !pair.BothConnected; step++)
        {
            foreach (var endpoint in new[] { pair.Client, pair.Server })
            {
                var garbage = new byte[random.Next(1, 300)];
                random.NextBytes(garbage);
                // Unified headers (0b001xxxxx), plaintext handshake/alert/ACK records, and anything at all.
                garbage[0] = (step % 3) switch { 0 => (byte)(0x20 | (garbage[0] & 0x1F)), 1 => (byte)(21 + (garbage[0] % 6)), _ => garbage[0] };
                endpoint.HandleDatagram(pair.Now, garbage);
            }

            pair.Drain();
            pair.Step();
        }

        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Equal(0, pair.Client.Stats.InternalErrors);
        Assert.Equal(0, pair.Server.Stats.InternalErrors);
        Assert.True(pair.Server.Stats.DroppedMalformed + pair.Server.Stats.DroppedEpoch + pair.Server.Stats.DroppedBadRecordMac > 0);
    }

    [Fact]
    public void Replayed_and_tampered_protected_records_are_dropped_and_counted_without_failing_the_connection()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 42), Options(TestCertificates.Ecdsa, 43));
        pair.Drive();
        Assert.True(pair.BothConnected);
        pair.Client.Send("once"u8);
        pair.Drain();
        var record = pair.Wire.Last(d => d.ToServer).Data;
        pair.Drive(p => p.ServerEvents.OfType<DtlsApplicationData>().Any(), 100);

        var (replays, badMacs) = (pair.Server.Stats.DroppedReplay, pair.Server.Stats.DroppedBadRecordMac);
        pair.Server.HandleDatagram(pair.Now, record);
        Assert.Equal(replays + 1, pair.Server.Stats.DroppedReplay);

        // A fresh record with its tag damaged fails authentication (and does not burn its sequence number).
        pair.Client.Send("twice"u8);
        var fresh = DrainClientDatagram(pair);
        var tampered = (byte[])fresh.Clone();
        tampered[^1] ^= 0x01;
        pair.Server.HandleDatagram(pair.Now, tampered);
        Assert.Equal(badMacs + 1, pair.Server.Stats.DroppedBadRecordMac);
        pair.Server.HandleDatagram(pair.Now, fresh);
        Assert.Equal("twice"u8.ToArray(), Assert.Single(DrainServerEvents(pair).OfType<DtlsApplicationData>()).Data);
        Assert.Equal(DtlsState.Connected, pair.Server.State);
    }

    private static byte[] DrainClientDatagram(DtlsPair pair)
    {
        var buffer = new byte[2048];
        var output = pair.Client.PollOutput(buffer);
        Assert.Equal(DtlsOutputKind.Datagram, output.Kind);
        return buffer[..output.DatagramLength];
    }

    private static List<DtlsEvent> DrainServerEvents(DtlsPair pair)
    {
        var buffer = new byte[2048];
        var events = new List<DtlsEvent>();
        while (pair.Server.PollOutput(buffer) is { Kind: not DtlsOutputKind.Timeout } output)
        {
            if (output.Event is { } e)
            {
                events.Add(e);
            }
        }

        return events;
    }

    [Fact]
    public void A_record_with_a_connection_id_we_never_negotiated_is_dropped_as_malformed()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 44), Options(TestCertificates.Ecdsa, 45));
        pair.Drive();
        var before = pair.Server.Stats.DroppedMalformed;
        pair.Server.HandleDatagram(pair.Now, [0x3F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Equal(before + 1, pair.Server.Stats.DroppedMalformed);
        Assert.Equal(DtlsState.Connected, pair.Server.State);
    }

    [Fact]
    public void Records_of_an_epoch_without_keys_are_buffered_only_up_to_MaxEarlyRecords()
    {
        // The server has sent its flight and waits for the client's Finished (lost): epoch 3 has no keys there yet.
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 46), Options(TestCertificates.Ecdsa, 47) with { MaxEarlyRecords = 4 })
        {
            Drop = (toServer, _, data) => toServer && IsUnified(data),
        };
        pair.Drive(p => p.Client.State == DtlsState.Connected, 1000);
        Assert.Equal(DtlsState.Connecting, pair.Server.State);
        var record = new byte[40];
        record[0] = 0x2F; // unified header, 16-bit sequence, length, epoch bits 3
        record[4] = 35;
        var before = pair.Server.Stats.DroppedEpoch;
        for (var i = 0; i < 50; i++)
        {
            record[2] = (byte)i;
            pair.Server.HandleDatagram(pair.Now, record);
        }

        Assert.Equal(before + 46, pair.Server.Stats.DroppedEpoch);
        Assert.Equal(0, pair.Server.Stats.InternalErrors);

        // The real Finished still completes the handshake; the four buffered forgeries fail authentication and are dropped.
        pair.Drop = null;
        pair.Drive(p => p.BothConnected, 10_000);
        Assert.True(pair.BothConnected, pair.Server.Trace);
    }

    [Fact]
    public void ACKs_for_records_never_sent_change_nothing()
    {
        var pair = new DtlsPair(Options(TestCertificates.EcdsaPeer, 47), Options(TestCertificates.Ecdsa, 48))
        {
            // Lose the client's final flight once, so the client holds a flight that a forged ACK could wrongly release.
            Drop = (toServer, index, data) => toServer && IsUnified(data) && index < 3,
        };
        pair.Drive(p => p.Client.State == DtlsState.Connected, 1000);
        Assert.True(pair.Client.FinalFlightRetained);
        pair.Drop = null;
        pair.Drive(p => p.BothConnected && !p.Client.FinalFlightRetained, 10_000);
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.False(pair.Client.FinalFlightRetained);
    }

    [Fact]
    public void The_listener_keeps_at_most_MaxPendingClientHelloBytes_of_unfinished_hellos_from_any_number_of_peers()
    {
        var options = Options(TestCertificates.Ecdsa, 49) with { MaxPendingClientHelloBytes = 16 * 1024 };
        var listener = new DtlsServerListener(options);
        var client = DtlsEndpoint.CreateClient(Options(TestCertificates.EcdsaPeer, 50), TimeSpan.Zero);
        var buffer = new byte[2048];
        var first = client.PollOutput(buffer);
        Assert.Equal(DtlsOutputKind.Datagram, first.Kind);
        var fragment = buffer[..first.DatagramLength];
        var response = new byte[2048];
        for (var port = 1; port <= 1000; port++)
        {
            var decision = listener.HandleDatagram(TimeSpan.FromMilliseconds(port), new IPEndPoint(IPAddress.Loopback, port), fragment, response, out var length, out _);
            Assert.Equal(DtlsListenerDecision.Buffered, decision);
            Assert.Equal(0, length);
        }

        Assert.Equal(1000, listener.Stats.FragmentsBuffered);
        Assert.True(listener.PendingClientHelloBytes <= 16 * 1024, $"{listener.PendingClientHelloBytes} bytes pending");
    }

    [Fact]
    public void The_HelloRetryRequest_is_never_larger_than_the_hello_that_asked_for_it()
    {
        var listener = new DtlsServerListener(Options(TestCertificates.Ecdsa, 51));
        // X25519 only: a one-datagram hello, the smallest a DTLS 1.3 client sends.
        var client = DtlsEndpoint.CreateClient(Options(TestCertificates.EcdsaPeer, 52) with { Dtls13KeyShares = [NamedGroup.X25519], Dtls13Groups = [NamedGroup.X25519] }, TimeSpan.Zero);
        var buffer = new byte[2048];
        var hello = client.PollOutput(buffer);
        var response = new byte[2048];
        var decision = listener.HandleDatagram(TimeSpan.Zero, IPEndPoint.Parse("127.0.0.1:4000"), buffer.AsSpan(0, hello.DatagramLength), response, out var length, out var copies, out _);
        Assert.Equal(DtlsListenerDecision.HelloRetryRequest, decision);
        Assert.Equal(1, copies);
        Assert.True(length <= hello.DatagramLength, $"{length} > {hello.DatagramLength}");
    }
}
