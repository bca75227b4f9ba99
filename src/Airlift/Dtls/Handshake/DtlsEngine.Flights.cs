using System.Buffers;
using Airlift.Codec;
using Airlift.Dtls.Handshake;
using Airlift.Dtls.Messages;
using Airlift.Dtls.Reliability;

namespace Airlift.Dtls;

// Flights and retransmission (RFC 6347 4.2.4, RFC 9147 5.8): sending and keeping flights, the timer table, RTT
// sampling, triggered and early resends with their budget, path-MTU fallback, and packing records into datagrams.
internal sealed partial class DtlsEngine
{
    // ---------------------------------------------------------------- flights

    /// <summary>Creates the next handshake message of this side, numbering it.</summary>
    public HandshakeMessage CreateMessage(HandshakeType type, byte[] body) => new(type, NextSendSeq++, body);

    /// <summary>The measured round-trip time (Karn's rule: only flights sent once are sampled), if any.</summary>
    public TimeSpan? SmoothedRtt => _pacing.SmoothedRtt;

    private TimeSpan InitialTimeout() => _pacing.InitialTimeout();

    /// <summary>Writes a new flight out and arms the timer (or, for the final flight, keeps it for peer retransmissions).</summary>
    public void SendFlight(TimeSpan now, IReadOnlyList<FlightEntry> entries, bool final)
    {
        FlightState = FlightState.Sending;
        _flight = entries;
        _flightIsFinal = final;
        _flightNumber++;
        _pacing.StartFlight(now);
        _flightCuts = new List<int>[entries.Count];
        _timers.Clear(EngineTimer.PartialFlight);
        Transmit(now, "sent");
        if (final)
        {
            FlightState = FlightState.Finished;
            _timers.Clear(EngineTimer.Retransmit);
            _timers.Set(EngineTimer.FinalFlightRetention, now + Options.EffectiveFinalFlightRetention);
        }
        else
        {
            FlightState = FlightState.Waiting;
            _timers.StartFlight(now, _timer.StartNewFlight(InitialTimeout()));
        }
    }

    /// <summary>The peer's final flight arrived: nothing more to retransmit.</summary>
    public void FinalFlightReceived()
    {
        FlightState = FlightState.Finished;
        _flight = null;
        _timers.Clear(EngineTimer.Retransmit);
        _timers.Clear(EngineTimer.PartialFlight);
    }

    /// <summary>The output of the call made at <paramref name="handledAt"/> left at <paramref name="sentAt"/> (see <see cref="TimerTable.OutputLeft"/>).</summary>
    public void OutputLeft(TimeSpan handledAt, TimeSpan sentAt) => _timers.OutputLeft(handledAt, sentAt);

    /// <summary>Resends the current flight now with the backoff reset (the path changed, e.g. a new ICE tuple).</summary>
    public void ResendNow(TimeSpan now)
    {
        if (_flight is null || State is DtlsState.Failed or DtlsState.Closed)
        {
            return;
        }

        // Budget (a peer alternating between tuples, 100 checks in a second, must not make us send 100 flights): path-change
        // resends share the per-flight triggered budget and are spaced; a change inside the spacing moves the flight at its end.
        switch (_pacing.PathChanged(now, out var deferUntil))
        {
            case PathChangeDecision.Refused:
                Log(now, "path changed: flight not resent (triggered-resend budget spent)");
                return;
            case PathChangeDecision.Deferred:
                _timers.Set(EngineTimer.DeferredPathResend, deferUntil);
                return;
        }

        _timers.Clear(EngineTimer.DeferredPathResend);

        if (_pacing.RestoreDatagramSize() is { } restored)
        {
            Log(now, restored);
        }

        Transmit(now, "resent (path change)");
        if (FlightState == FlightState.Waiting)
        {
            _timers.StartFlight(now, _timer.StartNewFlight(InitialTimeout()));
        }
    }

    /// <summary>A fragment of the peer's next flight arrived: sample the RTT once per flight, and watch for a stalled partial flight.</summary>
    private void OnPeerProgress(TimeSpan now)
    {
        if (FlightState != FlightState.Waiting || _flight is null)
        {
            return;
        }

        _pacing.SampleRtt(now);

        // The rest of a flight follows its first datagram closely; if it does not, ask again early by resending ours.
        _timers.Set(EngineTimer.PartialFlight, now + PartialFlightGap());
    }

    private TimeSpan PartialFlightGap()
    {
        var gap = _pacing.SmoothedRtt is { } rtt ? rtt / 2 : InitialTimeout() / 4;
        return gap < TimeSpan.FromMilliseconds(25) ? TimeSpan.FromMilliseconds(25) : gap;
    }

    private void OnPeerRetransmission(TimeSpan now, bool authenticated)
    {
        if (_flight is null || FlightState is not (FlightState.Waiting or FlightState.Finished))
        {
            return;
        }

        _pacing.PeerRetransmitted = true;

        // Old messages that arrive right after we transmitted crossed our flight on the wire: the peer has not seen it yet.
        // (Authenticated ones are each a distinct retransmission by the peer itself: answer every one, within the total cap.)
        if (!authenticated && now - _pacing.LastTransmitAt < PartialFlightGap())
        {
            Stats.SuppressedRetransmissions++;
            return;
        }

        TriggeredResend(now, authenticated, "peer retransmitted");
    }

    /// <summary>
    /// Resends our flight because the peer showed it is missing it. Budget: at most one per initial-timeout interval, unless
    /// the trigger was an authenticated record (which no one but the peer can produce or replay), and never more than
    /// <see cref="DtlsOptions.MaxTriggeredResends"/> per flight: a peer or an attacker replaying datagrams cannot make us amplify.
    /// </summary>
    private void TriggeredResend(TimeSpan now, bool authenticated, string why)
    {
        if (!_pacing.TryPeerTriggeredResend(now, authenticated))
        {
            return;
        }

        Transmit(now, $"resent ({why})");
        if (FlightState == FlightState.Waiting)
        {
            // RFC 6347 4.2.4 (Figure 1): a resend goes through SENDING, which sets the retransmit timer again (not doubled).
            // Left armed, the old deadline could fire moments after this resend and send the same flight again.
            _timers.Set(EngineTimer.Retransmit, now + _timer.Current);
        }
    }

    public void HandleTimeout(TimeSpan now)
    {
        if (State == DtlsState.Connecting && _timers.IsDue(EngineTimer.HandshakeDeadline, now))
        {
            FailInternal(now, DtlsFailureReason.Timeout, $"handshake not complete after {Options.HandshakeTimeout.TotalSeconds:0.#} s (waiting in {_handler.StateName})", null, sendAlert: false);
            return;
        }

        if (_timers.IsDue(EngineTimer.FinalFlightRetention, now))
        {
            _timers.Clear(EngineTimer.FinalFlightRetention);
            if (_flightIsFinal)
            {
                _flight = null;
            }
        }

        if (_timers.IsDue(EngineTimer.DeferredPathResend, now))
        {
            _timers.Clear(EngineTimer.DeferredPathResend);
            ResendNow(now);
        }

        if (_timers.IsDue(EngineTimer.PartialFlight, now))
        {
            _timers.Clear(EngineTimer.PartialFlight);
            if (FlightState == FlightState.Waiting && _flight is not null)
            {
                TriggeredResend(now, authenticated: false, "peer flight stalled part-way");
            }
        }

        if (FlightState == FlightState.Waiting && _flight is not null && _timers.IsDue(EngineTimer.Retransmit, now))
        {
            _pacing.TimedOut();
            MaybeLowerDatagramSize(now);
            _timers.Set(EngineTimer.Retransmit, now + _timer.Backoff());
            Transmit(now, $"resent (timeout #{_pacing.FlightTimeouts}, next in {_timer.Current.TotalMilliseconds:0} ms)");
            if (_flightDatagrams <= Options.RedundantRetransmitMaxDatagrams)
            {
                // Like QUIC's two probe packets on PTO (RFC 9002 6.2.4): a small flight sent twice after a timeout costs a few
                // hundred bytes and spares a doubled timeout when one copy is lost.
                Transmit(now, "sent a redundant copy");
            }
        }
    }

    private void MaybeLowerDatagramSize(TimeSpan now)
    {
        if (_pacing.LowerDatagramSize(_flightLargestDatagram) is { } why)
        {
            Log(now, why);
        }
    }

    private void Transmit(TimeSpan now, string what)
    {
        var flight = _flight!;
        var before = _output.Datagrams.Count;
        PackFlight(flight, EffectiveMaxDatagramSize);
        _pacing.LastTransmitAt = now;
        var count = _output.Datagrams.Count - before;
        _flightDatagrams = count;
        _trace.Transmitted(now, what, _flightNumber, PackTypes(flight), count, _flightLargestDatagram, EffectiveMaxDatagramSize);
    }

    /// <summary>The flight's message types for the trace, one a byte (type + 1, 0xFF for ChangeCipherSpec), at most eight.</summary>
    private static ulong PackTypes(IReadOnlyList<FlightEntry> flight)
    {
        ulong packed = 0;
        for (var i = Math.Min(flight.Count, 8) - 1; i >= 0; i--)
        {
            var entry = flight[i];
            packed = (packed << 8) | (entry.IsChangeCipherSpec ? 0xFFUL : (ulong)entry.Message!.Type.Value + 1);
        }

        return packed;
    }

    /// <summary>The parameters the DTLS 1.2 server chose, for the trace (formatted only when read).</summary>
    public void LogNegotiated(TimeSpan now, CipherSuite suite, NamedGroup group, SignatureScheme scheme, bool ems, string srtp) =>
        _trace.Negotiated(now, suite, group, scheme, ems, srtp);

    /// <summary>
    /// Cuts the flight into records and packs whole records into datagrams of at most <paramref name="maxDatagram"/> bytes,
    /// counting the record header, handshake header and AEAD overhead exactly. Greedy: each datagram is filled with as
    /// much of the next message as fits before a new one starts. One message fragment per record; records never span datagrams.
    /// Every (re)transmission takes fresh record sequence numbers.
    /// A retransmission at a smaller size cuts every message at least where earlier transmissions of the flight cut it
    /// (the new fragments refine the old ones): a receiver that chains fragments by exact offset, keeping the first
    /// fragment it saw at each offset (pion/dtls does), can always finish the message from any mix of old and new copies.
    /// </summary>
    private void PackFlight(IReadOnlyList<FlightEntry> flight, int maxDatagram)
    {
        var datagram = ArrayPool<byte>.Shared.Rent(maxDatagram);
        var plaintext = ArrayPool<byte>.Shared.Rent(maxDatagram);
        var position = 0;
        _flightLargestDatagram = 0;
        try
        {
            for (var index = 0; index < flight.Count; index++)
            {
                var entry = flight[index];
                var state = _write[entry.Epoch];
                var overhead = RecordHeader.Size + (state.Protection?.Overhead ?? 0);
                if (entry.IsChangeCipherSpec)
                {
                    if (position + overhead + 1 > maxDatagram)
                    {
                        Flush(datagram, ref position);
                    }

                    plaintext[0] = 1;
                    position += WriteRecord(datagram.AsSpan(position, maxDatagram - position), ContentType.ChangeCipherSpec, state, plaintext.AsSpan(0, 1));
                    continue;
                }

                var message = entry.Message!;
                var body = message.Body;
                ref var cuts = ref _flightCuts![index]; // created only when the message is first cut in two
                var offset = 0;
                var written = false; // an empty message (ServerHelloDone) still needs its one fragment after a flush
                do
                {
                    var room = maxDatagram - position - overhead - HandshakeHeader.Size;
                    var remaining = body.Length - offset;
                    if (room < Math.Min(1, remaining) || room < 0)
                    {
                        Flush(datagram, ref position);
                        continue;
                    }

                    var take = Math.Min(Math.Min(remaining, room), NextCut(cuts, offset, body.Length) - offset);
                    AddCut(ref cuts, offset + take, body.Length);
                    var w = new WireWriter(plaintext);
                    new HandshakeHeader(message.Type, body.Length, message.MessageSeq, offset, take).Write(ref w);
                    w.WriteBytes(body.AsSpan(offset, take));
                    position += WriteRecord(datagram.AsSpan(position, maxDatagram - position), ContentType.Handshake, state, w.Written);
                    offset += take;
                    written = true;
                }
                while (offset < body.Length || !written);
            }

            Flush(datagram, ref position);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(datagram);
            ArrayPool<byte>.Shared.Return(plaintext, clearArray: true);
        }
    }

    /// <summary>The first place after <paramref name="offset"/> where an earlier transmission cut the message, else its end.</summary>
    private static int NextCut(List<int>? cuts, int offset, int length)
    {
        if (cuts is null)
        {
            return length;
        }

        var i = cuts.BinarySearch(offset + 1);
        i = i < 0 ? ~i : i;
        return i < cuts.Count ? cuts[i] : length;
    }

    private static void AddCut(ref List<int>? cuts, int cut, int length)
    {
        if (cut >= length)
        {
            return;
        }

        cuts ??= [];
        var i = cuts.BinarySearch(cut);
        if (i < 0)
        {
            cuts.Insert(~i, cut);
        }
    }

    private void Flush(byte[] datagram, ref int position)
    {
        if (position == 0)
        {
            return;
        }

        _output.Datagrams.EnqueueCopy(datagram.AsSpan(0, position));
        _flightLargestDatagram = Math.Max(_flightLargestDatagram, position);
        position = 0;
    }
}
