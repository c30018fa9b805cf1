using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Hosting;

/// <summary>
/// The systemd watchdog (<c>WatchdogSec=</c> in cl-device.service): sends <c>WATCHDOG=1</c> to systemd's notify
/// socket at half the interval systemd asks for (<c>WATCHDOG_USEC</c>), but only while <paramref name="unresponsive"/>
/// says the daemon is alive. A hung trigger loop, or a thread pool so starved that this loop cannot run, stops the
/// pings and systemd restarts the service. Without <c>WATCHDOG_USEC</c> (not under systemd, or no WatchdogSec) it does
/// nothing. <c>READY=1</c>/<c>STOPPING=1</c> stay with Microsoft.Extensions.Hosting.Systemd.
/// </summary>
/// <param name="socketPath">systemd's <c>NOTIFY_SOCKET</c> (a path, or <c>@name</c> for the abstract namespace); null = disabled.</param>
/// <param name="interval">systemd's watchdog interval (<c>WATCHDOG_USEC</c>); null = disabled.</param>
/// <param name="unresponsive">Returns why the daemon is hung, or null while it is alive.</param>
/// <param name="logger">Logs when pings stop and start again.</param>
public sealed partial class SystemdWatchdog(string? socketPath, TimeSpan? interval, Func<string?> unresponsive, ILogger logger) : BackgroundService
{
    /// <summary>The watchdog as systemd configures it through the environment (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID).</summary>
    public static SystemdWatchdog FromEnvironment(Func<string?> unresponsive, ILogger logger)
    {
        var socket = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        var usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        var pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        // WATCHDOG_PID names the process systemd watches; a child that inherited the variables must not ping for it.
        var forUs = pid is null || pid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        TimeSpan? interval = forUs && long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var us) && us > 0
            ? TimeSpan.FromMicroseconds(us)
            : null;
        return new SystemdWatchdog(string.IsNullOrEmpty(socket) ? null : socket, interval, unresponsive, logger);
    }

    /// <summary>Whether pings are being sent (systemd asked for a watchdog).</summary>
    public bool Enabled => socketPath is not null && interval is not null;

    /// <summary>Sends one sd_notify datagram (e.g. <c>WATCHDOG=1</c>) to <paramref name="socketPath"/>.</summary>
    public static void Notify(string socketPath, string state)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        // An abstract socket is given as @name; the kernel wants a leading NUL instead.
        var path = socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        socket.Send(Encoding.ASCII.GetBytes(state));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Enabled) return;
        var period = interval!.Value / 2;
        LogPinging(logger, period.TotalSeconds, interval.Value.TotalSeconds);
        using var timer = new PeriodicTimer(period);
        string? silencedFor = null;
        do
        {
            var reason = unresponsive();
            if (reason is null)
            {
                if (silencedFor is not null) LogResponsiveAgain(logger);
                silencedFor = null;
                try
                {
                    Notify(socketPath!, "WATCHDOG=1");
                }
                catch (SocketException ex)
                {
                    LogUnreachable(logger, socketPath, ex.Message);
                }
            }
            else if (silencedFor != reason)
            {
                // Not pinging is the whole point: systemd restarts the daemon after WatchdogSec.
                LogNotPinging(logger, reason);
                silencedFor = reason;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "systemd watchdog: pinging every {Seconds:0.#} s (WatchdogSec={Interval:0.#} s).")]
    private static partial void LogPinging(ILogger logger, double seconds, double interval);

    [LoggerMessage(Level = LogLevel.Information, Message = "systemd watchdog: responsive again; pinging.")]
    private static partial void LogResponsiveAgain(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "systemd watchdog: could not reach {Socket}: {Message}")]
    private static partial void LogUnreachable(ILogger logger, string? socket, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "systemd watchdog: not pinging, {Reason}; systemd will restart the service.")]
    private static partial void LogNotPinging(ILogger logger, string reason);
}
