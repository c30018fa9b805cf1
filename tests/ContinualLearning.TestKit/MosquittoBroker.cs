using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ContinualLearning.TestKit;

/// <summary>
/// A real Mosquitto broker on a free loopback port, with its own config, persistence and log in a
/// temp directory. Tests that must meet a real broker use it; it can be stopped and restarted
/// (same port, same persistence) to test outages.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable, IDisposable
{
    private readonly string _dir;
    private Process? _process;

    private MosquittoBroker(string executable, string dir, int port)
    {
        Executable = executable;
        _dir = dir;
        Port = port;
    }

    public string Executable { get; }

    public int Port { get; }

    public string Host { get; } = "127.0.0.1";

    public string LogPath => Path.Combine(_dir, "mosquitto.log");

    /// <summary>Path of the mosquitto binary, or null when it is not installed.</summary>
    public static string? FindExecutable()
    {
        foreach (var candidate in new[] { "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/bin/mosquitto" })
            if (File.Exists(candidate)) return candidate;
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var p = Path.Combine(dir, "mosquitto");
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>
    /// Starts a broker. <paramref name="extraConfig"/> lines are appended to the generated mosquitto.conf, after the
    /// single listener line, so listener settings there (cafile, certfile, keyfile, require_certificate, ...) turn that
    /// listener into a TLS one. <paramref name="allowAnonymous"/> false makes clients authenticate (password_file or
    /// use_identity_as_username in <paramref name="extraConfig"/>).
    /// </summary>
    public static async Task<MosquittoBroker> StartAsync(string? extraConfig = null, bool allowAnonymous = true)
    {
        var exe = FindExecutable() ?? throw new InvalidOperationException(
            $"Mosquitto is not installed: integration tests need a real broker. Install it with '{TestDependency.Mosquitto.Install}'.");
        var dir = Directory.CreateTempSubdirectory("cl-mosquitto-").FullName;
        var broker = new MosquittoBroker(exe, dir, FreePort());
        // 'user' keeps Mosquitto from dropping to the 'mosquitto' account when run as root, which could not write our temp dir.
        File.WriteAllText(Path.Combine(dir, "mosquitto.conf"), $"""
            listener {broker.Port} 127.0.0.1
            allow_anonymous {(allowAnonymous ? "true" : "false")}
            user {Environment.UserName}
            persistence true
            persistence_location {dir}/
            autosave_interval 1
            log_dest file {broker.LogPath}
            log_type error
            log_type warning
            log_type notice
            max_queued_messages 100000
            {extraConfig}
            """);
        await broker.StartProcessAsync().ConfigureAwait(false);
        return broker;
    }

    /// <summary>
    /// Starts a broker from a configuration written elsewhere (e.g. by <c>cl broker config</c>) that listens on
    /// <paramref name="port"/> (take it from <see cref="FreePort"/>). Only what a test needs is appended: the log file
    /// (<see cref="ReadLog"/>), the user to run as, and persistence in the broker's temp directory.
    /// </summary>
    public static async Task<MosquittoBroker> StartFromConfigAsync(string configFile, int port)
    {
        var exe = FindExecutable() ?? throw new InvalidOperationException(
            $"Mosquitto is not installed: integration tests need a real broker. Install it with '{TestDependency.Mosquitto.Install}'.");
        var dir = Directory.CreateTempSubdirectory("cl-mosquitto-").FullName;
        var broker = new MosquittoBroker(exe, dir, port);
        File.WriteAllText(Path.Combine(dir, "mosquitto.conf"), File.ReadAllText(configFile) + $"""

            user {Environment.UserName}
            persistence true
            persistence_location {dir}/
            log_dest file {broker.LogPath}
            log_type all
            """);
        await broker.StartProcessAsync().ConfigureAwait(false);
        return broker;
    }

    /// <summary>Stops the broker process (SIGTERM, so it saves its persistence file, like a service restart).</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            // Process.Kill sends SIGKILL; a graceful stop is what a service manager does.
            using var term = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
            await term.WaitForExitAsync().ConfigureAwait(false);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { _process.Kill(); }
        }
        _process.Dispose();
        _process = null;
    }

    public async Task RestartAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await StartProcessAsync().ConfigureAwait(false);
    }

    private async Task StartProcessAsync()
    {
        var psi = new ProcessStartInfo(Executable, ["-c", Path.Combine(_dir, "mosquitto.conf")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {Executable}.");
        _process = process;

        async Task<bool> AcceptsConnectionsAsync(CancellationToken cancellationToken)
        {
            if (process.HasExited)
            {
                var stderr = await process.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
                throw new InvalidOperationException($"Mosquitto exited with code {process.ExitCode}: {stderr} {ReadLog()}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }

        await Polling.WaitUntil(AcceptsConnectionsAsync, static accepting => accepting, $"Mosquitto to accept connections on 127.0.0.1:{Port}",
            TimeSpan.FromSeconds(10), _ => $"refused. Log: {ReadLog()}").ConfigureAwait(false);
    }

    public string ReadLog() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "(no log)";

    /// <summary>A loopback port nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
