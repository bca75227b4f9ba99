using System.Net;
using System.Text;
using Airlift.Ice;
using Airlift.Ice.Stun;

namespace Airlift.Tests.Ice;

public class IceLiteAgentTests
{
    private const string RemoteUfrag = "peerUfrag";
    private const string RemotePassword = "peerpasswordpeerpassword";

    private static readonly IPEndPoint Local4 = new(IPAddress.Parse("192.0.2.10"), 443);
    private static readonly IPEndPoint Local6 = new(IPAddress.Parse("2001:db8::10"), 443);
    private static readonly IceTuple TupleV6 = new(Local6, new IPEndPoint(IPAddress.Parse("2001:db8::99"), 50000), IceProtocol.Udp);
    private static readonly IceTuple TupleV4 = new(Local4, new IPEndPoint(IPAddress.Parse("198.51.100.7"), 50001), IceProtocol.Udp);
    private static readonly IceTuple TupleTcp = new(Local4, new IPEndPoint(IPAddress.Parse("198.51.100.7"), 50002), IceProtocol.Tcp);

    private sealed class CheckOptions
    {
        public string? Username { get; init; }
        public string? Password { get; init; }
        public bool UseCandidate { get; init; }
        public bool Controlling { get; init; } = true;
        public bool Controlled { get; init; }
        public bool OmitUsername { get; init; }
        public bool OmitIntegrity { get; init; }
        public ushort? ExtraAttribute { get; init; }
    }

    private int _txCounter;

    private static IceLiteAgent NewAgent(Func<IceLiteAgentOptions, IceLiteAgentOptions>? configure = null, bool withRemote = true)
    {
        var options = new IceLiteAgentOptions { FillRandom = new Random(8445).NextBytes };
        var agent = new IceLiteAgent(configure is null ? options : configure(options));
        if (withRemote)
        {
            agent.SetRemoteCredentials(RemoteUfrag, RemotePassword);
        }

        return agent;
    }

    private byte[] Check(IceLiteAgent agent, CheckOptions? o = null)
    {
        o ??= new CheckOptions();
        var buffer = new byte[512];
        var w = new StunWriter(buffer, StunMessageType.BindingRequest, new StunTransactionId(0xABCDEF, (uint)++_txCounter));
        if (!o.OmitUsername)
        {
            w.AddUsername(o.Username ?? $"{agent.LocalUfrag}:{RemoteUfrag}");
        }

        w.AddPriority(0x6e7f1eff);
        if (o.Controlling)
        {
            w.AddIceControlling(0x0102030405060708);
        }

        if (o.Controlled)
        {
            w.AddIceControlled(0x0102030405060708);
        }

        if (o.UseCandidate)
        {
            w.AddUseCandidate();
        }

        if (o.ExtraAttribute is { } extra)
        {
            // A 4-byte value of an attribute the agent does not know.
            var raw = w.Written.ToArray();
            var attribute = new byte[] { (byte)(extra >> 8), (byte)extra, 0, 4, 1, 2, 3, 4 };
            var combined = raw.Concat(attribute).ToArray();
            combined[3] = (byte)(combined.Length - 20);
            return FinishRaw(combined, o, agent);
        }

        if (!o.OmitIntegrity)
        {
            w.AddMessageIntegrity(Encoding.UTF8.GetBytes(o.Password ?? agent.LocalPassword));
        }

        w.AddFingerprint();
        return w.Written.ToArray();
    }

    // Appends MESSAGE-INTEGRITY and FINGERPRINT to a hand-built prefix.
    private static byte[] FinishRaw(byte[] prefix, CheckOptions o, IceLiteAgent agent)
    {
        var key = Encoding.UTF8.GetBytes(o.Password ?? agent.LocalPassword);
        var mac = new byte[20];
        StunMessage.ComputeMessageIntegrity(prefix, key, mac);
        var withMi = prefix.Concat(new byte[] { 0x00, 0x08, 0x00, 0x14 }).Concat(mac).ToArray();
        withMi[3] = (byte)(withMi.Length - 20 + 8);
        var crc = Crc32.Compute(withMi) ^ 0x5354554E;
        return withMi.Concat(new byte[] { 0x80, 0x28, 0x00, 0x04, (byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc }).ToArray();
    }

    private static List<IceEvent> DrainEvents(IceLiteAgent agent)
    {
        var events = new List<IceEvent>();
        for (var i = 0; i < 100 && agent.TryPollEvent(out var e); i++)
        {
            events.Add(e);
        }

        return events;
    }

    private static List<IceTransmit> DrainTransmits(IceLiteAgent agent)
    {
        var list = new List<IceTransmit>();
        for (var i = 0; i < 100 && agent.TryPollTransmit(out var t); i++)
        {
            list.Add(t);
        }

        return list;
    }

    private static StunMessage SingleResponse(IceLiteAgent agent, IceTuple expectedTuple)
    {
        var tx = Assert.Single(DrainTransmits(agent));
        Assert.Equal(expectedTuple, tx.Tuple);
        Assert.True(StunMessage.TryDecode(tx.Datagram.Span, out var m, out var error), error.ToString());
        return m!;
    }

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void Generated_credentials_follow_rfc8839_lengths_and_charset_and_are_seeded()
    {
        var a = NewAgent();
        var b = NewAgent();
        Assert.Equal(8, a.LocalUfrag.Length);
        Assert.Equal(24, a.LocalPassword.Length);
        Assert.Matches("^[A-Za-z0-9+/]+$", a.LocalUfrag + a.LocalPassword);
        Assert.Equal(a.LocalUfrag, b.LocalUfrag);
        Assert.Equal(a.TieBreaker, b.TieBreaker);
        Assert.False(IceLiteAgent.IsControlling);
    }

    [Fact]
    public void Rfc8445_7_3_first_valid_check_answers_with_success_connects_and_selects_the_tuple()
    {
        var agent = NewAgent();
        Assert.Equal(IceState.New, agent.State);
        Assert.Null(agent.NextTimeout);

        Assert.Equal(IceStunOutcome.Answered, agent.HandleStun(S(1), TupleV6, Check(agent)));

        var response = SingleResponse(agent, TupleV6);
        Assert.Equal(StunMessageType.BindingSuccess, response.Type);
        Assert.Equal(TupleV6.Remote, response.XorMappedAddress);
        Assert.True(response.HasFingerprint);
        Assert.Equal(IceState.Connected, agent.State);
        Assert.Equal(TupleV6, agent.SelectedTuple);
        Assert.Equal(new IceEvent[] { new SelectedTupleChanged(TupleV6), new IceStateChanged(IceState.Connected) }, DrainEvents(agent));
        Assert.Equal(S(31), agent.NextTimeout);
    }

    [Fact]
    public void Success_response_integrity_is_keyed_with_the_local_password()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent));
        var tx = Assert.Single(DrainTransmits(agent));
        Assert.True(StunMessage.TryDecode(tx.Datagram.Span, out var m, out _));
        Assert.True(m!.VerifyMessageIntegrity(tx.Datagram.Span, Encoding.UTF8.GetBytes(agent.LocalPassword)));
    }

    [Fact]
    public void F3_nomination_on_another_tuple_moves_the_selection_and_completes()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV6, Check(agent));
        DrainEvents(agent);

        agent.HandleStun(S(0.1), TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));

        Assert.Equal(TupleV4, agent.SelectedTuple);
        Assert.True(agent.SelectedIsNominated);
        Assert.Equal(IceState.Completed, agent.State);
        Assert.Equal(new IceEvent[] { new SelectedTupleChanged(TupleV4), new IceStateChanged(IceState.Completed) }, DrainEvents(agent));
    }

    [Fact]
    public void Before_nomination_the_latest_valid_check_selects_its_tuple()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV6, Check(agent));
        agent.HandleStun(S(1), TupleV4, Check(agent));
        Assert.Equal(TupleV4, agent.SelectedTuple);
        agent.HandleStun(S(2), TupleV6, Check(agent));
        Assert.Equal(TupleV6, agent.SelectedTuple);
        Assert.Equal(IceState.Connected, agent.State);
    }

    [Fact]
    public void F3_later_non_nominating_check_does_not_move_a_nominated_selection()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));
        DrainEvents(agent);

        // The one-way IPv6 path keeps sending checks (141 of them in the field report).
        for (var i = 1; i <= 141; i++)
        {
            Assert.Equal(IceStunOutcome.Answered, agent.HandleStun(S(i * 0.1), TupleV6, Check(agent)));
        }

        Assert.Equal(TupleV4, agent.SelectedTuple);
        Assert.Equal(IceState.Completed, agent.State);
        Assert.Empty(DrainEvents(agent));
    }

    [Fact]
    public void A_newer_nomination_moves_a_nominated_selection()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV6, Check(agent, new CheckOptions { UseCandidate = true }));
        DrainEvents(agent);
        agent.HandleStun(S(1), TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));
        Assert.Equal(TupleV4, agent.SelectedTuple);
        Assert.Equal(new IceEvent[] { new SelectedTupleChanged(TupleV4) }, DrainEvents(agent));
    }

    [Fact]
    public void Repeated_nomination_of_the_selected_tuple_reports_nothing_new()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));
        DrainEvents(agent);
        agent.HandleStun(S(2.5), TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));
        Assert.Empty(DrainEvents(agent));
        Assert.Equal(2, agent.Stats.Nominations);
    }

    [Fact]
    public void Rfc7675_consent_expiry_drops_the_selected_tuple_and_falls_back_to_a_live_one()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));
        agent.HandleStun(S(10), TupleV6, Check(agent));
        DrainEvents(agent);
        Assert.Equal(S(30), agent.NextTimeout);

        agent.HandleTimeout(S(29.999));
        Assert.Equal(TupleV4, agent.SelectedTuple);

        agent.HandleTimeout(S(30));
        Assert.Equal(TupleV6, agent.SelectedTuple);
        Assert.Equal(IceState.Connected, agent.State);
        Assert.Equal(new IceEvent[] { new SelectedTupleChanged(TupleV6), new IceStateChanged(IceState.Connected) }, DrainEvents(agent));
        Assert.Equal(1, agent.Stats.TuplesExpired);
        Assert.Equal(S(40), agent.NextTimeout);
    }

    [Fact]
    public void Rfc7675_fallback_prefers_a_nominated_tuple_over_a_more_recent_one()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));
        agent.HandleStun(S(1), TupleTcp, Check(agent, new CheckOptions { UseCandidate = true }));
        agent.HandleStun(S(20), TupleV4, Check(agent));
        agent.HandleStun(S(25), TupleV6, Check(agent));
        Assert.Equal(TupleTcp, agent.SelectedTuple);

        agent.HandleTimeout(S(31));
        Assert.Equal(TupleV4, agent.SelectedTuple);
        Assert.Equal(IceState.Completed, agent.State);
    }

    [Fact]
    public void Rfc7675_consent_expiry_of_every_tuple_disconnects_then_fails_after_the_grace_period()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));
        DrainEvents(agent);
        DrainTransmits(agent);

        agent.HandleTimeout(S(30));
        Assert.Equal(IceState.Disconnected, agent.State);
        Assert.Null(agent.SelectedTuple);
        Assert.Equal(new IceEvent[] { new SelectedTupleChanged(null), new IceStateChanged(IceState.Disconnected) }, DrainEvents(agent));
        Assert.Equal(S(40), agent.NextTimeout);

        agent.HandleTimeout(S(39.9));
        Assert.Equal(IceState.Disconnected, agent.State);
        agent.HandleTimeout(S(40));
        Assert.Equal(IceState.Failed, agent.State);
        Assert.Equal(new IceEvent[] { new IceStateChanged(IceState.Failed) }, DrainEvents(agent));
        Assert.Null(agent.NextTimeout);

        // Failed is terminal.
        Assert.Equal(IceStunOutcome.Dropped, agent.HandleStun(S(41), TupleV4, Check(agent)));
        Assert.Empty(DrainTransmits(agent));
    }

    [Fact]
    public void A_valid_check_while_disconnected_recovers_before_failure()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent));
        agent.HandleTimeout(S(30));
        DrainEvents(agent);

        agent.HandleStun(S(35), TupleV6, Check(agent, new CheckOptions { UseCandidate = true }));
        Assert.Equal(IceState.Completed, agent.State);
        Assert.Equal(TupleV6, agent.SelectedTuple);
        agent.HandleTimeout(S(41));
        Assert.Equal(IceState.Completed, agent.State);
        Assert.Equal(S(65), agent.NextTimeout);
    }

    [Fact]
    public void Consent_timeout_is_configurable()
    {
        var agent = NewAgent(o => o with { ConsentTimeout = S(5), FailureGracePeriod = S(1) });
        agent.HandleStun(S(0), TupleV4, Check(agent));
        agent.HandleTimeout(S(5));
        Assert.Equal(IceState.Disconnected, agent.State);
        agent.HandleTimeout(S(6));
        Assert.Equal(IceState.Failed, agent.State);
    }

    [Fact]
    public void Rfc8445_7_3_1_1_peer_claiming_controlled_gets_487_and_the_lite_agent_stays_controlled()
    {
        var agent = NewAgent();
        var outcome = agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { Controlling = false, Controlled = true }));
        Assert.Equal(IceStunOutcome.Rejected, outcome);
        var response = SingleResponse(agent, TupleV4);
        Assert.Equal(StunMessageType.BindingError, response.Type);
        Assert.Equal(487, response.ErrorCode!.Value.Code);
        Assert.True(response.HasMessageIntegrity);
        Assert.Equal(1, agent.Stats.RoleConflicts);
        Assert.Null(agent.SelectedTuple);
        Assert.Equal(IceState.New, agent.State);
    }

    [Fact]
    public void Rfc8489_9_1_3_unknown_username_gets_401_without_integrity_and_selects_nothing()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { Username = $"wrongUfrag:{RemoteUfrag}" }));
        var response = SingleResponse(agent, TupleV4);
        Assert.Equal(401, response.ErrorCode!.Value.Code);
        Assert.False(response.HasMessageIntegrity);
        Assert.True(response.HasFingerprint);

        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { Username = $"{agent.LocalUfrag}:someoneElse" }));
        Assert.Equal(401, SingleResponse(agent, TupleV4).ErrorCode!.Value.Code);
        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { Username = agent.LocalUfrag }));
        Assert.Equal(401, SingleResponse(agent, TupleV4).ErrorCode!.Value.Code);

        Assert.Equal(3, agent.Stats.UnknownUsernames);
        Assert.Null(agent.SelectedTuple);
        Assert.Empty(DrainEvents(agent));
    }

    [Fact]
    public void Remote_ufrag_part_is_accepted_until_the_remote_ufrag_is_signaled()
    {
        var agent = NewAgent(withRemote: false);
        Assert.Equal(IceStunOutcome.Answered, agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { Username = $"{agent.LocalUfrag}:early" })));
        agent.SetRemoteCredentials(RemoteUfrag, RemotePassword);
        Assert.Equal(IceStunOutcome.Rejected, agent.HandleStun(S(1), TupleV4, Check(agent, new CheckOptions { Username = $"{agent.LocalUfrag}:early" })));
    }

    [Fact]
    public void Rfc8489_9_1_3_bad_integrity_gets_401_and_is_counted()
    {
        var agent = NewAgent();
        var outcome = agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { Password = "notthepasswordnotthepassword" }));
        Assert.Equal(IceStunOutcome.Rejected, outcome);
        var response = SingleResponse(agent, TupleV4);
        Assert.Equal(401, response.ErrorCode!.Value.Code);
        Assert.False(response.HasMessageIntegrity);
        Assert.Equal(1, agent.Stats.IntegrityFailures);
        Assert.Null(agent.SelectedTuple);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Rfc8489_9_1_3_missing_username_or_integrity_gets_400(bool omitUsername, bool omitIntegrity)
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { OmitUsername = omitUsername, OmitIntegrity = omitIntegrity }));
        Assert.Equal(400, SingleResponse(agent, TupleV4).ErrorCode!.Value.Code);
        Assert.Equal(1, agent.Stats.BadRequests);
        Assert.Null(agent.SelectedTuple);
    }

    [Fact]
    public void Error_response_to_an_unauthenticated_request_is_never_larger_than_the_request()
    {
        var agent = NewAgent();
        var buffer = new byte[64];
        var w = new StunWriter(buffer, StunMessageType.BindingRequest, new StunTransactionId(7, 7));
        Assert.Equal(IceStunOutcome.Dropped, agent.HandleStun(S(0), TupleV4, w.Written));
        Assert.Empty(DrainTransmits(agent));
        Assert.Equal(1, agent.Stats.BadRequests);
        Assert.Equal(1, agent.Stats.ErrorResponsesSuppressed);

        var check = Check(agent, new CheckOptions { Password = "notthepasswordnotthepassword" });
        agent.HandleStun(S(0), TupleV4, check);
        Assert.True(Assert.Single(DrainTransmits(agent)).Datagram.Length <= check.Length);
    }

    [Fact]
    public void Rfc8489_6_3_1_unknown_comprehension_required_attribute_gets_420_listing_it()
    {
        var agent = NewAgent();
        var outcome = agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { ExtraAttribute = 0x7ABC }));
        Assert.Equal(IceStunOutcome.Rejected, outcome);
        var response = SingleResponse(agent, TupleV4);
        Assert.Equal(420, response.ErrorCode!.Value.Code);
        Assert.Equal(new ushort[] { 0x7ABC }, response.UnknownAttributesListed);
        Assert.True(response.HasMessageIntegrity);
        Assert.Equal(1, agent.Stats.UnknownAttributeRejections);
        Assert.Null(agent.SelectedTuple);
    }

    [Fact]
    public void Unknown_comprehension_optional_attribute_is_ignored_and_the_check_answered()
    {
        var agent = NewAgent();
        Assert.Equal(IceStunOutcome.Answered, agent.HandleStun(S(0), TupleV4, Check(agent, new CheckOptions { ExtraAttribute = 0xC057 })));
    }

    [Fact]
    public void Malformed_datagrams_indications_and_responses_are_dropped_and_counted()
    {
        var agent = NewAgent();
        Assert.Equal(IceStunOutcome.Dropped, agent.HandleStun(S(0), TupleV4, [0, 1, 0, 0]));
        var bad = Check(agent);
        bad[^1] ^= 1;
        Assert.Equal(IceStunOutcome.Dropped, agent.HandleStun(S(0), TupleV4, bad));

        var buffer = new byte[64];
        var w = new StunWriter(buffer, StunMessageType.BindingIndication, new StunTransactionId(1, 1));
        w.AddFingerprint();
        Assert.Equal(IceStunOutcome.Dropped, agent.HandleStun(S(0), TupleV4, w.Written));

        Assert.Equal(2, agent.Stats.Malformed);
        Assert.Equal(1, agent.Stats.Ignored);
        Assert.Empty(DrainTransmits(agent));
        Assert.Equal(IceState.New, agent.State);
    }

    [Fact]
    public void Tuple_cap_evicts_the_least_recently_checked_unselected_tuple()
    {
        var agent = NewAgent(o => o with { MaxTuples = 3 });
        var tuples = Enumerable.Range(0, 5)
            .Select(i => new IceTuple(Local4, new IPEndPoint(IPAddress.Parse("198.51.100.7"), 40000 + i), IceProtocol.Udp))
            .ToArray();
        agent.HandleStun(S(0), tuples[0], Check(agent, new CheckOptions { UseCandidate = true }));
        agent.HandleStun(S(1), tuples[1], Check(agent));
        agent.HandleStun(S(2), tuples[2], Check(agent));
        Assert.Equal(3, agent.TupleCount);

        agent.HandleStun(S(3), tuples[3], Check(agent));
        Assert.Equal(3, agent.TupleCount);
        Assert.Equal(1, agent.Stats.TuplesEvicted);
        Assert.Equal(tuples[0], agent.SelectedTuple);

        agent.HandleStun(S(4), tuples[4], Check(agent));
        Assert.Equal(2, agent.Stats.TuplesEvicted);
        Assert.Equal(tuples[0], agent.SelectedTuple);

        // tuples[1] and [2] went; [0] (selected), [3], [4] remain: expiry drops them at their own times.
        agent.HandleTimeout(S(30));
        Assert.Equal(tuples[4], agent.SelectedTuple);
        Assert.Equal(2, agent.TupleCount);
    }

    [Fact]
    public void Transmit_queue_is_bounded_and_overflow_is_counted()
    {
        var agent = NewAgent(o => o with { MaxPendingTransmits = 2 });
        for (var i = 0; i < 5; i++)
        {
            agent.HandleStun(S(i), TupleV4, Check(agent));
        }

        Assert.Equal(2, DrainTransmits(agent).Count);
        Assert.Equal(3, agent.Stats.TransmitsDropped);
    }

    [Fact]
    public void Close_reports_closed_clears_the_selection_and_ignores_later_input()
    {
        var agent = NewAgent();
        agent.HandleStun(S(0), TupleV4, Check(agent));
        DrainEvents(agent);
        DrainTransmits(agent);
        agent.Close();
        Assert.Equal(new IceEvent[] { new SelectedTupleChanged(null), new IceStateChanged(IceState.Closed) }, DrainEvents(agent));
        Assert.Equal(IceStunOutcome.Dropped, agent.HandleStun(S(1), TupleV4, Check(agent)));
        Assert.Null(agent.NextTimeout);
        Assert.Empty(DrainTransmits(agent));
    }

    [Fact]
    public void Invalid_options_and_remote_credentials_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new IceLiteAgent(new IceLiteAgentOptions { FillRandom = _ => { }, LocalUfrag = "abc" }));
        Assert.Throws<ArgumentException>(() => new IceLiteAgent(new IceLiteAgentOptions { FillRandom = _ => { }, LocalPassword = "short" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new IceLiteAgent(new IceLiteAgentOptions { FillRandom = _ => { }, MaxTuples = 1 }));
        var agent = NewAgent();
        Assert.Throws<ArgumentException>(() => agent.SetRemoteCredentials("a:b!", RemotePassword));
    }

    [Fact]
    public void PollOutput_gives_the_response_then_the_events_then_the_consent_deadline_the_one_engine_shape()
    {
        var agent = NewAgent();
        var buffer = new byte[256];
        var idle = agent.PollOutput(buffer);
        Assert.Equal(IceOutputKind.Timeout, idle.Kind);
        Assert.Equal(IceOutput.NoDeadline, idle.Deadline); // the deadline type of every engine: TimeSpan.MaxValue for none
        Assert.Equal(TimeSpan.MaxValue, idle.Deadline);

        var now = TimeSpan.FromSeconds(1);
        Assert.Equal(IceStunOutcome.Answered, agent.HandleDatagram(now, TupleV4, Check(agent, new CheckOptions { UseCandidate = true })));

        var first = agent.PollOutput(buffer);
        Assert.Equal(IceOutputKind.Transmit, first.Kind);
        Assert.Equal(TupleV4, first.Tuple);
        Assert.True(StunMessage.TryDecode(buffer.AsSpan(0, first.Length), out var response, out _));
        Assert.Equal(StunMessageType.BindingSuccess, response!.Type);

        var events = new List<IceEvent>();
        IceOutput output;
        for (output = agent.PollOutput(buffer); output.Kind == IceOutputKind.Event; output = agent.PollOutput(buffer))
        {
            events.Add(output.Event!);
        }

        Assert.Contains(new SelectedTupleChanged(TupleV4), events);
        Assert.Contains(new IceStateChanged(IceState.Completed), events);
        Assert.Equal(IceOutputKind.Timeout, output.Kind);
        Assert.Equal(now + TimeSpan.FromSeconds(30), output.Deadline); // the default ConsentTimeout
        Assert.Equal(agent.NextDeadline, output.Deadline);
    }

    [Fact]
    public void PollOutput_into_a_buffer_too_small_reports_the_size_needed_and_keeps_the_response()
    {
        var agent = NewAgent();
        agent.HandleDatagram(TimeSpan.Zero, TupleV4, Check(agent));

        var small = agent.PollOutput(new byte[8]);

        Assert.Equal(IceOutputKind.BufferTooSmall, small.Kind);
        var buffer = new byte[small.Length];
        var output = agent.PollOutput(buffer);
        Assert.Equal(IceOutputKind.Transmit, output.Kind);
        Assert.Equal(small.Length, output.Length);
        Assert.True(StunMessage.TryDecode(buffer, out _, out _));
    }

    [Fact]
    public void Consent_expiry_is_driven_by_HandleTimeout_at_the_polled_deadline_Rfc7675()
    {
        var agent = NewAgent();
        agent.HandleDatagram(TimeSpan.Zero, TupleV4, Check(agent, new CheckOptions { UseCandidate = true }));
        var buffer = new byte[256];
        var output = agent.PollOutput(buffer);
        while (output.Kind != IceOutputKind.Timeout)
        {
            output = agent.PollOutput(buffer);
        }

        agent.HandleTimeout(output.Deadline);

        var events = new List<IceEvent>();
        for (output = agent.PollOutput(buffer); output.Kind == IceOutputKind.Event; output = agent.PollOutput(buffer))
        {
            events.Add(output.Event!);
        }

        Assert.Contains(new SelectedTupleChanged(null), events);
        Assert.Contains(new IceStateChanged(IceState.Disconnected), events);
        Assert.Equal(IceOutputKind.Timeout, output.Kind);
        Assert.NotEqual(IceOutput.NoDeadline, output.Deadline); // the failure grace period runs
    }
}
