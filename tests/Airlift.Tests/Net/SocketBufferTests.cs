using System.Net;
using Airlift.Net;

namespace Airlift.Tests.Net;

/// <summary>
/// The UDP receive queue of a server (issue #13, handshake storms): asked for on every SO_REUSEPORT socket of the receive loops,
/// what the kernel granted is reported, bad sizes are refused by name.
/// </summary>
public class SocketBufferTests
{
    [Fact]
    public async Task The_receive_buffer_asked_for_is_set_on_every_receive_loop_socket_and_reported()
    {
        var options = new DtlsUdpServerOptions(NetTestSupport.Server()) { ReceiveLoops = 2, ReceiveBufferSize = 512 * 1024, SendBufferSize = 256 * 1024 };
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), options);

        Assert.Equal(512 * 1024, server.SocketBuffers.ReceiveRequested);
        Assert.Equal(256 * 1024, server.SocketBuffers.SendRequested);
        var rmemMax = ReadSysctl("/proc/sys/net/core/rmem_max");
        var expected = Math.Min(512 * 1024, rmemMax ?? int.MaxValue);
        foreach (var socket in server.Sockets)
        {
            // Linux grants twice the (capped) request; elsewhere at least the request is typical. Never less than the cap.
            Assert.True(socket.ReceiveBufferSize >= expected, $"granted {socket.ReceiveBufferSize}, expected at least {expected}");
            Assert.Equal(server.SocketBuffers.ReceiveGranted, socket.ReceiveBufferSize);
        }

        Assert.Equal(server.SocketBuffers.ReceiveGranted < 512 * 1024, server.SocketBuffers.ReceiveCapped);
    }

    [Fact]
    public async Task Zero_keeps_the_kernel_default()
    {
        var options = new DtlsUdpServerOptions(NetTestSupport.Server()) { ReceiveLoops = 1, ReceiveBufferSize = 0, SendBufferSize = 0 };
        await using var server = new DtlsUdpServer(new IPEndPoint(IPAddress.Loopback, 0), options);

        Assert.Equal(0, server.SocketBuffers.ReceiveRequested);
        Assert.True(server.SocketBuffers.ReceiveGranted > 0);
        Assert.False(server.SocketBuffers.ReceiveCapped);
    }

    [Fact]
    public void The_defaults_ask_for_4_MiB_and_bad_sizes_are_refused_by_name()
    {
        Assert.Equal(4 * 1024 * 1024, new DtlsUdpServerOptions(NetTestSupport.Server()).ReceiveBufferSize);
        Assert.Equal(4 * 1024 * 1024, new TransportHostOptions().ReceiveBufferSize);

        var tooSmall = Assert.Throws<ArgumentException>(() => (new DtlsUdpServerOptions(NetTestSupport.Server()) { ReceiveBufferSize = 100 }).Validate());
        Assert.Equal("ReceiveBufferSize", tooSmall.ParamName);
        var tooLarge = Assert.Throws<ArgumentException>(() => (new TransportHostOptions { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)], SendBufferSize = int.MaxValue }).Validate());
        Assert.Equal("SendBufferSize", tooLarge.ParamName);
    }

    [Fact]
    public async Task The_transport_host_sets_and_reports_its_buffers()
    {
        await using var host = new TransportHost(new TransportHostOptions { UdpListen = [new IPEndPoint(IPAddress.Loopback, 0)], ReceiveLoops = 1, ReceiveBufferSize = 256 * 1024 });

        Assert.Equal(256 * 1024, host.SocketBuffers.ReceiveRequested);
        Assert.True(host.SocketBuffers.ReceiveGranted >= Math.Min(256 * 1024, ReadSysctl("/proc/sys/net/core/rmem_max") ?? int.MaxValue));
    }

    [Fact]
    public void The_kernel_counter_of_receive_queue_drops_is_read_from_proc_net_snmp()
    {
        var path = Path.Combine(Path.GetTempPath(), $"airlift-snmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        File.WriteAllText(path, "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 10 2 7 9 5 0\nUdpLite: InDatagrams RcvbufErrors\nUdpLite: 0 0\n");
        try
        {
            Assert.Equal(5, KernelUdpCounters.Read(path, "RcvbufErrors"));
            Assert.Null(KernelUdpCounters.Read(path, "NoSuchField"));
            Assert.Null(KernelUdpCounters.Read(path + ".missing", "RcvbufErrors"));
        }
        finally
        {
            File.Delete(path);
        }

        if (OperatingSystem.IsLinux() && File.Exists("/proc/net/snmp"))
        {
            Assert.NotNull(KernelUdpCounters.ReadReceiveBufferErrors());
        }
    }

    private static int? ReadSysctl(string path) =>
        File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), out var v) ? v : null;
}
