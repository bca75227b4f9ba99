using Airlift.Codec;
using Airlift.Dtls;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.V13;
using Airlift.Tests.Dtls;
using Airlift.Tests.Dtls.V13;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// DTLS 1.3 fatal paths under a hostile peer (RFC 8446 4, RFC 9147 5): a real Airlift pair in virtual time, with one side's
/// handshake messages altered after decryption (a peer holding the handshake keys can send anything) or its plaintext
/// hello records rewritten on the wire. Each case ends in the typed failure with the alert the RFC names, no exception,
/// no connection and no keying material on the side under attack.
/// The client shares X25519 only and the server prefers X25519MLKEM768, so every case starts with a stateful
/// HelloRetryRequest; after it both DTLS 1.3 engines exist and their handshakes can be wrapped before the server's flight.
/// </summary>
public class Dtls13AttackTests
{
    private static readonly ExtensionType Unoffered = new(0x1234);

    private static DtlsOptions ClientOptions(ulong seed) =>
        Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, seed) with { Dtls13Groups = [NamedGroup.X25519MlKem768, NamedGroup.X25519], Dtls13KeyShares = [NamedGroup.X25519] };

    private static DtlsOptions ServerOptions(ulong seed) => Dtls13HandshakeTests.Options(TestCertificates.Ecdsa, seed);

    [Fact]
    public void The_untouched_arena_completes_after_one_HelloRetryRequest()
    {
        var pair = AfterRetry(1, client: m => m, server: m => m);
        pair.Drive();
        Assert.True(pair.BothConnected, pair.Client.Trace + pair.Server.Trace);
        Assert.Contains("HelloRetryRequest", pair.Server.Trace, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ HelloRetryRequest (plaintext, rewritten on the wire)

    [Theory]
    [InlineData("secp384r1 (not in the client's groups)")]
    [InlineData("x25519 (the client already sent that share)")]
    [InlineData("nothing (no key_share, no cookie)")]
    public void A_HelloRetryRequest_for_an_unoffered_group_or_that_changes_nothing_is_illegal_parameter_RFC_8446_4_1_4(string asks)
    {
        NamedGroup? group = asks.StartsWith("secp384r1", StringComparison.Ordinal) ? NamedGroup.Secp384r1
            : asks.StartsWith("x25519", StringComparison.Ordinal) ? NamedGroup.X25519 : null;
        var pair = new DtlsPair(ClientOptions(10), ServerOptions(11)) { Drop = (toServer, index, _) => !toServer && index == 0 };
        pair.Drive(p => p.Wire.Any(d => !d.ToServer), 100);
        var genuine = pair.Wire.First(d => !d.ToServer).Data;
        Assert.True(ServerHello.TryDecode(PlainBody(genuine), out var hrr));
        Assert.True(hrr!.Random.AsSpan().SequenceEqual(Wire13.HelloRetryRequestRandom));

        pair.Client.HandleDatagram(pair.Now, WithPlainBody(genuine, HelloRetry13.Build(hrr.SessionId, hrr.CipherSuite, group, cookie: null)));
        pair.Drain();
        pair.Drive();

        AssertFailed(pair, server: false, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, asks == "nothing (no key_share, no cookie)" ? "changes nothing" : "group we did not offer or already sent a share for");
    }

    [Fact]
    public void A_ServerHello_choosing_a_cipher_suite_the_client_did_not_offer_is_illegal_parameter()
    {
        // No retry here: the client shares the hybrid group too, so the ServerHello is the server's first record.
        var client = Dtls13HandshakeTests.Options(TestCertificates.EcdsaPeer, 12) with { Dtls13CipherSuites = [new CipherSuite(0x1301)] };
        var pair = new DtlsPair(client, ServerOptions(13)) { Drop = (toServer, index, _) => !toServer && index == 0 };
        pair.Drive(p => p.Wire.Any(d => !d.ToServer), 100);
        var genuine = pair.Wire.First(d => !d.ToServer).Data;
        Assert.True(ServerHello.TryDecode(PlainBody(genuine), out var sh));
        Assert.Equal(new CipherSuite(0x1301), sh!.CipherSuite);

        pair.Client.HandleDatagram(pair.Now, WithPlainBody(genuine, Encode(sh with { CipherSuite = new CipherSuite(0x1302) })));
        pair.Drain();
        pair.Drive();

        AssertFailed(pair, server: false, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "TLS_AES_256_GCM_SHA384 that was not offered");
    }

    // ------------------------------------------------------------------ the server's flight, altered after decryption

    [Fact]
    public void A_second_HelloRetryRequest_is_unexpected_message_RFC_8446_4_1_4()
    {
        var pair = AfterRetry(20, client: m => m.Type != HandshakeType.ServerHello ? m
            : m with { Body = Retry(m, NamedGroup.X25519) }, server: m => m);
        pair.Drive();
        AssertFailed(pair, server: false, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, "second HelloRetryRequest");
    }

    [Fact]
    public void A_ServerHello_after_the_retry_with_a_suite_other_than_the_retry_named_is_illegal_parameter()
    {
        var pair = AfterRetry(21, client: m => m.Type != HandshakeType.ServerHello ? m
            : m with { Body = EditServerHello(m, sh => sh with { CipherSuite = sh.CipherSuite == new CipherSuite(0x1301) ? new CipherSuite(0x1303) : new CipherSuite(0x1301) }) }, server: m => m);
        pair.Drive();
        AssertFailed(pair, server: false, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "server chose cipher suite");
    }

    [Theory]
    [InlineData(0x0017)] // secp256r1: never offered
    [InlineData(0x001D)] // x25519: offered first, but the retry asked for X25519MLKEM768 (its key pair is gone)
    public void A_ServerHello_key_share_for_a_group_the_client_has_no_share_for_is_illegal_parameter(ushort group)
    {
        var share = new KeyShareEntry(new NamedGroup(group), Forge.GenuinePoint(NamedGroup.Secp256r1));
        var pair = AfterRetry(22UL + group, client: m => m.Type != HandshakeType.ServerHello ? m
            : m with { Body = EditServerHello(m, sh => sh with { Extensions = [.. sh.Extensions.Select(e => e.Type == Wire13.KeyShare ? Extensions13.CreateServerShare(share) : e)] }) }, server: m => m);
        pair.Drive();
        AssertFailed(pair, server: false, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "group we sent no share for");
    }

    [Theory]
    [InlineData("unoffered 0x1234")]
    [InlineData("key_share (offered, but never in EncryptedExtensions)")]
    public void An_extension_in_EncryptedExtensions_the_client_did_not_offer_or_that_does_not_belong_there_is_unsupported_extension(string extension)
    {
        var added = extension.StartsWith("unoffered", StringComparison.Ordinal) ? new Extension(Unoffered, []) : new Extension(Wire13.KeyShare, [0x00, 0x1D, 0x00, 0x00]);
        var pair = AfterRetry(30, client: m => m.Type != Wire13.EncryptedExtensions ? m
            : m with { Body = Encode13(Decode<EncryptedExtensions>(m, EncryptedExtensions.TryDecode) with { Extensions = [.. Decode<EncryptedExtensions>(m, EncryptedExtensions.TryDecode).Extensions, added] }) }, server: m => m);
        pair.Drive();
        AssertFailed(pair, server: false, DtlsFailureReason.IllegalParameter, AlertDescription.UnsupportedExtension, "in EncryptedExtensions that does not belong there or was not offered");
    }

    [Fact]
    public void A_server_CertificateVerify_with_one_signature_bit_flipped_is_decrypt_error()
    {
        var pair = AfterRetry(31, client: m => m.Type == HandshakeType.CertificateVerify ? Flip(m, m.Body.Length - 8) : m, server: m => m);
        pair.Drive();
        AssertFailed(pair, server: false, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "server CertificateVerify signature does not verify");
    }

    [Fact]
    public void A_server_CertificateVerify_with_a_scheme_that_is_not_allowed_in_DTLS_1_3_is_illegal_parameter()
    {
        // rsa_pkcs1_sha256 (0x0401) is for certificates only in TLS 1.3 (RFC 8446 4.2.3).
        var pair = AfterRetry(32, client: m => m.Type != HandshakeType.CertificateVerify ? m
            : m with { Body = [0x04, 0x01, .. m.Body.AsSpan(2)] }, server: m => m);
        pair.Drive();
        AssertFailed(pair, server: false, DtlsFailureReason.IllegalParameter, AlertDescription.IllegalParameter, "server signed with rsa_pkcs1_sha256");
    }

    [Fact]
    public void A_server_Finished_with_one_bit_flipped_is_decrypt_error()
    {
        var pair = AfterRetry(33, client: m => m.Type == HandshakeType.Finished ? Flip(m, 0) : m, server: m => m);
        pair.Drive();
        AssertFailed(pair, server: false, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "server Finished does not verify");
    }

    [Theory]
    [InlineData(8, "unexpected CertificateRequest while in ExpectEncryptedExtensions")]
    [InlineData(11, "unexpected CertificateVerify while in ExpectCertificate")]
    [InlineData(15, "unexpected Finished while in ExpectCertificateVerify")]
    public void A_server_flight_with_a_message_left_out_is_unexpected_message_in_the_state_that_awaits_it(byte missing, string check)
    {
        var pair = AfterRetry(34UL + missing, client: m => m.Type.Value == missing ? null : m, server: m => m);
        pair.Drive();
        AssertFailed(pair, server: false, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, check);
    }

    // ------------------------------------------------------------------ the client's final flight, altered after decryption

    [Fact]
    public void A_client_Finished_with_one_bit_flipped_is_decrypt_error_at_the_server()
    {
        var pair = AfterRetry(40, client: m => m, server: m => m.Type == HandshakeType.Finished ? Flip(m, 5) : m);
        pair.Drive();
        AssertFailed(pair, server: true, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "client Finished does not verify");
    }

    [Fact]
    public void A_client_CertificateVerify_with_one_signature_bit_flipped_is_decrypt_error_at_the_server()
    {
        var pair = AfterRetry(41, client: m => m, server: m => m.Type == HandshakeType.CertificateVerify ? Flip(m, m.Body.Length - 8) : m);
        pair.Drive();
        AssertFailed(pair, server: true, DtlsFailureReason.VerificationFailed, AlertDescription.DecryptError, "CertificateVerify signature does not verify");
    }

    [Fact]
    public void An_empty_client_Certificate_when_the_server_requires_one_is_a_handshake_failure()
    {
        var empty = HandshakeCommon.Encode((ref WireWriter w) => new Certificate13([], []).Encode(ref w));
        var pair = AfterRetry(42, client: m => m, server: m => m.Type == HandshakeType.Certificate ? m with { Body = empty } : m);
        pair.Drive();
        AssertFailed(pair, server: true, DtlsFailureReason.BadCertificate, AlertDescription.HandshakeFailure, "client sent no certificate, but one is required");
    }

    [Fact]
    public void A_client_Finished_before_its_CertificateVerify_is_unexpected_message_at_the_server()
    {
        var pair = AfterRetry(43, client: m => m, server: m => m.Type == HandshakeType.CertificateVerify ? null : m);
        pair.Drive();
        AssertFailed(pair, server: true, DtlsFailureReason.UnexpectedMessage, AlertDescription.UnexpectedMessage, "unexpected Finished while in ExpectClientCertificateVerify");
    }

    // ------------------------------------------------------------------ messages in an epoch they may not use (record layer)

    [Theory]
    [InlineData(1)] // a second ClientHello, protected in epoch 2
    [InlineData(24)] // a KeyUpdate before the handshake completed (only epoch 3 and later may carry one)
    [InlineData(2)] // a ServerHello from the client, in epoch 2
    public void A_handshake_message_in_an_epoch_it_may_not_use_is_dropped_and_counted_and_the_handshake_still_completes(byte type)
    {
        // The client's final flight is held back; in its place the client's own record layer protects a hostile message in
        // epoch 2 with the message_seq the server awaits.
        var hold = false;
        var pair = new DtlsPair(ClientOptions(50UL + type), ServerOptions(60UL + type));
        pair.Drop = (toServer, _, _) => toServer && hold;
        pair.Drive(p => p.Client.Engine13 is not null, 1000);
        hold = true;
        var before = pair.Wire.Count;
        pair.Drive(p => p.Client.State == DtlsState.Connected, 1000);
        var held = pair.Wire.Skip(before).Where(d => d.ToServer).Select(d => d.Data).ToList();
        Assert.NotEmpty(held);
        var clientHello = PlainBody(pair.Wire.First(d => d.ToServer).Data);
        hold = false;

        var server = pair.Server.Engine13!;
        var epochDrops = pair.Server.Stats.DroppedEpoch;
        byte[] body = type switch { 1 => clientHello, 24 => [0x00], _ => new byte[40] };
        var client = pair.Client.Engine13!;
        client.SendFlight(pair.Now, [new Outgoing13(2, new HandshakeMessage(new HandshakeType(type), server.Reassembler.NextSeq, body))], awaitsAck: false);
        pair.Drain();
        pair.Drive(p => p.Server.Stats.DroppedEpoch > epochDrops, 50);

        Assert.Equal(epochDrops + 1, pair.Server.Stats.DroppedEpoch);
        Assert.Equal(DtlsState.Connecting, pair.Server.State);
        Assert.Empty(pair.ServerEvents.OfType<DtlsFailed>());

        // The genuine final flight, late, still completes the handshake.
        foreach (var datagram in held)
        {
            pair.Server.HandleDatagram(pair.Now, datagram);
        }

        pair.Drain();
        pair.Drive(p => p.Server.State != DtlsState.Connecting, 100);
        Assert.Equal(DtlsState.Connected, pair.Server.State);
        Assert.Equal(0, pair.Server.Stats.InternalErrors);
    }

    // ------------------------------------------------------------------ the arena

    /// <summary>
    /// Runs the pair through the HelloRetryRequest, then wraps both DTLS 1.3 handshakes: each sees every decrypted
    /// message through its editor first (null drops it), exactly as a peer with the handshake keys could have sent it.
    /// </summary>
    private static DtlsPair AfterRetry(ulong seed, Func<HandshakeMessage, HandshakeMessage?> client, Func<HandshakeMessage, HandshakeMessage?> server)
    {
        var pair = new DtlsPair(ClientOptions(seed), ServerOptions(seed + 1000));
        pair.Drive(p => p.Client.Engine13 is not null && p.Server.Engine13 is not null, 1000);
        Assert.NotNull(pair.Client.Engine13);
        Assert.Equal(DtlsState.Connecting, pair.Server.State);
        Assert.Contains("HelloRetryRequest", pair.Server.Trace, StringComparison.Ordinal);
        foreach (var (endpoint, edit) in new[] { (pair.Client, client), (pair.Server, server) })
        {
            var engine = endpoint.Engine13!;
            engine.Attach(new Editing(engine.Handshake, edit));
        }

        return pair;
    }

    private static void AssertFailed(DtlsPair pair, bool server, DtlsFailureReason reason, AlertDescription alert, string check)
    {
        var (endpoint, events) = server ? (pair.Server, pair.ServerEvents) : (pair.Client, pair.ClientEvents);
        var trace = pair.Client.Trace + pair.Server.Trace;
        var failed = Assert.Single(events.OfType<DtlsFailed>());
        Assert.True(reason == failed.Reason && alert == failed.Alert, $"{failed.Reason}/{failed.Alert}: {failed.Message}\n{trace}");
        Assert.Contains(check, failed.Message, StringComparison.Ordinal);
        Assert.Equal(DtlsState.Failed, endpoint.State);
        Assert.Empty(events.OfType<DtlsConnected>());
        Assert.Empty(events.OfType<DtlsKeyingMaterial>());
        Assert.False(endpoint.Engine13 is { } e && e.TryExport("EXPORTER-test", null, new byte[16]));
        Assert.Equal(0, pair.Client.Stats.InternalErrors);
        Assert.Equal(0, pair.Server.Stats.InternalErrors);

        // The attacked side's last datagram is its fatal alert: 15 bytes unprotected, 24 protected (5 + 2 + 1 + 16).
        Assert.Contains(pair.Wire.Last(d => d.ToServer != server).Data.Length, new[] { 15, 24 });
    }

    private static HandshakeMessage Flip(HandshakeMessage m, int index)
    {
        var body = (byte[])m.Body.Clone();
        body[index] ^= 0x01;
        return m with { Body = body };
    }

    private static T Decode<T>(HandshakeMessage m, HandshakeCommon.TryDecoder<T> decode)
        where T : class
    {
        Assert.True(decode(m.Body, out var value));
        return value!;
    }

    private static byte[] EditServerHello(HandshakeMessage m, Func<ServerHello, ServerHello> edit)
    {
        Assert.True(ServerHello.TryDecode(m.Body, out var sh));
        return Encode(edit(sh!));
    }

    private static byte[] Retry(HandshakeMessage serverHello, NamedGroup group)
    {
        Assert.True(ServerHello.TryDecode(serverHello.Body, out var sh));
        return HelloRetry13.Build(sh!.SessionId, sh.CipherSuite, group, cookie: null);
    }

    private static byte[] Encode(ServerHello sh) => HandshakeCommon.Encode((ref WireWriter w) => sh.Encode(ref w));

    private static byte[] Encode13(EncryptedExtensions ee) => HandshakeCommon.Encode((ref WireWriter w) => ee.Encode(ref w));

    /// <summary>The body of the single unfragmented handshake message in the first DTLSPlaintext record of a datagram.</summary>
    private static byte[] PlainBody(byte[] datagram)
    {
        Assert.Equal(22, datagram[0]);
        var length = (datagram[13 + 1] << 16) | (datagram[13 + 2] << 8) | datagram[13 + 3];
        var fragmentLength = (datagram[13 + 9] << 16) | (datagram[13 + 10] << 8) | datagram[13 + 11];
        Assert.Equal(length, fragmentLength);
        return datagram.AsSpan(25, length).ToArray();
    }

    /// <summary>The datagram with its first record's handshake body replaced (lengths rewritten), the rest kept.</summary>
    private static byte[] WithPlainBody(byte[] datagram, byte[] body)
    {
        var recordLength = (datagram[11] << 8) | datagram[12];
        var rest = datagram.AsSpan(13 + recordLength);
        var output = new byte[25 + body.Length + rest.Length];
        datagram.AsSpan(0, 25).CopyTo(output);
        output[11] = (byte)((12 + body.Length) >> 8);
        output[12] = (byte)(12 + body.Length);
        foreach (var at in new[] { 14, 22 })
        {
            output[at] = (byte)(body.Length >> 16);
            output[at + 1] = (byte)(body.Length >> 8);
            output[at + 2] = (byte)body.Length;
        }

        output[19] = output[20] = output[21] = 0;
        body.CopyTo(output, 25);
        rest.CopyTo(output.AsSpan(25 + body.Length));
        return output;
    }

    private sealed class Editing(IHandshake13 inner, Func<HandshakeMessage, HandshakeMessage?> edit) : IHandshake13
    {
        public string StateName => inner.StateName;

        public void OnMessage(TimeSpan now, HandshakeMessage message, ulong epoch)
        {
            if (edit(message) is { } edited)
            {
                inner.OnMessage(now, edited, epoch);
            }
        }

        public void Release() => inner.Release();
    }
}
