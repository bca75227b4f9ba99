using System.Buffers.Binary;
using System.Net;
using System.Text;
using Airlift.Ice;
using Airlift.Ice.Stun;

namespace Airlift.Tests.Adversarial;

/// <summary>
/// Attacks on the ICE-lite agent's STUN handling (RFC 8489 6.3, 7.3, 9.1.3, 14; RFC 8445 7.3): bad
/// MESSAGE-INTEGRITY and FINGERPRINT, unknown comprehension-required attributes with and without authentication,
/// malformed attributes, wrong credentials, role conflicts, responses and indications nobody asked for, and floods.
/// Each row states the agent's answer (none, or an error code, with MESSAGE-INTEGRITY only when the request was
/// authenticated), the counter that rises, and that no unauthenticated answer is larger than its request. Afterwards
/// the nominated tuple is still selected and genuine checks are still answered.
/// </summary>
public class StunAttackTests
{
    private static readonly Dictionary<string, StunAttack> Cases = BuildCases();

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    internal static int Count => Cases.Count;

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Stun_attack_gets_the_stated_answer_is_counted_and_nothing_else_breaks(string name)
    {
        var @case = Cases[name];
        var lab = new StunLab();
        var before = lab.Agent.Stats;
        var datagrams = @case.Build(lab);

        var responses = new List<(IceTuple Tuple, byte[] Bytes, int RequestLength)>();
        foreach (var (tuple, datagram) in datagrams)
        {
            var outcome = lab.Agent.HandleStun(lab.Now, tuple, datagram);
            Assert.Equal(@case.Outcome, outcome);
            if (@case.DrainEach)
            {
                responses.AddRange(lab.DrainTransmits().Select(t => (t.Tuple, t.Datagram.ToArray(), datagram.Length)));
            }
        }

        if (!@case.DrainEach)
        {
            responses.AddRange(lab.DrainTransmits().Select(t => (t.Tuple, t.Datagram.ToArray(), 0)));
        }

        // The counter and only it.
        var after = lab.Agent.Stats;
        Assert.Equal(@case.Counted(before) + @case.Count, @case.Counted(after));
        Assert.Equal(0, after.InternalErrors);
        Assert.Equal(@case.Responses ?? (@case.ErrorCode is null ? 0 : datagrams.Count), responses.Count);
        foreach (var (tuple, bytes, requestLength) in responses)
        {
            Assert.True(StunMessage.TryDecode(bytes, out var response, out var error), error.ToString());
            Assert.True(response!.HasFingerprint);
            if (@case.ErrorCode is { } code)
            {
                Assert.Equal(StunMessageType.BindingError, response.Type);
                Assert.Equal(code, response.ErrorCode?.Code);
                Assert.Equal(@case.Authenticated, response.HasMessageIntegrity);
                if (code == StunErrorCode.UnknownAttribute)
                {
                    Assert.NotEmpty(response.UnknownAttributesListed);
                    Assert.InRange(response.UnknownAttributesListed.Count, 1, StunConstants.MaxUnknownAttributes);
                }
            }

            if (!@case.Authenticated && requestLength > 0)
            {
                Assert.True(bytes.Length <= requestLength, $"a {bytes.Length}-byte answer to an unauthenticated {requestLength}-byte request");
            }
        }

        // Nothing else broke: the nominated tuple is still selected, and genuine checks from it and from a new tuple are answered.
        Assert.Equal(lab.Nominated, lab.Agent.SelectedTuple);
        Assert.Equal(IceState.Completed, lab.Agent.State);
        lab.DrainEvents();
        Assert.Equal(IceStunOutcome.Answered, lab.Agent.HandleStun(lab.Now, lab.Nominated, lab.Check().Build(lab.LocalKey)));
        Assert.Equal(IceStunOutcome.Answered, lab.Agent.HandleStun(lab.Now, StunLab.Tuple(9), lab.Check().Build(lab.LocalKey)));
        Assert.Equal(2, lab.DrainTransmits().Count);
        Assert.Equal(lab.Nominated, lab.Agent.SelectedTuple);
    }

    private static Dictionary<string, StunAttack> BuildCases()
    {
        var c = new Dictionary<string, StunAttack>();
        var attacker = StunLab.Tuple(2);
        static List<(IceTuple, byte[])> One(IceTuple t, byte[] d) => [(t, d)];

        // ---- MESSAGE-INTEGRITY (RFC 8489 9.1.3: 401 without MESSAGE-INTEGRITY)
        c["Binding request with its MESSAGE-INTEGRITY flipped: 401 without integrity, counted"] =
            new(l => One(attacker, l.Check().Build(l.LocalKey, tamperIntegrity: true)), IceStunOutcome.Rejected, s => s.IntegrityFailures, ErrorCode: 401);
        c["Binding request signed with the wrong password: 401 without integrity, counted"] =
            new(l => One(attacker, l.Check().Build(Encoding.UTF8.GetBytes("wrongpasswordwrongpassword"))), IceStunOutcome.Rejected, s => s.IntegrityFailures, ErrorCode: 401);
        c["USE-CANDIDATE added after MESSAGE-INTEGRITY: ignored (RFC 8489 14.5), answered without a nomination"] =
            new(l => One(attacker, l.Check().Build(l.LocalKey, appendAfterIntegrity: (0x0025, []))), IceStunOutcome.Answered, s => s.ChecksAnswered, Responses: 1, Authenticated: true);
        c["Binding request with MESSAGE-INTEGRITY of 19 bytes: dropped as malformed, no answer"] =
            new(l => One(attacker, l.Check().With(0x0008, new byte[19]).Build(null)), IceStunOutcome.Dropped, s => s.Malformed);
        c["Binding request without MESSAGE-INTEGRITY: 400, counted"] =
            new(l => One(attacker, l.Check().Build(null)), IceStunOutcome.Rejected, s => s.BadRequests, ErrorCode: 400);

        // ---- FINGERPRINT (RFC 8489 7.3: a bad one means it is not STUN; silently discarded)
        c["Binding request with its FINGERPRINT flipped: dropped as malformed, no answer"] =
            new(l => One(attacker, l.Check().Build(l.LocalKey, tamperFingerprint: true)), IceStunOutcome.Dropped, s => s.Malformed);
        c["Binding request with an attribute after FINGERPRINT: dropped as malformed, no answer"] =
            new(l => One(attacker, l.Check().Build(l.LocalKey, appendAfterFingerprint: true)), IceStunOutcome.Dropped, s => s.Malformed);
        c["Binding request with a FINGERPRINT of 8 bytes: dropped as malformed, no answer"] =
            new(l => One(attacker, l.Check().With(0x8028, new byte[8]).Build(null, fingerprint: false)), IceStunOutcome.Dropped, s => s.Malformed);

        // ---- unknown comprehension-required attributes (RFC 8489 7.3.1: 420 with UNKNOWN-ATTRIBUTES)
        c["authenticated Binding request with unknown comprehension-required attribute 0x0777: 420 listing it, with integrity"] =
            new(l => One(attacker, l.Check().With(0x0777, [1, 2, 3, 4]).Build(l.LocalKey)), IceStunOutcome.Rejected, s => s.UnknownAttributeRejections, ErrorCode: 420, Authenticated: true);
        c["authenticated Binding request with 40 unknown comprehension-required attributes: one 420 listing at most 16"] =
            new(l => One(attacker, Enumerable.Range(0, 40).Aggregate(l.Check(), (b, i) => b.With((ushort)(0x0100 + i), [])).Build(l.LocalKey)),
                IceStunOutcome.Rejected, s => s.UnknownAttributeRejections, ErrorCode: 420, Authenticated: true);
        c["unknown comprehension-required attribute with a bad MESSAGE-INTEGRITY: 401 (authentication first), no integrity"] =
            new(l => One(attacker, l.Check().With(0x0777, [1, 2, 3, 4]).Build(l.LocalKey, tamperIntegrity: true)), IceStunOutcome.Rejected, s => s.IntegrityFailures, ErrorCode: 401);
        c["unknown comprehension-required attribute without MESSAGE-INTEGRITY: 400, no integrity"] =
            new(l => One(attacker, l.Check().With(0x0777, [1, 2, 3, 4]).Build(null)), IceStunOutcome.Rejected, s => s.BadRequests, ErrorCode: 400);
        c["unknown comprehension-optional attribute 0xC057: ignored, answered"] =
            new(l => One(attacker, l.Check().With(0xC057, [0, 1, 0, 0]).Build(l.LocalKey)), IceStunOutcome.Answered, s => s.ChecksAnswered, Responses: 1, Authenticated: true);
        c["unknown comprehension-required attribute after MESSAGE-INTEGRITY: ignored (RFC 8489 14.5), answered"] =
            new(l => One(attacker, l.Check().Build(l.LocalKey, appendAfterIntegrity: (0x0777, [1, 2, 3, 4]))), IceStunOutcome.Answered, s => s.ChecksAnswered, Responses: 1, Authenticated: true);

        // ---- malformed attributes and headers: not STUN we can read, dropped silently
        c["USERNAME of 600 bytes: dropped as malformed"] =
            new(l => One(attacker, l.Check(username: new string('u', 600)).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Malformed);
        c["USERNAME that is not UTF-8: dropped as malformed"] =
            new(l => One(attacker, l.Check(rawUsername: [0xC3, 0x28, 0x3A, 0x41]).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Malformed);
        c["PRIORITY of 3 bytes: dropped as malformed"] =
            new(l => One(attacker, l.Check(priority: false).With(0x0024, [1, 2, 3]).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Malformed);
        c["USE-CANDIDATE with a value: dropped as malformed"] =
            new(l => One(attacker, l.Check().With(0x0025, [1, 2, 3, 4]).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Malformed);
        c["ICE-CONTROLLING of 4 bytes: dropped as malformed"] =
            new(l => One(attacker, l.Check(controlling: false).With(0x802A, [1, 2, 3, 4]).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Malformed);
        c["attribute length past the end of the message: dropped as malformed"] =
            new(l => One(attacker, StunLab.Patch(l.Check().Build(l.LocalKey), b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(22), 0x0FFF))), IceStunOutcome.Dropped, s => s.Malformed);
        c["header length not a multiple of 4: dropped as malformed"] =
            new(l => One(attacker, StunLab.Patch(l.Check().Build(l.LocalKey), b => b[3] ^= 1)), IceStunOutcome.Dropped, s => s.Malformed);
        c["header length past the datagram: dropped as malformed"] =
            new(l => One(attacker, l.Check().Build(l.LocalKey)[..^4]), IceStunOutcome.Dropped, s => s.Malformed);
        c["wrong magic cookie: dropped as malformed"] =
            new(l => One(attacker, StunLab.Patch(l.Check().Build(l.LocalKey), b => b[4] ^= 0xFF)), IceStunOutcome.Dropped, s => s.Malformed);
        c["a bare 20-byte header with trailing garbage: dropped as malformed"] =
            new(l => One(attacker, [.. l.Check().Build(null, fingerprint: false, bare: true), 1, 2, 3]), IceStunOutcome.Dropped, s => s.Malformed);

        // ---- credentials and roles (RFC 8445 7.3)
        c["Binding request without USERNAME: 400, counted"] =
            new(l => One(attacker, l.Check(username: null).Build(l.LocalKey)), IceStunOutcome.Rejected, s => s.BadRequests, ErrorCode: 400);
        c["USERNAME with another local ufrag: 401, counted"] =
            new(l => One(attacker, l.Check(username: "someoneelse:" + StunLab.RemoteUfrag).Build(l.LocalKey)), IceStunOutcome.Rejected, s => s.UnknownUsernames, ErrorCode: 401);
        c["USERNAME with another remote ufrag: 401, counted"] =
            new(l => One(attacker, l.Check(username: StunLab.LocalUfrag + ":intruder").Build(l.LocalKey)), IceStunOutcome.Rejected, s => s.UnknownUsernames, ErrorCode: 401);
        c["authenticated request claiming ICE-CONTROLLED: 487 with integrity, selection unchanged"] =
            new(l => One(attacker, l.Check(controlling: false).With(0x8029, new byte[8]).Build(l.LocalKey)), IceStunOutcome.Rejected, s => s.RoleConflicts, ErrorCode: 487, Authenticated: true);

        // ---- messages nobody asked for
        c["unsolicited Binding success response: ignored, no answer"] =
            new(l => One(attacker, l.Check(type: 0x0101).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Ignored);
        c["Binding error response: ignored, no answer"] =
            new(l => One(attacker, l.Check(type: 0x0111).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Ignored);
        c["Binding indication: ignored, no answer"] =
            new(l => One(attacker, l.Check(type: 0x0011).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Ignored);
        c["TURN Allocate request: ignored, no answer"] =
            new(l => One(attacker, l.Check(type: 0x0003).Build(l.LocalKey)), IceStunOutcome.Dropped, s => s.Ignored);

        // ---- floods
        c["1000 requests with a bad MESSAGE-INTEGRITY from 1000 tuples, undrained: 64 answers queued, the rest dropped and counted"] =
            new(l => [.. Enumerable.Range(0, 1000).Select(i => (StunLab.Tuple(1000 + i), l.Check().Build(l.LocalKey, tamperIntegrity: true)))],
                IceStunOutcome.Rejected, s => s.IntegrityFailures, Count: 1000, ErrorCode: 401, DrainEach: false, Responses: 64);
        c["100 authenticated checks without nomination from 100 tuples: at most MaxTuples kept, the nominated tuple stays selected"] =
            new(l => [.. Enumerable.Range(0, 100).Select(i => (StunLab.Tuple(2000 + i), l.Check().Build(l.LocalKey)))],
                IceStunOutcome.Answered, s => s.ChecksAnswered, Count: 100, Responses: 100, Authenticated: true);

        return c;
    }
}

/// <summary>One row: the datagrams (with their tuples), the outcome of each, the counter that rises by <paramref name="Count"/> (default one per datagram).</summary>
internal sealed record StunAttack(
    Func<StunLab, List<(IceTuple Tuple, byte[] Datagram)>> Build,
    IceStunOutcome Outcome,
    Func<IceLiteStats, long> Counted,
    int Count = 1,
    int? ErrorCode = null,
    bool Authenticated = false,
    bool DrainEach = true,
    int? Responses = null);

/// <summary>An ICE-lite agent with a nominated tuple, and a raw STUN builder that can break any rule.</summary>
internal sealed class StunLab
{
    public const string LocalUfrag = "liteUfrg";
    public const string LocalPassword = "litePasswordLitePassword";
    public const string RemoteUfrag = "peerUfrg";
    public const string RemotePassword = "peerPasswordPeerPassword";

    private uint _transaction;

    public StunLab()
    {
        Agent = new IceLiteAgent(new IceLiteAgentOptions { FillRandom = new Random(8489).NextBytes, LocalUfrag = LocalUfrag, LocalPassword = LocalPassword });
        Agent.SetRemoteCredentials(RemoteUfrag, RemotePassword);
        Nominated = Tuple(1);
        Assert.Equal(IceStunOutcome.Answered, Agent.HandleStun(Now, Nominated, Check().With(0x0025, []).Build(LocalKey)));
        DrainTransmits();
        DrainEvents();
        Assert.Equal(Nominated, Agent.SelectedTuple);
    }

    public IceLiteAgent Agent { get; }

    public IceTuple Nominated { get; }

    public TimeSpan Now { get; } = TimeSpan.FromSeconds(1);

    public byte[] LocalKey { get; } = Encoding.UTF8.GetBytes(LocalPassword);

    public static IceTuple Tuple(int n) =>
        new(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 3478), new IPEndPoint(IPAddress.Parse("198.51.100.1"), 40_000 + n), IceProtocol.Udp);

    public static byte[] Patch(byte[] datagram, Action<byte[]> change)
    {
        var copy = (byte[])datagram.Clone();
        change(copy);
        return copy;
    }

    /// <summary>A Binding request from the controlling peer: USERNAME, PRIORITY, ICE-CONTROLLING (each optional).</summary>
    public RawStun Check(string? username = LocalUfrag + ":" + RemoteUfrag, byte[]? rawUsername = null, bool priority = true, bool controlling = true, ushort type = 0x0001)
    {
        var stun = new RawStun(type, ++_transaction);
        if (rawUsername is not null)
        {
            stun.With(0x0006, rawUsername);
        }
        else if (username is not null)
        {
            stun.With(0x0006, Encoding.UTF8.GetBytes(username));
        }

        if (priority)
        {
            stun.With(0x0024, [0x6E, 0x00, 0x1E, 0xFF]);
        }

        if (controlling)
        {
            stun.With(0x802A, [1, 2, 3, 4, 5, 6, 7, 8]);
        }

        return stun;
    }

    public List<IceTransmit> DrainTransmits()
    {
        var list = new List<IceTransmit>();
        while (Agent.TryPollTransmit(out var t))
        {
            list.Add(t);
        }

        return list;
    }

    public void DrainEvents()
    {
        while (Agent.TryPollEvent(out _))
        {
        }
    }
}

/// <summary>A STUN message built attribute by attribute, with MESSAGE-INTEGRITY and FINGERPRINT computed, tampered or misplaced at will.</summary>
internal sealed class RawStun(ushort type, uint transaction)
{
    private readonly List<(ushort Type, byte[] Value)> _attributes = [];

    public RawStun With(ushort attributeType, byte[] value)
    {
        _attributes.Add((attributeType, value));
        return this;
    }

    public byte[] Build(
        byte[]? integrityKey,
        bool fingerprint = true,
        bool tamperIntegrity = false,
        bool tamperFingerprint = false,
        (ushort Type, byte[] Value)? appendAfterIntegrity = null,
        bool appendAfterFingerprint = false,
        bool bare = false)
    {
        var bytes = new List<byte>(new byte[20]);
        BinaryPrimitives.WriteUInt16BigEndian(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes), type);
        var header = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], StunConstants.MagicCookie);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], 0xA1A2A3A4A5A6A7A8);
        BinaryPrimitives.WriteUInt32BigEndian(header[16..], transaction);
        if (bare)
        {
            return [.. bytes];
        }

        foreach (var (t, v) in _attributes)
        {
            Append(bytes, t, v);
        }

        if (integrityKey is not null)
        {
            var mac = new byte[StunConstants.MessageIntegrityLength];
            StunMessage.ComputeMessageIntegrity(bytes.ToArray(), integrityKey, mac);
            if (tamperIntegrity)
            {
                mac[^1] ^= 1;
            }

            Append(bytes, 0x0008, mac);
        }

        if (appendAfterIntegrity is { } extra)
        {
            Append(bytes, extra.Type, extra.Value);
        }

        if (fingerprint)
        {
            SetLength(bytes, bytes.Count - 20 + 8);
            var crc = Crc32.Compute(bytes.ToArray()) ^ StunConstants.FingerprintXor;
            if (tamperFingerprint)
            {
                crc ^= 1;
            }

            var value = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(value, crc);
            Append(bytes, 0x8028, value);
        }

        if (appendAfterFingerprint)
        {
            Append(bytes, 0x8022, [.. "x"u8, 0, 0, 0]);
        }

        return [.. bytes];
    }

    private static void Append(List<byte> bytes, ushort type, byte[] value)
    {
        bytes.Add((byte)(type >> 8));
        bytes.Add((byte)type);
        bytes.Add((byte)(value.Length >> 8));
        bytes.Add((byte)value.Length);
        bytes.AddRange(value);
        bytes.AddRange(new byte[(4 - (value.Length & 3)) & 3]);
        SetLength(bytes, bytes.Count - 20);
    }

    private static void SetLength(List<byte> bytes, int length)
    {
        bytes[2] = (byte)(length >> 8);
        bytes[3] = (byte)length;
    }
}
