using Airlift.Dtls.Crypto;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.V12;
using Airlift.Dtls.V13;

namespace Airlift.Dtls;

/// <summary>
/// A DTLS 1.3 / 1.2 endpoint (client or server side of one association; the version is negotiated, 1.3 preferred) as a sans-IO state machine.
/// Datagrams and the current time go in (<see cref="HandleDatagram"/>, <see cref="HandleTimeout"/>); datagrams,
/// events and the next deadline come out of <see cref="PollOutput"/>. The endpoint never reads a clock, never
/// touches a socket, and never throws on bad input from the network: malformed, replayed or unexpected records are
/// dropped and counted in <see cref="Stats"/>, protocol violations end the handshake with a <see cref="DtlsFailed"/> event.
/// </summary>
/// <remarks>
/// Drain rule (the one rule of every Airlift engine, docs/architecture.md "Engine shape and drain rule"): after every call that takes <c>now</c> (and after <see cref="Send"/> and <see cref="Close"/>), call
/// <see cref="PollOutput"/> until it returns <see cref="DtlsOutputKind.Timeout"/>; then call <see cref="HandleTimeout"/>
/// at (or after) the returned deadline, or earlier when a datagram arrives. Time is any monotonic clock as a
/// <see cref="TimeSpan"/>; virtual time in tests.
/// <para>
/// Exception boundary: <see cref="HandleDatagram"/> and <see cref="HandleTimeout"/> never throw. Anything unexpected
/// while handling one datagram or timer (a bug, or a platform crypto call refusing a peer's value) fails this endpoint
/// with <see cref="DtlsFailureReason.InternalError"/>, counted in <see cref="DtlsStats.InternalErrors"/> and logged; a
/// socket loop serving many endpoints is never stopped by one of them.
/// </para>
/// <para>
/// Events are race-free: what a consumer needs is in the event itself (<see cref="DtlsConnected"/>, and
/// <see cref="DtlsKeyingMaterial"/> with the SRTP keys), and <see cref="ExportKeyingMaterial"/> stays available after the
/// connection closes, until <see cref="Dispose"/>. A consumer that reads <see cref="DtlsConnected"/> late, when the peer
/// has already closed, still gets its keys.
/// </para>
/// </remarks>
public sealed class DtlsEndpoint : IDisposable
{
    private bool _disposed;
    private readonly DtlsEngine _engine;
    private Dtls13Engine? _v13;
    private IDtlsEngine _current;

    private DtlsEndpoint(DtlsOptions options, DtlsRole role, TimeSpan now)
    {
        _engine = new DtlsEngine(options, role, now) { Endpoint = this };
        _current = _engine;
        IHandshakeHandler handler = role == DtlsRole.Client ? new ClientHandshake(_engine) : new ServerHandshake(_engine);
        _engine.Attach(handler);
        _engine.Log(now, $"endpoint created, max datagram {options.MaxDatagramSize}, initial timeout {options.EffectiveInitialRetransmitTimeout.TotalMilliseconds:0} ms");
        handler.Start(now);
    }

    /// <summary>Creates a client; its ClientHello is ready to poll at once.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static DtlsEndpoint CreateClient(DtlsOptions options, TimeSpan now) => new(options, DtlsRole.Client, now);

    /// <summary>
    /// Creates a server that answers the first ClientHello directly, without a cookie exchange. Use this when the peer is
    /// already verified (ICE connectivity checks in WebRTC); on an open port use <see cref="DtlsServerListener"/>, which
    /// keeps no state before a valid cookie.
    /// </summary>
    public static DtlsEndpoint CreateServer(DtlsOptions options, TimeSpan now) => new(options, DtlsRole.Server, now);

    /// <summary>Our role.</summary>
    public DtlsRole Role => _engine.Role;

    /// <summary>Current state.</summary>
    public DtlsState State => _current.State;

    /// <summary>The negotiated version once the server's hello (client) or the client's hello (server) decided it; DTLS 1.2 until then.</summary>
    public ProtocolVersion Version => _v13 is null ? ProtocolVersion.Dtls12 : ProtocolVersion.Dtls13;

    /// <summary>Counters of this endpoint.</summary>
    public DtlsStats Stats => _engine.Stats;

    /// <summary>The datagram size limit in force (lower than configured after a path-MTU fallback).</summary>
    public int EffectiveMaxDatagramSize => _engine.EffectiveMaxDatagramSize;

    /// <summary>Largest application-data payload <see cref="Send"/> accepts.</summary>
    public int MaxApplicationDataSize => _current.MaxApplicationDataSize;

    /// <summary>A human-readable timeline of this handshake (flights sent, messages received, timers), for diagnostics.</summary>
    public string Trace => _current.Trace;

    /// <summary>
    /// True while this endpoint keeps its final handshake flight to answer a peer that did not get it (field failure F2).
    /// DTLS 1.2: from the handshake's end until the peer proves it finished (protected data or close_notify from it) or
    /// <see cref="DtlsOptions.EffectiveFinalFlightRetention"/> runs out. DTLS 1.3: the client, until the server acknowledges
    /// its final flight (or the retention runs out); a DTLS 1.3 server keeps nothing. A server process should not exit, and
    /// a driver should not drop the endpoint, while this is true. Always false for the side that received the last flight.
    /// </summary>
    public bool FinalFlightRetained => !_disposed && _current.FinalFlightRetained;

    /// <summary>Processes one received datagram (any number of records). Never throws (see the exception boundary above).</summary>
    public void HandleDatagram(TimeSpan now, ReadOnlySpan<byte> datagram)
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            var before = _current;
            before.HandleDatagram(now, datagram);
            if (!ReferenceEquals(before, _current) && _v13 is { } switched)
            {
                // The hello in this datagram switched to DTLS 1.3: the records after it (the server's encrypted flight
                // usually shares the ServerHello's datagram) are DTLS 1.3 records, read now by the DTLS 1.3 engine.
                switched.ProcessDatagram(now, datagram, replay: true);
            }
        }
        catch (Exception ex)
        {
            FailUnexpected(now, ex, "a datagram");
        }
    }

    /// <summary>
    /// Processes one received datagram like <see cref="HandleDatagram"/>, and writes the plaintext of
    /// its first application-data record into <paramref name="applicationData"/> instead of allocating a
    /// <see cref="DtlsApplicationData"/> event: zero allocations per record when the buffer is reused. Handshake output and
    /// other events still go through <see cref="PollOutput"/> (drain rule unchanged). Never throws.
    /// </summary>
    public DtlsReceiveResult HandleDatagramInto(TimeSpan now, ReadOnlySpan<byte> datagram, Memory<byte> applicationData)
    {
        if (_disposed)
        {
            return default;
        }

        var output = _current.Output;
        output.OpenSink(applicationData);
        try
        {
            HandleDatagram(now, datagram);
        }
        finally
        {
            _ = output.CloseSink();
        }

        return output.LastSinkResult;
    }

    /// <summary>Processes timers due at <paramref name="now"/>; harmless to call early. Never throws.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            _current.HandleTimeout(now);
        }
        catch (Exception ex)
        {
            FailUnexpected(now, ex, "a timeout");
        }
    }

    /// <summary>Returns the next output. <paramref name="buffer"/> must hold at least the configured maximum datagram size.</summary>
    /// <remarks>
    /// Throws on a buffer smaller than the next datagram rather than returning <see cref="DtlsOutputKind.BufferTooSmall"/>:
    /// the drain loops written against it (<c>while (output.Kind != Timeout)</c>, the drain rule) would spin forever on a
    /// status they do not know, with the datagram still queued. Callers that want the status use <see cref="TryPollOutput"/>.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> is smaller than the next datagram (nothing is taken).</exception>
    public DtlsOutput PollOutput(Span<byte> buffer)
    {
        if (_v13 is { } v13)
        {
            // Whatever the DTLS 1.2 engine produced before the switch (events, never datagrams) comes first.
            var earlier = _engine.PollOutput(buffer);
            return earlier.Kind == DtlsOutputKind.Event ? earlier : v13.PollOutput(buffer);
        }

        return _engine.PollOutput(buffer);
    }

    /// <summary>
    /// Returns the next output like <see cref="PollOutput"/>, but a buffer smaller than the next datagram gives
    /// <see cref="DtlsOutputKind.BufferTooSmall"/> with the size needed in <see cref="DtlsOutput.DatagramLength"/> and nothing
    /// is taken from the endpoint (the same shape as <c>IceLiteAgent.PollOutput</c> and <c>NetworkEmulator.PollOutput</c>):
    /// never an exception. A drain loop on it handles that kind (a larger buffer, then poll again) besides
    /// <see cref="DtlsOutputKind.Timeout"/>; a buffer of <see cref="EffectiveMaxDatagramSize"/> bytes or more never gets it.
    /// </summary>
    public DtlsOutput TryPollOutput(Span<byte> buffer)
    {
        var needed = NextDatagramLength();
        return needed > buffer.Length
            ? new DtlsOutput(DtlsOutputKind.BufferTooSmall, needed, null, default)
            : PollOutput(buffer);
    }

    /// <summary>The size of the datagram <see cref="PollOutput"/> would return next; 0 when it returns an event or the deadline.</summary>
    private int NextDatagramLength()
    {
        var first = _engine.Output;
        if (first.Datagrams.TryPeek(out var datagram))
        {
            return datagram.Length;
        }

        if (_v13 is not { } v13 || first.Events.Count > 0)
        {
            return 0;
        }

        return v13.Output.Datagrams.TryPeek(out datagram) ? datagram.Length : 0;
    }

    /// <summary>Queues application data as one record (connected state only).</summary>
    /// <exception cref="InvalidOperationException">Not connected.</exception>
    /// <exception cref="ArgumentException">Larger than <see cref="MaxApplicationDataSize"/>.</exception>
    public void Send(ReadOnlySpan<byte> data) => _current.SendApplicationData(data);

    /// <summary>
    /// Seals <paramref name="data"/> as one application-data record straight into <paramref name="destination"/>, to be sent
    /// as one datagram of <paramref name="length"/> bytes: no queue, no allocation. A status, never an exception: on
    /// <see cref="DtlsSealStatus.BufferTooSmall"/>, <paramref name="length"/> is the size needed. The queued
    /// <see cref="Send"/> remains for callers that drain <see cref="PollOutput"/>.
    /// </summary>
    public DtlsSealStatus TrySealApplicationData(ReadOnlySpan<byte> data, Span<byte> destination, out int length)
    {
        length = 0;
        return _disposed ? DtlsSealStatus.NotConnected : _current.TrySealApplicationData(data, destination, out length);
    }

    /// <summary>Sends close_notify and closes.</summary>
    public void Close(TimeSpan now) => _current.Close(now);

    /// <summary>
    /// DTLS 1.3 only: updates our sending keys (KeyUpdate, RFC 9147 8); with <paramref name="requestPeerUpdate"/> the peer is
    /// asked to update its own. The new keys are used once the peer acknowledged the KeyUpdate. False when not connected in
    /// DTLS 1.3, or while an earlier update is still unacknowledged.
    /// </summary>
    public bool UpdateKeys(TimeSpan now, bool requestPeerUpdate = false)
    {
        if (_disposed || _v13 is not { } v13)
        {
            return false;
        }

        try
        {
            return v13.UpdateKeys(now, requestPeerUpdate);
        }
        catch (Exception ex)
        {
            FailUnexpected(now, ex, "a key update");
            return false;
        }
    }

    /// <summary>
    /// Tells the engine that the output of the <see cref="HandleDatagram(TimeSpan, ReadOnlySpan{byte})"/> call made at
    /// <paramref name="handledAt"/> leaves at <paramref name="sentAt"/>, a later reading of the same clock (a driver calls
    /// this before draining when the call took long, e.g. the first handshake of a fresh process on a loaded machine):
    /// a flight sent in that call then gets its whole first retransmit timeout from the moment it left. It only moves that
    /// timer later and never fires anything. Never throws.
    /// </summary>
    internal void OutputLeft(TimeSpan handledAt, TimeSpan sentAt)
    {
        if (!_disposed)
        {
            _current.OutputLeft(handledAt, sentAt);
        }
    }

    /// <summary>
    /// Resends the current flight now with the retransmission backoff reset. The WebRTC transport calls this when the
    /// ICE selected tuple changes, so that a handshake stuck on a dead path moves at once (field failure F3).
    /// </summary>
    /// <remarks>Budgeted: such resends count against <see cref="DtlsOptions.MaxTriggeredResends"/> and are spaced by
    /// <see cref="DtlsOptions.MinPathChangeResendInterval"/>, so a peer flapping between tuples cannot make us amplify.</remarks>
    public void ResendFlight(TimeSpan now)
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            _current.ResendNow(now);
        }
        catch (Exception ex)
        {
            FailUnexpected(now, ex, "a path change");
        }
    }

    /// <summary>
    /// Keying material exporter (RFC 5705 4); available once the handshake completed, also after the connection closed or
    /// failed, until <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The handshake never completed, or the endpoint was disposed.</exception>
    public byte[] ExportKeyingMaterial(string label, byte[]? context, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(label);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var exported = new byte[length];
        return _current.TryExport(label, context, exported)
            ? exported
            : throw new InvalidOperationException($"Keying material can only be exported once the handshake has completed (state {_current.State}).");
    }

    /// <summary>
    /// Zeroes the master secret, releases the record keys and stops the endpoint (later calls are ignored; the exporter throws).
    /// Sends nothing: call <see cref="Close"/> and drain first for a graceful close_notify.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _engine.Dispose();
        _v13?.Dispose();
    }

    private void FailUnexpected(TimeSpan now, Exception ex, string during) => _current.FailUnexpected(now, ex, during);

    /// <summary>
    /// Server: the ClientHello offers DTLS 1.3. The DTLS 1.2 engine stops and a DTLS 1.3 engine continues from this hello,
    /// with the same counters, timeline, message and record numbering.
    /// </summary>
    internal void SwitchToDtls13Server(TimeSpan now, DtlsEngine from, HandshakeMessage clientHelloMessage, ClientHello clientHello)
    {
        var v13 = StartDtls13(now, from, clientHelloMessage.MessageSeq);
        var handshake = new Dtls13ServerHandshake(v13);
        v13.Attach(handshake);
        v13.NextSendSeq = clientHelloMessage.MessageSeq;
        v13.Log(now, "ClientHello offers DTLS 1.3: continuing in DTLS 1.3");
        handshake.OnClientHello(now, clientHelloMessage, clientHello);
    }

    /// <summary>
    /// Server created by the listener after a stateless HelloRetryRequest cookie verified: the DTLS 1.3 engine starts at once,
    /// its transcript rebuilt from the cookie (message_hash of the first ClientHello) and the HelloRetryRequest.
    /// </summary>
    internal static DtlsEndpoint CreateDtls13ServerAfterRetry(DtlsOptions options, TimeSpan now, ReadOnlySpan<byte> clientHello1Hash, Selection13 retryFor, byte[] helloRetryRequestBody, ulong clientHelloRecordSequence, HandshakeMessage clientHello2Message, ClientHello clientHello2, int bytesReceived, string? note = null)
    {
        var endpoint = new DtlsEndpoint(options, DtlsRole.Server, now);
        var v13 = new Dtls13Engine(options, DtlsRole.Server, now, endpoint._engine.Stats, endpoint);
        endpoint._engine.HandOff();
        endpoint._v13 = v13;
        endpoint._current = v13;
        var handshake = new Dtls13ServerHandshake(v13);
        v13.Attach(handshake);
        handshake.ResumeAfterRetry(clientHello1Hash, new HandshakeMessage(HandshakeType.ServerHello, 0, helloRetryRequestBody), retryFor);
        v13.Reassembler.Reset((ushort)(clientHello2Message.MessageSeq + 1));
        v13.NextSendSeq = clientHello2Message.MessageSeq;
        v13.SetPlaintextWriteSequence(clientHelloRecordSequence + 1);
        v13.Stats.DatagramsReceived++;
        v13.Stats.BytesReceived += bytesReceived;
        v13.Log(now, "created after a verified HelloRetryRequest cookie (DTLS 1.3)");
        if (note is not null)
        {
            v13.Log(now, note);
        }

        handshake.OnClientHello(now, clientHello2Message, clientHello2);
        return endpoint;
    }

    /// <summary>Client: the server answered our hello with a DTLS 1.3 ServerHello or HelloRetryRequest.</summary>
    internal void SwitchToDtls13Client(TimeSpan now, DtlsEngine from, HandshakeMessage clientHelloMessage, ClientHello clientHello, Dictionary<NamedGroup, KeyExchangeKeyPair> keyPairs, HandshakeMessage serverHello, ServerHello decoded)
    {
        var v13 = StartDtls13(now, from, serverHello.MessageSeq);
        var handshake = new Dtls13ClientHandshake(v13, clientHelloMessage, clientHello, keyPairs);
        v13.Attach(handshake);
        v13.NextSendSeq = from.NextSendSeq;
        handshake.OnServerHello(now, serverHello, decoded);

        // Protected records of the server's flight that overtook a lost or late ServerHello, readable now (those in the
        // ServerHello's own datagram are read when HandleDatagram hands that datagram over; the DTLS 1.2 engine kept none of them).
        var early = from.EarlyDtls13Datagrams;
        for (var i = 0; i < early.Count; i++)
        {
            v13.ProcessDatagram(now, early[i].Records, replay: true);
        }
    }

    private Dtls13Engine StartDtls13(TimeSpan now, DtlsEngine from, ushort receivedSeq)
    {
        var v13 = new Dtls13Engine(from.Options, from.Role, from.StartedAt, from.Stats, this, from.Timeline);
        v13.Reassembler.Reset((ushort)(receivedSeq + 1));
        v13.SetPlaintextWriteSequence(from.PlaintextWriteSequence);
        if (from.SmoothedRtt is { } rtt)
        {
            v13.AdoptRtt(rtt);
        }

        from.HandOff();
        _v13 = v13;
        _current = v13;
        return v13;
    }

    internal DtlsEngine Engine => _engine;

    /// <summary>The DTLS 1.3 engine once the handshake switched to DTLS 1.3 (tests reach the handshake through it).</summary>
    internal Dtls13Engine? Engine13 => _v13;
}
