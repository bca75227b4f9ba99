using System.Text;
using Airlift.Ice.Stun;

namespace Airlift.Tests.Transport;

/// <summary>
/// A tiny ICE controlling agent for tests: builds Binding requests (USERNAME, PRIORITY, ICE-CONTROLLING or -CONTROLLED,
/// optional USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT; RFC 8445 7.2.2) and recognises authenticated success
/// responses. It keeps no pair state: the test script decides what to check and nominate.
/// </summary>
internal sealed class TestIceClient(string localUfrag, string localPassword, string remoteUfrag, string remotePassword)
{
    private uint _next;

    public string LocalUfrag { get; } = localUfrag;

    public string LocalPassword { get; } = localPassword;

    public ulong TieBreaker { get; init; } = 0x1122334455667788;

    public HashSet<StunTransactionId> Outstanding { get; } = [];

    public byte[] BuildCheck(bool useCandidate, bool controlled = false, string? password = null, string? username = null)
    {
        var buffer = new byte[512];
        var txid = new StunTransactionId(0xA1A2A3A4A5A6A7A8, ++_next);
        var w = new StunWriter(buffer, StunMessageType.BindingRequest, txid);
        w.AddUsername(username ?? $"{remoteUfrag}:{LocalUfrag}");
        w.AddPriority(0x6E001EFF);
        if (controlled)
        {
            w.AddIceControlled(TieBreaker);
        }
        else
        {
            w.AddIceControlling(TieBreaker);
        }

        if (useCandidate)
        {
            w.AddUseCandidate();
        }

        w.AddMessageIntegrity(Encoding.UTF8.GetBytes(password ?? remotePassword));
        w.AddFingerprint();
        Outstanding.Add(txid);
        return w.Written.ToArray();
    }

    /// <summary>True for a Binding success response to one of our checks whose MESSAGE-INTEGRITY verifies with the remote password.</summary>
    public bool IsAuthenticatedSuccess(ReadOnlySpan<byte> datagram) =>
        StunMessage.TryDecode(datagram, out var m, out _)
        && m!.Type == StunMessageType.BindingSuccess
        && Outstanding.Contains(m.TransactionId)
        && m.VerifyMessageIntegrity(datagram, Encoding.UTF8.GetBytes(remotePassword));

    /// <summary>The error code of a Binding error response, or null.</summary>
    public static int? ErrorCode(ReadOnlySpan<byte> datagram) =>
        StunMessage.TryDecode(datagram, out var m, out _) && m!.Type == StunMessageType.BindingError ? m.ErrorCode?.Code : null;
}
