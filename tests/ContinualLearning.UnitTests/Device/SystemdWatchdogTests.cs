using System.Net.Sockets;
using System.Text;
using ContinualLearning.Device;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Training;
using ContinualLearning.UnitTests.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Device;

/// <summary>The sd_notify watchdog against a real Unix datagram socket standing in for systemd's NOTIFY_SOCKET.</summary>
public sealed class SystemdWatchdogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-watchdog-").FullName;

    [Fact]
    public async Task Pings_while_responsive_stops_while_hung_and_resumes()
    {
        var path = Path.Combine(_dir, "notify");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(path));
        string? hung = null;
        var sawHung = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string? Unresponsive()
        {
            var reason = hung;
            if (reason is not null) sawHung.TrySetResult();
            return reason;
        }

        using var watchdog = new SystemdWatchdog(path, TimeSpan.FromMilliseconds(100), Unresponsive, NullLogger.Instance);
        Assert.True(watchdog.Enabled);

        await watchdog.StartAsync(CancellationToken.None);
        Assert.Equal("WATCHDOG=1", await ReceiveAsync(systemd, TimeSpan.FromSeconds(5)));
        Assert.Equal("WATCHDOG=1", await ReceiveAsync(systemd, TimeSpan.FromSeconds(5)));

        hung = "the trigger loop has not run for 90 s";
        // Once the watchdog has seen the hang it sends nothing more; a ping sent before that is already in the socket.
        await sawHung.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Drain(systemd);
        Assert.Null(await ReceiveAsync(systemd, TimeSpan.FromMilliseconds(500)));

        hung = null;
        Assert.Equal("WATCHDOG=1", await ReceiveAsync(systemd, TimeSpan.FromSeconds(5)));
        await watchdog.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Does_nothing_without_a_watchdog_interval_or_socket()
    {
        var path = Path.Combine(_dir, "notify");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(path));
        using var noInterval = new SystemdWatchdog(path, null, () => null, NullLogger.Instance);
        using var noSocket = new SystemdWatchdog(null, TimeSpan.FromMilliseconds(100), () => null, NullLogger.Instance);
        Assert.False(noInterval.Enabled);
        Assert.False(noSocket.Enabled);
        await noInterval.StartAsync(CancellationToken.None);
        await noSocket.StartAsync(CancellationToken.None);
        Assert.Null(await ReceiveAsync(systemd, TimeSpan.FromMilliseconds(400)));
    }

    [Fact]
    public async Task Runtime_is_unresponsive_when_its_trigger_loop_stops_coming_round()
    {
        var time = new ManualTimeProvider();
        var options = new DeviceOptions { DeviceId = "d", Fleet = "f", ModelName = "m", FleetPublicKeyPath = "k", TrainCheckInterval = TimeSpan.FromSeconds(5) };
        await using var runtime = new DeviceRuntime(options, new ManagedEngine(), time: time);
        var allowed = TimeSpan.FromMinutes(1);

        Assert.Null(runtime.Unresponsive(allowed));
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Null(runtime.Unresponsive(allowed));
        time.Advance(TimeSpan.FromSeconds(2));
        var reason = runtime.Unresponsive(allowed);
        Assert.NotNull(reason);
        Assert.Contains("61 s", reason);
        Assert.Contains("every 5 s", reason);
    }

    private static async Task<string?> ReceiveAsync(Socket socket, TimeSpan patience)
    {
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(patience);
        try
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.ASCII.GetString(buffer, 0, n);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private static void Drain(Socket socket)
    {
        var buffer = new byte[256];
        while (socket.Available > 0) socket.Receive(buffer);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
