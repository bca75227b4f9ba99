using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Airlift.Diagnostics;
using Airlift.Ice.Stun;
using Microsoft.Extensions.Logging;

namespace Airlift.Ice;

/// <summary>
/// A sans-IO ICE-lite agent (RFC 8445 2.5, 6.1.1) with consent freshness (RFC 7675). It never
/// sends checks: it answers the connectivity checks of a full (controlling) peer, selects the
/// tuple media and DTLS must use, and drops tuples whose consent expires.
/// </summary>
/// <remarks>
/// <para>Driving it (the engine shape every Airlift engine shares, see the drain rule in docs/architecture.md): feed
/// every STUN datagram to <see cref="HandleDatagram(TimeSpan, IceTuple, ReadOnlySpan{byte})"/>, and after every call that
/// takes <c>now</c> call <see cref="PollOutput"/> until it returns <see cref="IceOutputKind.Timeout"/>; call
/// <see cref="HandleTimeout"/> at (or after) that deadline (<see cref="IceOutput.NoDeadline"/>: nothing pending), or earlier
/// when a datagram arrives. Time is always an argument: the agent never reads a clock. (The older
/// <see cref="HandleStun"/> / <see cref="TryPollTransmit"/> / <see cref="TryPollEvent"/> / <see cref="NextTimeout"/> members
/// drive the same queues.)</para>
/// <para>Request processing order (RFC 8489 6.3.1, 9.1.3; RFC 8445 7.3): a request without
/// USERNAME or MESSAGE-INTEGRITY gets 400; a USERNAME other than "localUfrag:remoteUfrag" (the
/// remote part is checked once <see cref="SetRemoteCredentials"/> was called) gets 401; a
/// MESSAGE-INTEGRITY that does not verify with the local password gets 401. These error responses
/// carry no MESSAGE-INTEGRITY (RFC 8489 9.1.3), only FINGERPRINT, and are suppressed (counted in
/// <see cref="IceLiteStats.ErrorResponsesSuppressed"/>) when they would be larger than the request,
/// so a spoofed source cannot be used for amplification. After authentication: unknown comprehension-required
/// attributes get 420 with UNKNOWN-ATTRIBUTES, and a peer claiming ICE-CONTROLLED gets 487.</para>
/// <para>Role conflicts (RFC 8445 7.3.1.1): a lite agent is always controlled (RFC 8445 6.1.1) and
/// cannot switch to controlling, so a request carrying ICE-CONTROLLED is always answered with 487
/// Role Conflict, whatever the tie-breakers; a full peer then takes the controlling role.
/// ICE-CONTROLLING is the expected case. A request with neither is accepted (RFC 5245-era peers).</para>
/// <para>Selection: a valid check with USE-CANDIDATE (a nomination) selects its tuple; before any
/// nomination the tuple of the latest valid check is selected; a check without USE-CANDIDATE never
/// moves a nominated selection, a later nomination does.</para>
/// </remarks>
public sealed class IceLiteAgent
{
    private readonly IceLiteAgentOptions _options;
    private readonly byte[] _localPasswordKey;
    private readonly Dictionary<IceTuple, TupleState> _tuples = [];
    private readonly Queue<IceTransmit> _transmits = new();
    private readonly Queue<IceEvent> _events = new();
    private Counters _counters;
    private TupleState? _selected;
    private TimeSpan? _failAt;

    /// <summary>Creates an agent; generates the local ufrag, password and tie-breaker from <see cref="IceLiteAgentOptions.FillRandom"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public IceLiteAgent(IceLiteAgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        LocalUfrag = options.LocalUfrag ?? options.Generate(IceLiteAgentOptions.GeneratedUfragLength);
        LocalPassword = options.LocalPassword ?? options.Generate(IceLiteAgentOptions.GeneratedPasswordLength);
        Span<byte> tb = stackalloc byte[8];
        options.FillRandom(tb);
        TieBreaker = BinaryPrimitives.ReadUInt64BigEndian(tb);
        _localPasswordKey = Encoding.UTF8.GetBytes(LocalPassword);
    }

    /// <summary>Local ufrag, to signal as <c>a=ice-ufrag</c>.</summary>
    public string LocalUfrag { get; }

    /// <summary>Local password, to signal as <c>a=ice-pwd</c>; it keys MESSAGE-INTEGRITY both ways.</summary>
    public string LocalPassword { get; }

    /// <summary>Our ICE tie-breaker (RFC 8445 7.1.3). A lite agent only uses it for diagnostics.</summary>
    public ulong TieBreaker { get; }

    /// <summary>The peer's ufrag, once signaled.</summary>
    public string? RemoteUfrag { get; private set; }

    /// <summary>The peer's password, once signaled (a lite agent sends no requests, so it is only kept).</summary>
    public string? RemotePassword { get; private set; }

    /// <summary>Always controlled: a lite agent never takes the controlling role.</summary>
    public static bool IsControlling => false;

    /// <summary>Current state.</summary>
    public IceState State { get; private set; } = IceState.New;

    /// <summary>The tuple DTLS and media must use now, or null.</summary>
    public IceTuple? SelectedTuple => _selected?.Tuple;

    /// <summary>True when the selected tuple was nominated by the controlling agent.</summary>
    public bool SelectedIsNominated => _selected?.Nominated ?? false;

    /// <summary>How many tuples currently hold consent.</summary>
    public int TupleCount => _tuples.Count;

    /// <summary>
    /// The earliest time <see cref="HandleTimeout"/> must be called (a consent expiry or the end of
    /// the failure grace period), or null when nothing is pending.
    /// </summary>
    public TimeSpan? NextTimeout
    {
        get
        {
            if (State is IceState.Failed or IceState.Closed)
            {
                return null;
            }

            TimeSpan? next = _failAt;
            foreach (var t in _tuples.Values)
            {
                var expiry = t.LastValidCheck + _options.ConsentTimeout;
                if (next is null || expiry < next)
                {
                    next = expiry;
                }
            }

            return next;
        }
    }

    /// <summary>
    /// The earliest time <see cref="HandleTimeout"/> must be called, or <see cref="IceOutput.NoDeadline"/> (the deadline type
    /// of every Airlift engine: <see cref="TimeSpan.MaxValue"/>, the same value as <c>DtlsOutput.NoDeadline</c>).
    /// </summary>
    public TimeSpan NextDeadline => NextTimeout ?? IceOutput.NoDeadline;

    /// <summary>A snapshot of the counters.</summary>
    public IceLiteStats Stats => new(
        _counters.ChecksAnswered,
        _counters.Nominations,
        _counters.IntegrityFailures,
        _counters.UnknownUsernames,
        _counters.BadRequests,
        _counters.UnknownAttributeRejections,
        _counters.RoleConflicts,
        _counters.Malformed,
        _counters.Ignored,
        _counters.TuplesExpired,
        _counters.TuplesEvicted,
        _counters.TransmitsDropped,
        _counters.ErrorResponsesSuppressed,
        _counters.InternalErrors);

    /// <summary>Sets the peer's ufrag and password from signaling (the offer's <c>a=ice-ufrag</c>/<c>a=ice-pwd</c>).</summary>
    /// <exception cref="ArgumentException">The ufrag or password is not a valid ice-char string.</exception>
    public void SetRemoteCredentials(string ufrag, string password)
    {
        ArgumentNullException.ThrowIfNull(ufrag);
        ArgumentNullException.ThrowIfNull(password);
        if (!IceLiteAgentOptions.IsIceString(ufrag, 4, 256))
        {
            throw new ArgumentException("Remote ufrag must be 4..256 ice-chars.", nameof(ufrag));
        }

        if (!IceLiteAgentOptions.IsIceString(password, 22, 256))
        {
            throw new ArgumentException("Remote password must be 22..256 ice-chars.", nameof(password));
        }

        RemoteUfrag = ufrag;
        RemotePassword = password;
    }

    /// <summary>
    /// Processes one datagram that the demultiplexer classified as STUN, received on
    /// <paramref name="tuple"/> at <paramref name="now"/>. Never throws on bad input.
    /// </summary>
    public IceStunOutcome HandleStun(TimeSpan now, IceTuple tuple, ReadOnlySpan<byte> datagram) => HandleDecodedStun(now, tuple, datagram, null);

    /// <summary>
    /// Processes one datagram that the demultiplexer classified as STUN, received on <paramref name="tuple"/> at
    /// <paramref name="now"/>; then drain <see cref="PollOutput"/>. Never throws on bad input.
    /// </summary>
    public IceStunOutcome HandleDatagram(TimeSpan now, IceTuple tuple, ReadOnlySpan<byte> datagram) => HandleDecodedStun(now, tuple, datagram, null);

    /// <summary>As <see cref="HandleDatagram(TimeSpan, IceTuple, ReadOnlySpan{byte})"/> with the message already decoded from
    /// <paramref name="datagram"/> by the caller (a host that routes by USERNAME), so STUN is decoded once per datagram.</summary>
    internal IceStunOutcome HandleDecodedStun(TimeSpan now, IceTuple tuple, ReadOnlySpan<byte> datagram, StunMessage? decoded)
    {
        try
        {
            return HandleStunCore(now, tuple, datagram, decoded);
        }
        catch (Exception ex)
        {
            // Exception boundary: one datagram cannot stop the agent (or the socket loop above it).
            _counters.InternalErrors++;
#pragma warning disable CS0618 // The legacy Logger keeps working as the fallback of LoggerFactory.
            SafeLogger.Log(AirliftLoggers.Create(_options.LoggerFactory, AirliftLogCategories.Ice, _options.Logger), l => IceLog.AgentInternalError(l, ex, tuple, ex.GetType().Name));
#pragma warning restore CS0618
            return IceStunOutcome.Dropped;
        }
    }

    private IceStunOutcome HandleStunCore(TimeSpan now, IceTuple tuple, ReadOnlySpan<byte> datagram, StunMessage? decoded)
    {
        if (State is IceState.Failed or IceState.Closed)
        {
            _counters.Ignored++;
            return IceStunOutcome.Dropped;
        }

        ExpireConsent(now);
        var message = decoded;
        if (message is null && !StunMessage.TryDecode(datagram, out message, out _))
        {
            _counters.Malformed++;
            return IceStunOutcome.Dropped;
        }

        if (message!.Type != StunMessageType.BindingRequest)
        {
            // Binding indications (keepalives) and responses need no answer from a lite agent.
            _counters.Ignored++;
            return IceStunOutcome.Dropped;
        }

        if (message.Username is null || !message.HasMessageIntegrity)
        {
            _counters.BadRequests++;
            return Reject(tuple, message, StunErrorCode.BadRequest, authenticated: false);
        }

        if (!IsExpectedUsername(message.Username))
        {
            _counters.UnknownUsernames++;
            return Reject(tuple, message, StunErrorCode.Unauthorized, authenticated: false);
        }

        if (!message.VerifyMessageIntegrity(datagram, _localPasswordKey))
        {
            _counters.IntegrityFailures++;
            return Reject(tuple, message, StunErrorCode.Unauthorized, authenticated: false);
        }

        if (message.UnknownComprehensionRequired.Count > 0)
        {
            _counters.UnknownAttributeRejections++;
            return Reject(tuple, message, StunErrorCode.UnknownAttribute, authenticated: true);
        }

        if (message.IceControlled is not null)
        {
            _counters.RoleConflicts++;
            return Reject(tuple, message, StunErrorCode.RoleConflict, authenticated: true);
        }

        Enqueue(tuple, BuildSuccess(tuple, message));
        _counters.ChecksAnswered++;
        if (message.UseCandidate)
        {
            _counters.Nominations++;
        }

        OnValidCheck(now, tuple, message.UseCandidate);
        return IceStunOutcome.Answered;
    }

    /// <summary>Advances timers: drops tuples whose consent expired and moves Disconnected to Failed.</summary>
    public void HandleTimeout(TimeSpan now)
    {
        if (State is IceState.Failed or IceState.Closed)
        {
            return;
        }

        try
        {
            ExpireConsent(now);
        }
        catch (Exception ex)
        {
            // Exception boundary, as for datagrams: a timer pass cannot stop the agent or the loop that drives it.
            _counters.InternalErrors++;
#pragma warning disable CS0618 // The legacy Logger keeps working as the fallback of LoggerFactory.
            SafeLogger.Log(AirliftLoggers.Create(_options.LoggerFactory, AirliftLogCategories.Ice, _options.Logger), l => IceLog.AgentTimerInternalError(l, ex, ex.GetType().Name));
#pragma warning restore CS0618
        }
    }

    /// <summary>
    /// Returns the next output: a datagram to send on <see cref="IceOutput.Tuple"/> written into <paramref name="buffer"/>
    /// (datagrams come before events), an event, or, when nothing is left, the next deadline
    /// (<see cref="IceOutputKind.Timeout"/>). A buffer too small for the next datagram gives
    /// <see cref="IceOutputKind.BufferTooSmall"/> with the size needed in <see cref="IceOutput.Length"/>; the datagram stays queued.
    /// </summary>
    public IceOutput PollOutput(Span<byte> buffer)
    {
        if (_transmits.TryPeek(out var transmit))
        {
            if (transmit.Datagram.Length > buffer.Length)
            {
                return new IceOutput(IceOutputKind.BufferTooSmall, transmit.Tuple, transmit.Datagram.Length, null, default);
            }

            _transmits.Dequeue();
            transmit.Datagram.Span.CopyTo(buffer);
            return new IceOutput(IceOutputKind.Transmit, transmit.Tuple, transmit.Datagram.Length, null, default);
        }

        if (_events.TryDequeue(out var iceEvent))
        {
            return new IceOutput(IceOutputKind.Event, default, 0, iceEvent, default);
        }

        return new IceOutput(IceOutputKind.Timeout, default, 0, null, NextDeadline);
    }

    /// <summary>Dequeues the next datagram to send, if any.</summary>
    public bool TryPollTransmit(out IceTransmit transmit) => _transmits.TryDequeue(out transmit);

    /// <summary>Dequeues the next event, if any.</summary>
    public bool TryPollEvent([NotNullWhen(true)] out IceEvent? iceEvent) => _events.TryDequeue(out iceEvent);

    /// <summary>Closes the agent: forgets every tuple, drops queued datagrams, reports <see cref="IceState.Closed"/>.</summary>
    public void Close()
    {
        if (State == IceState.Closed)
        {
            return;
        }

        _tuples.Clear();
        _transmits.Clear();
        _failAt = null;
        Select(null);
        SetState(IceState.Closed);
    }

    private bool IsExpectedUsername(string username)
    {
        // USERNAME of a check is "receiver-ufrag:sender-ufrag" (RFC 8445 7.2.2).
        var colon = username.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || !username.AsSpan(0, colon).SequenceEqual(LocalUfrag))
        {
            return false;
        }

        var remote = username.AsSpan(colon + 1);
        return RemoteUfrag is null ? !remote.IsEmpty : remote.SequenceEqual(RemoteUfrag);
    }

    private void OnValidCheck(TimeSpan now, IceTuple tuple, bool nominated)
    {
        if (!_tuples.TryGetValue(tuple, out var state))
        {
            if (_tuples.Count >= _options.MaxTuples)
            {
                EvictLeastRecentlyChecked();
            }

            state = new TupleState(tuple);
            _tuples.Add(tuple, state);
        }

        state.LastValidCheck = now;
        if (nominated)
        {
            state.Nominated = true;
            state.NominatedAt = now;
        }

        _failAt = null;
        if (nominated || _selected is null || !_selected.Nominated)
        {
            Select(state);
        }

        UpdateConnectedState();
    }

    private void EvictLeastRecentlyChecked()
    {
        // MaxTuples >= 2 and at most one tuple is selected, so a victim always exists.
        TupleState? victim = null;
        foreach (var t in _tuples.Values)
        {
            if (t != _selected && (victim is null || t.LastValidCheck < victim.LastValidCheck))
            {
                victim = t;
            }
        }

        if (victim is not null)
        {
            _tuples.Remove(victim.Tuple);
            _counters.TuplesEvicted++;
        }
    }

    private void ExpireConsent(TimeSpan now)
    {
        List<TupleState>? expired = null;
        foreach (var t in _tuples.Values)
        {
            if (now - t.LastValidCheck >= _options.ConsentTimeout)
            {
                (expired ??= []).Add(t);
            }
        }

        if (expired is not null)
        {
            foreach (var t in expired)
            {
                _tuples.Remove(t.Tuple);
                _counters.TuplesExpired++;
            }

            if (_selected is not null && !_tuples.ContainsKey(_selected.Tuple))
            {
                Select(BestRemaining());
                if (_selected is null)
                {
                    _failAt = now + _options.FailureGracePeriod;
                    SetState(IceState.Disconnected);
                }
                else
                {
                    UpdateConnectedState();
                }
            }
        }

        if (State == IceState.Disconnected && _failAt is { } failAt && now >= failAt)
        {
            _failAt = null;
            SetState(IceState.Failed);
        }
    }

    private TupleState? BestRemaining()
    {
        // Nominated tuples first, then the most recently checked (RFC 7675 leaves the choice to us).
        TupleState? best = null;
        foreach (var t in _tuples.Values)
        {
            if (best is null
                || (t.Nominated && !best.Nominated)
                || (t.Nominated == best.Nominated && t.LastValidCheck > best.LastValidCheck))
            {
                best = t;
            }
        }

        return best;
    }

    private void UpdateConnectedState() =>
        SetState(_selected is { Nominated: true } ? IceState.Completed : IceState.Connected);

    private void Select(TupleState? state)
    {
        if (ReferenceEquals(state, _selected))
        {
            return;
        }

        var changed = state?.Tuple != _selected?.Tuple;
        _selected = state;
        if (changed)
        {
            _events.Enqueue(new SelectedTupleChanged(state?.Tuple));
        }
    }

    private void SetState(IceState state)
    {
        if (State != state)
        {
            State = state;
            _events.Enqueue(new IceStateChanged(state));
        }
    }

    private IceStunOutcome Reject(IceTuple tuple, StunMessage request, int code, bool authenticated)
    {
        Span<byte> buffer = stackalloc byte[256];
        var w = new StunWriter(buffer, StunMessageType.BindingError, request.TransactionId);
        w.AddErrorCode(code);
        if (code == StunErrorCode.UnknownAttribute)
        {
            Span<ushort> types = stackalloc ushort[request.UnknownComprehensionRequired.Count];
            for (var i = 0; i < types.Length; i++)
            {
                types[i] = request.UnknownComprehensionRequired[i];
            }

            w.AddUnknownAttributes(types);
        }

        // Error responses to unauthenticated requests carry no MESSAGE-INTEGRITY (RFC 8489 9.1.3).
        if (authenticated)
        {
            w.AddMessageIntegrity(_localPasswordKey);
        }

        w.AddFingerprint();

        // An unauthenticated sender may have spoofed its source: never answer it with more bytes
        // than it sent (no reflection amplification). Real checks carry USERNAME, PRIORITY, an
        // ICE-CONTROLLING/-CONTROLLED tie-breaker and FINGERPRINT, so they are always long enough.
        if (!authenticated && w.Length > request.Length)
        {
            _counters.ErrorResponsesSuppressed++;
            return IceStunOutcome.Dropped;
        }

        Enqueue(tuple, w.Written.ToArray());
        return IceStunOutcome.Rejected;
    }

    private byte[] BuildSuccess(IceTuple tuple, StunMessage request)
    {
        Span<byte> buffer = stackalloc byte[128];
        var w = new StunWriter(buffer, StunMessageType.BindingSuccess, request.TransactionId);
        w.AddXorMappedAddress(tuple.Remote);
        w.AddMessageIntegrity(_localPasswordKey);
        w.AddFingerprint();
        return w.Written.ToArray();
    }

    private void Enqueue(IceTuple tuple, byte[] datagram)
    {
        if (_transmits.Count >= _options.MaxPendingTransmits)
        {
            _counters.TransmitsDropped++;
            return;
        }

        _transmits.Enqueue(new IceTransmit(tuple, datagram));
    }

    private sealed class TupleState(IceTuple tuple)
    {
        public IceTuple Tuple { get; } = tuple;

        public TimeSpan LastValidCheck { get; set; }

        public bool Nominated { get; set; }

        public TimeSpan NominatedAt { get; set; }
    }

    private struct Counters
    {
        public long ChecksAnswered;
        public long Nominations;
        public long IntegrityFailures;
        public long UnknownUsernames;
        public long BadRequests;
        public long UnknownAttributeRejections;
        public long RoleConflicts;
        public long Malformed;
        public long InternalErrors;
        public long Ignored;
        public long TuplesExpired;
        public long TuplesEvicted;
        public long TransmitsDropped;
        public long ErrorResponsesSuppressed;
    }
}
