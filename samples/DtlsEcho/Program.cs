// A DTLS server and client in one program over loopback UDP. Each side knows the other's certificate fingerprint
// (in WebRTC it comes from the remote SDP) and accepts no other certificate. Exits 0 once "hello" came back.
using System.Net;
using System.Security.Cryptography;
using Airlift.Dtls;
using Airlift.Net;

using var serverCertificate = DtlsCertificate.GenerateEcdsa("server");
using var clientCertificate = DtlsCertificate.GenerateEcdsa("client");
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

var serverOptions = new DtlsOptions(serverCertificate)
{
    ExpectedPeerFingerprint = clientCertificate.GetFingerprint(), // the client must present this certificate
    SrtpProfiles = [SrtpProtectionProfile.AeadAes128Gcm, SrtpProtectionProfile.Aes128CmHmacSha1_80],
};
await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), serverOptions);
var serverKeys = new TaskCompletionSource<DtlsKeyingMaterial?>(TaskCreationOptions.RunContinuationsAsynchronously);
_ = Task.Run(async () =>
{
    await foreach (var (session, e) in server.Events.ReadAllAsync(timeout.Token))
    {
        switch (e)
        {
            case DtlsConnected c:
                Console.WriteLine($"server: {c.Version} {c.CipherSuite} with {session.Remote}, client certificate {session.PeerCertificate?.Sha256Fingerprint}");
                serverKeys.TrySetResult(session.KeyingMaterial);
                break;
            case DtlsApplicationData data:
                session.Send(data.Data); // echo
                break;
            case DtlsFailed f:
                Console.Error.WriteLine($"server: {f.Reason}: {f.Message}");
                serverKeys.TrySetResult(null);
                break;
        }
    }
});

var clientOptions = new DtlsOptions(clientCertificate)
{
    ExpectedPeerFingerprint = serverCertificate.GetFingerprint(), // the server must present this certificate
    SrtpProfiles = [SrtpProtectionProfile.AeadAes128Gcm],
};
await using var client = await DtlsUdpClient.ConnectAsync(server.LocalEndpoint, clientOptions, cancellationToken: timeout.Token);
Console.WriteLine($"client: {client.Connection.Version} {client.Connection.CipherSuite}, server certificate {client.PeerCertificate?.Sha256Fingerprint}");

// Keying material exists only when both offered an SRTP profile in common (RFC 5764 4.1.2); the key bytes are secret.
var ourKeys = client.KeyingMaterial;
var theirKeys = await serverKeys.Task.WaitAsync(timeout.Token);
if (ourKeys is not null)
{
    var same = theirKeys is not null && CryptographicOperations.FixedTimeEquals(ourKeys.Material, theirKeys.Material);
    Console.WriteLine($"SRTP {ourKeys.Profile.Name}: {ourKeys.Material.Length} bytes of keying material, same on both sides: {same}");
    if (!same)
    {
        return 1;
    }
}

client.Send("hello"u8);
var reply = await client.ReceiveAsync(timeout.Token);
var ok = reply is not null && reply.AsSpan().SequenceEqual("hello"u8);
Console.WriteLine(ok ? "echo: hello" : "echo: wrong or no reply");
return ok ? 0 : 1;
