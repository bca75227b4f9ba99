using System.Buffers;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Airlift.Codec;
using Airlift.Dtls.Crypto;
using Airlift.Dtls.Messages;

namespace Airlift.Dtls.Handshake;

/// <summary>Pieces both roles share: encoding a message body, key derivation, keying material export.</summary>
internal static class HandshakeCommon
{
    public const string SrtpExporterLabel = "EXTRACTOR-dtls_srtp";

    public delegate void BodyEncoder(ref WireWriter writer);

    /// <summary>
    /// Encodes a body into a pooled scratch buffer (grown by four while it overflows) and returns it as an exact-size array:
    /// the one allocation per message is the body itself.
    /// </summary>
    public static byte[] Encode(BodyEncoder encode, int capacity = 1024)
    {
        while (true)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(capacity);
            var w = new WireWriter(buffer);
            encode(ref w);
            var overflowed = w.Overflowed;
            var body = overflowed ? null : w.Written.ToArray();
            buffer.AsSpan(0, w.Position).Clear();
            ArrayPool<byte>.Shared.Return(buffer);
            if (body is not null)
            {
                return body;
            }

            capacity = Math.Max(capacity, buffer.Length) * 4;
            if (capacity > 16 * 1024 * 1024)
            {
                throw new InvalidOperationException("Handshake message too large to encode.");
            }
        }
    }

    /// <summary>Encodes a message of ours, numbers it, adds it to the transcript and to the flight being built.</summary>
    public static HandshakeMessage AddToFlight(DtlsEngine engine, Transcript transcript, List<FlightEntry> flight, HandshakeType type, BodyEncoder encode, int capacity = 1024, ushort epoch = 0)
    {
        var message = engine.CreateMessage(type, Encode(encode, capacity));
        transcript.Add(message);
        flight.Add(new FlightEntry(epoch, message));
        return message;
    }

    /// <summary>Adds an already encoded body of ours to the transcript and the flight, numbering it.</summary>
    public static HandshakeMessage AddToFlight(DtlsEngine engine, Transcript transcript, List<FlightEntry> flight, HandshakeType type, byte[] body, ushort epoch = 0)
    {
        var message = engine.CreateMessage(type, body);
        transcript.Add(message);
        flight.Add(new FlightEntry(epoch, message));
        return message;
    }

    private static readonly ConditionalWeakTable<DtlsCertificate, byte[]> CertificateBodies = new();

    /// <summary>
    /// The DTLS 1.2 Certificate message body for our own chain: the same bytes in every handshake, so encoded once per
    /// certificate and shared (message bodies are never written after encoding).
    /// </summary>
    public static byte[] CertificateBody(DtlsCertificate certificate) =>
        CertificateBodies.GetValue(certificate, static c =>
        {
            var message = new CertificateMessage([.. c.ChainDer]);
            return Encode((ref WireWriter w) => message.Encode(ref w), 8192);
        });

    /// <summary>What a ServerKeyExchange signature covers (RFC 8422 5.4): client_random + server_random + ServerECDHParams.</summary>
    public static byte[] ServerKeyExchangeSignedData(byte[] clientRandom, byte[] serverRandom, ServerKeyExchangeEcdhe ske)
    {
        var signedParams = ske.EncodeParams();
        var signed = new byte[clientRandom.Length + serverRandom.Length + signedParams.Length];
        clientRandom.CopyTo(signed, 0);
        serverRandom.CopyTo(signed, clientRandom.Length);
        signedParams.CopyTo(signed, clientRandom.Length + serverRandom.Length);
        return signed;
    }

    /// <summary>Everything that follows from the premaster secret: master secret, record keys.</summary>
    public static (byte[] Master, RecordProtection ClientWrite, RecordProtection ServerWrite) DeriveKeys(
        CipherSuiteInfo suite, byte[] preMasterSecret, bool extendedMasterSecret, Transcript transcript, byte[] clientRandom, byte[] serverRandom)
    {
        var master = extendedMasterSecret
            ? KeySchedule.ExtendedMasterSecret(suite.PrfHash, preMasterSecret, transcript.Hash(suite.PrfHash))
            : KeySchedule.MasterSecret(suite.PrfHash, preMasterSecret, clientRandom, serverRandom);
        CryptographicOperations.ZeroMemory(preMasterSecret);
        using var block = KeySchedule.DeriveKeyBlock(suite, master, clientRandom, serverRandom);
        var client = RecordProtection.Create(suite, block.ClientWriteKey, block.ClientWriteIv);
        var server = RecordProtection.Create(suite, block.ServerWriteKey, block.ServerWriteIv);
        return (master, client, server);
    }

    public static bool VerifyFinished(CipherSuiteInfo suite, byte[] master, bool fromClient, byte[] transcriptHash, byte[] received)
    {
        var expected = KeySchedule.VerifyData(suite.PrfHash, master, fromClient, transcriptHash);
        return CryptographicOperations.FixedTimeEquals(expected, received);
    }

    public static bool TryDecode<T>(IDtlsEngineCore engine, TimeSpan now, HandshakeMessage message, TryDecoder<T> decoder, out T? value)
        where T : class
    {
        if (decoder(message.Body, out value))
        {
            return true;
        }

        engine.Fail(now, DtlsFailureReason.DecodeError, AlertDescription.DecodeError, $"malformed {message.Type}");
        return false;
    }

    public delegate bool TryDecoder<T>(ReadOnlySpan<byte> body, out T? value);

    /// <summary>
    /// Checks the peer leaf against the expected fingerprint, reads its public key straight from the DER and imports it once
    /// (<see cref="PeerPublicKey"/>: a usable RSA or EC key, the point validated), asks the caller's validator, and reports
    /// the chain.
    /// Every failure is a typed bad_certificate; nothing a peer puts in a certificate can throw out of here.
    /// </summary>
    public static bool AcceptPeerCertificate(IDtlsEngineCore engine, TimeSpan now, IReadOnlyList<byte[]> chain, out PeerPublicKey? key)
    {
        key = null;
        var expected = engine.Options.ExpectedPeerFingerprint;
        if (expected is not null && !expected.Matches(chain[0]))
        {
            var actual = CertificateFingerprint.Compute(expected.Algorithm, chain[0]);
            engine.Fail(now, DtlsFailureReason.BadCertificate, AlertDescription.BadCertificate, $"peer certificate fingerprint {actual} does not match the expected {expected}");
            return false;
        }

        if (!PeerPublicKey.TryCreate(chain[0], out key, out var keyError))
        {
            engine.Fail(now, DtlsFailureReason.BadCertificate, AlertDescription.BadCertificate, $"peer certificate key is unusable: {keyError}");
            return false;
        }

        var peer = new DtlsPeerCertificate(chain, CertificateFingerprint.Compute("sha-256", chain[0]));
        if (engine.Options.PeerCertificateValidator is { } validator)
        {
            bool accepted;
            string detail;
            try
            {
                accepted = validator(peer);
                detail = "the certificate validator refused the peer certificate";
            }
            catch (Exception ex)
            {
                accepted = false;
                detail = $"the certificate validator threw {ex.GetType().Name}; counted as a refusal";
            }

            if (!accepted)
            {
                key.Dispose();
                key = null;
                engine.Fail(now, DtlsFailureReason.BadCertificate, AlertDescription.BadCertificate, detail);
                return false;
            }
        }

        engine.Emit(peer);
        return true;
    }
}
