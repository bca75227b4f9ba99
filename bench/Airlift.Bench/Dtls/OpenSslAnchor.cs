using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Airlift.Bench.Dtls;

/// <summary>
/// Issue #13's anchor, measured in the same process and run as Airlift: OpenSSL 3 (the system's libssl.so.3 through
/// P/Invoke) doing the same DTLS 1.2 handshake in memory, client and server both OpenSSL, lockstep over memory BIOs (no
/// link, no cookie exchange, as Airlift's server benchmark). Same handshake as <see cref="BenchPair.Options(HandshakeCase)"/>:
/// ECDSA P-256 certificates on both sides, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, one group (X25519 or P-256), mutual
/// authentication (the server requires the client certificate; the verify callback accepts it, as a fingerprint-pinned
/// WebRTC peer would), use_srtp SRTP_AES128_CM_SHA1_80, extended master secret (OpenSSL's default), no session cache and
/// no tickets. The server's time is its <c>SSL_new</c> with its BIOs plus every <c>SSL_do_handshake</c> call on it
/// (not <c>SSL_free</c>), taken by the caller around <see cref="ServerStep"/>.
/// </summary>
internal sealed class OpenSslAnchor : IDisposable
{
    private const string Ssl = "libssl.so.3";
    private const string Crypto = "libcrypto.so.3";
    private const int SslFiletypePem = 1;
    private const int SslVerifyPeer = 1;
    private const int SslVerifyFailIfNoPeerCert = 2;
    private const int SslCtrlSetMtu = 17;
    private const int SslCtrlSetSessCacheMode = 44;
    private const int SslCtrlSetGroupsList = 92;
    private const int SslCtrlSetMinProtoVersion = 123;
    private const int SslCtrlSetMaxProtoVersion = 124;
    private const int BioCSetBufMemEofReturn = 130;
    private const int BioCtrlPending = 10;
    private const long Dtls12Version = 0xFEFD;
    private const ulong SslOpNoQueryMtu = 0x00001000;
    private const ulong SslOpNoTicket = 0x00004000;
    private const int SslErrorWantRead = 2;

    private static readonly VerifyCallback AcceptAny = (_, _) => 1;
    private readonly IntPtr _serverContext;
    private readonly IntPtr _clientContext;
    private readonly byte[] _buffer = new byte[65536];
    private IntPtr _server;
    private IntPtr _client;
    private byte[] _toServer = [];

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int VerifyCallback(int preverifyOk, IntPtr storeContext);

    public OpenSslAnchor(string groups)
    {
        var directory = Directory.CreateTempSubdirectory("airlift-openssl-anchor");
        try
        {
            _serverContext = Context(server: true, groups, directory.FullName);
            _clientContext = Context(server: false, groups, directory.FullName);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>OpenSSL's version string (for the report).</summary>
    public static string Version => Marshal.PtrToStringAnsi(OpenSSL_version(0)) ?? "?";

    /// <summary>True when libssl.so.3 loads.</summary>
    public static bool Available()
    {
        try
        {
            _ = OpenSSL_version(0);
            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Setup (not measured): frees the previous pair, makes a client and its ClientHello.</summary>
    public void FreshClientHello()
    {
        FreePair();
        _client = NewSsl(_clientContext, server: false);
        _ = Step(_client);
        _toServer = Pending(_client);
    }

    /// <summary>The server's part of the handshake: created, fed the ClientHello, and so on until both are connected.
    /// <paramref name="server"/> wraps each server call (the caller times it); the client's calls are outside it.</summary>
    public void Handshake(Action<Action> server)
    {
        var serverDone = false;
        var clientDone = false;
        server(() => _server = NewSsl(_serverContext, server: true));
        for (var round = 0; round < 8 && !(serverDone && clientDone); round++)
        {
            byte[] toClient = [];
            server(() =>
            {
                Write(_server, _toServer);
                serverDone = Step(_server);
                toClient = Pending(_server);
            });
            Write(_client, toClient);
            clientDone = Step(_client);
            _toServer = Pending(_client);
        }

        if (!(serverDone && clientDone))
        {
            throw new InvalidOperationException($"OpenSSL handshake did not complete (server {serverDone}, client {clientDone})");
        }
    }

    /// <summary>A whole handshake, both sides, unsplit.</summary>
    public void FullHandshake()
    {
        FreshClientHello();
        Handshake(static step => step());
    }

    /// <summary>Runs one server step (for callers that time it).</summary>
    public static void ServerStep(Action step) => step();

    public void Dispose()
    {
        FreePair();
        SSL_CTX_free(_serverContext);
        SSL_CTX_free(_clientContext);
    }

    private void FreePair()
    {
        if (_server != IntPtr.Zero)
        {
            SSL_free(_server);
            _server = IntPtr.Zero;
        }

        if (_client != IntPtr.Zero)
        {
            SSL_free(_client);
            _client = IntPtr.Zero;
        }
    }

    private static IntPtr Context(bool server, string groups, string directory)
    {
        var context = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
        Check(context != IntPtr.Zero, "SSL_CTX_new");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(server ? "CN=openssl-server" : "CN=openssl-client", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var certPath = Path.Combine(directory, server ? "server.pem" : "client.pem");
        var keyPath = Path.Combine(directory, server ? "server.key" : "client.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        Check(SSL_CTX_use_certificate_file(context, certPath, SslFiletypePem) == 1, "SSL_CTX_use_certificate_file");
        Check(SSL_CTX_use_PrivateKey_file(context, keyPath, SslFiletypePem) == 1, "SSL_CTX_use_PrivateKey_file");
        Check(SSL_CTX_ctrl(context, SslCtrlSetMinProtoVersion, Dtls12Version, IntPtr.Zero) == 1, "min version");
        Check(SSL_CTX_ctrl(context, SslCtrlSetMaxProtoVersion, Dtls12Version, IntPtr.Zero) == 1, "max version");
        Check(SSL_CTX_set_cipher_list(context, "ECDHE-ECDSA-AES128-GCM-SHA256") == 1, "cipher list");
        // OpenSSL uses (and accepts) an ECDSA P-256 certificate only where the groups list P-256 (RFC 8422 5.1), so both
        // list P-256 after the case's group; both put the case's group first, so that is the one the exchange uses.
        var list = Marshal.StringToHGlobalAnsi(groups == "P-256" ? groups : groups + ":P-256");
        try
        {
            Check(SSL_CTX_ctrl(context, SslCtrlSetGroupsList, 0, list) == 1, "groups");
        }
        finally
        {
            Marshal.FreeHGlobal(list);
        }

        Check(SSL_CTX_set_tlsext_use_srtp(context, "SRTP_AES128_CM_SHA1_80") == 0, "use_srtp");
        SSL_CTX_set_verify(context, SslVerifyPeer | (server ? SslVerifyFailIfNoPeerCert : 0), Marshal.GetFunctionPointerForDelegate(AcceptAny));
        _ = SSL_CTX_set_options(context, SslOpNoQueryMtu | SslOpNoTicket);
        _ = SSL_CTX_ctrl(context, SslCtrlSetSessCacheMode, 0, IntPtr.Zero); // SSL_SESS_CACHE_OFF
        return context;
    }

    private static IntPtr NewSsl(IntPtr context, bool server)
    {
        var ssl = SSL_new(context);
        var read = BIO_new(BIO_s_mem());
        var write = BIO_new(BIO_s_mem());
        _ = BIO_ctrl(read, BioCSetBufMemEofReturn, -1, IntPtr.Zero);
        _ = BIO_ctrl(write, BioCSetBufMemEofReturn, -1, IntPtr.Zero);
        SSL_set_bio(ssl, read, write);
        _ = SSL_ctrl(ssl, SslCtrlSetMtu, 1200, IntPtr.Zero);
        if (server)
        {
            SSL_set_accept_state(ssl);
        }
        else
        {
            SSL_set_connect_state(ssl);
        }

        return ssl;
    }

    private static bool Step(IntPtr ssl)
    {
        var rc = SSL_do_handshake(ssl);
        if (rc == 1)
        {
            return true;
        }

        var error = SSL_get_error(ssl, rc);
        Check(error == SslErrorWantRead, $"SSL_do_handshake: SSL_get_error {error}, ERR 0x{ERR_get_error():x}");
        return false;
    }

    private static void Write(IntPtr ssl, byte[] bytes)
    {
        if (bytes.Length > 0)
        {
            Check(BIO_write(SSL_get_rbio(ssl), bytes, bytes.Length) == bytes.Length, "BIO_write");
        }
    }

    private byte[] Pending(IntPtr ssl)
    {
        var bio = SSL_get_wbio(ssl);
        var pending = (int)BIO_ctrl(bio, BioCtrlPending, 0, IntPtr.Zero);
        if (pending <= 0)
        {
            return [];
        }

        var n = BIO_read(bio, _buffer, Math.Min(pending, _buffer.Length));
        return _buffer.AsSpan(0, n).ToArray();
    }

    private static void Check(bool ok, string what)
    {
        if (!ok)
        {
            throw new InvalidOperationException($"OpenSSL anchor: {what} failed");
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code, which the build forbids
#pragma warning disable CA2101, CA1838
    [DllImport(Crypto)] private static extern IntPtr OpenSSL_version(int type);
    [DllImport(Crypto)] private static extern ulong ERR_get_error();
    [DllImport(Ssl)] private static extern IntPtr DTLS_server_method();
    [DllImport(Ssl)] private static extern IntPtr DTLS_client_method();
    [DllImport(Ssl)] private static extern IntPtr SSL_CTX_new(IntPtr method);
    [DllImport(Ssl)] private static extern void SSL_CTX_free(IntPtr context);
    [DllImport(Ssl)] private static extern long SSL_CTX_ctrl(IntPtr context, int command, long larg, IntPtr parg);
    [DllImport(Ssl)] private static extern ulong SSL_CTX_set_options(IntPtr context, ulong options);
    [DllImport(Ssl, CharSet = CharSet.Ansi, BestFitMapping = false)] private static extern int SSL_CTX_use_certificate_file(IntPtr context, string file, int type);
    [DllImport(Ssl, CharSet = CharSet.Ansi, BestFitMapping = false)] private static extern int SSL_CTX_use_PrivateKey_file(IntPtr context, string file, int type);
    [DllImport(Ssl, CharSet = CharSet.Ansi, BestFitMapping = false)] private static extern int SSL_CTX_set_cipher_list(IntPtr context, string list);
    [DllImport(Ssl, CharSet = CharSet.Ansi, BestFitMapping = false)] private static extern int SSL_CTX_set_tlsext_use_srtp(IntPtr context, string profiles);
    [DllImport(Ssl)] private static extern void SSL_CTX_set_verify(IntPtr context, int mode, IntPtr callback);
    [DllImport(Ssl)] private static extern IntPtr SSL_new(IntPtr context);
    [DllImport(Ssl)] private static extern void SSL_free(IntPtr ssl);
    [DllImport(Ssl)] private static extern long SSL_ctrl(IntPtr ssl, int command, long larg, IntPtr parg);
    [DllImport(Ssl)] private static extern void SSL_set_bio(IntPtr ssl, IntPtr read, IntPtr write);
    [DllImport(Ssl)] private static extern IntPtr SSL_get_rbio(IntPtr ssl);
    [DllImport(Ssl)] private static extern IntPtr SSL_get_wbio(IntPtr ssl);
    [DllImport(Ssl)] private static extern void SSL_set_accept_state(IntPtr ssl);
    [DllImport(Ssl)] private static extern void SSL_set_connect_state(IntPtr ssl);
    [DllImport(Ssl)] private static extern int SSL_do_handshake(IntPtr ssl);
    [DllImport(Ssl)] private static extern int SSL_get_error(IntPtr ssl, int ret);
    [DllImport(Crypto)] private static extern IntPtr BIO_s_mem();
    [DllImport(Crypto)] private static extern IntPtr BIO_new(IntPtr method);
    [DllImport(Crypto)] private static extern long BIO_ctrl(IntPtr bio, int command, long larg, IntPtr parg);
    [DllImport(Crypto)] private static extern int BIO_write(IntPtr bio, byte[] data, int length);
    [DllImport(Crypto)] private static extern int BIO_read(IntPtr bio, byte[] data, int length);
#pragma warning restore CA2101, CA1838
#pragma warning restore SYSLIB1054
}
